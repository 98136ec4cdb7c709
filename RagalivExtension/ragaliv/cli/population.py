"""``ragaliv population TACS.csv -o OUTDIR``: population (non-linear mixed-effects) kinetics across a cohort.

Input CSV columns ``patient,region,time_h,activity_mbq,administered_mbq`` (activity as measured, not decay
corrected; times in hours after the administration; 1 to 6 points per patient and region, at any times; other
columns are ignored). Each region with at least 3 patients is fitted across the cohort
(:func:`ragaliv.kinetics.fit_population`); every patient's TIA is its empirical-Bayes estimate. Regions with fewer
patients are fitted patient by patient (``ragaliv tac`` method) and say so.

Outputs: ``tia.csv`` (first columns ``patient,region,model,tia_mbq_h,tiac_h,tia_rel_uncertainty``, one row per
patient and region, then the kinetics, the patient-alone fit for comparison and the flags), ``population.json``
(per region: population parameters, between-patient variability, residual error, method, convergence; the input of
:func:`ragaliv.kinetics.population_from_document` for a later patient), ``population.png`` (individual and
population curves; skipped without matplotlib) and ``provenance.json``. Nothing is written when the input is
refused.
"""

import csv
import math
import os
import sys
from dataclasses import dataclass, field

from ..errors import RagalivInputError
from ..io.csv_table import csv_number, read_csv_table, refuse_case_variants
from ..io.results import write_csv, write_json

REQUIRED_COLUMNS = ("patient", "region", "time_h", "activity_mbq", "administered_mbq")
TIA_COLUMNS = (
    "patient", "region", "model", "tia_mbq_h", "tiac_h", "tia_rel_uncertainty", "effective_half_life_h",
    "uptake_half_time_h", "n_points", "administered_mbq", "method", "shrinkage", "individual_model",
    "individual_tia_mbq_h", "individual_tia_rel_uncertainty", "flags",
)
MODELS = ("auto", "biexp-uptake", "mono")
POPULATION_METHOD = "population (NLME, empirical Bayes)"
INDIVIDUAL_METHOD = "individual fit (too few patients in the region for a population)"
FLAG_SEPARATOR = "; "


@dataclass
class CsvPatientTac:
    """Points of one patient and region as read (sorted by time), with the CSV line of each point."""

    patient: str
    region: str
    administered_mbq: float
    time_h: list = field(default_factory=list)
    activity_mbq: list = field(default_factory=list)
    lines: list = field(default_factory=list)

    def sorted(self) -> "CsvPatientTac":
        order = sorted(range(len(self.time_h)), key=lambda i: self.time_h[i])
        return CsvPatientTac(self.patient, self.region, self.administered_mbq, [self.time_h[i] for i in order],
                             [self.activity_mbq[i] for i in order], [self.lines[i] for i in order])


def read_population_csv(path: str) -> list[CsvPatientTac]:
    """Patient-region curves in order of first appearance; every error names the line and the fix. Patient or
    region names that differ only in case or spacing are refused."""
    header, data = read_csv_table(
        path, REQUIRED_COLUMNS, f"The header must name {','.join(REQUIRED_COLUMNS)}.",
        "Quote patient or region names that contain commas.", "Add one row per patient, region and time.",
        numeric_columns=("time_h", "activity_mbq", "administered_mbq"))
    index = {name: header.index(name) for name in REQUIRED_COLUMNS}
    curves: dict[tuple[str, str], CsvPatientTac] = {}
    administered_by_patient: dict[str, tuple[float, int]] = {}
    for line, row in data:
        patient, region = row[index["patient"]].strip(), row[index["region"]].strip()
        if not patient:
            raise RagalivInputError(f"{path} line {line}: patient is empty.", "Name the patient of every point.")
        if not region:
            raise RagalivInputError(f"{path} line {line}: region is empty.", "Name the region of every point.")
        time_h = csv_number(row[index["time_h"]], "time_h", line, path)
        activity = csv_number(row[index["activity_mbq"]], "activity_mbq", line, path)
        administered = csv_number(row[index["administered_mbq"]], "administered_mbq", line, path)
        if time_h <= 0.0:
            raise RagalivInputError(
                f"{path} line {line}: time_h = {time_h:g} h is not after the administration.",
                "Give the time in hours after the administration (> 0).",
            )
        if activity <= 0.0:
            raise RagalivInputError(
                f"{path} line {line}: activity_mbq = {activity:g} MBq; activities must be > 0 (the error model is "
                "proportional).",
                "Check the VOI and the calibration, or remove the point.",
            )
        if administered <= 0.0:
            raise RagalivInputError(f"{path} line {line}: administered_mbq = {administered:g} MBq must be > 0.",
                                    "Give the administered activity in MBq (e.g. 7400).")
        first = administered_by_patient.setdefault(patient, (administered, line))
        if not math.isclose(first[0], administered, rel_tol=1e-9):
            raise RagalivInputError(
                f"{path} line {line}: patient {patient!r} has administered_mbq {administered:g} but {first[0]:g} on "
                f"line {first[1]}.",
                "One administration per patient: give the same administered activity on all its rows (one cohort "
                "file per treatment cycle).",
            )
        curve = curves.setdefault((patient, region), CsvPatientTac(patient, region, administered))
        if time_h in curve.time_h:
            other = curve.lines[curve.time_h.index(time_h)]
            raise RagalivInputError(
                f"{path} line {line}: patient {patient!r}, region {region!r} has time {time_h:g} h twice "
                f"(lines {other} and {line}).",
                "Remove the duplicate point.",
            )
        curve.time_h.append(time_h)
        curve.activity_mbq.append(activity)
        curve.lines.append(line)
    for what, key in (("patient", 0), ("region", 1)):
        lines: dict[str, list[int]] = {}
        for names, curve in curves.items():
            lines.setdefault(names[key], []).extend(curve.lines)
        refuse_case_variants(lines, what, path)
    return [curve.sorted() for curve in curves.values()]


def collect_dosimetry_tacs(folders) -> list[CsvPatientTac]:
    """Cohort curves from ``ragaliv dosimetry`` output folders ({patient: folder}, e.g. ``ragaliv batch``'s
    ``<patient>/dosimetry``): ``tac.csv`` (region, time_h, activity_mbq; empty activities skipped) and the
    administered activity of ``summary.json`` (settings.administered_mbq). Raises RagalivInputError naming the
    folder when a file is missing or unreadable."""
    import json

    curves = []
    for patient, folder in folders.items():
        tac_path, summary_path = os.path.join(folder, "tac.csv"), os.path.join(folder, "summary.json")
        try:
            with open(summary_path, encoding="utf-8") as stream:
                administered = float(json.load(stream)["settings"]["administered_mbq"])
            with open(tac_path, newline="", encoding="utf-8") as stream:
                rows = list(csv.DictReader(stream))
        except (OSError, KeyError, TypeError, ValueError) as error:
            raise RagalivInputError(
                f"patient {patient!r}: no usable dosimetry result in {folder} ({error}).",
                "Run `ragaliv dosimetry` for that patient first (tac.csv and summary.json are read).",
            ) from None
        by_region: dict = {}
        for line, row in enumerate(rows, start=2):
            activity = (row.get("activity_mbq") or "").strip()
            if not activity:
                continue
            curve = by_region.setdefault(row["region"], CsvPatientTac(str(patient), row["region"], administered))
            curve.time_h.append(csv_number(row.get("time_h", ""), "time_h", line, tac_path))
            curve.activity_mbq.append(csv_number(activity, "activity_mbq", line, tac_path))
            curve.lines.append(line)
        curves.extend(curve.sorted() for curve in by_region.values())
    return curves


def write_population_csv(curves, path: str) -> None:
    """``TACS.csv`` for ``ragaliv population`` from cohort curves (e.g. :func:`collect_dosimetry_tacs`)."""
    rows = [
        {"patient": c.patient, "region": c.region, "time_h": t, "activity_mbq": a,
         "administered_mbq": c.administered_mbq}
        for c in curves for t, a in zip(c.time_h, c.activity_mbq)
    ]
    write_csv(path, REQUIRED_COLUMNS, rows)


def _individual_fit(curve: CsvPatientTac, calibration: float, path: str):
    from ..kinetics import fit_tac

    try:
        return fit_tac(curve.time_h, curve.activity_mbq, calibration_rel_uncertainty=calibration,
                       region=curve.region)
    except RagalivInputError as error:
        lines = ", ".join(map(str, curve.lines))
        raise RagalivInputError(f"{path}: patient {curve.patient!r}, region {curve.region!r} (lines {lines}): "
                                f"{error.message}", error.hint) from None


def _row(curve: CsvPatientTac, estimate, individual) -> dict:
    row = {
        "patient": curve.patient, "region": curve.region, "n_points": len(curve.time_h),
        "administered_mbq": curve.administered_mbq, "individual_model": individual.model,
        "individual_tia_mbq_h": individual.tia_mbq_h,
        "individual_tia_rel_uncertainty": individual.tia_rel_uncertainty,
    }
    if estimate is None:  # too few patients in the region: the patient-alone fit is the result
        row.update({
            "model": individual.model, "tia_mbq_h": individual.tia_mbq_h,
            "tiac_h": individual.tia_mbq_h / curve.administered_mbq,
            "tia_rel_uncertainty": individual.tia_rel_uncertainty,
            "effective_half_life_h": individual.effective_half_life_h, "method": INDIVIDUAL_METHOD,
            "flags": FLAG_SEPARATOR.join([*individual.flags, *individual.warnings]),
        })
        return row
    row.update({
        "model": estimate.model, "tia_mbq_h": estimate.tia_mbq_h, "tiac_h": estimate.tiac_h,
        "tia_rel_uncertainty": estimate.tia_rel_uncertainty,
        "effective_half_life_h": estimate.effective_half_life_h, "uptake_half_time_h": estimate.uptake_half_time_h,
        "method": POPULATION_METHOD, "shrinkage": estimate.shrinkage, "flags": FLAG_SEPARATOR.join(estimate.flags),
    })
    return row


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class PopulationRun:
    """A fitted cohort: the fit, the curves as read, and the rows of ``tia.csv`` (patients in order of the file)."""

    fit: object
    curves: list
    rows: list


def check_calibration(calibration: float) -> float:
    if not math.isfinite(calibration) or not 0.0 <= calibration < 1.0:
        raise RagalivInputError(
            f"--calibration-uncertainty {calibration!r} must be a fraction in [0, 1).",
            "Give the relative standard uncertainty, e.g. 0.05 for 5 %.",
        )
    return calibration


def fit_population_csv(tacs_csv: str, model: str = "auto", calibration_uncertainty: float = 0.0) -> PopulationRun:
    """Read and fit ``tacs_csv`` (nothing written); RagalivInputError when no region has enough patients."""
    from ..kinetics import fit_population
    from ..kinetics.population import MIN_PATIENTS, PatientTac

    calibration = check_calibration(calibration_uncertainty)
    curves = read_population_csv(tacs_csv)
    patients_per_region: dict[str, set] = {}
    for curve in curves:
        patients_per_region.setdefault(curve.region, set()).add(curve.patient)
    if max(len(patients) for patients in patients_per_region.values()) < MIN_PATIENTS:
        raise RagalivInputError(
            f"{tacs_csv}: no region has {MIN_PATIENTS} or more patients "
            f"({', '.join(f'{name}: {len(p)}' for name, p in patients_per_region.items())}); a population needs "
            f"at least {MIN_PATIENTS}.",
            "Add the cohort's other patients to the file, or fit single patients with `ragaliv tac`.",
        )
    tacs = [PatientTac(c.patient, c.region, c.time_h, c.activity_mbq, c.administered_mbq) for c in curves]
    try:
        fit = fit_population(tacs, model=model, calibration_rel_uncertainty=calibration)
    except RagalivInputError as error:
        raise RagalivInputError(f"{tacs_csv}: {error.message}", error.hint) from None
    estimates = {(p.patient, p.region): p for p in fit.patients}
    individual = {(c.patient, c.region): _individual_fit(c, calibration, tacs_csv) for c in curves}
    order = {name: i for i, name in enumerate(dict.fromkeys(c.patient for c in curves))}
    rows = [_row(c, estimates.get((c.patient, c.region)), individual[(c.patient, c.region)])
            for c in sorted(curves, key=lambda c: order[c.patient])]
    return PopulationRun(fit, curves, rows)


def write_population_outputs(run: PopulationRun, output: str, tacs_csv: str, parameters: dict,
                             write_provenance=None) -> dict:
    """``tia.csv``, ``population.json``, ``population.png`` (when matplotlib is installed) and
    ``provenance.json`` (``write_provenance(output, paths)``, or the standard one naming ``tacs_csv``) in
    ``output``; returns their paths."""
    os.makedirs(output, exist_ok=True)
    paths = {"tia": os.path.join(output, "tia.csv"), "population": os.path.join(output, "population.json")}
    write_csv(paths["tia"], TIA_COLUMNS, run.rows)
    document = run.fit.to_document()
    document["input"] = os.path.basename(tacs_csv)
    write_json(paths["population"], document)
    if matplotlib_available():
        paths["plot"] = os.path.join(output, "population.png")
        from ..report.plots import plot_population

        plot_population(run.fit, run.curves, paths["plot"])
    if write_provenance is None:
        from ..report.provenance import write_provenance as standard

        paths["provenance"] = standard(output, {"tacs": tacs_csv}, parameters, list(paths.values()))
    else:
        paths["provenance"] = write_provenance(output, list(paths.values()))
    return paths


def run_population(tacs_csv: str, output: str, model: str = "auto", calibration_uncertainty: float = 0.0) -> int:
    """Fit the cohort of ``tacs_csv`` and write the results into ``output``."""
    run = fit_population_csv(tacs_csv, model, calibration_uncertainty)
    fit, rows = run.fit, run.rows
    parameters = {"model": model, "calibration_uncertainty": calibration_uncertainty}
    paths = write_population_outputs(run, output, tacs_csv, parameters)

    print(f"{'patient':10s} {'region':16s} {'model':13s} {'pts':>3s} {'TIA (MBq·h)':>12s} {'TIAC (h)':>9s} "
          f"{'u(TIA)':>7s}")
    for row in rows:
        print(f"{row['patient']:10s} {row['region']:16s} {row['model']:13s} {row['n_points']:3d} "
              f"{row['tia_mbq_h']:12.5g} {row['tiac_h']:9.4g} {row['tia_rel_uncertainty'] or 0.0:7.1%}")
    for name, region in fit.regions.items():
        cv = ", ".join(f"{key} {value:.0%}" for key, value in region.between_patient_cv().items())
        print(f"{name}: {region.model}, typical TIAC {region.typical()['tiac_h']:.4g} h, between-patient CV {cv}, "
              f"residual {region.residual_sd:.1%}, {'converged' if region.converged else 'NOT converged'}")
        for flag in region.flags:
            print(f"warning: {name}: {flag}", file=sys.stderr)
    for name, reason in fit.unfitted.items():
        print(f"warning: {name}: no population fit ({reason}); its patients were fitted alone", file=sys.stderr)
    if "plot" not in paths:
        print("note: matplotlib is not installed: population.png skipped", file=sys.stderr)
    print(f"Results: {', '.join(paths.values())}")
    return 0


def command(args) -> int:
    return run_population(args.tacs, args.output, args.model, args.calibration_uncertainty)
