"""ragaliv.io.user_time: the one parser of typed date-times (the same strings on Python 3.9 and 3.12)."""

import datetime

import pytest
from ragaliv.io.user_time import parse_user_datetime

UTC = datetime.timezone.utc


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-04-21T10:30:00", datetime.datetime(2026, 4, 21, 10, 30)),
    ("2026-04-21 10:30", datetime.datetime(2026, 4, 21, 10, 30)),
    ("2026-04-21T10:30Z", datetime.datetime(2026, 4, 21, 10, 30, tzinfo=UTC)),
    ("2026-04-21T10:30:00.1234567", datetime.datetime(2026, 4, 21, 10, 30, 0, 123456)),  # cut to microseconds
    ("2026-04-21T10:30:00+01", datetime.datetime(2026, 4, 21, 10, 30, tzinfo=datetime.timezone(datetime.timedelta(
        hours=1)))),
    ("2026-04-21T10:30:00-0130", datetime.datetime(2026, 4, 21, 10, 30, tzinfo=datetime.timezone(-datetime.timedelta(
        hours=1, minutes=30)))),
])
def test_iso_date_times_with_a_clock_time_are_read(text, expected):
    assert parse_user_datetime(text) == expected


@pytest.mark.parametrize(("text", "said"), [
    ("2026-04-21", "has no time of day"),
    ("20260421", "has no time of day"),
    ("21.04.2026 10:30", "is not an ISO 8601 date and time"),
    ("2026-04-21T25:00", "is not a valid date and time"),
    ("2026-04-21T10:30+25:00", "is not a valid offset"),
    (None, "is not an ISO date-time string"),
])
def test_other_strings_are_refused_saying_why(text, said):
    with pytest.raises(ValueError, match=said):
        parse_user_datetime(text)
