"""Mean absorbed dose of one VOI, with the method chosen by the VOI's role (from its name).

=====================================  ==========================================================
role (``ragaliv.roles.role_of``)       primary method (LED always reported beside it)
=====================================  ==========================================================
lesion, extrahepatic                   sphere model (total S of a soft-tissue sphere of the VOI mass)
kidney, healthy liver ("Liver" too),   organ self S with linear mass scaling (red marrow S for
spleen, bone marrow                    "Bone marrow"); kidneys also BED (LQ, α/β 2.6 Gy, T_rep 2.8 h)
                                       - a VOI below a quarter of the reference organ mass (one
                                       kidney: half the pair) is a *sample* of the organ (a 3 cm
                                       liver sphere, L2-L4 marrow spheres): its concentration gives
                                       the organ's mean dose by LED; organ S would need the whole organ
other                                  local energy deposition (LED)
=====================================  ==========================================================

Kidney BED (decision): computed only when the TIA comes from an exponential fit
(:data:`ragaliv.kinetics.models.EXPONENTIAL_MODEL_NAMES`), with the fitted terminal effective half-life. For
``trapezoid`` (whose "effective half-life" is the physical 159.5 h assumed for the tail) and ``stp`` (T_eff = t
assumed by Hänscheid) there is no measured clearance; T_rep/(T_rep + T_eff) with such a T_eff would
underestimate the quadratic term 2-3x, so no BED is reported and a flag says why. No estimate is made from
a partial fit: a BED that is labelled an estimate still ends up in a table next to real ones.

Uncertainty: GUM quadrature of the TIA relative uncertainty (fit covariance and calibration, from
:func:`ragaliv.kinetics.fit_tac`) and the mass relative uncertainty (:mod:`ragaliv.spect.mass`).
"""

import re
from dataclasses import dataclass, field
from typing import Any, Optional

from ..dosimetry import (
    BedResult,
    DoseResult,
    kidney_bed_result,
    led_dose_result,
    organ_dose_result,
    sphere_dose_result,
)
from ..dosimetry.organ_s import reference_mass_g
from ..errors import RagalivInputError
from ..kinetics.models import EXPONENTIAL_MODEL_NAMES
from ..roles import role_of

ORGAN_BY_ROLE = {"kidney": "kidney", "healthy_liver": "liver", "spleen": "spleen", "bone_marrow": "red_marrow"}
_PLAIN_LIVER = re.compile(r"^\s*liver\b", re.IGNORECASE)
_ONE_KIDNEY = re.compile(r"\b(left|right)\b", re.IGNORECASE)
SAMPLE_VOI_FRACTION = 0.25  # below this fraction of the reference organ mass a VOI is a sample of the organ
METHOD_SPHERE = "sphere"
METHOD_ORGAN_S = "organ_s"
METHOD_LED = "led"


def organ_for(region: str) -> Optional[str]:
    """Organ S-value key for a VOI name ("Kidney left" → kidney, "Healthy liver"/"Liver" → liver ...)."""
    organ = ORGAN_BY_ROLE.get(role_of(region))
    if organ is None and _PLAIN_LIVER.search(region):
        organ = "liver"
    return organ


def primary_method_for(region: str) -> str:
    role = role_of(region)
    if role in ("lesion", "extrahepatic"):
        return METHOD_SPHERE
    if organ_for(region) is not None:
        return METHOD_ORGAN_S
    return METHOD_LED


@dataclass
class RegionDose:
    """Primary dose (method by role), the LED dose beside it, and the kidney BED."""

    region: str
    role: str
    method_key: str
    primary: DoseResult
    led: DoseResult
    bed: Optional[BedResult] = None
    flags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "role": self.role,
            "method_key": self.method_key,
            "primary": self.primary.to_dict(),
            "led": self.led.to_dict(),
            "bed": None if self.bed is None else self.bed.to_dict(),
            "flags": list(self.flags),
        }


def region_dose(
    region: str,
    tia_mbq_h: float,
    tia_rel_uncertainty: Optional[float],
    mass_g: float,
    mass_rel_uncertainty: Optional[float],
    administered_mbq: float,
    effective_half_life_h: Optional[float] = None,
    model: str = "",
) -> RegionDose:
    """Dose of one VOI (see the module table); every result states its method and data source."""
    flags: list[str] = []
    common = {
        "administered_activity_mbq": administered_mbq,
        "tia_rel_uncertainty": tia_rel_uncertainty,
        "mass_rel_uncertainty": mass_rel_uncertainty,
    }
    led = led_dose_result(region, tia_mbq_h, mass_g, **common)
    method_key = primary_method_for(region)
    primary = led
    if method_key == METHOD_SPHERE:
        try:
            primary = sphere_dose_result(region, tia_mbq_h, mass_g, **common)
            if primary.method.startswith(led.method):
                method_key = METHOD_LED
        except RagalivInputError as error:
            method_key = METHOD_LED
            flags.append(f"sphere model not applicable ({error.message}); LED reported")
    elif method_key == METHOD_ORGAN_S:
        organ = organ_for(region)
        one_of_pair = organ == "kidney" and bool(_ONE_KIDNEY.search(region))
        reference = reference_mass_g(organ, one_of_pair)
        if mass_g < SAMPLE_VOI_FRACTION * reference:
            method_key = METHOD_LED
            flags.append(
                f"VOI of {mass_g:.3g} g samples the {organ.replace('_', ' ')} (reference {reference:g} g): mean dose "
                "from its activity concentration by local deposition; organ S would need the whole organ"
            )
        else:
            primary = organ_dose_result(region, organ, tia_mbq_h, mass_g, **common, one_of_pair=one_of_pair)
    if tia_rel_uncertainty is None:
        flags.append("dose uncertainty unknown (the TIA has no uncertainty)")
    bed = None
    if role_of(region) == "kidney":
        if effective_half_life_h is None:
            flags.append("BED not computed: no effective half-life")
        elif model not in EXPONENTIAL_MODEL_NAMES:
            flags.append(_no_bed_reason(model, effective_half_life_h))
        else:
            try:
                bed = kidney_bed_result(region, primary.dose_gy, effective_half_life_h)
            except RagalivInputError as error:
                flags.append(f"BED not computed: {error.message}")
            else:
                if model and model != "mono":
                    bed.warnings.append(
                        f"BED formula assumes mono-exponential clearance; the terminal T_eff of the {model!r} "
                        f"fit ({effective_half_life_h:.4g} h) was used"
                    )
    return RegionDose(region, role_of(region), method_key, primary, led, bed, flags)


def _no_bed_reason(model: str, effective_half_life_h: float) -> str:
    """Why no BED is given for a TIA without a fitted clearance (see the module docstring)."""
    if model == "trapezoid":
        why = (f"the trapezoid TIA has no fitted clearance (its {effective_half_life_h:.4g} h is the physical "
               "half-life assumed for the tail)")
    elif model == "stp":
        why = (f"the single-time-point TIA has no fitted clearance (T_eff = t = {effective_half_life_h:.4g} h is "
               "the Hänscheid assumption)")
    else:
        why = f"the TIA model {model!r} is not an exponential fit"
    return (f"BED not computed: {why}; a BED from it would underestimate the repair term. Fit an exponential "
            "model (model 'mono' or 'auto' with enough time points after the peak) to get the BED")
