"""Voxel values of one PET against the injected activity: the activity in the image cannot exceed what was
injected (decayed to the scan).

The SUV image gives it directly: SUV = C · N / D (N the normaliser in g or cm², D the decayed injected activity),
so Σ SUV · V_voxel / N = Σ C · V_voxel / D is the fraction of the injected activity inside the field of view,
whatever the normalisation. One absurd voxel (1e30 Bq/mL), an injected activity 10x too small or a wrong
unit make it far larger than 1; a whole-body PET holds at most all of it.
"""

from typing import Any, Optional

import numpy as np

from .findings import REFUSE, WARN, Finding
from .ranges import GA68_UPTAKE_MIN, PET_ACTIVITY_FRACTION_REFUSE, PET_ACTIVITY_FRACTION_WARN


def activity_fraction(suv: Any, normalizer: Optional[float]) -> Optional[tuple[float, float, float]]:
    """(fraction of the injected activity in the image, fraction in the hottest voxel, its SUV); None when the
    normaliser is unknown or the image holds no finite value. ``suv``: a :class:`~ragaliv.geometry.Volume`."""
    if normalizer is None or not normalizer > 0:
        return None
    values = np.asarray(suv.array)
    finite = np.isfinite(values)
    if not finite.any():
        return None
    voxel_ml = float(suv.geometry.voxel_volume_ml)
    # where= instead of values[finite]: no copy of a whole-body image
    total = float(np.sum(values, dtype=np.float64, where=finite))
    hottest = float(np.max(values, where=finite, initial=-np.inf))
    return total * voxel_ml / normalizer, hottest * voxel_ml / normalizer, hottest


def _unusual_uptake(parameters: dict[str, Any]) -> tuple[str, str]:
    """(cause, fix) texts when the uptake time is outside the usual 68Ga window (:data:`GA68_UPTAKE_MIN`): a wrong
    injection or scan time (e.g. midnight) multiplies the decay correction, and so the activity in the image,
    by 2^(t/T1/2) (adversarial review, W10: a wrong time blamed on the dose)."""
    decay_s, half_life_s = parameters.get("decay_time_s"), parameters.get("half_life_s")
    if decay_s is None or not half_life_s or not half_life_s > 0:
        return "", ""
    minutes = decay_s / 60.0
    if GA68_UPTAKE_MIN.warn_low <= minutes <= GA68_UPTAKE_MIN.warn_high:
        return "", ""
    factor = 2.0 ** (decay_s / half_life_s)
    return (f"; or the injection or scan time is wrong: the uptake time is {minutes:.0f} min (usual "
            f"{GA68_UPTAKE_MIN.warn_low:g}-{GA68_UPTAKE_MIN.warn_high:g} min), whose decay correction multiplies "
            f"the activity by {factor:.3g}",
            "Check the injection and scan times first (RadiopharmaceuticalStartDateTime (0018,1078), "
            "--ia-/--iv-injection-time). ")


def pet_activity_findings(suv: Any, parameters: dict[str, Any], what: str, dose_flag: str = "--dose-mbq"
                          ) -> list[Finding]:
    """REFUSE when the image holds more than 1.5x the injected activity (decayed to the scan); WARN above 1.1x.

    ``parameters``: :meth:`ragaliv.pet.suv.SuvParameters.to_dict` of the scan (``normalizer``, sources).
    """
    measured = activity_fraction(suv, parameters.get("normalizer"))
    if measured is None:
        return []
    fraction, hottest_fraction, hottest = measured
    if fraction <= PET_ACTIVITY_FRACTION_WARN:
        return []
    dose = parameters.get("injected_dose_bq")
    dose_text = "" if dose is None else f", injected {dose / 1e6:.4g} MBq"
    sources = parameters.get("sources") or {}
    detail = (f"{what} holds {fraction:.3g} times the injected activity decayed to the scan (sum of SUV x voxel "
              f"volume / normaliser{dose_text}, {sources.get('injected_dose_bq', 'injected activity')})")
    if fraction > PET_ACTIVITY_FRACTION_REFUSE:
        if hottest_fraction > 0.5 * fraction:
            cause = (f"one voxel alone has SUV {hottest:.3g} = {hottest_fraction:.3g} times the injected activity: a "
                     "corrupt voxel value")
        else:
            cause = "the injected activity is too small (wrong unit?) or the pixel scaling is wrong"
        timing = _unusual_uptake(parameters)
        return [Finding(
            "pet-activity", REFUSE, f"{detail}: impossible; {cause}{timing[0]}.",
            f"{timing[1]}Check RadionuclideTotalDose (0018,1074) (give {dose_flag} MBQ) and the image (re-export "
            "the series); if the image is right, add --accept pet-activity.")]
    return [Finding("pet-activity", WARN,
                    f"{detail}: more than was injected; check the injected activity and the calibration.")]
