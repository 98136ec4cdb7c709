"""Who and what a case report is about (patient, series, dates), and its de-identification.

:class:`Privacy` is the one place a report's text passes through: with de-identification on, the name
becomes the pseudonym, the patient ID the pseudonymous ID, the birth date its year, every date is shifted
by the patient's offset (:class:`~ragaliv.report.phi.Deidentifier`, intervals kept), every DICOM UID is
replaced by a keyed ``2.25.`` UID, and file paths are left out. Free text (warnings, descriptions) is
scrubbed with the same rules, so a date quoted in a warning is shifted too. :meth:`Privacy.leaks` is the
last check before a de-identified report is written.
"""

import datetime
import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from .phi import Deidentifier

# Name parts that are also words of the report itself (the synthetic patient is "RAGALIV^SYNTHETIC000").
_NAME_PART_EXCEPTIONS = frozenset({"ragaliv"})
MIN_SCRUBBED_LENGTH = 3  # shorter name parts and IDs are replaced in their fields only, not in free text

_ISO_DATE = re.compile(r"(?<![0-9A-Za-z])((?:19|20)\d\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?![0-9])")
_DICOM_DATE = re.compile(
    r"(?<![0-9A-Za-z.])((?:19|20)\d\d)(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?=\d{6}|(?![0-9A-Za-z]))"
)
_UID = re.compile(r"(?<![\w.])\d+(?:\.\d+){4,}(?!\w|\.\d)")


@dataclass
class PatientIdentity:
    """Patient fields of the DICOM header (empty when unknown); ``source`` says where they were read."""

    name: str = ""
    patient_id: str = ""
    birth_date: str = ""  # YYYYMMDD
    sex: str = ""
    source: str = ""

    @property
    def known(self) -> bool:
        return bool(self.name or self.patient_id)


@dataclass
class SeriesInfo:
    """One input series as the report lists it."""

    role: str
    modality: str = ""
    description: str = ""
    series_instance_uid: str = ""
    date_time: Optional[str] = None  # ISO date or date-time
    path: str = ""


def _dicom_files(path: Union[str, Sequence[str]]) -> list[str]:
    if isinstance(path, (list, tuple)):
        return [os.fspath(item) for item in path]
    path = os.fspath(path)
    if os.path.isfile(path):
        return [path]
    if os.path.isdir(path):
        return sorted(os.path.join(root, name) for root, _, names in os.walk(path) for name in sorted(names))
    return []


def read_dicom_header(path: Union[str, Sequence[str], None]):
    """First DICOM header (no pixels) under a file, folder or file list; None when there is none."""
    if not path:
        return None
    import pydicom

    for file_path in _dicom_files(path)[:50]:
        try:
            return pydicom.dcmread(file_path, stop_before_pixels=True)
        except Exception:  # not DICOM: try the next file
            continue
    return None


def _iso_from_dicom(date_text: Any, time_text: Any = "") -> Optional[str]:
    date_text = str(date_text or "").strip()
    if len(date_text) != 8 or not date_text.isdigit():
        return None
    time_text = str(time_text or "").strip().split(".")[0]
    try:
        if len(time_text) >= 4 and time_text.isdigit():
            stamp = datetime.datetime.strptime(date_text + time_text[:6].ljust(6, "0"), "%Y%m%d%H%M%S")
            return stamp.isoformat()
        return datetime.datetime.strptime(date_text, "%Y%m%d").date().isoformat()
    except ValueError:
        return None


def identity_from_header(header, source: str) -> PatientIdentity:
    return PatientIdentity(
        name=str(getattr(header, "PatientName", "") or "").strip(),
        patient_id=str(getattr(header, "PatientID", "") or "").strip(),
        birth_date=str(getattr(header, "PatientBirthDate", "") or "").strip(),
        sex=str(getattr(header, "PatientSex", "") or "").strip(),
        source=source,
    )


def series_from_header(header, role: str, path: str = "") -> SeriesInfo:
    stamp = None
    for date_key, time_key in (("SeriesDate", "SeriesTime"), ("AcquisitionDate", "AcquisitionTime"),
                               ("StudyDate", "StudyTime")):
        stamp = _iso_from_dicom(header.get(date_key), header.get(time_key))
        if stamp:
            break
    return SeriesInfo(
        role=role,
        modality=str(header.get("Modality", "") or ""),
        description=str(header.get("SeriesDescription", "") or ""),
        series_instance_uid=str(header.get("SeriesInstanceUID", "") or ""),
        date_time=stamp,
        path=path,
    )


def read_series(path: Union[str, Sequence[str], None], role: str) -> tuple[Optional[PatientIdentity], SeriesInfo]:
    """Identity and series description from the DICOM files at ``path``; an image file gives its name only."""
    header = read_dicom_header(path)
    shown_path = path if isinstance(path, str) else ""
    if header is None:
        description = os.path.basename(path) if isinstance(path, str) else ""
        return None, SeriesInfo(role=role, description=description, path=shown_path)
    return identity_from_header(header, f"DICOM header of the {role}"), series_from_header(header, role, shown_path)


def merge_identities(identities: Iterable[Optional[PatientIdentity]]) -> tuple[PatientIdentity, list[str]]:
    """The first known identity, and a warning for every input whose patient ID or name differs."""
    known = [identity for identity in identities if identity is not None and identity.known]
    if not known:
        return PatientIdentity(source="none: the inputs carry no DICOM patient header"), [
            "Patient identity unknown: the inputs carry no DICOM patient header. Write the patient's name and ID "
            "on the printed report before signing it."
        ]
    first = known[0]
    warnings = []
    for other in known[1:]:
        if (other.patient_id, other.name) != (first.patient_id, first.name):
            warnings.append(
                f"PATIENT MISMATCH: the {other.source.replace('DICOM header of the ', '')} belongs to another "
                f"patient ID/name than the {first.source.replace('DICOM header of the ', '')}. Check the inputs."
            )
    return first, warnings


def _name_forms(name: str) -> list[str]:
    parts = [part.strip() for part in re.split(r"[\^]", name) if part.strip()]
    forms = {name.strip(), " ".join(parts), ", ".join(parts)}
    if len(parts) >= 2:
        forms.update({f"{parts[1]} {parts[0]}", f"{parts[0]}, {parts[1]}", f"{parts[0]} {parts[1]}"})
    return sorted((form for form in forms if form), key=len, reverse=True)


@dataclass
class Privacy:
    """How the report shows identities, dates, UIDs and paths: unchanged, or de-identified."""

    deidentifier: Deidentifier
    identity: PatientIdentity
    extra_identities: list[PatientIdentity] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return self.deidentifier.enabled

    @property
    def shift_days(self) -> int:
        return self.deidentifier.date_shift_days(self.identity.patient_id)

    # --- structured fields ---------------------------------------------------------------------------
    def patient_name(self) -> str:
        if not self.identity.known:
            return "unknown"
        if self.enabled:
            return self.deidentifier.patient_name(self.identity.name, self.identity.patient_id).replace("^", " ")
        return self.identity.name.replace("^", " ").strip() or "(no name)"

    def patient_id(self) -> str:
        if not self.identity.patient_id:
            return "unknown"
        return self.deidentifier.patient_id(self.identity.patient_id)

    def birth_year(self) -> str:
        year = self.identity.birth_date[:4]
        return year if year.isdigit() else "unknown"

    def uid(self, uid: Optional[str]) -> str:
        if not uid:
            return ""
        if not self.enabled:
            return uid
        digest = hmac.new(self.deidentifier.secret.encode("utf-8"), uid.encode("utf-8"), hashlib.sha256).digest()
        return "2.25." + str(int.from_bytes(digest[:16], "big"))

    def path(self, path: Optional[str]) -> str:
        """File paths can hold names and IDs: left out of de-identified reports."""
        if not path:
            return ""
        return "(path withheld: de-identified)" if self.enabled else path

    def moment(self, iso_text: Optional[str], with_seconds: bool = False) -> str:
        """An ISO date or date-time for display ('2026-03-10 09:12'). Not yet shifted: like all text, it is
        shifted by :meth:`text` on its way into the report."""
        if not iso_text:
            return "-"
        try:
            stamp = datetime.datetime.fromisoformat(str(iso_text))
        except ValueError:
            return str(iso_text)
        if len(str(iso_text)) == 10:
            return stamp.date().isoformat()
        return stamp.strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")

    # --- free text -----------------------------------------------------------------------------------
    def _identities(self) -> list[PatientIdentity]:
        return [self.identity, *self.extra_identities]

    def _shift_date(self, year: str, month: str, day: str, iso: bool) -> Optional[str]:
        try:
            moment = datetime.date(int(year), int(month), int(day))
        except ValueError:
            return None
        shifted = moment - datetime.timedelta(days=self.shift_days)
        return shifted.isoformat() if iso else shifted.strftime("%Y%m%d")

    def text(self, value: Any) -> str:
        """Any text of the report; scrubbed when de-identifying."""
        text = "" if value is None else str(value)
        if not self.enabled or not text:
            return text
        text = _UID.sub(lambda match: self.uid(match.group(0)), text)
        for identity in self._identities():
            pseudonym_id = self.deidentifier.patient_id(identity.patient_id or "")
            if identity.name:
                for form in _name_forms(identity.name):
                    text = re.sub(re.escape(form), pseudonym_id, text, flags=re.IGNORECASE)
                for part in re.split(r"[\^\s,]+", identity.name):
                    if len(part) >= MIN_SCRUBBED_LENGTH and part.lower() not in _NAME_PART_EXCEPTIONS:
                        text = re.sub(rf"(?<!\w){re.escape(part)}(?!\w)", "[name withheld]", text,
                                      flags=re.IGNORECASE)
            if len(identity.patient_id) >= MIN_SCRUBBED_LENGTH:
                text = text.replace(identity.patient_id, pseudonym_id)
        text = _ISO_DATE.sub(lambda m: self._shift_date(*m.groups(), iso=True) or m.group(0), text)
        return _DICOM_DATE.sub(lambda m: self._shift_date(*m.groups(), iso=False) or m.group(0), text)

    def leaks(self, text: str, uids: Iterable[str] = ()) -> list[str]:
        """Original identifiers still present in ``text`` (checked before a de-identified report is written)."""
        if not self.enabled:
            return []
        found = []
        for identity in self._identities():
            candidates = list(_name_forms(identity.name)) if identity.name else []
            if len(identity.patient_id) >= MIN_SCRUBBED_LENGTH:
                candidates.append(identity.patient_id)
            birth = identity.birth_date
            if len(birth) == 8 and birth.isdigit():
                candidates.extend([birth, f"{birth[:4]}-{birth[4:6]}-{birth[6:]}"])
            lowered = text.lower()
            found.extend(candidate for candidate in candidates if candidate and candidate.lower() in lowered)
        found.extend(uid for uid in uids if uid and uid in text)
        return sorted(set(found))
