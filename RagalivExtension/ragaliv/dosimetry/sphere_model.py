"""Sphere-model total S-values for 177Lu lesions (unit-density soft-tissue spheres).

Data: PyTheranostics ``pytheranostics/data/s-values/spheres.json``, composition "100%/0%" (soft tissue,
ρ 1.03 g/cm³; spheres of diameter 0.2–12 cm), in Gy/(Bq·s) (github.com/qurit/PyTheranostics, commit 4addf86c,
Apache-2.0, © the PyTheranostics authors; dosimetry notes §6.3). Interpolation: PCHIP of ln S against ln m,
as PyTheranostics does (in log space here, so S ∝ 1/m is followed exactly between nodes).

Outside the table (decision, documented):
* below 4.31 mg (a 2 mm sphere, < 1/10 of a SPECT voxel): RagalivInputError — the sphere model is meaningless
  there and LED would over-estimate by > 17 %; use the voxel method or LED explicitly;
* above 932 g (a 12 cm sphere): fall back to LED with a warning. LED then under-estimates by the absorbed
  photon share, about 4 % at 932 g (S·m/E_e = 1.04 there, notes §6.3).
"""

import math
import warnings
from collections.abc import Sequence
from typing import Optional

import numpy as np
from scipy.interpolate import PchipInterpolator

from ..constants import BQ_PER_MBQ, SECONDS_PER_HOUR
from ..errors import RagalivInputError
from .local_deposition import LED_METHOD, LED_SOURCE, led_dose_gy
from .results import DoseResult, make_dose_result, non_negative_float, positive_float

SPHERE_SOURCE = (
    "PyTheranostics spheres.json '100%/0%' soft-tissue spheres (rho 1.03 g/cm3), 177Lu total S "
    "(qurit/PyTheranostics commit 4addf86c, Apache-2.0)"
)
SPHERE_METHOD = "sphere model: total S(m) by PCHIP of ln S vs ln m, D = TIA·S"
SPHERE_DENSITY_G_PER_ML = 1.03

# "100%/0%" column of spheres.json: mass (g) and total S (Gy/(Bq·s)); 15 diameters 0.2 ... 12 cm.
SPHERE_MASS_G = (
    4.31e-03, 1.46e-02, 3.45e-02, 1.16e-01, 2.76e-01, 5.39e-01, 9.32e-01, 2.21e00,
    4.31e00, 1.46e01, 3.45e01, 1.16e02, 2.76e02, 5.39e02, 9.32e02,
)  # fmt: skip
SPHERE_S_GY_PER_BQ_S = (
    4.54e-09, 1.44e-09, 6.29e-10, 1.93e-10, 8.26e-11, 4.27e-11, 2.49e-11, 1.06e-11,
    5.46e-12, 1.63e-12, 6.93e-13, 2.07e-13, 8.81e-14, 4.54e-14, 2.65e-14,
)  # fmt: skip

_LOG_INTERPOLATOR = PchipInterpolator(np.log(SPHERE_MASS_G), np.log(SPHERE_S_GY_PER_BQ_S))


def sphere_s_value_mgy_per_mbq_h(mass_g: float) -> float:
    """Total sphere S (mGy/(MBq·h)) for a soft-tissue sphere of ``mass_g`` inside the table range."""
    mass = positive_float(mass_g, "lesion mass (g)", "Give the lesion mass in grams.")
    low, high = SPHERE_MASS_G[0], SPHERE_MASS_G[-1]
    if not low <= mass <= high:
        raise RagalivInputError(
            f"lesion mass {mass:.4g} g is outside the sphere S-value table ({low:g}–{high:g} g).",
            "Use sphere_dose_gy (LED fallback above the table) or the voxel/LED method.",
        )
    s_gy_per_bq_s = math.exp(float(_LOG_INTERPOLATOR(math.log(mass))))
    return s_gy_per_bq_s * 1000.0 * BQ_PER_MBQ * SECONDS_PER_HOUR  # 1000 mGy per Gy


def _sphere_dose(tia_mbq_h: float, mass_g: float) -> tuple[float, str, str, list[str]]:
    tia = non_negative_float(tia_mbq_h, "TIA (MBq·h)", "Give the time-integrated activity in MBq·h.")
    mass = positive_float(mass_g, "lesion mass (g)", "Give the lesion mass in grams.")
    if mass < SPHERE_MASS_G[0]:
        raise RagalivInputError(
            f"lesion mass {mass:.4g} g is below the smallest sphere of the table ({SPHERE_MASS_G[0]:g} g, "
            "2 mm diameter); the sphere model is not applicable to such a lesion.",
            "Check the segmentation (a lesion below one SPECT voxel), or use the voxel or LED method.",
        )
    if mass > SPHERE_MASS_G[-1]:
        warning = (
            f"lesion mass {mass:.4g} g exceeds the sphere table ({SPHERE_MASS_G[-1]:g} g): local energy "
            "deposition used instead (under-estimates by the absorbed photon share, ~4 %)."
        )
        return led_dose_gy(tia, mass), LED_METHOD + " (sphere-model fallback)", LED_SOURCE, [warning]
    dose_gy = tia * sphere_s_value_mgy_per_mbq_h(mass) / 1000.0  # mGy -> Gy
    return dose_gy, SPHERE_METHOD, SPHERE_SOURCE, []


def sphere_dose_gy(tia_mbq_h: float, mass_g: float) -> float:
    """Lesion dose (Gy) = TIA · S_sphere(m); LED above 932 g (with a Python warning), error below 4.31 mg."""
    dose_gy, _method, _source, messages = _sphere_dose(tia_mbq_h, mass_g)
    for message in messages:
        warnings.warn(message, UserWarning, stacklevel=2)
    return dose_gy


def sphere_dose_result(
    region: str,
    tia_mbq_h: float,
    mass_g: float,
    administered_activity_mbq: Optional[float] = None,
    tia_rel_uncertainty: Optional[float] = None,
    mass_rel_uncertainty: Optional[float] = None,
    warnings: Sequence[str] = (),
) -> DoseResult:
    """:class:`DoseResult` of the sphere model; a fallback to LED is stated in ``method`` and ``warnings``."""
    dose_gy, method, source, messages = _sphere_dose(tia_mbq_h, mass_g)
    return make_dose_result(
        region,
        method,
        source,
        dose_gy,
        mass_g=mass_g,
        administered_activity_mbq=administered_activity_mbq,
        tia_rel_uncertainty=tia_rel_uncertainty,
        mass_rel_uncertainty=mass_rel_uncertainty,
        warnings=[*warnings, *messages],
    )
