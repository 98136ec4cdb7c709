"""The population step of ``ragaliv batch``: population kinetics over the cohort's finished dosimetry results.

After the patients, the batch collects the time-activity curves of every finished patient with dosimetry
(:func:`ragaliv.cli.population.collect_dosimetry_tacs` on ``OUTDIR/<patient>/dosimetry``), writes them to
``OUTDIR/cohort_tacs.csv`` (the input format of ``ragaliv population``) and fits them exactly as
``ragaliv population cohort_tacs.csv --model auto --calibration-uncertainty U`` would, into
``OUTDIR/population/`` (``tia.csv``, ``population.json``, ``population.png``, ``provenance.json``, and
``done.json``, the marker written last). U is the calibration uncertainty of the studies
(``calibration_rel_uncertainty`` of each patient's ``summary.json``); when they differ the largest is used and
the batch says so (a larger uncertainty is the conservative choice for a shared fit).

* **Skipped, not failed**, when no region has :data:`ragaliv.kinetics.population.MIN_PATIENTS` patients (the
  reason is printed and recorded in ``cohort_summary.json``), and with ``--no-population``. A result of an
  earlier run that no longer describes the cohort is then removed.
* **Atomic and resumable** like a patient folder: computed into ``OUTDIR/.population.partial-XXXX/``, checked,
  then renamed into place. ``done.json`` keys the result by the SHA-256 of every included patient's
  ``done.json`` (and the software version and model): a re-run with the same patients reuses it (after checking
  the hashes of its files and of ``cohort_tacs.csv``); a patient added, recomputed or failed changes the key and
  the population is fitted again.
* **De-identified**: the curves come from the patients' de-identified results (pseudonyms, scrubbed region
  names); the provenance names ``cohort_tacs.csv`` by relative path, and before publishing every file is
  searched for the original identifiers of every included patient (read from their DICOM headers, as the
  patient check does). A leak publishes nothing.
* **A failed fit** (bad input, or a bug) is reported with its reason in ``population/error.txt``, on the console
  and in ``cohort_summary.json``; the patients' results are untouched and the batch exits with its partial-failure
  code.
"""

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from .. import __version__
from ..errors import RagalivInputError
from .worker import PARTIAL_TAG, PatientTask, describe_failure, identity_scrubber

POPULATION_FOLDER = "population"
COHORT_TACS = "cohort_tacs.csv"
MARKER = "done.json"
ERROR_FILE = "error.txt"
MODEL = "auto"
MARKER_FORMAT = "ragaliv-batch-population"
RESULT_NAMES = ("tia.csv", "population.json", "population.png", "provenance.json")
CALIBRATION_SOURCE = "calibration_rel_uncertainty of the patients' studies (the largest when they differ)"


@dataclass
class PopulationOutcome:
    """What the population step did. ``document`` goes into ``cohort_summary.json`` (identical whether the fit
    was computed now or reused); ``estimates`` are {patient: {region: {"tia_mbq_h", "tiac_h"}}} of the
    population-method rows of ``tia.csv``; ``files`` the published files (cohort provenance)."""

    status: str  # done | skipped | failed
    reason: Optional[str] = None
    reused: bool = False
    document: dict[str, Any] = field(default_factory=dict)
    estimates: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status == "failed"


def is_population_folder(path: str) -> bool:
    """``OUTDIR/population`` as the batch writes it (a result with its marker, or an error), nothing foreign."""
    try:
        names = set(os.listdir(path))
    except OSError:
        return False
    return bool(names & {MARKER, ERROR_FILE}) and names <= {MARKER, ERROR_FILE, *RESULT_NAMES}


def check_population_folder(output: str) -> None:
    """Refuse, before anything runs, an ``OUTDIR/population`` the batch did not write (it would be replaced)."""
    path = os.path.join(output, POPULATION_FOLDER)
    if os.path.lexists(path) and not is_population_folder(path):
        raise RagalivInputError(f"{path} exists and is not the population result of `ragaliv batch`; it would be "
                                "replaced.", "Give an empty or batch-only output folder (-o), or --no-population.")


def remove_population_outputs(output: str, keep_tacs: bool = False) -> list[str]:
    """Delete the population result of an earlier run (it would no longer describe this cohort); return the
    names removed (``population/``, ``cohort_tacs.csv``)."""
    removed = []
    folder = os.path.join(output, POPULATION_FOLDER)
    if os.path.isdir(folder) and not os.path.islink(folder) and is_population_folder(folder):
        shutil.rmtree(folder)
        removed.append(f"{POPULATION_FOLDER}/")
    tacs = os.path.join(output, COHORT_TACS)
    if not keep_tacs and os.path.isfile(tacs):
        os.remove(tacs)
        removed.append(COHORT_TACS)
    return removed


def _skipped(reason: str, output: str, keep_tacs: bool = False) -> PopulationOutcome:
    removed = remove_population_outputs(output, keep_tacs)
    notes = []
    if removed:
        notes.append(f"the population result of an earlier run was removed ({', '.join(removed)}): it does not "
                     "describe this run")
    return PopulationOutcome("skipped", reason, document=_document("skipped", reason), notes=notes)


def _document(status: str, reason: Optional[str] = None, **values: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"status": status, "reason": reason, "model": MODEL}
    document.update(values)
    return document


def run_population_step(output: str, rows: Sequence[dict[str, Any]], tasks: dict[str, PatientTask],
                        enabled: bool = True) -> PopulationOutcome:
    """The population fit over the finished patients with dosimetry of ``rows`` (cohort summary rows, in
    COHORT.csv order); ``tasks`` by folder name (for the identifiers of the leak check)."""
    if not enabled:
        return _skipped("--no-population", output)
    with_dosimetry = [row for row in rows if "dosimetry" in str(row.get("analyses") or "").split("+")]
    included = [row["patient"] for row in with_dosimetry if row["status"] == "done"
                and os.path.isfile(os.path.join(output, row["patient"], "done.json"))]
    if not with_dosimetry:
        return _skipped("no patient of COHORT.csv has a dosimetry study (column 'study')", output)
    if not included:
        return _skipped("no patient finished its dosimetry", output)
    from ..report.provenance import file_sha256

    done_hashes = {name: file_sha256(os.path.join(output, name, "done.json")) for name in included}
    key = hashlib.sha256(json.dumps({"format": MARKER_FORMAT, "ragaliv": __version__, "model": MODEL,
                                     "patients": done_hashes}, sort_keys=True).encode()).hexdigest()
    marker = _reusable(output, key)
    if marker is not None:
        return _outcome(output, marker, reused=True)
    try:
        return _compute(output, included, done_hashes, key, [tasks[name] for name in included])
    except Exception as error:  # a bug (or a foreign folder) outside the fit: reported like a failed fit
        return _failed(output, *describe_failure(error))


# --- reuse -------------------------------------------------------------------------------------------------
def _reusable(output: str, key: str) -> Optional[dict[str, Any]]:
    """The marker of a published population whose key matches and whose files (and cohort_tacs.csv) are intact."""
    from ..report.provenance import file_sha256

    folder = os.path.join(output, POPULATION_FOLDER)
    try:
        with open(os.path.join(folder, MARKER), encoding="utf-8") as stream:
            marker = json.load(stream)
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("format") != MARKER_FORMAT or marker.get("key") != key:
        return None
    outputs = marker.get("outputs")
    if not isinstance(outputs, dict) or "tia.csv" not in outputs or not isinstance(marker.get("summary"), dict):
        return None
    expected = dict(outputs, **{os.path.join("..", COHORT_TACS): marker.get("cohort_tacs_sha256")})
    for relative, digest in expected.items():
        path = os.path.normpath(os.path.join(folder, relative))
        if not os.path.isfile(path) or file_sha256(path) != digest:
            return None
    return marker


def _outcome(output: str, marker: dict[str, Any], reused: bool) -> PopulationOutcome:
    """The outcome of a published population (read back from its files: the same whether computed or reused)."""
    import csv

    from ..cli.population import POPULATION_METHOD

    folder = os.path.join(output, POPULATION_FOLDER)
    estimates: dict[str, dict[str, dict[str, float]]] = {}
    with open(os.path.join(folder, "tia.csv"), newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            if row["method"] == POPULATION_METHOD:
                estimates.setdefault(row["patient"], {})[row["region"]] = {
                    "tia_mbq_h": float(row["tia_mbq_h"]), "tiac_h": float(row["tiac_h"])}
    files = [os.path.join(output, COHORT_TACS)] + [os.path.join(folder, name) for name in [*marker["outputs"], MARKER]]
    return PopulationOutcome("done", reused=reused, document=marker["summary"], estimates=estimates, files=files,
                             notes=list(marker["summary"].get("notes", [])))


# --- computation -------------------------------------------------------------------------------------------
def _calibration(output: str, included: Sequence[str]) -> tuple[float, Optional[str]]:
    """The largest calibration uncertainty of the included studies, and a note when they differ."""
    values = {}
    for name in included:
        path = os.path.join(output, name, "dosimetry", "summary.json")
        try:
            with open(path, encoding="utf-8") as stream:
                values[name] = float(json.load(stream)["settings"]["calibration_rel_uncertainty"])
        except (OSError, KeyError, TypeError, ValueError) as error:
            raise RagalivInputError(f"patient {name}: no calibration uncertainty in its dosimetry summary.json "
                                    f"({error}).", "Re-run that patient (delete its folder).") from None
    largest = max(values.values())
    distinct = sorted(set(values.values()))
    if len(distinct) == 1:
        return largest, None
    counts = ", ".join(f"{value:.3g} ({sum(v == value for v in values.values())} patient(s))" for value in distinct)
    return largest, (f"the studies state different calibration uncertainties ({counts}): the population fit uses "
                     f"the largest, {largest:.3g}")


def _write_provenance(folder: str, outputs: Sequence[str], tacs_path: str, done_hashes: dict[str, str],
                      parameters: dict[str, Any]) -> str:
    """``provenance.json`` of the population: its input is ``../cohort_tacs.csv`` (relative: no absolute path in
    a de-identified folder) and the patients' ``done.json`` it was built from."""
    import datetime

    from ..io.results import write_json
    from ..report.provenance import file_sha256, software_versions

    document = {
        "software": software_versions(),
        "computed_at_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "inputs": {"tacs": {"path": f"../{COHORT_TACS}", "sha256": file_sha256(tacs_path)},
                   "patients": {name: {"done_json_sha256": digest} for name, digest in done_hashes.items()}},
        "parameters": parameters,
        "outputs": {os.path.basename(path): file_sha256(path) for path in outputs if os.path.isfile(path)},
    }
    path = os.path.join(folder, "provenance.json")
    write_json(path, document)
    return path


def _fit_summary(run, included: Sequence[str], calibration: float, note: Optional[str], written: Sequence[str]
                 ) -> dict[str, Any]:
    regions = {}
    notes = [note] if note else []
    if "population.png" not in written:
        notes.append("matplotlib is not installed: population.png skipped")
    for name, region in run.fit.regions.items():
        regions[name] = {"model": region.model, "n_patients": region.n_patients,
                         "typical_tiac_h": region.typical()["tiac_h"],
                         "between_patient_cv": region.between_patient_cv(),
                         "residual_error_sd_log": region.residual_sd, "converged": region.converged,
                         "flags": list(region.flags)}
        notes.extend(f"{name}: {flag}" for flag in region.flags)
        if not region.converged:
            notes.append(f"{name}: the population fit did NOT converge")
    for name, reason in run.fit.unfitted.items():
        notes.append(f"{name}: no population fit ({reason}); its patients were fitted alone")
    return _document("done", patients=list(included), calibration_rel_uncertainty=calibration,
                     calibration_source=CALIBRATION_SOURCE, regions=regions,
                     regions_without_population_fit=dict(run.fit.unfitted), notes=notes,
                     outputs=[COHORT_TACS] + [f"{POPULATION_FOLDER}/{name}" for name in [*written, MARKER]])


def _compute(output: str, included: list[str], done_hashes: dict[str, str], key: str,
             tasks: Sequence[PatientTask]) -> PopulationOutcome:
    from ..cli.population import collect_dosimetry_tacs, write_population_csv
    from ..kinetics.population import MIN_PATIENTS

    staging = tempfile.mkdtemp(prefix=f".{POPULATION_FOLDER}{PARTIAL_TAG}-", dir=output)
    try:
        try:
            curves = collect_dosimetry_tacs({name: os.path.join(output, name, "dosimetry") for name in included})
            calibration, note = _calibration(output, included)
        except RagalivInputError as error:
            return _failed(output, describe_failure(error)[0].replace(output + os.sep, ""))
        tacs_path = os.path.join(staging, COHORT_TACS)
        write_population_csv(curves, tacs_path)
        patients_per_region: dict[str, set] = {}
        for curve in curves:
            patients_per_region.setdefault(curve.region, set()).add(curve.patient)
        if max((len(patients) for patients in patients_per_region.values()), default=0) < MIN_PATIENTS:
            reason = (f"fewer than {MIN_PATIENTS} patients with dosimetry in every region ({len(included)} finished "
                      f"patient(s) with dosimetry); a population fit needs at least {MIN_PATIENTS}")
            leaks = _leaks(tasks, staging)
            if leaks:
                return _failed(output, _leak_message(leaks))
            outcome = _skipped(reason, output, keep_tacs=True)  # the curves: for `ragaliv population`
            os.replace(tacs_path, os.path.join(output, COHORT_TACS))
            outcome.files.append(os.path.join(output, COHORT_TACS))
            return outcome
        folder = os.path.join(staging, POPULATION_FOLDER)
        failure = _fit_population(folder, tacs_path, included, done_hashes, key, calibration, note)
        leaks = _leaks(tasks, staging)
        if leaks:
            return _failed(output, _leak_message(leaks))
        _publish(staging, output)
        if failure is not None:
            return PopulationOutcome("failed", failure, document=_document("failed", failure),
                                     files=[os.path.join(output, COHORT_TACS),
                                            os.path.join(output, POPULATION_FOLDER, ERROR_FILE)])
        with open(os.path.join(output, POPULATION_FOLDER, MARKER), encoding="utf-8") as stream:
            return _outcome(output, json.load(stream), reused=False)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _fit_population(folder: str, tacs_path: str, included: Sequence[str], done_hashes: dict[str, str], key: str,
                    calibration: float, note: Optional[str]) -> Optional[str]:
    """Fit and write ``folder`` (results and marker), or ``folder/error.txt``; returns the failure message or
    None. Messages name ``cohort_tacs.csv``, not the staging path."""
    from ..cli.population import fit_population_csv, write_population_outputs
    from ..io.results import write_json
    from ..report.provenance import file_sha256

    parameters = {"model": MODEL, "calibration_uncertainty": calibration, "calibration_source": CALIBRATION_SOURCE,
                  "source": "ragaliv batch"}
    try:
        run = fit_population_csv(tacs_path, MODEL, calibration)
        paths = write_population_outputs(
            run, folder, tacs_path, parameters,
            write_provenance=lambda directory, outputs: _write_provenance(directory, outputs, tacs_path,
                                                                          done_hashes, parameters))
    except Exception as error:  # bad input or a bug: reported, the patients' results are kept
        message, detail = describe_failure(error)
        message, detail = (text.replace(tacs_path, COHORT_TACS) for text in (message, detail))
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        _write_error(folder, message, detail, included)
        return message
    outputs = {os.path.basename(path): file_sha256(path) for path in paths.values()}
    marker = {
        "format": MARKER_FORMAT, "status": "done", "ragaliv": __version__, "key": key,
        "patients": dict(done_hashes), "cohort_tacs_sha256": file_sha256(tacs_path), "outputs": outputs,
        "summary": _fit_summary(run, included, calibration, note, list(outputs)),
    }
    write_json(os.path.join(folder, MARKER), marker)
    return None


def _leaks(tasks: Sequence[PatientTask], staging: str) -> list[str]:
    """Original identifiers of any included patient found in the staged population files (empty when not
    de-identifying)."""
    found: list[str] = []
    for task in tasks:
        scrubber = identity_scrubber(task)
        if scrubber is not None:
            found.extend(item for item in scrubber.leaks(staging) if item not in found)
    return found


def _leak_message(leaks: Sequence[str]) -> str:
    return f"de-identification check failed ({', '.join(leaks)}); the population results were not written"


def _publish(staging: str, output: str) -> None:
    """Rename the staged ``population`` folder into place (the earlier one moved aside first), then
    ``cohort_tacs.csv``. A kill between the two renames leaves a marker whose cohort_tacs.csv hash no longer
    matches: the next run fits again."""
    final = os.path.join(output, POPULATION_FOLDER)
    if os.path.lexists(final):
        if not is_population_folder(final):
            raise RagalivInputError(f"{final} is not the population result of `ragaliv batch`; it is left alone.",
                                    "Give an empty or batch-only output folder (-o).")
        aside = tempfile.mkdtemp(prefix=f".{POPULATION_FOLDER}{PARTIAL_TAG}-old-", dir=output)
        os.rmdir(aside)
        os.rename(final, aside)
        os.rename(os.path.join(staging, POPULATION_FOLDER), final)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.rename(os.path.join(staging, POPULATION_FOLDER), final)
    os.replace(os.path.join(staging, COHORT_TACS), os.path.join(output, COHORT_TACS))


def _write_error(folder: str, message: str, detail: str = "", included: Sequence[str] = ()) -> None:
    from ..io.atomic import write_text

    patients = f"population fit of {len(included)} patient(s): {', '.join(included)}\n" if included else ""
    write_text(os.path.join(folder, ERROR_FILE), f"{patients}error: {message}\n" + (f"\n{detail}" if detail else ""))


def _failed(output: str, reason: str, detail: str = "") -> PopulationOutcome:
    """A population that failed before anything was staged for publishing: ``population/error.txt`` replaces
    the earlier result (which no longer describes the cohort)."""
    remove_population_outputs(output)
    staging = tempfile.mkdtemp(prefix=f".{POPULATION_FOLDER}{PARTIAL_TAG}-", dir=output)
    try:
        _write_error(staging, reason, detail)
        os.rename(staging, os.path.join(output, POPULATION_FOLDER))
    except OSError:  # best effort: the failure is on the console and in the cohort summary anyway
        shutil.rmtree(staging, ignore_errors=True)
        return PopulationOutcome("failed", reason, document=_document("failed", reason))
    return PopulationOutcome("failed", reason, document=_document("failed", reason),
                             files=[os.path.join(output, POPULATION_FOLDER, ERROR_FILE)])
