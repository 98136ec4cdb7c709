"""What the panel pre-fills from a selected SPECT's DICOM header (Qt-free, tested without the application).

A pre-fill never replaces what the user entered: the injection time only while the panel's is empty, the
administered activity only while it is 0 (the panel asks for the *net* activity, the header holds the gross
RadionuclideTotalDose, and TIAC and Gy/GBq are divided by it). Each value is taken on its own: a malformed
one is left out with a note, the others are still used. Headers are often wrong, so every value stays editable.
"""

import datetime
from dataclasses import dataclass, field
from typing import Optional


@dataclass
class HeaderPrefill:
    units: Optional[str] = None  # "Bq/mL" or "counts"
    injection_time: Optional[str] = None  # ISO 8601, set only when the panel had none
    administered_mbq: Optional[float] = None  # set only when the panel had 0
    time_h: Optional[float] = None  # acquisition time after injection
    notes: list[str] = field(default_factory=list)


def header_acquisition_time(header) -> Optional[str]:
    """The SPECT's acquisition date-time from its header (AcquisitionDate/Time, else SeriesDate/Time), ISO 8601
    local clock, or None: kept with the time point, so that the run compares the hours entered with it (the
    ``spect-time`` check of ``ragaliv dosimetry``)."""
    from ragaliv.spect.loading import parse_dicom_datetime

    stamp = parse_dicom_datetime(header.get("AcquisitionDate") or header.get("SeriesDate"),
                                 header.get("AcquisitionTime") or header.get("SeriesTime"))
    return stamp.isoformat() if stamp is not None else None


def prefill_from_header(header, injection_time: str, administered_mbq: float) -> HeaderPrefill:
    """The values to pre-fill from ``header`` (a pydicom dataset) given the panel's current injection time
    (ISO text, "" when empty) and administered activity (MBq, 0 when not entered)."""
    from ragaliv.spect.loading import administered_mbq_from_header, parse_dicom_datetime

    result = HeaderPrefill()
    units = str(header.get("Units", "") or "").upper()
    result.units = "Bq/mL" if units == "BQML" else "counts"
    sequence = header.get("RadiopharmaceuticalInformationSequence")
    item = sequence[0] if sequence else None
    if item is not None and not injection_time:
        text = str(item.get("RadiopharmaceuticalStartDateTime") or "")
        try:
            if len(text) >= 14:
                result.injection_time = datetime.datetime.strptime(text[:14], "%Y%m%d%H%M%S").isoformat()
        except ValueError:
            result.notes.append(f"RadiopharmaceuticalStartDateTime {text!r} is not a date-time: not used")
    if item is not None and not administered_mbq > 0:  # also NaN
        activity, note = administered_mbq_from_header(item.get("RadionuclideTotalDose"))
        if activity is not None:
            result.administered_mbq = activity  # Bq, or MBq entered by mistake (IBSI rule)
            result.notes.append(note + " (gross: enter the net administered activity if it differs)")
    injection = result.injection_time or injection_time
    acquisition = parse_dicom_datetime(header.get("AcquisitionDate") or header.get("SeriesDate"),
                                       header.get("AcquisitionTime") or header.get("SeriesTime"))
    if acquisition is not None and injection:
        try:
            result.time_h = (acquisition - datetime.datetime.fromisoformat(injection)).total_seconds() / 3600.0
        except (TypeError, ValueError) as error:  # a hand-typed injection time that is not ISO, or with a zone
            result.notes.append(f"time after injection not computed: {error}")
    return result
