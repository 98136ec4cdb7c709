"""``ragaliv tac TACS.csv --administered-mbq A -o OUTDIR``: fit and integrate time-activity curves.

Input CSV columns ``region,time_h,activity_mbq[,sigma_mbq]`` (activity as measured, not decay corrected;
other columns are ignored). Without ``sigma_mbq`` the fits use the relative error model (weights 1/A², scale from
the residuals; :func:`ragaliv.kinetics.fit_tac`); ``stp`` uses the
point nearest 96 h (Hänscheid). Outputs: ``tia.csv`` (first columns ``region,model,tia_mbq_h,tiac_h,
tia_rel_uncertainty,effective_half_life_h``), ``tac_fits.json``, ``tac.png`` and ``provenance.json``.
"""

import math
import os
import sys
from dataclasses import dataclass, field
from typing import Optional

from ..errors import RagalivInputError
from ..io.csv_table import csv_number, read_csv_table, refuse_case_variants
from ..io.results import write_csv, write_json

REQUIRED_COLUMNS = ("region", "time_h", "activity_mbq")
OPTIONAL_COLUMNS = ("sigma_mbq",)


@dataclass
class CsvTac:
    """Points of one region as read (sorted by time), with the CSV line of each point."""

    region: str
    time_h: list[float] = field(default_factory=list)
    activity_mbq: list[float] = field(default_factory=list)
    sigma_mbq: list[Optional[float]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)

    def sorted(self) -> "CsvTac":
        order = sorted(range(len(self.time_h)), key=lambda i: self.time_h[i])
        return CsvTac(
            self.region,
            [self.time_h[i] for i in order],
            [self.activity_mbq[i] for i in order],
            [self.sigma_mbq[i] for i in order],
            [self.lines[i] for i in order],
        )

    def sigma(self, path: str) -> Optional[list[float]]:
        given = [s is not None for s in self.sigma_mbq]
        if not any(given):
            return None
        if not all(given):
            missing = [line for line, ok in zip(self.lines, given) if not ok]
            raise RagalivInputError(
                f"{path}: region {self.region!r} has sigma_mbq on some rows but not on line(s) "
                f"{', '.join(map(str, missing))}.",
                "Give sigma_mbq for every point of a region, or for none (relative error model).",
            )
        return [float(s) for s in self.sigma_mbq]


def read_tacs_csv(path: str) -> list[CsvTac]:
    """Regions in order of first appearance; errors name the line and column. Region names that differ only in
    case or spacing are refused."""
    header, data = read_csv_table(path, REQUIRED_COLUMNS,
                                  "The header must name region,time_h,activity_mbq (and optionally sigma_mbq).",
                                  "Quote region names that contain commas.",
                                  numeric_columns=("time_h", "activity_mbq", "sigma_mbq"))
    index = {name: header.index(name) for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if name in header}
    regions: dict[str, CsvTac] = {}
    for offset, row in data:
        region = row[index["region"]].strip()
        if not region:
            raise RagalivInputError(f"{path} line {offset}: region is empty.", "Name the region of every point.")
        time_h = csv_number(row[index["time_h"]], "time_h", offset, path)
        activity = csv_number(row[index["activity_mbq"]], "activity_mbq", offset, path)
        sigma = None
        if "sigma_mbq" in index:
            sigma = csv_number(row[index["sigma_mbq"]], "sigma_mbq", offset, path, optional=True)
        tac = regions.setdefault(region, CsvTac(region))
        if time_h in tac.time_h:
            first = tac.lines[tac.time_h.index(time_h)]
            raise RagalivInputError(
                f"{path} line {offset}: region {region!r} has time {time_h:g} h twice (lines {first} and {offset}).",
                "Remove the duplicate point.",
            )
        tac.time_h.append(time_h)
        tac.activity_mbq.append(activity)
        tac.sigma_mbq.append(sigma)
        tac.lines.append(offset)
    if not regions:
        raise RagalivInputError(f"{path} has a header but no data rows.", "Add one row per region and time point.")
    refuse_case_variants({name: tac.lines for name, tac in regions.items()}, "region", path)
    return [tac.sorted() for tac in regions.values()]


def run_tac(tacs_csv: str, administered_mbq: float, output: str, model: str = "auto",
            calibration_uncertainty: float = 0.0, accept=()) -> int:
    """Fit and integrate the TACs of ``tacs_csv``; write tia.csv, tac_fits.json, tac.png and provenance.json.

    Before anything is written: the administered activity is a 177Lu activity in MBq, the times are hours (not
    days or minutes), no point exceeds the decayed administered activity, a single-time-point TIA comes from a
    point at 48 h or later, no TIAC exceeds 1/lambda of 177Lu (:mod:`ragaliv.checks.spect`)."""
    from ..checks.findings import apply_findings, normalise_accept
    from ..checks.outputs import check_output_folder, clear_previous_outputs
    from ..checks.spect import (
        administered_finding,
        fit_stp_points,
        stp_time_findings,
        tac_findings,
        tac_time_finding,
        tiac_finding,
    )
    from ..kinetics import fit_tac
    from ..report.provenance import write_provenance
    from ..spect.tables import TIA_COLUMNS, fit_details, plot_curve, tia_row

    calibration = calibration_uncertainty
    if not math.isfinite(calibration) or not 0.0 <= calibration < 1.0:
        raise RagalivInputError(
            f"--calibration-uncertainty {calibration!r} must be a fraction in [0, 1).",
            "Give the relative standard uncertainty, e.g. 0.05 for 5 %.",
        )
    accepted = normalise_accept(accept)
    output = check_output_folder(output, "tac", "-o", inputs=(tacs_csv,))
    administered = administered_mbq
    findings = [administered_finding(administered, f"--administered-mbq {administered:g}",
                                     "Give --administered-mbq in MBq (7.4 GBq = 7400)")]
    apply_findings([f for f in findings if f is not None], accepted)  # a unit slip stops here, before any fit
    tacs = read_tacs_csv(tacs_csv)
    # Times first: minutes or days would make the activity checks blame the activities.
    time_findings = [tac_time_finding(tac.region, tac.time_h, f"{tacs_csv}: region ") for tac in tacs]
    warnings = apply_findings([f for f in time_findings if f is not None], accepted)
    for tac in tacs:
        findings.extend(tac_findings(tac.region, tac.time_h, tac.activity_mbq, administered,
                                     where=f"{tacs_csv}: region "))
    fits = []
    for tac in tacs:
        try:
            fit = fit_tac(tac.time_h, tac.activity_mbq, tac.sigma(tacs_csv), model=model,
                          calibration_rel_uncertainty=calibration, region=tac.region)
        except RagalivInputError as error:
            lines = ", ".join(map(str, tac.lines))
            raise RagalivInputError(f"{tacs_csv}: region {tac.region!r} (lines {lines}): {error.message}",
                                    error.hint) from None
        fits.append(fit)
        findings.append(tiac_finding(fit.region, fit.tia_mbq_h / administered, "region "))
    findings.extend(stp_time_findings(fit_stp_points(fits), f"{tacs_csv}: region ", len(fits)))
    warnings += apply_findings([f for f in findings if f is not None], accepted)

    clear_previous_outputs(output, "tac")
    os.makedirs(output, exist_ok=True)
    paths = {
        "tia": os.path.join(output, "tia.csv"),
        "fits": os.path.join(output, "tac_fits.json"),
        "plot": os.path.join(output, "tac.png"),
    }
    write_csv(paths["tia"], TIA_COLUMNS, [tia_row(fit.region, fit, administered) for fit in fits])
    write_json(paths["fits"], {
        "administered_mbq": administered,
        "model_requested": model,
        "calibration_rel_uncertainty": calibration,
        "weighting": {fit.region: fit.weighting for fit in fits},
        "regions": {fit.region: fit_details(fit, administered) for fit in fits},
        "warnings": warnings,
        "accepted_checks": list(accepted),
    })
    try:
        from ..report.plots import plot_time_activity  # matplotlib: optional (absent inside Slicer unless installed)
    except ImportError:
        paths.pop("plot")
        print("note: matplotlib is not installed: tac.png skipped", file=sys.stderr)
    else:
        plot_time_activity([plot_curve(fit.region, fit.time_h, fit.measured_activity_mbq, fit) for fit in fits],
                           paths["plot"], "Time-activity curves (not decay corrected)")
    parameters = {"administered_mbq": administered, "model": model, "calibration_uncertainty": calibration,
                  "accept": list(accepted)}
    paths["provenance"] = write_provenance(output, {"tacs": tacs_csv}, parameters, list(paths.values()))

    print(f"{'region':20s} {'model':13s} {'TIA (MBq·h)':>12s} {'TIAC (h)':>9s} {'u(TIA)':>7s} {'T_eff (h)':>9s}")
    for fit in fits:
        rel = "" if fit.tia_rel_uncertainty is None else f"{fit.tia_rel_uncertainty:.1%}"
        print(f"{fit.region:20s} {fit.model:13s} {fit.tia_mbq_h:12.5g} {fit.tia_mbq_h / administered:9.4g} "
              f"{rel:>7s} {fit.effective_half_life_h:9.4g}")
    for fit in fits:
        for flag in fit.flags:
            print(f"warning: {fit.region}: fit flag: {flag}", file=sys.stderr)
        for text in fit.warnings:
            print(f"note: {fit.region}: {text}", file=sys.stderr)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"Results: {', '.join(paths.values())}")
    return 0


def command(args) -> int:
    return run_tac(args.tacs, args.administered_mbq, args.output, args.model, args.calibration_uncertainty,
                   args.accept)
