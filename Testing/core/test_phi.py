"""De-identification: stable pseudonyms, interval-preserving date shifts, nothing leaks when enabled."""

import datetime

from ragaliv.report.phi import Deidentifier


def test_pseudonyms_and_shifts_are_stable_and_keyed():
    first, second = Deidentifier(secret="site-a"), Deidentifier(secret="site-a")
    assert first.patient_id("12345") == second.patient_id("12345")
    assert first.patient_id("12345") != first.patient_id("12346")
    assert Deidentifier(secret="site-b").patient_id("12345") != first.patient_id("12345")
    assert "12345" not in first.patient_id("12345")
    assert "Doe" not in first.patient_name("Doe^John", "12345")
    assert 1 <= first.date_shift_days("12345") <= 365


def test_date_shift_keeps_intervals_and_disabled_passes_through():
    deid = Deidentifier()
    injection = datetime.datetime(2026, 3, 10, 9, 12)
    scan = injection + datetime.timedelta(minutes=53, seconds=30)
    assert deid.shift(scan, "P1") - deid.shift(injection, "P1") == scan - injection
    assert deid.shift(injection, "P1") < injection
    assert deid.shift_iso("2026-03-10", "P1") == deid.shift(injection, "P1").date().isoformat()
    assert deid.birth_date("19580614") == "19580101"
    off = Deidentifier(enabled=False)
    assert off.patient_id("P1") == "P1" and off.shift(injection, "P1") == injection
    assert off.shift_iso("2026-03-10T09:12:00", "P1") == "2026-03-10T09:12:00"
