"""Organ self-dose with OLINDA-style adult-male 177Lu S-values and linear mass scaling.

S-values (target ← same source, mGy/(MBq·s)): PyTheranostics
``pytheranostics/dosimetry/phantomdata/Lu177-Male-Svalues.csv`` (github.com/qurit/PyTheranostics,
commit cc3b720b, Apache-2.0); reference masses: PyTheranostics
``data/phantom/human/ICRP_mass_male_target.csv`` (ICRP-89 adult male). Dosimetry notes §6.1.

Mass scaling (notes §6.2): the whole self-S is scaled as S(m) = S_ref·m_ref/m. This is exact for the electron
part; the photon part really scales as (m_ref/m)^(2/3), but photons are only ~1.5 % of the kidney self-S
(86.6 vs 85.3 mGy·g/(MBq·h) for electrons alone), so the simplification is accurate to about 1 % for
masses within a factor ~2 of the reference. Only self-dose is computed (no cross-organ terms).

A single kidney uses the "kidneys" S with its own mass and TIA: the specific absorbed fraction of the pair is
assumed for one kidney (electrons: exact; photon self-absorption slightly over-estimated, < 1.5 %), and the
cross-dose from the other kidney is neglected. Map user names ("Kidney left", "Kidneys", "Bone marrow") to
the keys of :data:`ORGAN_SELF_S_MGY_PER_MBQ_S` outside this module.
"""

from collections.abc import Sequence
from typing import Optional

from ..constants import SECONDS_PER_HOUR
from ..errors import RagalivInputError
from .results import DoseResult, make_dose_result, non_negative_float, positive_float

ORGAN_S_SOURCE = (
    "OLINDA-style adult-male 177Lu self S-values, PyTheranostics Lu177-Male-Svalues.csv "
    "(qurit/PyTheranostics commit cc3b720b, Apache-2.0); reference masses ICRP-89 adult male (PyTheranostics "
    "ICRP_mass_male_target.csv)"
)
ORGAN_S_METHOD = "organ self S-value with linear mass scaling S(m) = S_ref·m_ref/m; self-dose only"

# Self S (mGy/(MBq·s)), target <- same source, adult male.
ORGAN_SELF_S_MGY_PER_MBQ_S = {
    "kidney": 7.76e-05,  # "Kidneys" <- "Kidneys"
    "liver": 1.37e-05,
    "spleen": 1.60e-04,
    "red_marrow": 1.15e-05,  # "Red Marrow" <- "Red Mar."
}
# Reference masses (g) the S-values belong to (both kidneys together for "kidney").
ORGAN_REFERENCE_MASS_G = {"kidney": 310.0, "liver": 1800.0, "spleen": 150.0, "red_marrow": 1170.0}

_MASS_RATIO_WARNING = 3.0


def organ_self_s_mgy_per_mbq_h(organ: str, mass_g: Optional[float] = None) -> float:
    """Self S (mGy/(MBq·h)) of ``organ`` scaled to ``mass_g`` (reference mass when None)."""
    key = _organ_key(organ)
    s_ref = ORGAN_SELF_S_MGY_PER_MBQ_S[key] * SECONDS_PER_HOUR
    if mass_g is None:
        return s_ref
    mass = positive_float(mass_g, f"{key} mass (g)", "Give the organ mass in grams (volume_ml × density).")
    return s_ref * ORGAN_REFERENCE_MASS_G[key] / mass


def organ_dose_gy(organ: str, tia_mbq_h: float, mass_g: Optional[float] = None) -> float:
    """Self-dose (Gy) = TIA · S_ref · (m_ref/m); ``organ`` in kidney, liver, spleen, red_marrow."""
    dose_gy, _warnings = _organ_dose(organ, tia_mbq_h, mass_g)
    return dose_gy


def _organ_key(organ: str) -> str:
    key = str(organ).strip().lower()
    if key not in ORGAN_SELF_S_MGY_PER_MBQ_S:
        raise RagalivInputError(
            f"no organ S-value for {organ!r}.",
            f"Use one of {', '.join(sorted(ORGAN_SELF_S_MGY_PER_MBQ_S))} "
            "(map e.g. 'Kidney left' to 'kidney'), or use the LED/voxel method for other regions.",
        )
    return key


def reference_mass_g(organ: str, one_of_pair: bool = False) -> float:
    """Reference mass of the organ, or of one kidney (half the pair) when ``one_of_pair``."""
    key = _organ_key(organ)
    return ORGAN_REFERENCE_MASS_G[key] / (2.0 if one_of_pair and key == "kidney" else 1.0)


def _organ_dose(
    organ: str, tia_mbq_h: float, mass_g: Optional[float], one_of_pair: bool = False
) -> tuple[float, list[str]]:
    key = _organ_key(organ)
    tia = non_negative_float(tia_mbq_h, "TIA (MBq·h)", "Give the time-integrated activity in MBq·h.")
    messages = []
    if mass_g is not None:
        reference = reference_mass_g(key, one_of_pair)
        ratio = positive_float(mass_g, f"{key} mass (g)", "Give the organ mass in grams.") / reference
        if not 1.0 / _MASS_RATIO_WARNING <= ratio <= _MASS_RATIO_WARNING:
            what = "one kidney" if one_of_pair and key == "kidney" else key
            messages.append(
                f"{what} mass is {ratio:.2f}× the reference {reference:g} g; linear mass "
                "scaling of the photon part is approximate beyond a factor 3."
            )
    dose_gy = tia * organ_self_s_mgy_per_mbq_h(key, mass_g) / 1000.0
    return dose_gy, messages


def organ_dose_result(
    region: str,
    organ: str,
    tia_mbq_h: float,
    mass_g: Optional[float] = None,
    administered_activity_mbq: Optional[float] = None,
    tia_rel_uncertainty: Optional[float] = None,
    mass_rel_uncertainty: Optional[float] = None,
    warnings: Sequence[str] = (),
    one_of_pair: bool = False,
) -> DoseResult:
    """:class:`DoseResult` of the organ-S method for ``region`` (e.g. "Kidney left") using ``organ`` S.

    ``one_of_pair``: the VOI is one kidney; its mass is compared with half the pair's reference mass (the
    self-S scaling S_ref·m_ref/m is the same either way)."""
    dose_gy, messages = _organ_dose(organ, tia_mbq_h, mass_g, one_of_pair)
    key = _organ_key(organ)
    mass = ORGAN_REFERENCE_MASS_G[key] if mass_g is None else mass_g
    if mass_g is None:
        messages.append(f"reference mass {mass:g} g used (no patient mass given).")
    return make_dose_result(
        region,
        f"{ORGAN_S_METHOD} ({key}: S_ref {ORGAN_SELF_S_MGY_PER_MBQ_S[key]:.3g} mGy/(MBq·s) at m_ref "
        f"{ORGAN_REFERENCE_MASS_G[key]:g} g)",
        ORGAN_S_SOURCE,
        dose_gy,
        mass_g=mass,
        administered_activity_mbq=administered_activity_mbq,
        tia_rel_uncertainty=tia_rel_uncertainty,
        mass_rel_uncertainty=None if mass_g is None else mass_rel_uncertainty,
        warnings=[*warnings, *messages],
    )
