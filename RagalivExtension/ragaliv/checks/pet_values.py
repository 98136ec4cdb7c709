"""Plausibility of the values one PET's SUV is built from: weight, height, body-mass index, injected activity,
uptake time, half-life and nuclide. Used by the SUV header rules (:mod:`ragaliv.pet.header_rules`), so every
PET loaded by the CLI, the batch or the Slicer module is checked the same way.

Each function returns a :class:`~ragaliv.checks.findings.Finding` (or a list) naming the tag or flag the value
came from (``source``), the value, the range with its source, the likely slip, and the fix.
"""

from collections.abc import Sequence
from typing import Optional

from ..constants import SECONDS_PER_HOUR
from .findings import REFUSE, Finding, accept_hint
from .ranges import (
    BMI_KG_M2,
    GA68_ACTIVITY_MBQ,
    GA68_UPTAKE_MIN,
    HEIGHT_CM,
    MAX_UPTAKE_HALF_LIVES,
    PET_ACTIVITY_MBQ,
    WEIGHT_KG,
    PlausibleRange,
)

POUNDS_PER_KG = 2.20462


def _slip(value: float, plausible: PlausibleRange, slips: Sequence[tuple[float, str]]) -> str:
    """The first unit slip that brings ``value`` into the plausible band, as words (or "")."""
    for factor, words in slips:
        corrected = value / factor
        if plausible.warn_low <= corrected <= plausible.warn_high:
            return f" ({words}? that would be {corrected:.4g} {plausible.unit})"
    return ""


def range_finding(plausible: PlausibleRange, value: Optional[float], source: str, fix: str,
                  slips: Sequence[tuple[float, str]] = ()) -> Optional[Finding]:
    """A finding when ``value`` leaves the plausible band of ``plausible``; None otherwise."""
    if value is None:
        return None
    severity = plausible.assess(float(value))
    if severity is None:
        return None
    word = "implausible" if severity == REFUSE else "unusual"
    message = (f"{plausible.quantity} {float(value):.4g} {plausible.unit} ({source}) is {word}"
               f"{_slip(float(value), plausible, slips)}: {plausible.describe()} ({plausible.source}).")
    hint = f"{fix}; {accept_hint(plausible.check)}." if severity == REFUSE else fix + "."
    return Finding(plausible.check, severity, message[0].upper() + message[1:], hint)


def weight_finding(weight_kg: Optional[float], source: str, how: str = "--weight-kg KG") -> Optional[Finding]:
    """``how``: the flag (or panel field) that gives the value, for the fix."""
    return range_finding(WEIGHT_KG, weight_kg, source, f"Give the weight in kg with {how} (it replaces the "
                         "header value)", ((10.0, "10x too large"), (0.1, "10x too small"),
                                           (POUNDS_PER_KG, "in pounds")))


def height_finding(height_cm: Optional[float], source: str, how: str = "--height-cm CM") -> Optional[Finding]:
    return range_finding(HEIGHT_CM, height_cm, source, f"Give the height in cm with {how}",
                         ((10.0, "in mm"), (0.01, "in m"), (1 / 2.54, "in inches")))


def bmi_finding(weight_kg: Optional[float], height_cm: Optional[float]) -> Optional[Finding]:
    if weight_kg is None or height_cm is None or not height_cm > 0:
        return None
    bmi = weight_kg / (height_cm / 100.0) ** 2
    return range_finding(BMI_KG_M2, bmi, f"{weight_kg:.4g} kg, {height_cm:.4g} cm",
                         "Check the weight (pounds? 10x?) and the height; give them with --weight-kg and --height-cm",
                         ((POUNDS_PER_KG, "weight in pounds"),))


def injected_activity_finding(activity_mbq: Optional[float], nuclide: Optional[str], source: str,
                              how: str = "--dose-mbq MBQ") -> Optional[Finding]:
    plausible = GA68_ACTIVITY_MBQ if nuclide == "Ga68" else PET_ACTIVITY_MBQ
    return range_finding(plausible, activity_mbq, source,
                         f"Give the injected activity in MBq with {how} (RadionuclideTotalDose (0018,1074) "
                         "holds Bq)", ((1e-3, "1000x too small: kBq where Bq belong, or GBq"),
                                       (1e3, "1000x too large")))


def uptake_findings(decay_time_s: Optional[float], half_life_s: Optional[float], nuclide: Optional[str],
                    source: str) -> list[Finding]:
    """Uptake time (injection to scan reference): refused beyond 10 half-lives, warned outside the 68Ga band."""
    if decay_time_s is None or half_life_s is None or not half_life_s > 0:
        return []
    fix = "Check the injection and scan date/times; give them with --injection-time and --scan-time (ISO)"
    half_lives = decay_time_s / half_life_s
    if half_lives > MAX_UPTAKE_HALF_LIVES:
        left = 2.0 ** -half_lives
        return [Finding("uptake-time", REFUSE,
                        f"The uptake time {decay_time_s / SECONDS_PER_HOUR:.4g} h ({source}) is implausible: "
                        f"{half_lives:.3g} half-lives of {half_life_s:g} s leave {left:.2g} of the injected activity, "
                        "no quantitative PET (wrong injection date, or a half-life in the wrong unit?).",
                        f"{fix}; if they are right, add --accept uptake-time.")]
    if nuclide == "Ga68":
        finding = range_finding(GA68_UPTAKE_MIN, decay_time_s / 60.0, source, fix)
        return [finding] if finding else []
    return []

