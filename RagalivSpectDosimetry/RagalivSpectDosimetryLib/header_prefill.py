"""What the panel pre-fills from a selected SPECT's DICOM header (Qt-free, tested without the application).

A pre-fill never replaces what the user entered: the injection time only while the panel's is empty, the
administered activity only while it is 0 (the panel asks for the *net* activity, the header holds the gross
RadionuclideTotalDose, and TIAC and Gy/GBq are divided by it). Each value is taken on its own: a malformed
one is left out with a note, the others are still used. Headers are often wrong, so every value stays editable.

Times are read as ``ragaliv dosimetry`` reads them (third review of issue 10, N2): the acquisition time by
:func:`ragaliv.spect.loading.acquisition_time` (AcquisitionDateTime, else AcquisitionDate/Time of the earliest
slice, else SeriesDate/Time; never a date of one pair with a time of another; TimezoneOffsetFromUTC applied), the
injection time from RadiopharmaceuticalStartDateTime (0018,1078) with its UTC offset or the dataset's, so that the
hours pre-filled, the "Acquired (DICOM)" column and the run's ``spect-time`` check agree with the command line.
"""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional, Union

# The tags the acquisition-time rule reads (ragaliv.spect.loading.acquisition_time), read from every instance.
TIME_TAGS = ("AcquisitionDateTime", "AcquisitionDate", "AcquisitionTime", "SeriesDate", "SeriesTime",
             "TimezoneOffsetFromUTC")


@dataclass
class HeaderPrefill:
    units: Optional[str] = None  # "Bq/mL" or "counts"
    injection_time: Optional[str] = None  # ISO 8601, set only when the panel had none
    administered_mbq: Optional[float] = None  # set only when the panel had 0
    time_h: Optional[float] = None  # acquisition time after injection
    acquisition_time: Optional[str] = None  # ISO 8601 (with the UTC offset when the header gives one)
    acquisition_source: str = ""  # the tags it was read from, e.g. "DICOM AcquisitionDateTime (0008,002A)"
    notes: list[str] = field(default_factory=list)


def _read_header(path: str, whole: bool):
    """One file's header without pixels: all of it (``whole``) or only :data:`TIME_TAGS`."""
    import pydicom

    if whole:
        return pydicom.dcmread(path, stop_before_pixels=True)
    return pydicom.dcmread(path, stop_before_pixels=True, specific_tags=list(TIME_TAGS))


def read_headers(paths: Sequence[str]) -> list:
    """The DICOM headers of a series' files for the pre-fill: the first file's whole header (without pixels), and
    of the others only :data:`TIME_TAGS` (the acquisition time is the earliest of any slice). Raises OSError or
    pydicom's InvalidDicomError for a file that cannot be read (:func:`series_headers` says which)."""
    return [_read_header(path, index == 0) for index, path in enumerate(paths)]


def series_headers(paths: Sequence[str], name: str) -> tuple[list, Optional[str]]:
    """(headers, None) of the files of SPECT ``name`` as the DICOM database lists them (one path per instance, ""
    for one it does not know), or ([], why) when any is missing or unreadable: a series moved or unmounted since
    it was loaded. Then nothing is pre-filled and no acquisition time is kept, as for a SPECT not loaded from
    DICOM (an empty "Acquired (DICOM)" cell), rather than an acquisition time from part of the series."""
    from pydicom.errors import InvalidDicomError

    paths = list(paths)
    not_read = "its header was not read (no pre-fill; the time entered is not compared with its acquisition time)"
    missing = sum(1 for path in paths if not path)
    if missing:
        return [], f"{missing} of the {len(paths)} DICOM files of {name} are not in the DICOM database: {not_read}"
    headers = []
    for index, path in enumerate(paths):
        try:
            headers.append(_read_header(path, index == 0))
        except (OSError, InvalidDicomError) as error:
            return [], (f"the DICOM file {path} of {name} cannot be read ({error}): {not_read}. Re-import the "
                        "series in the DICOM module to restore it")
    return headers, None


def _as_list(headers: Union[Sequence, object]) -> list:
    """One header (a pydicom Dataset) or a series' headers, as a list."""
    return list(headers) if isinstance(headers, (list, tuple)) else [headers]


def header_acquisition_time(headers) -> tuple[Optional[str], str]:
    """(ISO 8601 acquisition date-time, the tags it was read from) of a SPECT, or (None, ""): kept with the time
    point, so that the run compares the hours entered with it (the ``spect-time`` check of ``ragaliv
    dosimetry``) and its refusal names the tags. ``headers``: one pydicom dataset or the series' headers."""
    from ragaliv.spect.loading import acquisition_time

    stamp, source = acquisition_time(_as_list(headers))
    return (stamp.isoformat(), source) if stamp is not None else (None, "")


def _start_datetime(header) -> tuple[Optional[str], str]:
    """(ISO injection date-time or None, the header text) from RadiopharmaceuticalStartDateTime (0018,1078), read
    as ``ragaliv dosimetry`` reads it (its offset, else TimezoneOffsetFromUTC); to the second at least."""
    from ragaliv.pet.dicom_time import dataset_zone, parse_dt

    sequence = header.get("RadiopharmaceuticalInformationSequence")
    item = sequence[0] if sequence else None
    text = str(item.get("RadiopharmaceuticalStartDateTime") or "").strip() if item is not None else ""
    stamp = parse_dt(text, dataset_zone(header)) if len(text) >= 14 else None
    return (stamp.isoformat() if stamp is not None else None), text


def header_injection_time(headers) -> Optional[str]:
    """The SPECT header's injection date-time (ISO) or None: kept with the time point, so that the run compares
    the injection time entered with it (the ``injection-time`` check of ``ragaliv dosimetry``)."""
    headers = _as_list(headers)
    return _start_datetime(headers[0])[0] if headers else None


def _hours_after(stamp: datetime.datetime, start: datetime.datetime) -> tuple[float, bool]:
    """(hours from ``start`` to ``stamp``, whether a UTC offset on one side only was dropped: both are then local
    clock times, as ``ragaliv dosimetry`` and the run's check take them)."""
    mixed = (stamp.tzinfo is None) != (start.tzinfo is None)
    if mixed:
        stamp, start = stamp.replace(tzinfo=None), start.replace(tzinfo=None)
    return (stamp - start).total_seconds() / 3600.0, mixed


def prefill_from_header(headers, injection_time: str, administered_mbq: float) -> HeaderPrefill:
    """The values to pre-fill from ``headers`` (a pydicom dataset, or the series' datasets: :func:`read_headers`)
    given the panel's current injection time (ISO text, "" when empty) and administered activity (MBq, 0 when not
    entered)."""
    from ragaliv.spect.loading import administered_mbq_from_header

    headers = _as_list(headers)
    result = HeaderPrefill()
    if not headers:
        return result
    header = headers[0]
    units = str(header.get("Units", "") or "").upper()
    result.units = "Bq/mL" if units == "BQML" else "counts"
    sequence = header.get("RadiopharmaceuticalInformationSequence")
    item = sequence[0] if sequence else None
    if item is not None and not injection_time:
        stamp, text = _start_datetime(header)
        if stamp is not None:
            result.injection_time = stamp
        elif text:
            result.notes.append(f"RadiopharmaceuticalStartDateTime {text!r} is not a date-time: not used")
    if item is not None and not administered_mbq > 0:  # also NaN
        activity, note = administered_mbq_from_header(item.get("RadionuclideTotalDose"))
        if activity is not None:
            result.administered_mbq = activity  # Bq, or MBq entered by mistake (IBSI rule)
            result.notes.append(note + " (gross: enter the net administered activity if it differs)")
    result.acquisition_time, result.acquisition_source = header_acquisition_time(headers)
    injection = result.injection_time or injection_time
    if result.acquisition_time is not None and injection:
        try:
            hours, mixed = _hours_after(datetime.datetime.fromisoformat(result.acquisition_time),
                                        datetime.datetime.fromisoformat(injection))
        except (TypeError, ValueError) as error:  # a hand-typed injection time that is not ISO
            result.notes.append(f"time after injection not computed: {error}")
        else:
            result.time_h = hours
            if mixed:
                result.notes.append(
                    f"only one of the acquisition time {result.acquisition_time} and the injection time {injection} "
                    "carries a UTC offset: both taken as local clock times")
    return result
