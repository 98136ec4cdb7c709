"""Combined TIA uncertainty stated as a 68.27 % coverage interval ("1 sigma"), GUM Annex G.

u_c² = u_fit² + (u_cal·TIA)²: the fit term from covariance propagation (Gear et al. EJNMMI 2018;45:2456), the
calibration factor fully correlated across time points and so scaling the TIA. When u_fit rests on a residual
variance estimated from ν = N − K degrees of freedom, the stated half-width is k·u_c with k = t_0.8413(ν_eff)
(Student t, two-sided 68.27 %) and ν_eff = u_c⁴ / (u_fit⁴ / ν) (Welch-Satterthwaite, the calibration term
counted as exact): JCGM 100:2008 (GUM) G.3-G.4. For ν → ∞ (known sigma) k = 1 and the interval is ±u_c.
"""

import math
from dataclasses import dataclass
from typing import Optional

from scipy.stats import t as student_t

ONE_SIGMA_COVERAGE = 0.682689492137086  # P(|Z| < 1) for a standard normal Z


@dataclass(frozen=True)
class TiaUncertainty:
    """Standard uncertainty, coverage factor and the stated 68.27 % half-width (None: no uncertainty)."""

    standard_mbq_h: Optional[float]
    coverage_factor: Optional[float]
    dof: float
    tia_mbq_h: float

    @property
    def sigma_mbq_h(self) -> Optional[float]:
        if self.standard_mbq_h is None:
            return None
        return self.coverage_factor * self.standard_mbq_h

    @property
    def rel(self) -> Optional[float]:
        sigma = self.sigma_mbq_h
        return None if sigma is None else sigma / self.tia_mbq_h

    @property
    def dof_for_json(self) -> Optional[float]:
        return None if self.standard_mbq_h is None or math.isinf(self.dof) else self.dof

    def phrase(self) -> str:
        if self.standard_mbq_h is None or self.coverage_factor == 1.0:
            return ""
        return (
            f", stated as a 68 % interval: k = {self.coverage_factor:.3f} = t(ν_eff = {self.dof:.3g}) times the "
            "standard uncertainty (residual-based, GUM G.4)"
        )


def coverage_factor(dof: float) -> float:
    """k with P(|t_ν| <= k) = 68.27 %; 1 for ν = inf."""
    if math.isinf(dof):
        return 1.0
    return float(student_t.ppf(0.5 + ONE_SIGMA_COVERAGE / 2.0, dof))


def combine_tia_uncertainty(
    tia_mbq_h: float,
    fit_sigma_mbq_h: Optional[float],
    fit_dof: float,
    calibration_rel: float,
    missing_note: str,
    flags: list,
) -> TiaUncertainty:
    """Fit and calibration terms in quadrature, expanded to 68.27 % coverage (module docstring).

    Without a fit term, the calibration alone (with a flag saying so); without either, no uncertainty.
    """
    if fit_sigma_mbq_h is None:
        if calibration_rel > 0.0:
            flags.append(f"TIA uncertainty covers the calibration only ({missing_note})")
            return TiaUncertainty(calibration_rel * tia_mbq_h, 1.0, math.inf, tia_mbq_h)
        flags.append(f"no TIA uncertainty ({missing_note}; no calibration uncertainty given)")
        return TiaUncertainty(None, None, math.inf, tia_mbq_h)
    fit_rel = fit_sigma_mbq_h / tia_mbq_h
    combined_rel = math.sqrt(fit_rel**2 + calibration_rel**2)
    if math.isinf(fit_dof) or fit_rel == 0.0:
        dof = math.inf
    else:
        dof = combined_rel**4 / (fit_rel**4 / fit_dof)
    return TiaUncertainty(combined_rel * tia_mbq_h, coverage_factor(dof), dof, tia_mbq_h)
