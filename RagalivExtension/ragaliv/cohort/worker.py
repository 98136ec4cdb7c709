"""One patient of a cohort batch, run in a worker process: staged, checked, published, marked done.

A patient is computed into a staging folder ``OUTDIR/.<patient>.partial-XXXX/``; ``done.json`` (the hashes
of every result file, the row of the cohort summary, and the fingerprint of the inputs and parameters) is
written last, then the staging folder is renamed to ``OUTDIR/<patient>/``. A killed run therefore leaves
either the previous complete folder or none, plus ``.partial`` folders that the next run deletes. A failed
patient's folder holds only ``error.txt``.
"""

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Optional

from .. import __version__
from ..errors import RagalivInputError
from .table import CohortRow

DONE_MARKER = "done.json"
ERROR_FILE = "error.txt"
RESULT_FOLDERS = ("ratio", "dosimetry")
PARTIAL_TAG = ".partial"
WATCHDOG_INTERVAL_S = 0.5


class DeidentificationError(RuntimeError):
    """An original identifier is still present in a de-identified result (a bug: nothing is published)."""


@dataclass(frozen=True)
class PatientTask:
    """Everything a worker needs (picklable: works with the fork, forkserver and spawn start methods)."""

    row: CohortRow
    folder: str  # name of the patient's output folder (the pseudonym when de-identifying)
    output: str  # OUTDIR, absolute
    fingerprint: str
    deidentify: bool = True
    secret: str = ""


# --- worker process ----------------------------------------------------------------------------------------
def worker_init() -> None:
    """Exit when the parent batch process is gone (killed): no orphan keeps computing."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(WATCHDOG_INTERVAL_S)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, name="ragaliv-batch-watchdog", daemon=True).start()


def run_patient(task: PatientTask) -> dict[str, Any]:
    """Compute one patient; never raises for bad input or bugs: returns {"folder", "status", "row",
    "regions", "seconds"} (status "done" or "failed")."""
    from .summary import empty_row

    start = time.monotonic()
    row = empty_row(task.folder, task.row.line, task.row.analyses)
    scrubber = _scrubber(task)
    staging = tempfile.mkdtemp(prefix=f".{task.folder}{PARTIAL_TAG}-", dir=task.output)
    regions: list[dict[str, Any]] = []
    try:
        if task.row.problems:
            raise RagalivInputError("; ".join(task.row.problems))
        regions = _compute(task, staging, row, scrubber)
        row["status"] = "done"
        _write_done(task, staging, row, regions)
        publish(staging, os.path.join(task.output, task.folder))
    except Exception as error:  # one patient's failure never stops the others
        message, detail = describe_failure(error)
        if scrubber is not None:
            message, detail = scrubber.text(message), scrubber.text(detail)
        row.update({key: None for key in row if key not in ("patient", "line", "analyses")})
        row.update({"status": "failed", "error": message})
        regions = []
        shutil.rmtree(staging, ignore_errors=True)
        write_failure(task, message, detail)
    return {"folder": task.folder, "status": row["status"], "row": row, "regions": regions,
            "seconds": time.monotonic() - start}


def describe_failure(error: BaseException) -> tuple[str, str]:
    """(one-line message, detail): the message of a RagalivInputError, 'internal error' + type otherwise."""
    if isinstance(error, RagalivInputError):
        message = error.message + (f" Fix: {error.hint}" if error.hint else "")
        return _batch_flags(message), ""
    detail = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return f"internal error: {type(error).__name__}: {error}", detail


def _batch_flags(text: str) -> str:
    """The override flags of the commands, as the COHORT.csv columns that set them in a batch."""
    text = re.sub(r"--accept ([a-z-]+)", r"\1 in the COHORT.csv column 'accept'", text)
    return text.replace("--confirm-consistency", "the COHORT.csv column 'confirm_consistency' (yes)")


def write_failure(task: PatientTask, message: str, detail: str = "") -> None:
    """Replace the patient's folder by one holding only ``error.txt`` (atomically, like a result). Best effort:
    the failure is in the cohort summary even if this cannot be written."""
    from ..io.atomic import write_text

    text = (f"patient: {task.folder}\nCOHORT.csv line: {task.row.line}\nanalyses: {'+'.join(task.row.analyses)}\n"
            f"error: {message}\n")
    if detail:
        text += "\n" + detail
    staging = None
    try:
        staging = tempfile.mkdtemp(prefix=f".{task.folder}{PARTIAL_TAG}-", dir=task.output)
        write_text(os.path.join(staging, ERROR_FILE), text)
        publish(staging, os.path.join(task.output, task.folder))
    except (OSError, RagalivInputError):
        if staging:
            shutil.rmtree(staging, ignore_errors=True)


def _scrubber(task: PatientTask):
    if not task.deidentify:
        return None
    from ..report.phi import Deidentifier
    from .scrub import ResultScrubber

    scrubber = ResultScrubber(Deidentifier(enabled=True, secret=task.secret), task.row.patient_id)
    for name, as_written in task.row.cells.items():
        scrubber.add_path(task.row.values.get(name), name, as_written)
    return scrubber


def identity_scrubber(task: PatientTask):
    """The patient's scrubber with the identifiers of all its inputs (ratio PETs, reference, and the images the
    STUDY.json names), read from their first DICOM headers without loading the images: the leak check of
    files built from several finished patients (the population step). None when not de-identifying."""
    scrubber = _scrubber(task)
    if scrubber is None:
        return None
    values = task.row.values
    inputs = {name: values[name] for name in ("ia", "iv", "segmentation", "labels", "reference", "study")
              if values.get(name)}
    if values.get("study"):
        inputs.update({f"study input {index}": path for index, path in enumerate(_study_paths(values["study"]))})
    scrubber.add_inputs(inputs)
    return scrubber


def _compute(task: PatientTask, staging: str, row: dict[str, Any], scrubber) -> list[dict[str, Any]]:
    """Run the analyses of the row into ``staging``; fill ``row``; return the per-region doses."""
    warnings: list[str] = []
    regions: list[dict[str, Any]] = []
    if task.row.runs_ratio:
        row.update(_run_ratio(task.row, os.path.join(staging, "ratio"), scrubber, warnings))
    if task.row.runs_dosimetry:
        values, regions = _run_dosimetry(task.row, os.path.join(staging, "dosimetry"), scrubber, warnings)
        row.update(values)
    unique = list(dict.fromkeys(warnings))
    row["warnings"] = "; ".join(unique if scrubber is None else [scrubber.text(text) for text in unique]) or None
    if scrubber is not None:
        found = scrubber.leaks(staging)
        if found:
            raise DeidentificationError(f"de-identification check failed ({', '.join(found)}); nothing was written")
    return regions if scrubber is None else scrubber.document(regions)


# --- ratio -------------------------------------------------------------------------------------------------
_COLUMN_OF_FLAG = {"weight-kg": "weight_kg", "height-cm": "height_cm", "sex": "sex", "half-life-s": "half_life_s",
                   "normalization": "normalization"}  # --accept, --confirm-consistency: _batch_flags


def _cohort_hint(text: str, scan: str) -> str:
    """PET loader messages name CLI flags and the Slicer panel: name the COHORT.csv columns instead
    ('--dose-mbq MBQ (CLI) or the injected activity field of the Slicer ... panel' -> column 'ia_dose_mbq')."""

    def column(flag: str) -> Optional[str]:
        if flag.startswith(("ia-", "iv-")):
            return flag.replace("-", "_")
        if flag in ("dose-mbq", "injection-time", "scan-time"):
            return f"{scan}_{flag.replace('-', '_')}"
        return _COLUMN_OF_FLAG.get(flag)

    def replace(match: "re.Match[str]", prefix: str = "") -> str:
        name = column(match.group(1))
        return f"{prefix}column '{name}'" if name else match.group(0)

    text = re.sub(r"--([a-z][a-z-]*[a-z])[^()]*?\(CLI\) or the [^.;]*? field of the Slicer \"SUV parameters\" panel",
                  lambda match: replace(match, "the COHORT.csv "), text)
    text = re.sub(r"--([a-z][a-z-]*[a-z])", replace, text)
    text = text.replace(" on the command line, or fill them in the Slicer \"SUV parameters\" panel", " in COHORT.csv")
    return text


def _load_pet(path: str, row: CohortRow, scan: str):
    from ..pet.suv import SuvOverrides, load_pet

    overrides = SuvOverrides(
        weight_kg=row.values.get("weight_kg"), height_cm=row.values.get("height_cm"), sex=row.values.get("sex"),
        injected_dose_mbq=row.values.get(f"{scan}_dose_mbq"), injection_time=row.values.get(f"{scan}_injection_time"),
        scan_time=row.values.get(f"{scan}_scan_time"), half_life_s=row.values.get("half_life_s"),
        accept=tuple(row.value("accept")),
    )
    try:
        return load_pet(path, overrides, row.value("normalization"))
    except RagalivInputError as error:
        raise RagalivInputError(f"{scan.upper()} PET: {_cohort_hint(error.message, scan)}",
                                _cohort_hint(error.hint, scan) if error.hint else None) from None


def _run_ratio(row: CohortRow, directory: str, scrubber, warnings: list[str]) -> dict[str, Any]:
    """The ``ragaliv ratio`` sequence (cli.command_ratio) on one cohort row."""
    from ..ratio.analysis import analyse_pets, provenance_inputs
    from ..ratio.decision import RatioSettings
    from ..ratio.outputs import write_ratio_outputs
    from ..ratio.segments import load_segments
    from .summary import ratio_values

    values = row.values
    _check_identity(row, {name: values[name] for name in ("ia", "iv", "reference") if values.get(name)}, scrubber,
                    warnings)
    settings = RatioSettings(row.value("metric"), row.value("aggregate"), row.value("threshold"),
                             bool(row.value("confirm_consistency")), tuple(row.value("accept")))
    segments = load_segments(values["segmentation"], values.get("labels"), values.get("reference"))
    ia = _load_pet(values["ia"], row, "ia")
    iv = _load_pet(values["iv"], row, "iv")
    analysis = analyse_pets(segments, ia, iv, settings)
    inputs = provenance_inputs(values["ia"], values["iv"], ia, iv, values["segmentation"], values.get("labels"),
                               values.get("reference"))
    parameters_used = row.settings()  # write_ratio_outputs keeps the parameter keys (no paths, no patient_id)
    parameters_used["source"] = f"ragaliv batch, COHORT.csv line {row.line}"
    write_ratio_outputs(analysis, directory, inputs, parameters_used, plot=True, deidentifier=scrubber)
    warnings.extend(analysis.summary.warnings + ia.parameters.warnings + iv.parameters.warnings)
    return ratio_values(analysis)


# --- dosimetry ---------------------------------------------------------------------------------------------
def _run_dosimetry(row: CohortRow, directory: str, scrubber, warnings: list[str]):
    """The ``ragaliv dosimetry`` sequence (cli.dosimetry.run_dosimetry) on one cohort row."""
    from ..checks.spect import check_result, check_study, fit_notes
    from ..spect import analyse_study, load_study
    from ..spect.outputs import write_study_outputs
    from .summary import dosimetry_values

    accept = tuple(row.value("accept"))
    study = load_study(row.values["study"], accept)
    _check_identity(row, study.inputs, scrubber, warnings)
    if scrubber is not None:
        for index, point in enumerate(study.timepoints):
            scrubber.add_path(None, f"timepoint{index}_image", point.source)
            scrubber.add_path(None, f"timepoint{index}_ct", point.ct_source)
    check_study(study, accept)
    result = analyse_study(study)
    check_result(result, accept)
    write_study_outputs(result, directory, study.inputs, {"study": study.settings(), "accept": list(accept)},
                        deidentifier=scrubber)
    values, regions, notes = dosimetry_values(result)
    warnings.extend(result.warnings + notes + [note for note in fit_notes(result) if note.startswith("fit flag")])
    return values, regions


def _check_identity(row: CohortRow, inputs: dict[str, Any], scrubber, warnings: list[str]) -> None:
    """Read the first DICOM header of each input: identifiers for the scrubber, and a warning when the inputs
    carry different patient IDs (files of another patient?) or another ID than COHORT.csv."""
    from .scrub import first_dicom_header

    headers = {label: first_dicom_header(path) for label, path in inputs.items() if isinstance(path, str)}
    if scrubber is not None:
        scrubber.add_inputs(inputs, headers)
    by_id: dict[str, list[str]] = {}
    for label, header in headers.items():
        patient_id = str(header.get("PatientID", "") or "").strip() if header is not None else ""
        if patient_id:
            by_id.setdefault(patient_id, []).append(label)
    if len(by_id) > 1:
        groups = "; ".join(", ".join(labels) for labels in by_id.values())
        warnings.append(f"PATIENT MISMATCH: the DICOM inputs carry {len(by_id)} different patient IDs ({groups}). "
                        "Check that every file belongs to this patient.")
    elif by_id and row.patient_id not in by_id:
        warnings.append("The DICOM PatientID of the inputs differs from patient_id in COHORT.csv (pseudonym and "
                        "date shift are keyed on the COHORT.csv value).")


# --- done marker, publishing, resume -----------------------------------------------------------------------
def _file_hashes(directory: str) -> dict[str, str]:
    from ..report.provenance import file_sha256

    hashes = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            hashes[os.path.relpath(path, directory).replace(os.sep, "/")] = file_sha256(path)
    return dict(sorted(hashes.items()))


def _write_done(task: PatientTask, staging: str, row: dict[str, Any], regions: list[dict[str, Any]]) -> None:
    from ..io.results import write_json

    document = {"patient": task.folder, "status": "done", "ragaliv": __version__, "fingerprint": task.fingerprint,
                "outputs": _file_hashes(staging), "row": row, "regions": regions}
    write_json(os.path.join(staging, DONE_MARKER), document)


def is_result_folder(path: str) -> bool:
    """A patient folder written by ``ragaliv batch``: a marker (done.json or error.txt), nothing foreign."""
    try:
        names = set(os.listdir(path))
    except OSError:
        return False
    return bool(names & {DONE_MARKER, ERROR_FILE}) and names <= {DONE_MARKER, ERROR_FILE, *RESULT_FOLDERS}


def publish(staging: str, final: str) -> None:
    """Rename the complete staging folder to ``final`` (the previous result folder, if any, is moved aside
    first). A folder that is not a batch result (patient data!) is never replaced."""
    if os.path.lexists(final):
        if not is_result_folder(final):
            shutil.rmtree(staging, ignore_errors=True)
            raise RagalivInputError(f"{final} exists and is not a `ragaliv batch` patient folder; it is left alone.",
                                    "Give an empty or batch-only output folder (-o), not a data folder.")
        parent, name = os.path.split(final)
        aside = tempfile.mkdtemp(prefix=f".{name}{PARTIAL_TAG}-old-", dir=parent)
        os.rmdir(aside)  # a fresh unused name: rename needs it absent
        os.rename(final, aside)
        os.rename(staging, final)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.rename(staging, final)


def read_done(folder: str, fingerprint: str) -> Optional[dict[str, Any]]:
    """The ``done.json`` of a finished patient whose inputs and parameters are unchanged and whose result files
    are all present and intact; None otherwise (the patient is computed again)."""
    from ..report.provenance import file_sha256

    try:
        with open(os.path.join(folder, DONE_MARKER), encoding="utf-8") as stream:
            document = json.load(stream)
    except (OSError, ValueError):
        return None
    if document.get("status") != "done" or document.get("fingerprint") != fingerprint:
        return None
    outputs = document.get("outputs")
    if not isinstance(outputs, dict) or not outputs:
        return None
    for relative, digest in outputs.items():
        path = os.path.join(folder, *relative.split("/"))
        if not os.path.isfile(path) or file_sha256(path) != digest:
            return None
    return document


def _is_partial(name: str) -> bool:
    return name.startswith(".") and PARTIAL_TAG in name


def clean_partials(output: str) -> list[str]:
    """Delete the ``.*.partial*`` files and folders a killed run left in OUTDIR and in its patient folders (only
    there: OUTDIR may sit beside data); return what was removed."""
    removed = []
    for name in sorted(os.listdir(output)):
        path = os.path.join(output, name)
        if _is_partial(name):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.remove(path)
            removed.append(path)
        elif os.path.isdir(path) and is_result_folder(path):
            for root, _, names in os.walk(path):
                for item in names:
                    if _is_partial(item):
                        os.remove(os.path.join(root, item))
                        removed.append(os.path.join(root, item))
    return removed


# --- fingerprint -------------------------------------------------------------------------------------------
def _stat_signature(path: str, digest) -> None:
    """Names, sizes and modification times of a file or of every file under a folder (no reading)."""
    if os.path.isfile(path):
        status = os.stat(path)
        digest.update(f"{path}|{status.st_size}|{status.st_mtime_ns}\n".encode())
    elif os.path.isdir(path):
        for root, directories, names in os.walk(path):
            directories.sort()
            for name in sorted(names):
                _stat_signature(os.path.join(root, name), digest)
    else:
        digest.update(f"{path}|missing\n".encode())


def _study_paths(study: str) -> list[str]:
    """Files a STUDY.json refers to (time-point images and CTs, segmentation, labels, kernel folder)."""
    try:
        with open(study, encoding="utf-8") as stream:
            document = json.load(stream)
    except (OSError, ValueError):
        return []
    if not isinstance(document, dict):
        return []
    base = os.path.dirname(os.path.abspath(study))
    found = [document.get(key) for key in ("segmentation", "labels", "kernel_directory")]
    for entry in document.get("timepoints") or []:
        if isinstance(entry, dict):
            found.extend([entry.get("image"), entry.get("ct")])
    return [os.path.normpath(os.path.join(base, item)) for item in found if isinstance(item, str)]


def fingerprint(row: CohortRow, deidentify: bool, key_check: str) -> str:
    """SHA-256 over the software version, every parameter of the row, the de-identification settings and the
    names/sizes/modification times of every input file: a finished patient is computed again when any of
    them changes."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"ragaliv": __version__, "settings": row.settings(), "deidentify": deidentify,
                              "key": key_check}, sort_keys=True, default=str).encode())
    paths = [row.values[name] for name in ("ia", "iv", "segmentation", "labels", "reference", "study")
             if row.values.get(name)]
    if row.values.get("study"):
        paths.extend(_study_paths(row.values["study"]))
    for path in paths:
        _stat_signature(path, digest)
    return digest.hexdigest()
