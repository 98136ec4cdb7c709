"""Date-times typed by a user (``--ia-injection-time``, STUDY.json ``injection_time``, COHORT.csv
``ia_scan_time`` ...): one parser, so that every entry point refuses the same slips.

* A date without a time of day (``2026-04-21``) is refused: Python reads it as midnight, which puts a morning
  injection hours early (adversarial test W6/W10: +7-12 % 177Lu doses; a 68Ga SUV 180x off). An injection or
  scan time always has a clock time.
* Only the ISO 8601 extended form is accepted, the same on Python 3.9 and 3.12 (3.11 widened
  ``datetime.fromisoformat``): ``YYYY-MM-DD`` then ``T`` or a space, ``HH:MM[:SS[.fraction]]`` (a fraction beyond
  microseconds is cut there), optionally ``Z`` or ``±HH[:MM]`` / ``±HHMM``.
"""

import datetime
import re

EXAMPLE = "2026-04-21T10:30:00"

_DATE_ONLY = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?)?$",
    re.IGNORECASE,
)


def parse_user_datetime(text: object) -> datetime.datetime:
    """The date-time of an ISO 8601 string with a time of day, else ValueError with a sentence saying what is
    wrong and how to write it (the caller prefixes the flag, key or column)."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not an ISO date-time string (write it like {EXAMPLE})")
    value = text.strip()
    date_only = _DATE_ONLY.match(value)
    if date_only:
        day = "-".join(date_only.groups())
        raise ValueError(
            f"{text!r} has no time of day (a date alone would be read as midnight, hours off); give the date and "
            f"the clock time, e.g. {day}T10:30:00"
        )
    match = _ISO.match(value)
    if not match:
        raise ValueError(f"{text!r} is not an ISO 8601 date and time (write it like {EXAMPLE})")
    year, month, day, hour, minute, second, fraction, zulu, sign, offset_h, offset_min = match.groups()
    zone = None
    if zulu:
        zone = datetime.timezone.utc
    elif sign:
        delta = datetime.timedelta(hours=int(offset_h), minutes=int(offset_min or 0))
        if delta >= datetime.timedelta(hours=24):
            raise ValueError(f"{text!r}: the UTC offset {sign}{offset_h}:{offset_min or '00'} is not a valid offset")
        zone = datetime.timezone(delta if sign == "+" else -delta)
    try:
        return datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                                 int((fraction or "0")[:6].ljust(6, "0")), tzinfo=zone)
    except ValueError:
        raise ValueError(f"{text!r} is not a valid date and time (write it like {EXAMPLE})") from None
