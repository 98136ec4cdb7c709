"""Read one SPECT (or PET) time point and its CT from disk: DICOM series or NRRD/NIfTI image.

DICOM: the NM (or PT) series is found with :func:`ragaliv.io.dicom_series.select_series`. What is read, and
what it is used for (every value can be overridden in STUDY.json; NRRD/NIfTI images carry none of this, so
STUDY.json must give it):

* acquisition time: AcquisitionDateTime (0008,002A), else AcquisitionDate/Time (0008,0022/0032) (earliest
  slice), else SeriesDate/Time (0008,0021/0031);
* pixel unit: Units (0054,1001) (BQML → Bq/mL, CNTS → counts);
* decay correction: DecayCorrection (0054,1102) (NONE, START, ADMIN; a PET Series attribute, rarely in NM)
  and CorrectedImage (0028,0051) (NM marks a decay-corrected image with "DECY");
* administration, from RadiopharmaceuticalInformationSequence (0054,0016): the injection moment from
  RadiopharmaceuticalStartDateTime (0018,1078) **only**. RadiopharmaceuticalStartTime (0018,1072) is a clock
  time without a date; it is kept (``injection_clock_time``) so that the study can say what the header had,
  but it never defines the injection moment (a SPECT series is often dated days after the injection).
  RadionuclideTotalDose (0018,1074) is in Bq by the standard; values below
  :data:`ragaliv.pet.suv.DOSE_IN_MBQ_BELOW` (1e4) were entered in MBq (IBSI rule, as for PET) and are read so,
  with a note;
* identity: PatientID (0010,0020) and FrameOfReferenceUID (0020,0052), compared across time points.

DICOM date/time values are parsed with the helpers of :mod:`ragaliv.pet.dicom_time` (the QIBA rules: colons,
fractions, leap seconds, UTC offsets in DT values and TimezoneOffsetFromUTC (0008,0201)), so SPECT and PET
read times the same way. A time is timezone-aware when the header gives its offset, naive (local clock)
otherwise.
"""

import datetime
import os
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from ..constants import BQ_PER_MBQ
from ..errors import RagalivInputError
from ..geometry import Volume
from ..io.dicom_series import load_volume, select_series
from ..io.images import is_image_file, read_image

# The DICOM DA/TM/DT parsers of the PET SUV module. They are private there; imported read-only on purpose so
# that one implementation of the DICOM date/time rules serves PET and SPECT (do not copy them here).
from ..pet.dicom_time import dataset_zone, parse_da, parse_dt, parse_tm
from ..pet.suv_parameters import DOSE_IN_MBQ_BELOW

_UNITS_BY_DICOM = {"BQML": "Bq/mL", "CNTS": "counts"}
DOSE_TAG = "RadionuclideTotalDose (0018,1074)"
START_DATETIME_TAG = "RadiopharmaceuticalStartDateTime (0018,1078)"
START_TIME_TAG = "RadiopharmaceuticalStartTime (0018,1072)"
DECAY_CORRECTION_TAG = "DecayCorrection (0054,1102)"
CORRECTED_IMAGE_TAG = "CorrectedImage (0028,0051)"
PATIENT_ID_TAG = "PatientID (0010,0020)"
FRAME_OF_REFERENCE_TAG = "FrameOfReferenceUID (0020,0052)"


@dataclass
class LoadedImage:
    """Pixels as stored (after rescale) plus what the header says about them.

    ``injection_time`` comes from RadiopharmaceuticalStartDateTime (0018,1078) only; ``injection_clock_time``
    is RadiopharmaceuticalStartTime (0018,1072) (a time of day, no date), kept for the messages.
    ``administered_mbq`` is RadionuclideTotalDose (0018,1074) converted to MBq (``administered_note`` says
    how, e.g. when the value was read as MBq). ``corrected_image`` lists CorrectedImage (0028,0051).
    """

    volume: Volume
    is_dicom: bool
    acquisition_time: Optional[datetime.datetime] = None
    acquisition_time_source: str = ""
    header_units: Optional[str] = None  # "Bq/mL", "counts", or the raw DICOM code when unsupported
    decay_correction: Optional[str] = None  # DICOM DecayCorrection code (NONE, START, ADMIN)
    description: str = ""
    injection_time: Optional[datetime.datetime] = None
    administered_mbq: Optional[float] = None
    radiopharmaceutical: str = ""
    notes: dict[str, Any] = field(default_factory=dict)
    injection_clock_time: Optional[datetime.time] = None
    administered_note: str = ""
    corrected_image: tuple[str, ...] = ()
    patient_id: str = ""
    frame_of_reference_uid: str = ""
    path: str = ""
    warnings: list[str] = field(default_factory=list)  # unusual but possible findings of the DICOM reader

    @property
    def decay_corrected_by_header(self) -> bool:
        """CorrectedImage (0028,0051) contains DECY (the NM way of saying "decay corrected")."""
        return "DECY" in self.corrected_image or "DECAY" in self.corrected_image


def parse_dicom_datetime(date_text: Any, time_text: Any) -> Optional[datetime.datetime]:
    """DA ``YYYYMMDD`` + TM ``HH[MM[SS[.F…]]]`` (colons tolerated) → naive datetime, or None if malformed."""
    day, moment = parse_da(date_text), parse_tm(time_text)
    if day is None or moment is None:
        return None
    return datetime.datetime.combine(day, moment)


def _header_datetime(header, date_keyword: str, time_keyword: str) -> Optional[datetime.datetime]:
    """DA + TM of ``header`` in its TimezoneOffsetFromUTC (aware) when it has one, else naive local time."""
    stamp = parse_dicom_datetime(header.get(date_keyword), header.get(time_keyword))
    zone = dataset_zone(header)
    return stamp if stamp is None or zone is None else stamp.replace(tzinfo=zone)


def acquisition_time(headers) -> tuple:
    """(datetime, source) of a SPECT (or PET) series from its slice headers, or (None, "") when none is given: the
    earliest AcquisitionDateTime (0008,002A), else AcquisitionDate/Time (0008,0022/0032), of any slice; only when
    no slice has either, SeriesDate/Time (0008,0021/0031) of the first (on a reconstructed NM series often the
    reconstruction, not the acquisition). Date and time always come from one pair of tags (an AcquisitionTime is
    never put on a SeriesDate); TimezoneOffsetFromUTC (0008,0201) makes the time aware. ``source`` names the tags
    used, e.g. "DICOM AcquisitionDateTime (0008,002A)".

    The one rule for ``ragaliv dosimetry`` (:func:`load_emission_image`) and the Slicer SpectDosimetry panel (its
    header pre-fill and the acquisition time kept with each time point for the ``spect-time`` check). ``headers``:
    pydicom datasets or the fast reader's headers (anything with ``get(keyword)``)."""
    headers = list(headers)
    if not headers:
        return None, ""
    candidates = []
    for header in headers:
        stamp = parse_dt(header.get("AcquisitionDateTime"), dataset_zone(header))
        if stamp is not None:
            candidates.append((stamp, "DICOM AcquisitionDateTime (0008,002A)"))
            continue
        stamp = _header_datetime(header, "AcquisitionDate", "AcquisitionTime")
        if stamp is not None:
            candidates.append((stamp, "DICOM AcquisitionDate/Time (0008,0022/0032)"))
    if candidates:
        naive = all(stamp.tzinfo is None for stamp, _ in candidates)
        aware = all(stamp.tzinfo is not None for stamp, _ in candidates)
        if naive or aware:
            return min(candidates, key=lambda item: item[0])
        return min(candidates, key=lambda item: item[0].replace(tzinfo=None))
    stamp = _header_datetime(headers[0], "SeriesDate", "SeriesTime")
    if stamp is not None:
        return stamp, "DICOM SeriesDate/Time (0008,0021/0031)"
    return None, ""


def administered_mbq_from_header(value: Any) -> tuple[Optional[float], str]:
    """RadionuclideTotalDose (0018,1074) → (MBq, note); (None, note) when absent, zero or not a number.

    The standard unit is Bq; a value below :data:`ragaliv.pet.suv.DOSE_IN_MBQ_BELOW` (1e4) cannot be a
    therapeutic (or any PET) administration in Bq and was entered in MBq (IBSI rule): it is read as MBq and
    the note says so.
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None, f"DICOM {DOSE_TAG} is missing or not a number"
    if not np.isfinite(number) or number <= 0.0:
        return None, f"DICOM {DOSE_TAG} is {value!r}, not a positive number"
    if number < DOSE_IN_MBQ_BELOW:
        return number, (
            f"DICOM {DOSE_TAG} = {number:g} is too small to be Bq: read as {number:g} MBq (IBSI rule, values "
            f"< {DOSE_IN_MBQ_BELOW:g} are MBq)"
        )
    return number / BQ_PER_MBQ, f"DICOM {DOSE_TAG} = {number:g} Bq"


def _corrected_image(header) -> tuple[str, ...]:
    value = header.get("CorrectedImage")
    if value is None:
        return ()
    items = [value] if isinstance(value, (str, bytes)) else list(value)
    return tuple(str(item).strip().upper() for item in items if str(item).strip())


def _radiopharmaceutical(header) -> dict[str, Any]:
    sequence = header.get("RadiopharmaceuticalInformationSequence")
    if not sequence:
        return {}
    item = sequence[0]
    result: dict[str, Any] = {"radiopharmaceutical": str(item.get("Radiopharmaceutical", "") or "").strip()}
    # Only the DT defines the injection moment; the TM alone has no date (see the module docstring).
    result["injection_time"] = parse_dt(item.get("RadiopharmaceuticalStartDateTime"), dataset_zone(header))
    result["injection_clock_time"] = parse_tm(item.get("RadiopharmaceuticalStartTime"))
    result["administered_mbq"], result["administered_note"] = administered_mbq_from_header(
        item.get("RadionuclideTotalDose")
    )
    return result


def load_emission_image(path: str, what: str) -> LoadedImage:
    """A SPECT (NM) or PET (PT) time point from a DICOM folder/file, or a NRRD/NIfTI/MHA image."""
    if not os.path.exists(path):
        raise RagalivInputError(f"{what}: image not found: {path}", "Check the 'image' path in STUDY.json "
                                "(paths are relative to the STUDY.json file).")
    if is_image_file(path):
        return LoadedImage(read_image(path), is_dicom=False, description=os.path.basename(path), path=path)
    series = select_series(path, ("NM", "PT"), what)
    volume = load_volume(series)
    headers = volume.metadata["fast_slice_headers"]
    reader_warnings = list(volume.metadata["warnings"])
    first = headers[0]
    stamp, stamp_source = acquisition_time(headers)
    code = str(first.get("Units", "") or "").strip().upper()
    units = _UNITS_BY_DICOM.get(code, code or None)
    decay = str(first.get("DecayCorrection", "") or "").strip().upper() or None
    info = _radiopharmaceutical(first)
    metadata = {key: volume.metadata[key] for key in ("series_instance_uid", "modality") if key in volume.metadata}
    volume = Volume(volume.array, volume.geometry, "", metadata)
    return LoadedImage(
        volume,
        is_dicom=True,
        acquisition_time=stamp,
        acquisition_time_source=stamp_source,
        header_units=units,
        decay_correction=decay,
        description=f"{series.modality} '{series.series_description}' UID {series.series_instance_uid}",
        injection_time=info.get("injection_time"),
        administered_mbq=info.get("administered_mbq"),
        radiopharmaceutical=info.get("radiopharmaceutical", ""),
        injection_clock_time=info.get("injection_clock_time"),
        administered_note=info.get("administered_note", ""),
        corrected_image=_corrected_image(first),
        patient_id=str(first.get("PatientID", "") or "").strip(),
        frame_of_reference_uid=str(first.get("FrameOfReferenceUID", "") or "").strip(),
        path=path,
        warnings=reader_warnings,
    )


def load_ct(path: str, what: str) -> Volume:
    """CT in HU (float32) from a DICOM series or an image file.

    ``metadata`` keeps ``series_instance_uid`` and, for DICOM, ``patient_id`` (0010,0020) and
    ``frame_of_reference_uid`` (0020,0052) for the consistency checks of the study, and ``warnings`` of the
    DICOM reader.
    """
    if not os.path.exists(path):
        raise RagalivInputError(f"{what}: CT not found: {path}", "Check the 'ct' path in STUDY.json.")
    if is_image_file(path):
        volume = read_image(path, "HU")
        metadata = {}
    else:
        volume = load_volume(select_series(path, ("CT",), what))
        metadata = {key: volume.metadata[key] for key in ("series_instance_uid", "warnings") if key in volume.metadata}
        headers = volume.metadata["fast_slice_headers"]
        if headers:
            metadata["patient_id"] = str(headers[0].get("PatientID", "") or "").strip()
            metadata["frame_of_reference_uid"] = str(headers[0].get("FrameOfReferenceUID", "") or "").strip()
    return Volume(np.asarray(volume.array, dtype=np.float32), volume.geometry, "HU", metadata)
