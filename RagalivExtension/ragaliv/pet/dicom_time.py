"""DICOM DA, TM and DT values as Python dates and times, with the dataset's UTC offset (PET notes §3.3).

DT may carry its own offset (``+0100``), which wins over TimezoneOffsetFromUTC (0008,0201); DA + TM take the
dataset's offset. Malformed values read as None (the caller decides whether that is an error).
"""

import re
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # pydicom only where a file is read: `ragaliv ratio` starts faster (issue 12)
    from pydicom.dataset import Dataset

from .dicom_values import dicom_text

DT_PATTERN = re.compile(
    r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,6}))?\s*(?:&?([+-]\d{4}))?$"
)
TM_PATTERN = re.compile(r"^(\d{2}):?(\d{2})?:?(\d{2})?(?:\.(\d{1,6}))?$")


def utc_offset(text: str) -> Optional[timezone]:
    match = re.match(r"^([+-])(\d{2})(\d{2})$", text.strip())
    if not match:
        return None
    sign = 1 if match.group(1) == "+" else -1
    return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))


def parse_da(value: Any) -> Optional[date]:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = re.sub(r"[.\-]", "", str(value or "").strip())
    if not re.match(r"^\d{8}$", text):
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def parse_tm(value: Any) -> Optional[time]:
    if isinstance(value, time):
        return value.replace(tzinfo=None)
    match = TM_PATTERN.match(str(value or "").strip())
    if not match:
        return None
    hour, minute, second, fraction = match.groups()
    try:
        return time(
            int(hour), int(minute or 0), min(int(second or 0), 59), int((fraction or "0").ljust(6, "0"))
        )
    except ValueError:
        return None


def parse_dt(value: Any, zone: Optional[timezone]) -> Optional[datetime]:
    """DICOM DT; an explicit UTC offset wins over the dataset's TimezoneOffsetFromUTC (``zone``)."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None or zone is None else value.replace(tzinfo=zone)
    match = DT_PATTERN.match(str(value or "").strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        result = datetime(
            int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
            min(int(second or 0), 59), int((fraction or "0").ljust(6, "0")),
        )  # fmt: skip
    except ValueError:
        return None
    tz = utc_offset(offset) if offset else zone
    return result.replace(tzinfo=tz) if tz is not None else result


def dataset_zone(dataset: "Dataset") -> Optional[timezone]:
    """TimezoneOffsetFromUTC (0008,0201), which applies to the dataset's DA/TM and offset-less DT values."""
    return utc_offset(dicom_text(dataset, "TimezoneOffsetFromUTC"))


def combine_da_tm(day: Optional[date], moment: Optional[time], zone: Optional[timezone]) -> Optional[datetime]:
    if day is None or moment is None:
        return None
    return datetime.combine(day, moment).replace(tzinfo=zone)


def seconds_between(later: datetime, earlier: datetime) -> float:
    """``later - earlier`` in s; if only one side has a UTC offset both are taken as the same zone."""
    if (later.tzinfo is None) != (earlier.tzinfo is None):
        later, earlier = later.replace(tzinfo=None), earlier.replace(tzinfo=None)
    return (later - earlier).total_seconds()


def iso_or_unknown(moment: Optional[datetime]) -> str:
    return moment.isoformat() if moment is not None else "?"

