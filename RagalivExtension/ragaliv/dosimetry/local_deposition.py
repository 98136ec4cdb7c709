"""Local energy deposition (LED) of the 177Lu electrons.

D[Gy] = 0.085320 · TIA[MBq·h] / m[g]: all electron energy (β⁻ + IC + Auger, 0.147923 MeV/decay, ICRP-107)
is absorbed where it is emitted; photons (0.035098 MeV/decay) are ignored (dosimetry notes §2).
"""

from collections.abc import Sequence
from typing import Optional

from ..constants import LU177_CONSTANTS_SOURCE, LU177_LED_GY_G_PER_MBQ_H
from .results import DoseResult, make_dose_result, non_negative_float, positive_float

LED_METHOD = "local energy deposition of 177Lu electrons (photons ignored): D = 0.085320·TIA[MBq·h]/m[g]"
LED_SOURCE = LU177_CONSTANTS_SOURCE


def led_dose_gy(tia_mbq_h: float, mass_g: float) -> float:
    """Absorbed dose (Gy) = LU177_LED_GY_G_PER_MBQ_H · TIA / m (ICRP-107 electrons, notes §2)."""
    tia = non_negative_float(tia_mbq_h, "TIA (MBq·h)", "Give the time-integrated activity in MBq·h.")
    mass = positive_float(mass_g, "mass (g)", "Give the region mass in grams (volume_ml × density).")
    return LU177_LED_GY_G_PER_MBQ_H * tia / mass


def led_dose_result(
    region: str,
    tia_mbq_h: float,
    mass_g: float,
    administered_activity_mbq: Optional[float] = None,
    tia_rel_uncertainty: Optional[float] = None,
    mass_rel_uncertainty: Optional[float] = None,
    warnings: Sequence[str] = (),
) -> DoseResult:
    """:class:`DoseResult` of the LED method (self-dose: mass uncertainty enters as 1/m)."""
    return make_dose_result(
        region,
        LED_METHOD,
        LED_SOURCE,
        led_dose_gy(tia_mbq_h, mass_g),
        mass_g=mass_g,
        administered_activity_mbq=administered_activity_mbq,
        tia_rel_uncertainty=tia_rel_uncertainty,
        mass_rel_uncertainty=mass_rel_uncertainty,
        warnings=warnings,
    )
