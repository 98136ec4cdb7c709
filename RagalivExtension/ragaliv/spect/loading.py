"""Read one SPECT (or PET) time point and its CT from disk: DICOM series or NRRD/NIfTI image.

DICOM: the NM (or PT) series is found with :func:`ragaliv.io.dicom_series.select_series`; the acquisition
time comes from AcquisitionDateTime, else AcquisitionDate/Time (earliest slice), else SeriesDate/Time; the
pixel unit from Units (0054,1001) (BQML → Bq/mL, CNTS → counts); the decay correction from DecayCorrection
(0054,1102); the administration from RadiopharmaceuticalInformationSequence (0054,0016). Every one of them
can be overridden in STUDY.json. NRRD/NIfTI images carry none of this, so STUDY.json must give it.
"""

import datetime
import os
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from ..errors import RagalivInputError
from ..geometry import Volume
from ..io.dicom_series import load_volume, select_series
from ..io.images import is_image_file, read_image

_UNITS_BY_DICOM = {"BQML": "Bq/mL", "CNTS": "counts"}


@dataclass
class LoadedImage:
    """Pixels as stored (after rescale) plus what the header says about them."""

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


def parse_dicom_datetime(date_text: Any, time_text: Any) -> Optional[datetime.datetime]:
    """DA ``YYYYMMDD`` + TM ``HH[MM[SS[.F…]]]`` (colons tolerated) → naive datetime, or None if malformed."""
    date = str(date_text or "").strip().replace("-", "").replace(".", "")
    time = str(time_text or "").strip().replace(":", "")
    if len(date) != 8 or not date.isdigit() or not time:
        return None
    main, _, fraction = time.partition(".")
    if len(main) < 2 or len(main) % 2 or len(main) > 6 or not main.isdigit():
        return None
    fraction = fraction.strip()
    if fraction and not fraction.isdigit():
        return None
    try:
        return datetime.datetime(
            int(date[:4]), int(date[4:6]), int(date[6:8]),
            int(main[0:2]), int(main[2:4] or 0), int(main[4:6] or 0),
            int((fraction + "000000")[:6]) if fraction else 0,
        )
    except ValueError:
        return None


def _dicom_dt(text: Any) -> Optional[datetime.datetime]:
    """DT ``YYYYMMDDHHMMSS.FFFFFF[&ZZXX]`` → naive datetime (an offset is ignored), or None."""
    value = str(text or "").strip()
    for sign in ("+", "-"):
        if sign in value[8:]:
            value = value[: 8 + value[8:].index(sign)]
    if len(value) < 10:
        return None
    return parse_dicom_datetime(value[:8], value[8:])


def _acquisition_time(headers) -> tuple:
    """(datetime, source) from the slice headers: the earliest acquisition of the series."""
    candidates = []
    for header in headers:
        stamp = _dicom_dt(header.get("AcquisitionDateTime"))
        if stamp is not None:
            candidates.append((stamp, "DICOM AcquisitionDateTime (0008,002A)"))
            continue
        stamp = parse_dicom_datetime(header.get("AcquisitionDate"), header.get("AcquisitionTime"))
        if stamp is not None:
            candidates.append((stamp, "DICOM AcquisitionDate/Time (0008,0022/0032)"))
    if candidates:
        return min(candidates, key=lambda item: item[0])
    first = headers[0]
    stamp = parse_dicom_datetime(first.get("SeriesDate"), first.get("SeriesTime"))
    if stamp is not None:
        return stamp, "DICOM SeriesDate/Time (0008,0021/0031)"
    return None, ""


def _radiopharmaceutical(header) -> dict[str, Any]:
    sequence = header.get("RadiopharmaceuticalInformationSequence")
    if not sequence:
        return {}
    item = sequence[0]
    result: dict[str, Any] = {"radiopharmaceutical": str(item.get("Radiopharmaceutical", "") or "").strip()}
    stamp = _dicom_dt(item.get("RadiopharmaceuticalStartDateTime"))
    if stamp is None:
        stamp = parse_dicom_datetime(
            header.get("SeriesDate") or header.get("AcquisitionDate"), item.get("RadiopharmaceuticalStartTime")
        )
    result["injection_time"] = stamp
    try:
        dose_bq = float(item.get("RadionuclideTotalDose"))
        result["administered_mbq"] = dose_bq / 1.0e6 if dose_bq > 0 else None
    except (TypeError, ValueError):
        result["administered_mbq"] = None
    return result


def load_emission_image(path: str, what: str) -> LoadedImage:
    """A SPECT (NM) or PET (PT) time point from a DICOM folder/file, or a NRRD/NIfTI/MHA image."""
    if not os.path.exists(path):
        raise RagalivInputError(f"{what}: image not found: {path}", "Check the 'image' path in STUDY.json "
                                "(paths are relative to the STUDY.json file).")
    if is_image_file(path):
        return LoadedImage(read_image(path), is_dicom=False, description=os.path.basename(path))
    series = select_series(path, ("NM", "PT"), what)
    volume = load_volume(series)
    headers = volume.metadata.get("slice_headers") or series.headers
    first = headers[0]
    stamp, stamp_source = _acquisition_time(headers)
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
    )


def load_ct(path: str, what: str) -> Volume:
    """CT in HU (float32) from a DICOM series or an image file."""
    if not os.path.exists(path):
        raise RagalivInputError(f"{what}: CT not found: {path}", "Check the 'ct' path in STUDY.json.")
    if is_image_file(path):
        volume = read_image(path, "HU")
    else:
        volume = load_volume(select_series(path, ("CT",), what))
    metadata = {key: volume.metadata[key] for key in ("series_instance_uid",) if key in volume.metadata}
    return Volume(np.asarray(volume.array, dtype=np.float32), volume.geometry, "HU", metadata)
