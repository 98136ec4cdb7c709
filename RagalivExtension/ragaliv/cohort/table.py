"""``COHORT.csv``: one row per patient, read and checked before anything runs.

Columns (header names are case-insensitive; spaces and hyphens count as underscores; empty cell = default)::

    patient_id          required, unique. The patient's ID - best the DICOM PatientID, so that pseudonyms and
                        date shifts match those of de-identified reports. Keys the pseudonym (output folder).
    ia, iv              IA / IV 68Ga PET: DICOM folder, or NRRD/NIfTI in Bq/mL          } all three run the
    segmentation        .seg.nrrd, or a labelmap with 'labels'                        } IA/IV ratio analysis
    labels              CSV 'label,name' for a labelmap segmentation
    reference           image the segmentation was drawn on (MRI): checked for overlap
    metric              suvmax (default) | suvmean | suvpeak
    aggregate           mean (default) | median
    threshold           eligibility threshold on the aggregate ratio (default 3.0)
    normalization       bw (default) | lbm | lbm-james | bsa | ibw
    weight_kg, height_cm, sex (M/F/O), half_life_s          SUV overrides for both scans
    ia_dose_mbq, ia_injection_time, ia_scan_time            SUV overrides of the IA scan (times ISO 8601)
    iv_dose_mbq, iv_injection_time, iv_scan_time            SUV overrides of the IV scan
    study               STUDY.json of the 177Lu SPECT/CT dosimetry (see ``ragaliv dosimetry``)
    accept              plausibility checks whose refusal is accepted for this patient (ids as ``--accept``,
                        separated by spaces or semicolons, e.g. "weight injected-activity")
    confirm_consistency yes/no (default no): decide although an IA/IV consistency check failed (as
                        ``--confirm-consistency``)
    comment             free text, ignored

A row with ia/iv/segmentation runs the ratio, a row with study the dosimetry, a row with both runs both.
Paths are relative to the folder of COHORT.csv (absolute paths work too). Rows whose patient_id starts with
``#`` and empty rows are skipped. A missing ``patient_id`` column, an unknown column (a typo would silently
fall back to a default) or a repeated patient_id stop the batch before it starts; a bad value in one row
(unknown metric, missing file...) fails that patient only, with the line number in the message.
"""

import csv
import datetime
import os
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import RagalivInputError
from ..io.user_time import parse_user_datetime

METRICS = ("suvmax", "suvmean", "suvpeak")
AGGREGATES = ("mean", "median")
NORMALIZATIONS = ("bw", "lbm", "lbm-james", "bsa", "ibw")  # as ragaliv.pet.suv.NORMALIZATIONS
SEXES = ("M", "F", "O")
RATIO_PATHS = ("ia", "iv", "segmentation")
PATH_COLUMNS = ("ia", "iv", "segmentation", "labels", "reference", "study")
DEFAULTS: dict[str, Any] = {"metric": "suvmax", "aggregate": "mean", "threshold": 3.0, "normalization": "bw",
                            "accept": (), "confirm_consistency": False}
BOOLEANS = {"yes": True, "y": True, "true": True, "1": True, "no": False, "n": False, "false": False, "0": False}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # id | path | choice | positive | datetime | checks | boolean | text
    choices: tuple[str, ...] = ()


COLUMNS: tuple[Column, ...] = (
    Column("patient_id", "id"),
    *(Column(name, "path") for name in PATH_COLUMNS),
    Column("metric", "choice", METRICS),
    Column("aggregate", "choice", AGGREGATES),
    Column("threshold", "positive"),
    Column("normalization", "choice", NORMALIZATIONS),
    Column("weight_kg", "positive"),
    Column("height_cm", "positive"),
    Column("sex", "choice", SEXES),
    Column("half_life_s", "positive"),
    *(Column(f"{scan}_{name}", kind) for scan in ("ia", "iv")
      for name, kind in (("dose_mbq", "positive"), ("injection_time", "datetime"), ("scan_time", "datetime"))),
    Column("accept", "checks"),
    Column("confirm_consistency", "boolean"),
    Column("comment", "text"),
)
COLUMN_NAMES = tuple(column.name for column in COLUMNS)
_BY_NAME = {column.name: column for column in COLUMNS}


@dataclass(frozen=True)
class CohortRow:
    """One patient: typed values (absolute paths, floats, datetimes; None = default/absent) and the
    problems that fail this patient before it runs."""

    line: int
    patient_id: str
    values: dict[str, Any] = field(default_factory=dict)
    cells: dict[str, str] = field(default_factory=dict)  # paths as written in COHORT.csv
    problems: tuple[str, ...] = ()

    @property
    def runs_ratio(self) -> bool:
        """The row asks for the ratio (its paths are checked in ``problems``)."""
        return all(self.cells.get(name) for name in RATIO_PATHS)

    @property
    def runs_dosimetry(self) -> bool:
        return bool(self.cells.get("study"))

    @property
    def analyses(self) -> list[str]:
        return [name for name, runs in (("ratio", self.runs_ratio), ("dosimetry", self.runs_dosimetry)) if runs]

    def value(self, name: str) -> Any:
        value = self.values.get(name)
        return DEFAULTS.get(name) if value is None else value

    def settings(self) -> dict[str, Any]:
        """Every parameter of the row as JSON-ready values (defaults filled in), for fingerprints."""
        result: dict[str, Any] = {}
        for name in COLUMN_NAMES:
            if name == "comment":
                continue
            value = self.value(name)
            if isinstance(value, datetime.datetime):
                value = value.isoformat()
            result[name] = list(value) if isinstance(value, tuple) else value
        return result


@dataclass
class Cohort:
    path: str
    rows: list[CohortRow]
    warnings: list[str] = field(default_factory=list)


def _normalise_header(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _parse_value(column: Column, text: str, base: str, show_paths: bool) -> tuple[Any, Optional[str]]:
    """(typed value, problem or None) of one non-empty cell."""
    if column.kind == "path":
        path = os.path.normpath(os.path.join(base, os.path.expanduser(text)))
        if not os.path.exists(path):
            where = f" ({path})" if show_paths else ""
            return None, (f"column '{column.name}': file or folder not found{where}; relative paths are resolved "
                          "against the folder of COHORT.csv")
        return path, None
    if column.kind == "choice":
        lookup = {choice.lower(): choice for choice in column.choices}
        if text.lower() not in lookup:
            return None, f"column '{column.name}': {text!r} is not one of {', '.join(column.choices)}"
        return lookup[text.lower()], None
    if column.kind == "positive":
        try:
            number = float(text)
        except ValueError:
            return None, f"column '{column.name}': {text!r} is not a number"
        if not number > 0 or number == float("inf"):
            return None, f"column '{column.name}': {text!r} must be a positive number"
        return number, None
    if column.kind == "checks":
        from ..checks.findings import normalise_accept

        try:
            return normalise_accept([text]), None
        except RagalivInputError as error:
            return None, f"column '{column.name}': {error.message} {error.hint}"
    if column.kind == "boolean":
        if text.strip().lower() not in BOOLEANS:
            return None, f"column '{column.name}': {text!r} is not yes or no"
        return BOOLEANS[text.strip().lower()], None
    if column.kind == "datetime":
        try:
            return parse_user_datetime(text), None
        except ValueError as error:
            return None, f"column '{column.name}': {error}"
    return text, None


def _check_groups(values: dict[str, Any], cells: dict[str, str]) -> list[str]:
    problems = []
    given = [name for name in RATIO_PATHS if cells.get(name)]
    if given and len(given) < len(RATIO_PATHS):
        missing = [name for name in RATIO_PATHS if name not in given]
        problems.append(f"the ratio needs ia, iv and segmentation; {', '.join(missing)} "
                        f"{'is' if len(missing) == 1 else 'are'} empty")
    for name in ("labels", "reference"):
        if cells.get(name) and not given:
            problems.append(f"column '{name}' is set but ia, iv and segmentation are empty")
    if not given and not cells.get("study"):
        problems.append("nothing to compute: give ia, iv and segmentation (ratio) and/or study (dosimetry)")
    return problems


def read_cohort(path: str, show_paths: bool = True) -> Cohort:
    """Read and check COHORT.csv. File-level problems raise RagalivInputError; row-level ones are kept in
    ``CohortRow.problems`` (that patient fails, the others run). ``show_paths=False`` keeps resolved paths out
    of the messages (de-identified batches: paths can hold names)."""
    if not os.path.isfile(path):
        raise RagalivInputError(f"Cohort file not found: {path}", "Give the path of COHORT.csv.")
    base = os.path.dirname(os.path.abspath(path))
    try:
        with open(path, encoding="utf-8-sig", newline="") as stream:
            text = stream.read()
    except UnicodeDecodeError:
        raise RagalivInputError(f"{path} is not UTF-8 text.", "Save COHORT.csv as UTF-8 (CSV UTF-8).") from None
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter)
    header = next(reader, None)
    if not header or not any(cell.strip() for cell in header):
        raise RagalivInputError(f"{path} is empty.", "The first line names the columns, e.g. patient_id,ia,iv,"
                                "segmentation,study.")
    names = [_normalise_header(cell) for cell in header]
    unknown = sorted({name for name in names if name and name not in _BY_NAME})
    problems = []
    if "patient_id" not in names:
        problems.append("the column 'patient_id' is missing")
    if unknown:
        problems.append(f"unknown column(s) {', '.join(repr(name) for name in unknown)}")
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        problems.append(f"repeated column(s) {', '.join(repeated)}")
    if problems:
        raise RagalivInputError(f"{path}, line 1: {'; '.join(problems)}.",
                                f"Known columns: {', '.join(COLUMN_NAMES)} (see `ragaliv batch --help` / README).")

    rows: list[CohortRow] = []
    first_line_of: dict[str, int] = {}
    for cells_list in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells_list):
            continue
        if len(cells_list) > len(names) and any(cell.strip() for cell in cells_list[len(names):]):
            raise RagalivInputError(f"{path}, line {line}: {len(cells_list)} cells but {len(names)} columns.",
                                    "Quote cells that contain the delimiter, or add the missing column names.")
        cells = {name: cell.strip() for name, cell in zip(names, cells_list) if name}
        patient_id = cells.get("patient_id", "")
        if patient_id.startswith("#"):
            continue
        if not patient_id:
            raise RagalivInputError(f"{path}, line {line}: patient_id is empty.",
                                    "Every row needs a patient_id (start it with # to skip the row).")
        if patient_id in first_line_of:
            raise RagalivInputError(
                f"{path}, line {line}: patient_id {patient_id!r} already used on line {first_line_of[patient_id]}.",
                "Give each patient one row (a row can run both the ratio and the dosimetry).")
        first_line_of[patient_id] = line
        values: dict[str, Any] = {}
        row_problems = []
        for name, text in cells.items():
            if name in ("patient_id", "comment") or not text:
                continue
            value, problem = _parse_value(_BY_NAME[name], text, base, show_paths)
            values[name] = value
            if problem:
                row_problems.append(problem)
        row_problems.extend(_check_groups(values, cells))
        path_cells = {name: cells[name] for name in PATH_COLUMNS if cells.get(name)}
        rows.append(CohortRow(line, patient_id, values, path_cells,
                              tuple(f"COHORT.csv line {line}: {problem}" for problem in row_problems)))
    if not rows:
        raise RagalivInputError(f"{path} has no patient rows.", "Add one row per patient below the header line.")
    return Cohort(os.path.abspath(path), rows)
