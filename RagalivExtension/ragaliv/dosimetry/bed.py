"""Kidney biologically effective dose (BED) for mono-exponential clearance.

BED = D + D²/(α/β) · T_rep/(T_rep + T_eff) — linear-quadratic model with incomplete repair for an
instantaneous uptake and mono-exponential effective decay (Dale; as used for 177Lu-peptides by Bodei et al.
EJNMMI 2008;35:1847). Kidney parameters α/β = 2.6 Gy, repair half-time T_rep = 2.8 h: PyTheranostics
``pytheranostics/data/radiobiology.json`` (qurit/PyTheranostics, Apache-2.0); dosimetry notes §8.3.
"""

from dataclasses import dataclass, field
from typing import Any

from ..constants import LU177_HALF_LIFE_H
from ..errors import RagalivInputError
from .results import non_negative_float, positive_float

KIDNEY_ALPHA_BETA_GY = 2.6
KIDNEY_REPAIR_HALF_TIME_H = 2.8
BED_METHOD = "LQ BED, mono-exponential clearance: BED = D + D²/(α/β)·T_rep/(T_rep+T_eff)"
BED_SOURCE = "Bodei et al. EJNMMI 2008; kidney α/β 2.6 Gy, T_rep 2.8 h (PyTheranostics radiobiology.json)"


@dataclass
class BedResult:
    """BED with the inputs and radiobiological parameters used."""

    region: str
    bed_gy: float
    dose_gy: float
    effective_half_life_h: float
    alpha_beta_gy: float
    repair_half_time_h: float
    method: str = BED_METHOD
    source: str = BED_SOURCE
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "bed_gy": float(self.bed_gy),
            "dose_gy": float(self.dose_gy),
            "effective_half_life_h": float(self.effective_half_life_h),
            "alpha_beta_gy": float(self.alpha_beta_gy),
            "repair_half_time_h": float(self.repair_half_time_h),
            "method": self.method,
            "source": self.source,
            "warnings": list(self.warnings),
        }


def kidney_bed_gy(
    dose_gy: float,
    effective_half_life_h: float,
    alpha_beta_gy: float = KIDNEY_ALPHA_BETA_GY,
    repair_half_time_h: float = KIDNEY_REPAIR_HALF_TIME_H,
) -> float:
    """BED (Gy) = D + D²/(α/β)·T_rep/(T_rep+T_eff) (Bodei 2008; α/β 2.6 Gy, T_rep 2.8 h)."""
    dose = non_negative_float(dose_gy, "absorbed dose (Gy)", "Give the kidney absorbed dose in Gy.")
    t_eff = positive_float(
        effective_half_life_h, "effective half-life (h)", "Give the fitted effective half-life in hours."
    )
    if t_eff > LU177_HALF_LIFE_H * (1.0 + 1e-6):
        raise RagalivInputError(
            f"effective half-life {t_eff:.4g} h exceeds the 177Lu physical half-life "
            f"{LU177_HALF_LIFE_H:.4g} h.",
            "Use the effective half-life of the non-decay-corrected activity (λ_eff = λ_phys + λ_bio).",
        )
    alpha_beta = positive_float(alpha_beta_gy, "α/β (Gy)", "Kidney α/β is 2.6 Gy.")
    t_rep = positive_float(repair_half_time_h, "repair half-time (h)", "Kidney T_rep is 2.8 h.")
    return dose + dose * dose / alpha_beta * t_rep / (t_rep + t_eff)


def kidney_bed_result(
    region: str,
    dose_gy: float,
    effective_half_life_h: float,
    alpha_beta_gy: float = KIDNEY_ALPHA_BETA_GY,
    repair_half_time_h: float = KIDNEY_REPAIR_HALF_TIME_H,
) -> BedResult:
    """:class:`BedResult` of :func:`kidney_bed_gy`."""
    bed = kidney_bed_gy(dose_gy, effective_half_life_h, alpha_beta_gy, repair_half_time_h)
    return BedResult(
        region=region,
        bed_gy=bed,
        dose_gy=float(dose_gy),
        effective_half_life_h=float(effective_half_life_h),
        alpha_beta_gy=float(alpha_beta_gy),
        repair_half_time_h=float(repair_half_time_h),
    )
