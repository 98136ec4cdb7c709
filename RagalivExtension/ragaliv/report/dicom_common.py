"""Shared pieces of the DICOM SEG/SR export: highdicom import, deterministic UIDs and timestamps,
de-identification of a finished dataset, atomic saving, colours, source series.

Reproducibility: every UID written is derived from the inputs (``pydicom.uid.generate_uid`` with entropy
sources, i.e. a SHA-512 hash under pydicom's UID root), Content Date/Time come from the source images, and the
attributes that would carry the wall-clock time of the run (Instance Creation Date/Time, Contribution
DateTime - all optional, Type 3) are removed. The same inputs therefore give byte-identical files.
"""

import datetime
import hashlib
import importlib
import inspect
import os
from collections.abc import Iterable, Sequence
from typing import Any, Optional, Union

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from .. import __version__
from ..errors import RagalivInputError
from ..io.atomic import atomic_path
from ..io.dicom_series import DicomSeries, select_series
from .phi import Deidentifier

SeriesInput = Union[DicomSeries, str, "os.PathLike[str]", Sequence[str]]

MANUFACTURER = "Ragaliv"
SOFTWARE_VERSION = __version__
HIGHDICOM_HINT = (
    "Install it with `pip install highdicom` (inside 3D Slicer: slicer.util.pip_install('highdicom'))."
)
# De-identification Method (0012,0063) is LO (64 characters per value), hence several values.
DEIDENTIFICATION_METHOD = [
    "Ragaliv: patient name and ID replaced by a keyed-hash pseudonym",
    "Dates shifted by a per-patient offset; times kept",
    "Birth date reduced to the year",
    "Accession number, study ID, other names, institution removed",
    "UIDs retained",
]


def import_highdicom() -> Any:
    """highdicom, imported on first use (it does not ship with 3D Slicer)."""
    try:
        import highdicom
    except ImportError:
        raise RagalivInputError("DICOM SEG/SR export needs the highdicom package, which is not installed.",
                                HIGHDICOM_HINT) from None
    return highdicom


# --- highdicom versions ------------------------------------------------------------------------------------
# The export is written against highdicom 0.28 and must also run on 0.22 (the newest for Python 3.9, i.e. what
# `pip install highdicom` gives inside 3D Slicer 5.8). Differences are feature-detected, not version-compared.
def accepted_keywords(cls: type) -> set[str]:
    """Keyword arguments ``cls(...)`` accepts: its ``__init__`` parameters and, while an ``__init__`` passes
    ``**kwargs`` on, those of its base classes (highdicom's SOP classes hand e.g. ``content_date`` to
    :class:`highdicom.SOPClass`)."""
    accepted: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            parameters = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):  # a builtin __init__ (object, Dataset internals)
            break
        accepted.update(p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    accepted.discard("self")
    return accepted


# Keyword -> (attribute, value as stored) for arguments older highdicom lacks, set on the finished dataset.
_SOP_FALLBACKS = {
    "content_date": lambda v: ("ContentDate", v.strftime("%Y%m%d")),
    "content_time": lambda v: ("ContentTime", v.strftime("%H%M%S")),
    "specific_character_set": lambda v: ("SpecificCharacterSet", v),
}


def create_sop(cls: type, **kwargs: Any) -> Any:
    """``cls(**kwargs)`` for a highdicom SOP class; the optional arguments of :data:`_SOP_FALLBACKS` that this
    highdicom does not take (0.22: content_date, content_time, specific_character_set) are set as attributes
    on the result instead."""
    accepted = accepted_keywords(cls)
    missing = {key: kwargs.pop(key) for key in list(kwargs) if key in _SOP_FALLBACKS and key not in accepted}
    dataset = cls(**kwargs)
    for key, value in missing.items():
        if value is not None:
            keyword, stored = _SOP_FALLBACKS[key](value)
            setattr(dataset, keyword, stored)
    return dataset


def add_spacing_between_slices(seg: Dataset, source_images: Sequence[Dataset]) -> None:
    """Spacing Between Slices in the SEG's shared Pixel Measures when highdicom left it out (0.22 does), as newer
    highdicom writes it: from the positions of all source planes (so a reader can rebuild the grid although empty
    frames are omitted), when they form a regular stack along the normal (1 % spacing tolerance; one plane: 1.0)."""
    shared = seg.get("SharedFunctionalGroupsSequence")
    measures = shared[0].get("PixelMeasuresSequence") if shared else None
    orientation = shared[0].get("PlaneOrientationSequence") if shared else None
    if not measures or not orientation or "SpacingBetweenSlices" in measures[0]:
        return
    spacing = regular_slice_spacing(source_plane_positions(source_images),
                                    [float(v) for v in orientation[0].ImageOrientationPatient])
    if spacing is not None:
        from pydicom.valuerep import format_number_as_ds

        measures[0].SpacingBetweenSlices = format_number_as_ds(spacing)


def source_plane_positions(source_images: Sequence[Dataset]) -> list[list[float]]:
    """Image Position (Patient) of every plane of the source images (every frame of a multi-frame image)."""
    positions = []
    for image in source_images:
        frames = image.get("PerFrameFunctionalGroupsSequence")
        if frames:
            shared = (image.get("SharedFunctionalGroupsSequence") or [Dataset()])[0]
            for frame in frames:
                plane = frame.get("PlanePositionSequence") or shared.get("PlanePositionSequence")
                if not plane or "ImagePositionPatient" not in plane[0]:
                    return []
                positions.append([float(v) for v in plane[0].ImagePositionPatient])
        elif image.get("ImagePositionPatient") is not None:
            positions.append([float(v) for v in image.ImagePositionPatient])
        else:
            return []
    return positions


def regular_slice_spacing(positions: Sequence[Sequence[float]], orientation: Sequence[float],
                          rtol: float = 1e-2, perpendicular_tol: float = 1e-3) -> Optional[float]:
    """Slice spacing of plane positions forming a regular stack along the plane normal, else None
    (highdicom's ``get_volume_positions`` with its defaults: sorted, no duplicates, no gaps)."""
    if len(positions) == 0 or len(orientation) != 6:
        return None
    unique = np.unique(np.asarray(positions, dtype=float), axis=0)
    if len(unique) < len(positions):
        return None
    if len(unique) == 1:
        return 1.0
    normal = np.cross(orientation[:3], orientation[3:])
    distances = unique @ normal
    order = np.argsort(distances)
    ordered = distances[order]
    spacing = (ordered[-1] - ordered[0]) / (len(ordered) - 1)
    if not np.isclose(np.diff(ordered), spacing, rtol=rtol, atol=0.0).all():
        return None
    spans = unique[order[1:]] - unique[order[0]]
    dots = (spans / np.linalg.norm(spans, axis=1)[:, None]) @ normal
    if not np.all((np.abs(dots - 1.0) < perpendicular_tol) | (np.abs(dots + 1.0) < perpendicular_tol)):
        return None
    return float(abs(spacing))


def group_evidence_by_study(hd: Any, sr: Dataset, evidence: Sequence[Dataset], record_evidence: bool = True) -> None:
    """Evidence of the SR's own study in the Current Requested Procedure Evidence Sequence, that of other studies
    in the Pertinent Other Evidence Sequence, as newer highdicom (0.28) does.

    Older highdicom (0.22) split by "referenced in the content" instead (an IA PET slice not cited by a measurement
    went to Pertinent Other Evidence, and the SEG of the MRI study to Current); detected by its
    ``collect_evidence`` lacking the ``study_instance_uid`` argument, and redone here in place.
    """
    try:
        collect = importlib.import_module(f"{hd.__name__}.sr.utils").collect_evidence
    except (ImportError, AttributeError):
        collect = None
    if collect is None or "study_instance_uid" in inspect.signature(collect).parameters:
        return
    groups: dict[bool, dict[tuple[str, str], list[Dataset]]] = {True: {}, False: {}}
    seen: set[str] = set()
    for instance in evidence:
        uid = str(instance.SOPInstanceUID)
        if uid in seen:
            continue
        seen.add(uid)
        item = Dataset()
        item.ReferencedSOPClassUID = instance.SOPClassUID
        item.ReferencedSOPInstanceUID = instance.SOPInstanceUID
        same = instance.StudyInstanceUID == sr.StudyInstanceUID
        groups[same].setdefault((instance.StudyInstanceUID, instance.SeriesInstanceUID), []).append(item)
    for keyword, same in (("CurrentRequestedProcedureEvidenceSequence", True),
                          ("PertinentOtherEvidenceSequence", False)):
        if keyword in sr:
            delattr(sr, keyword)
        if groups[same] and (same or record_evidence):
            setattr(sr, keyword, _study_references(groups[same]))


def _study_references(collection: dict[tuple[str, str], list[Dataset]]) -> list[Dataset]:
    """Study items (Study Instance UID, Referenced Series Sequence) of {(study, series): instance items}."""
    studies: dict[str, list[Dataset]] = {}
    for (study_uid, series_uid), instances in collection.items():
        series_item = Dataset()
        series_item.SeriesInstanceUID = series_uid
        series_item.ReferencedSOPSequence = instances
        studies.setdefault(study_uid, []).append(series_item)
    items = []
    for study_uid, series_items in studies.items():
        study_item = Dataset()
        study_item.StudyInstanceUID = study_uid
        study_item.ReferencedSeriesSequence = series_items
        items.append(study_item)
    return items


def deterministic_uid(*parts: object) -> str:
    """A UID derived from ``parts`` (same parts, same UID) under pydicom's UID root."""
    return str(generate_uid(entropy_srcs=["ragaliv-dicom-export", SOFTWARE_VERSION, *(str(p) for p in parts)]))


def digest(*parts: Union[str, bytes, np.ndarray]) -> str:
    """SHA-256 over strings, bytes and arrays (shape, dtype and bytes), for UID entropy."""
    hasher = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            hasher.update(str((part.shape, part.dtype.str)).encode("ascii"))
            hasher.update(np.ascontiguousarray(part).tobytes())
        elif isinstance(part, bytes):
            hasher.update(part)
        else:
            hasher.update(str(part).encode("utf-8"))
        hasher.update(b"\0")
    return hasher.hexdigest()


# --- source series ----------------------------------------------------------------------------------------
def resolve_series(series: SeriesInput, modalities: Sequence[str], role: str) -> DicomSeries:
    """A :class:`DicomSeries` as given, or the one series of ``modalities`` under a path/list of files."""
    if isinstance(series, DicomSeries):
        if not series.headers:
            raise RagalivInputError(f"The {role} series has no files.", "Give the series' DICOM files.")
        return series
    return select_series(series, tuple(modalities), role)


def series_datetime(headers: Iterable[Dataset]) -> Optional[datetime.datetime]:
    """Series (else Acquisition, else Study) date and time of the first header that has one."""
    for header in headers:
        for date_key, time_key in (("SeriesDate", "SeriesTime"), ("AcquisitionDate", "AcquisitionTime"),
                                   ("StudyDate", "StudyTime")):
            moment = parse_da_tm(header.get(date_key), header.get(time_key))
            if moment is not None:
                return moment
    return None


def parse_da_tm(date: Any, time: Any) -> Optional[datetime.datetime]:
    text = str(date or "").strip()
    if len(text) < 8 or not text[:8].isdigit():
        return None
    try:
        day = datetime.datetime.strptime(text[:8], "%Y%m%d")
    except ValueError:
        return None
    clock = str(time or "").strip().split(".")[0]
    clock = (clock + "000000")[:6] if clock.isdigit() else "000000"
    try:
        return day.replace(hour=int(clock[:2]), minute=int(clock[2:4]), second=int(clock[4:6]))
    except ValueError:
        return day


def content_moment(explicit: Optional[datetime.datetime], headers: Iterable[Dataset],
                   warnings: list[str]) -> datetime.datetime:
    if explicit is not None:
        return explicit.replace(microsecond=0, tzinfo=None)
    moment = series_datetime(headers)
    if moment is not None:
        return moment
    warnings.append("The source images carry no Series/Acquisition/Study date and time: Content Date/Time set "
                    "to now, so re-runs are not byte-identical.")
    return datetime.datetime.now().replace(microsecond=0)


def make_reproducible(dataset: Dataset, moment: datetime.datetime, *uid_parts: object) -> None:
    """Fixed Content Date/Time, no run-time timestamps, and random UIDs highdicom made replaced by derived ones."""
    dataset.ContentDate = moment.strftime("%Y%m%d")
    dataset.ContentTime = moment.strftime("%H%M%S")
    for keyword in ("InstanceCreationDate", "InstanceCreationTime"):
        if keyword in dataset:
            delattr(dataset, keyword)
    for item in dataset.get("ContributingEquipmentSequence", []):
        if "ContributionDateTime" in item:
            del item.ContributionDateTime
    random_uids = {str(item.DimensionOrganizationUID) for item in dataset.get("DimensionOrganizationSequence", [])}
    if random_uids:
        mapping = {uid: deterministic_uid("dimension-organization", uid_parts, index)
                   for index, uid in enumerate(sorted(random_uids))}
        for element in dataset.iterall():
            if element.VR == "UI" and isinstance(element.value, str) and element.value in mapping:
                element.value = mapping[element.value]


# --- de-identification ------------------------------------------------------------------------------------
def _shift_date_text(text: str, days: int) -> str:
    """Shift the leading YYYYMMDD of a DA or DT value (a DA range "A-B" shifts both ends)."""
    if "-" in text and len(text) in (9, 17) and not text.startswith("-"):
        return "-".join(_shift_date_text(part, days) if part else part for part in text.split("-"))
    if len(text) < 8 or not text[:8].isdigit():
        return text
    try:
        day = datetime.datetime.strptime(text[:8], "%Y%m%d")
    except ValueError:
        return text
    return (day - datetime.timedelta(days=days)).strftime("%Y%m%d") + text[8:]


# Attributes emptied (Type 2) or removed (Type 3) wherever they occur, sequences included (PS3.15 Table E.1-1
# actions Z/X for these); descriptions, sex, age, size and weight are kept (needed to read the SUVs).
_EMPTIED = ("AccessionNumber", "StudyID")
_REMOVED = ("OtherPatientIDs", "OtherPatientIDsSequence", "OtherPatientNames", "PatientAddress",
            "PatientTelephoneNumbers", "PatientBirthName", "PatientMotherBirthName", "InstitutionName",
            "InstitutionAddress", "InstitutionalDepartmentName", "StationName", "DeviceSerialNumber")


def _datasets(dataset: Dataset) -> Iterable[Dataset]:
    yield dataset
    for element in list(dataset):
        if element.VR == "SQ":
            for item in element.value:
                yield from _datasets(item)


def deidentify(dataset: Dataset, deidentifier: Deidentifier, patient_id: str, patient_name: str,
               birth_date: str) -> None:
    """Pseudonymise a finished dataset in place (identity from the *original* source headers).

    Patient name/ID become the pseudonym, the birth date keeps its year, every DA/DT value anywhere in the
    dataset (sequences included) is shifted by the patient's offset (times are kept), the patient's name/ID
    quoted in free text (LT/ST/UT) become the pseudonymous ID, Accession Number,
    Study ID and all other person names are emptied, institution/station names removed. UIDs are not
    re-mapped: the SEG/SR keep pointing at the source images as stored (retain-UIDs choice).
    """
    if not deidentifier.enabled:
        return
    days = deidentifier.date_shift_days(patient_id)
    pseudonym_id = deidentifier.patient_id(patient_id)
    scrub = [(text, pseudonym_id) for text in (patient_name, patient_name.replace("^", " "), patient_id)
             if len(text.strip()) >= 3]
    for element in dataset.iterall():
        if element.VR in ("LT", "ST", "UT") and isinstance(element.value, str):
            for original, replacement in scrub:  # free text quoting the patient (a path, a note)
                element.value = element.value.replace(original, replacement)
            continue
        if element.VR not in ("DA", "DT", "PN") or element.keyword == "PatientBirthDate" or not element.value:
            continue
        if element.VR in ("DA", "DT"):
            if element.VM > 1:
                element.value = [_shift_date_text(str(v), days) for v in element.value]
            else:
                element.value = _shift_date_text(str(element.value), days)
        elif element.VR == "PN" and element.keyword != "PatientName":
            element.value = ""
    for item in _datasets(dataset):
        for keyword in _EMPTIED:
            if keyword in item:
                setattr(item, keyword, "")
        for keyword in _REMOVED:
            if keyword in item and not (keyword == "DeviceSerialNumber" and item is dataset):
                delattr(item, keyword)
    dataset.PatientName = deidentifier.patient_name(patient_name, patient_id)
    dataset.PatientID = pseudonym_id
    dataset.PatientBirthDate = deidentifier.birth_date(birth_date) if birth_date else ""
    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethod = DEIDENTIFICATION_METHOD
    dataset.LongitudinalTemporalInformationModified = "MODIFIED"


def patient_identity(header: Dataset) -> tuple[str, str, str]:
    """(patient ID, patient name, birth date) of a source header, as text."""
    return (str(header.get("PatientID", "") or ""), str(header.get("PatientName", "") or ""),
            str(header.get("PatientBirthDate", "") or ""))


# --- saving -----------------------------------------------------------------------------------------------
def save_dataset(dataset: Dataset, path: str) -> None:
    """Write a DICOM Part-10 file atomically (temporary file, then rename)."""
    with atomic_path(os.fspath(path)) as temporary:
        try:
            dataset.save_as(temporary, enforce_file_format=True)
        except TypeError:  # pydicom 2
            dataset.save_as(temporary, write_like_original=False)


def read_dataset(source: Union[str, "os.PathLike[str]", Dataset], what: str) -> Dataset:
    if isinstance(source, Dataset):
        return source
    import pydicom

    try:
        return pydicom.dcmread(os.fspath(source))
    except Exception as error:  # not DICOM, truncated, missing
        raise RagalivInputError(f"Cannot read the {what} {source}: {error}", "Give a DICOM file.") from None


# --- colours: sRGB (0..1) <-> DICOM CIELab (PS3.3 C.10.7.1.1, D65 white as in highdicom/pixelmed) ----------
_WHITE_D65 = (95.047, 100.0, 108.883)
_RGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])


def rgb_to_dicom_lab(rgb: Sequence[float]) -> tuple[int, int, int]:
    linear = []
    for component in rgb:
        c = min(max(float(component), 0.0), 1.0)
        linear.append(((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92)
    xyz = _RGB_TO_XYZ @ (np.array(linear) * 100.0)

    def f(t: float) -> float:
        return t ** (1.0 / 3.0) if t > (6.0 / 29.0) ** 3 else t / (3 * (6.0 / 29.0) ** 2) + 4.0 / 29.0

    fx, fy, fz = (f(v / w) for v, w in zip(xyz, _WHITE_D65))
    lightness, a, b = 116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)
    scale = 0xFFFF
    return (round(min(max(lightness, 0.0), 100.0) * scale / 100.0),
            round(min(max(a + 128.0, 0.0), 255.0) * scale / 255.0),
            round(min(max(b + 128.0, 0.0), 255.0) * scale / 255.0))


def dicom_lab_to_rgb(value: Sequence[int]) -> tuple[float, float, float]:
    lightness = float(value[0]) * 100.0 / 0xFFFF
    a = float(value[1]) * 255.0 / 0xFFFF - 128.0
    b = float(value[2]) * 255.0 / 0xFFFF - 128.0
    fy = (lightness + 16.0) / 116.0
    fx, fz = fy + a / 500.0, fy - b / 200.0

    def finv(t: float) -> float:
        return t**3 if t > 6.0 / 29.0 else 3 * (6.0 / 29.0) ** 2 * (t - 4.0 / 29.0)

    xyz = np.array([finv(fx) * _WHITE_D65[0], finv(fy) * _WHITE_D65[1], finv(fz) * _WHITE_D65[2]]) / 100.0
    linear = np.linalg.solve(_RGB_TO_XYZ, xyz)
    rgb = []
    for c in linear:
        c = min(max(float(c), 0.0), 1.0)
        rgb.append(1.055 * c ** (1 / 2.4) - 0.055 if c > 0.0031308 else 12.92 * c)
    return (round(rgb[0], 4), round(rgb[1], 4), round(rgb[2], 4))
