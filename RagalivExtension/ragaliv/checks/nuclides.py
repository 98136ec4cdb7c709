"""Radionuclide identity: the nuclide named by the header, its half-life, and the tracer the trial expects.

A header can name 68Ga (RadionuclideCodeSequence (0054,0300), the radiopharmaceutical name) and carry the
half-life of 18F in RadionuclideHalfLife (0018,1075), or carry 67.71 (the 68Ga half-life in minutes) in a
tag that is in seconds. Either one changes every SUV by a factor that grows with the uptake time. The half-life
is identified here against a table of nuclides (2 % tolerance: header values in use differ by up to 0.2 %,
PET notes §3.5), and compared with the named nuclide and with the tracer of the analysis (68Ga for the ratio
PETs, 177Lu for the SPECT).
"""

import re
from typing import Optional

from ..constants import F18_HALF_LIFE_S, GA68_HALF_LIFE_S, LU177_HALF_LIFE_S
from .findings import REFUSE, WARN, Finding, accept_hint

HALF_LIFE_TOLERANCE_REL = 0.02
# Half-lives (s) to name what a header value is. 68Ga, 18F, 177Lu: constants (PET notes §3.5, dosimetry notes
# §2). The others only serve to name a mismatch [M: recalled nuclear data, rounded].
HALF_LIFE_S_FOR_IDENTITY = {
    "Ga68": GA68_HALF_LIFE_S,
    "F18": F18_HALF_LIFE_S,
    "Lu177": LU177_HALF_LIFE_S,
    "C11": 1221.8,
    "N13": 597.9,
    "O15": 122.2,
    "Rb82": 76.4,
    "Cu64": 45720.0,
    "Zr89": 282240.0,
    "Tc99m": 21624.0,
    "In111": 242330.0,
    "I124": 360800.0,
    "Y90": 230400.0,
}
UNIT_FACTORS = (("minutes", 60.0), ("hours", 3600.0), ("days", 86400.0))
HALF_LIFE_TAG = "RadionuclideHalfLife (0018,1075)"


def label(nuclide: Optional[str]) -> str:
    """'Ga68' -> '68Ga' (how people write it); unknown -> 'unknown nuclide'."""
    if not nuclide:
        return "unknown nuclide"
    match = re.fullmatch(r"([A-Za-z]+)(\d+)(m?)", nuclide)
    return f"{match.group(2)}{match.group(3)}{match.group(1)}" if match else nuclide


def matches(half_life_s: float, nuclide: str) -> bool:
    reference = HALF_LIFE_S_FOR_IDENTITY.get(nuclide)
    return reference is not None and abs(half_life_s / reference - 1.0) <= HALF_LIFE_TOLERANCE_REL


def nuclide_of_half_life(half_life_s: Optional[float]) -> Optional[str]:
    """The nuclide whose half-life (s) this is, within 2 %; None if none."""
    if half_life_s is None or not half_life_s > 0:
        return None
    for nuclide in HALF_LIFE_S_FOR_IDENTITY:
        if matches(half_life_s, nuclide):
            return nuclide
    return None


def unit_slip(half_life_s: float, nuclide: Optional[str] = None) -> Optional[tuple[str, str]]:
    """(nuclide, unit) when ``half_life_s`` is a half-life written in minutes, hours or days (e.g. 67.71 for
    68Ga); ``nuclide`` restricts the search to one nuclide."""
    candidates = [nuclide] if nuclide else list(HALF_LIFE_S_FOR_IDENTITY)
    for unit, factor in UNIT_FACTORS:
        for candidate in candidates:
            if candidate in HALF_LIFE_S_FOR_IDENTITY and matches(half_life_s * factor, candidate):
                return candidate, unit
    return None


def half_life_findings(half_life_s: Optional[float], half_life_source: str, named: Optional[str],
                       named_source: str, overridden: bool, override_flag: str = "--half-life-s"
                       ) -> tuple[list[Finding], Optional[str]]:
    """Findings on the half-life used and the nuclide it implies; returns (findings, effective nuclide).

    ``named``: the nuclide named by the header (code sequence or name), None if none. ``overridden``: the
    half-life was given by the user (then a disagreement with the header's nuclide is only a warning).
    """
    if half_life_s is None:
        return [], named
    identified = nuclide_of_half_life(half_life_s)
    fix = (f"Give the half-life in seconds with {override_flag} SECONDS (68Ga: {GA68_HALF_LIFE_S:g}); "
           f"{accept_hint('half-life')}.")
    if overridden:
        if named and identified and identified != named:
            return [Finding("half-life", WARN,
                            f"The half-life given ({half_life_s:g} s, {label(identified)}) is not that of the nuclide "
                            f"the header names ({label(named)}, {named_source}); the given value is used.")], identified
        slip = None if identified else unit_slip(half_life_s, named)
        if slip:
            return [Finding("half-life", REFUSE,
                            f"The half-life given, {half_life_s:g} s, is the {label(slip[0])} half-life in {slip[1]} "
                            f"({HALF_LIFE_S_FOR_IDENTITY[slip[0]]:g} s).", fix)], named
        return [], identified or named
    if named and named in HALF_LIFE_S_FOR_IDENTITY and not matches(half_life_s, named):
        slip = unit_slip(half_life_s, named)
        if slip:
            why = f"that is the {label(named)} half-life in {slip[1]}, but the tag is in seconds"
        elif identified:
            why = f"that is the half-life of {label(identified)}, not of {label(named)}"
        else:
            why = f"{label(named)} has {HALF_LIFE_S_FOR_IDENTITY[named]:g} s"
        return [Finding("half-life", REFUSE,
                        f"{HALF_LIFE_TAG} = {half_life_s:g} s ({half_life_source}) contradicts the nuclide named by "
                        f"the header, {label(named)} ({named_source}): {why}.", fix)], named
    if not named and not identified:
        slip = unit_slip(half_life_s)
        if slip:
            return [Finding("half-life", REFUSE,
                            f"{HALF_LIFE_TAG} = {half_life_s:g} s ({half_life_source}) matches no nuclide in seconds "
                            f"but is the {label(slip[0])} half-life in {slip[1]}.", fix)], None
    return [], named or identified


def expected_nuclide_finding(nuclide: Optional[str], expected: str, what: str, detail: str = "") -> Optional[Finding]:
    """REFUSE when the (effective) nuclide is known and is not the expected tracer."""
    if not nuclide or nuclide == expected:
        return None
    extra = f" ({detail})" if detail else ""
    return Finding(
        "nuclide", REFUSE,
        f"{what} is {label(nuclide)}{extra}, but this analysis expects {label(expected)}.",
        f"Give the {label(expected)} series. If the header names the wrong nuclide, give the half-life with "
        f"--half-life-s {HALF_LIFE_S_FOR_IDENTITY[expected]:g}, or add --accept nuclide.",
    )
