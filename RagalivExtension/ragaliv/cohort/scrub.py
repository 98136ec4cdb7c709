"""De-identification of one patient's result files (batch outputs are de-identified by default).

:class:`ResultScrubber` is handed to :func:`ragaliv.ratio.outputs.write_ratio_outputs` and
:func:`ragaliv.spect.outputs.write_study_outputs` (``deidentifier=``); every string of every CSV row and
JSON document passes through :meth:`ResultScrubber.text`:

* input paths (they can hold names) become ``<input: ia>``-style labels; any other absolute path
  ``<path withheld>``;
* DICOM UIDs become keyed ``2.25.`` UIDs (HMAC-SHA256 of the UID with the site secret, as in the case
  reports), so a site holding the secret can still match them to its archive; file hashes are kept;
* the patient's name (all its forms), IDs and accession numbers, read from the DICOM headers of the inputs,
  become the pseudonym; the birth date is reduced to its year;
* every date (ISO ``2026-03-10`` or DICOM ``20260310``) is shifted back by the patient's offset (1-365 days,
  :class:`~ragaliv.report.phi.Deidentifier`); times of day are kept, so uptake times and the days between
  scans are unchanged. Numbers (weight, height, activities, SUVs) are kept: they are needed to check the SUV.

:meth:`ResultScrubber.leaks` is the last check before a patient is marked done: it searches every text file
(and the text chunks of PNG/NRRD headers) for the original identifiers, dates, UIDs and input paths.
"""

import datetime
import hashlib
import hmac
import os
import re
import sys
from collections.abc import Iterable
from typing import Any, Optional

from ..report.phi import Deidentifier

MIN_IDENTIFIER_LENGTH = 3  # shorter IDs/name parts would match ordinary text; they are not searched
PATH_WITHHELD = "<path withheld>"
_ISO_DATE = re.compile(r"(?<![0-9A-Za-z])((?:19|20)\d\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?![0-9])")
_DICOM_DATE = re.compile(
    r"(?<![0-9A-Za-z.])((?:19|20)\d\d)(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?=\d{6}|(?![0-9A-Za-z]))"
)
_UID = re.compile(r"(?<![\w.])\d+(?:\.\d+){4,}(?!\w|\.\d)")
_ABSOLUTE_PATH = re.compile(r"(?<![\w.)/\\-])(?:[A-Za-z]:[\\/]|/)(?:[^\s'\"<>|*?,;/\\]+[\\/])+[^\s'\"<>|*?,;/\\]*")
# Paths of the software itself (tracebacks in error.txt) are kept: they name no patient.
_SOFTWARE_PREFIXES = tuple(sorted({os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,
                                   sys.prefix + os.sep, sys.base_prefix + os.sep}, key=len, reverse=True))
_TEXT_SUFFIXES = (".csv", ".json", ".txt", ".html", ".htm", ".md", ".tsv", ".xml")
_HEADER_TAGS = ("PatientName", "PatientID", "OtherPatientIDs", "PatientBirthDate", "AccessionNumber",
                "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate", "StudyInstanceUID",
                "SeriesInstanceUID", "FrameOfReferenceUID")


def _bounded(token: str, flags: int = 0) -> "re.Pattern[str]":
    return re.compile(rf"(?<![0-9A-Za-z]){re.escape(token)}(?![0-9A-Za-z])", flags)


def _name_forms(name: str) -> list[str]:
    """'DOE^JOHN' -> 'DOE^JOHN', 'DOE JOHN', 'JOHN DOE', 'DOE, JOHN' (longest first)."""
    parts = [part.strip() for part in name.split("^") if part.strip()]
    forms = {name.strip(), " ".join(parts)}
    if len(parts) >= 2:
        forms.update({f"{parts[1]} {parts[0]}", f"{parts[0]}, {parts[1]}"})
    return sorted((form for form in forms if len(form) >= MIN_IDENTIFIER_LENGTH), key=len, reverse=True)


def _withhold_path(match: "re.Match[str]") -> str:
    path = match.group(0)
    return path if path.startswith(_SOFTWARE_PREFIXES) else PATH_WITHHELD


def first_dicom_header(path: str):
    """The first readable DICOM header (no pixels) of a file or folder, or None."""
    import pydicom

    if os.path.isfile(path):
        candidates = [path]
    elif os.path.isdir(path):
        candidates = sorted(os.path.join(root, name) for root, _, names in os.walk(path) for name in names)[:20]
    else:
        return None
    for candidate in candidates:
        try:
            return pydicom.dcmread(candidate, stop_before_pixels=True, specific_tags=list(_HEADER_TAGS))
        except Exception:  # not DICOM (NRRD, CSV...): try the next file
            continue
    return None


class ResultScrubber:
    """Scrubs the result files of one patient (``patient_id`` keys the pseudonym and the date shift)."""

    def __init__(self, deidentifier: Deidentifier, patient_id: str):
        self.deidentifier = deidentifier
        self.patient_id = patient_id
        self.pseudonym = deidentifier.patient_id(patient_id)
        self.shift_days = deidentifier.date_shift_days(patient_id)
        self.names: set[str] = set()
        self.ids: set[str] = {patient_id}
        self.birth_dates: set[str] = set()  # YYYYMMDD
        self.accessions: set[str] = set()
        self.uids: set[str] = set()
        self.real_dates: set[datetime.date] = set()
        self._paths: dict[str, str] = {}  # absolute path -> label (replaced wherever it occurs)
        self._cells: dict[str, str] = {}  # path as written -> label (replaced when a whole string equals it)
        self._pseudo_uids: set[str] = set()

    # --- what to look for ------------------------------------------------------------------------------
    def add_path(self, path: Optional[str], label: str, as_written: Optional[str] = None) -> None:
        if path:
            for form in {os.path.abspath(path), os.path.realpath(path)}:
                self._paths.setdefault(form, f"<input: {label}>")
        if as_written:
            self._cells.setdefault(as_written, f"<input: {label}>")

    def add_header(self, header) -> None:
        """Identifiers, dates and UIDs of a DICOM header (pydicom Dataset)."""
        name = str(header.get("PatientName", "") or "").strip()
        if name:
            self.names.add(name)
        for keyword in ("PatientID", "OtherPatientIDs"):
            value = header.get(keyword)
            items = list(value) if value is not None and not isinstance(value, (str, bytes)) else [value]
            for item in items:
                if item and str(item).strip():
                    self.ids.add(str(item).strip())
        birth = str(header.get("PatientBirthDate", "") or "").strip()
        if len(birth) == 8 and birth.isdigit():
            self.birth_dates.add(birth)
        accession = str(header.get("AccessionNumber", "") or "").strip()
        if accession:
            self.accessions.add(accession)
        for keyword in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
            self._record_date(str(header.get(keyword, "") or "").strip())
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
            uid = str(header.get(keyword, "") or "").strip()
            if uid:
                self.uids.add(uid)

    def add_inputs(self, inputs: dict[str, Any], headers: Optional[dict[str, Any]] = None) -> None:
        """Register input paths ({label: path or {"path": ...}}) and the DICOM headers found under them
        (``headers``: {label: header or None}, read here when not given)."""
        for label, value in inputs.items():
            path = value.get("path") if isinstance(value, dict) else value
            if not isinstance(path, str):
                continue
            self.add_path(path, label)
            header = headers.get(label) if headers is not None else first_dicom_header(path)
            if header is not None:
                self.add_header(header)
            if isinstance(value, dict) and value.get("series_instance_uid"):
                self.uids.add(str(value["series_instance_uid"]))

    def _record_date(self, text: str) -> None:
        if len(text) >= 8 and text[:8].isdigit():
            try:
                self.real_dates.add(datetime.date(int(text[:4]), int(text[4:6]), int(text[6:8])))
            except ValueError:
                pass

    # --- scrubbing ------------------------------------------------------------------------------------
    def uid(self, uid: str) -> str:
        """Keyed replacement UID (the same for the same UID and secret, everywhere)."""
        if uid in self._pseudo_uids:
            return uid
        digest = hmac.new(self.deidentifier.secret.encode("utf-8"), uid.encode("utf-8"), hashlib.sha256).digest()
        pseudo = "2.25." + str(int.from_bytes(digest[:16], "big"))
        self._pseudo_uids.add(pseudo)
        self.uids.add(uid)
        return pseudo

    def _shift(self, year: str, month: str, day: str, iso: bool) -> Optional[str]:
        try:
            moment = datetime.date(int(year), int(month), int(day))
        except ValueError:
            return None
        self.real_dates.add(moment)
        shifted = moment - datetime.timedelta(days=self.shift_days)
        return shifted.isoformat() if iso else shifted.strftime("%Y%m%d")

    def text(self, value: str) -> str:
        """One string of a result, de-identified."""
        if not value:
            return value
        if value in self._cells:
            return self._cells[value]
        text = value
        for path in sorted(self._paths, key=len, reverse=True):
            if path in text:
                text = text.replace(path, self._paths[path])
        text = _ABSOLUTE_PATH.sub(_withhold_path, text)
        text = _UID.sub(lambda match: self.uid(match.group(0)), text)
        for name in self.names:
            for form in _name_forms(name):
                text = re.sub(re.escape(form), self.pseudonym, text, flags=re.IGNORECASE)
        for identifier in sorted(self.ids | self.accessions, key=len, reverse=True):
            if len(identifier) >= MIN_IDENTIFIER_LENGTH:
                replacement = self.pseudonym if identifier in self.ids else "<accession withheld>"
                text = _bounded(identifier).sub(replacement, text)
        for birth in self.birth_dates:
            withheld = f"<birth year {birth[:4]}>"
            text = _bounded(birth).sub(withheld, text)
            text = _bounded(f"{birth[:4]}-{birth[4:6]}-{birth[6:]}").sub(withheld, text)
        text = _ISO_DATE.sub(lambda match: self._shift(*match.groups(), iso=True) or match.group(0), text)
        return _DICOM_DATE.sub(lambda match: self._shift(*match.groups(), iso=False) or match.group(0), text)

    def document(self, value: Any) -> Any:
        """A JSON document or CSV row with every string (keys included) de-identified."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {(self.text(key) if isinstance(key, str) else key): self.document(item)
                    for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.document(item) for item in value]
        if isinstance(value, (datetime.datetime, datetime.date)):
            return self.text(value.isoformat())
        return value

    def rows(self, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self.document(row) for row in rows]

    def write_provenance(self, directory: str, inputs: dict[str, Any], parameters: dict[str, Any],
                         outputs: Iterable[str], extra: Optional[dict[str, Any]] = None) -> str:
        """``provenance.json`` as :func:`ragaliv.report.provenance.write_provenance`, de-identified: inputs keep
        their hashes and file counts, UIDs are keyed replacements, paths are withheld."""
        from ..io.results import write_json
        from ..report.provenance import describe_input, file_sha256, software_versions

        described = {}
        for name, path in sorted(inputs.items()):
            item = describe_input(path)
            if "path" in item:
                item["path"] = PATH_WITHHELD
            described[name] = self.document(item)
        document = {
            "software": software_versions(),
            "computed_at_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "deidentified": {
                "pseudonym": self.pseudonym,
                "method": "keyed pseudonym and date shift (ragaliv.report.phi.Deidentifier); UIDs replaced by "
                          "keyed 2.25 UIDs; input paths withheld; file hashes kept",
            },
            "inputs": described,
            "parameters": self.document(parameters),
            "outputs": {os.path.basename(path): file_sha256(path) for path in outputs if os.path.isfile(path)},
        }
        if extra:
            document.update(self.document(extra))
        path = os.path.join(directory, "provenance.json")
        write_json(path, document)
        return path

    # --- final check ----------------------------------------------------------------------------------
    def _leak_patterns(self) -> list[tuple[str, "re.Pattern[str]"]]:
        patterns: list[tuple[str, re.Pattern[str]]] = []
        for name in self.names:
            patterns.extend(("patient name", _bounded(form, re.IGNORECASE)) for form in _name_forms(name))
        patterns.extend(("patient ID", _bounded(identifier)) for identifier in self.ids
                        if len(identifier) >= MIN_IDENTIFIER_LENGTH)
        patterns.extend(("accession number", _bounded(item)) for item in self.accessions
                        if len(item) >= MIN_IDENTIFIER_LENGTH)
        for birth in self.birth_dates:
            patterns.extend(("birth date", _bounded(form)) for form in (birth, f"{birth[:4]}-{birth[4:6]}-{birth[6:]}"))
        shifted = {day - datetime.timedelta(days=self.shift_days) for day in self.real_dates}
        for day in sorted(self.real_dates - shifted):  # a real date equal to a shifted one cannot be told apart
            patterns.extend(("date", _bounded(form)) for form in (day.isoformat(), day.strftime("%Y%m%d")))
        patterns.extend(("UID", _bounded(uid)) for uid in self.uids)
        patterns.extend(("input path", re.compile(re.escape(path))) for path in self._paths if len(path) > 1)
        return patterns

    def leaks(self, directory: str) -> list[str]:
        """'<what> in <file>' for every original identifier still present in the files under ``directory``."""
        patterns = self._leak_patterns()
        found = []
        for root, _, names in os.walk(directory):
            for name in sorted(names):
                path = os.path.join(root, name)
                text = searchable_text(path)
                if text is None:
                    continue
                relative = os.path.relpath(path, directory)
                for kind in sorted({kind for kind, pattern in patterns if pattern.search(text)}):
                    found.append(f"{kind} in {relative}")
        return found


def searchable_text(path: str) -> Optional[str]:
    """Text of a result file as a reader would see it: whole text files, NRRD headers, PNG text chunks."""
    lower = path.lower()
    if lower.endswith(_TEXT_SUFFIXES):
        with open(path, "rb") as stream:
            return stream.read().decode("utf-8", "replace")
    if lower.endswith(".nrrd") or lower.endswith(".nhdr"):
        with open(path, "rb") as stream:
            head = stream.read(65536)
        return head.split(b"\n\n", 1)[0].decode("latin-1")
    if lower.endswith(".png"):
        return _png_text(path)
    return None


def _png_text(path: str) -> str:
    import struct
    import zlib

    with open(path, "rb") as stream:
        data = stream.read()
    texts, offset = [], 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        chunk = data[offset + 8:offset + 8 + length]
        if kind in (b"tEXt", b"iTXt"):
            texts.append(chunk.decode("latin-1"))
        elif kind == b"zTXt":
            keyword, _, rest = chunk.partition(b"\0")
            try:
                texts.append(keyword.decode("latin-1") + " " + zlib.decompress(rest[1:]).decode("latin-1"))
            except zlib.error:
                texts.append(chunk.decode("latin-1"))
        offset += 12 + length
    return "\n".join(texts)
