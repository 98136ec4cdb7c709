"""Model-selection statistics and fit-quality checks.

* AICc = N ln(RSS/N) + 2K + 2K(K+1)/(N-K-1) (Glatting et al. Med Phys 2007;34:4285; NUKFIT, Kletting 2013).
  Convention: K = number of adjustable model parameters (amplitudes + biological rates; lambda_phys is fixed,
  the residual variance is *not* counted). AICc is only defined for N >= K + 2. RSS is the weighted sum
  (chi^2) when sigma is given.
* RSS floor: on noiseless data RSS -> 0 and ln(RSS) is numerical noise, so RSS is floored at
  N * (RSS_FLOOR_REL * y_ref)^2, i.e. an RMS residual of 1 ppm of the largest (weighted) activity; models
  at the floor then differ only by their penalty and the simplest wins.
* AIC = N ln(RSS/N) + 2K (Yamaoka 1978), the same without the small-sample term: used only to rank mono
  against the uptake model at N = 4, where AICc is undefined for the latter (see :mod:`.selection`).
* Akaike weights w_i = exp(-Delta_i/2) / sum_j exp(-Delta_j/2).
* Quality (Hardiansyah et al. EJNMMI Phys 2021;8:82): CV of every fitted parameter < 50 % and every
  |correlation| < 0.8. The CV of a rate is taken relative to its effective value lambda_phys + lambda_bio,
  because lambda_bio = 0 (pure physical decay) is a legitimate value whose relative CV would be infinite.
"""

import math
from collections.abc import Sequence
from typing import Optional

import numpy as np

from .fitting import ExponentialFit

CV_LIMIT = 0.50  # Hardiansyah 2021
CORRELATION_LIMIT = 0.80  # Hardiansyah 2021
RSS_FLOOR_REL = 1.0e-6  # Ragaliv convention, see module docstring
# A model whose AICc exceeds the best by more than this has "essentially no support" (Burnham & Anderson,
# Model Selection and Multimodel Inference, 2nd ed. 2002, §2.6); it is never preferred for passing the
# quality checks when a better-supported model exists.
AICC_DELTA_SUPPORT = 10.0
# Gross misfit: an RMS residual above this fraction of the RMS activity means the curve does not follow the
# data (absolute, not relative residuals, so small late activities with large relative errors do not count).
GROSS_MISFIT_NRMSE = 0.25
# Misfit against the given sigma: chi^2 upper-tail probability below this is flagged.
CHI2_P_LIMIT = 1.0e-3


def rss_floor(activity_mbq: np.ndarray, sigma_mbq: Optional[np.ndarray]) -> float:
    """N * (RSS_FLOOR_REL * max |y / sigma|)^2 (or max |y| unweighted)."""
    reference = activity_mbq if sigma_mbq is None else activity_mbq / sigma_mbq
    return activity_mbq.size * (RSS_FLOOR_REL * float(np.max(np.abs(reference)))) ** 2


def aicc(rss: float, n_points: int, n_parameters: int, floor: float) -> Optional[float]:
    """Corrected Akaike information criterion; None when N < K + 2 (small-sample term undefined)."""
    if n_points < n_parameters + 2:
        return None
    rss = max(rss, floor)
    k = n_parameters
    return n_points * math.log(rss / n_points) + 2 * k + 2 * k * (k + 1) / (n_points - k - 1)


def aic(rss: float, n_points: int, n_parameters: int, floor: float) -> Optional[float]:
    """Akaike information criterion N ln(RSS/N) + 2K (Yamaoka et al. J Pharmacokinet Biopharm 1978;6:165),
    same K convention and RSS floor as :func:`aicc`; defined for N > K (used where AICc is not, N = K + 1)."""
    if n_points <= n_parameters:
        return None
    return n_points * math.log(max(rss, floor) / n_points) + 2 * n_parameters


def akaike_weights(values: Sequence[Optional[float]]) -> list[Optional[float]]:
    """Akaike weights over the non-None AICc values (None stays None)."""
    finite = [v for v in values if v is not None]
    if not finite:
        return [None for _ in values]
    best = min(finite)
    raw = [None if v is None else math.exp(-0.5 * (v - best)) for v in values]
    total = sum(r for r in raw if r is not None)
    return [None if r is None else r / total for r in raw]


def parameter_cv(fit: ExponentialFit, lambda_phys_per_h: float) -> Optional[np.ndarray]:
    """sigma / |amplitude| for amplitudes, sigma / (lambda_phys + lambda_bio) for rates."""
    if fit.covariance is None or fit.params is None:
        return None
    sigma = np.sqrt(np.clip(np.diag(fit.covariance), 0.0, None))
    reference = np.abs(fit.params).astype(float)
    reference[fit.model.n_amplitudes :] += lambda_phys_per_h
    with np.errstate(divide="ignore"):
        return np.where(reference > 0, sigma / reference, np.inf)


def correlation_matrix(covariance: Optional[np.ndarray]) -> Optional[np.ndarray]:
    if covariance is None:
        return None
    sigma = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    if np.any(sigma <= 0):
        return None
    corr = covariance / np.outer(sigma, sigma)
    return np.clip(corr, -1.0, 1.0)


def quality_flags(fit: ExponentialFit, lambda_phys_per_h: float) -> list[str]:
    """Hardiansyah 2021 checks (CV, correlation), bounds reached, missing covariance."""
    flags = [f"{fit.model.name}: {note}" for note in fit.bound_notes]
    if fit.covariance is None:
        flags.append(f"{fit.model.name}: {fit.covariance_note}")
        return flags
    names = fit.model.parameter_names
    cv = parameter_cv(fit, lambda_phys_per_h)
    for index, (name, value) in enumerate(zip(names, cv)):
        if not value < CV_LIMIT:
            # Rates: relative to the effective rate λphys + λbio (what the TIA depends on); λbio itself may be 0.
            what = name if index < fit.model.n_amplitudes else f"{name}, relative to λphys + λbio"
            flags.append(f"{fit.model.name}: CV({what}) = {value:.0%} >= 50 % (Hardiansyah 2021)")
    corr = correlation_matrix(fit.covariance)
    if corr is not None:
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                if abs(corr[i, j]) >= CORRELATION_LIMIT:
                    flags.append(
                        f"{fit.model.name}: |corr({names[i]}, {names[j]})| = {abs(corr[i, j]):.2f} >= 0.8 "
                        "(Hardiansyah 2021)"
                    )
    return flags


def misfit(
    fitted_mbq: np.ndarray, activity_mbq: np.ndarray, sigma_mbq: Optional[np.ndarray], n_parameters: int
) -> tuple[Optional[str], Optional[str]]:
    """(reason the curve does not follow the data at all, flag for a chi^2 misfit against sigma)."""
    nrmse = float(np.sqrt(np.mean((fitted_mbq - activity_mbq) ** 2) / np.mean(activity_mbq**2)))
    gross = None
    if nrmse > GROSS_MISFIT_NRMSE:
        gross = (
            f"curve misses the data (RMS residual {nrmse:.0%} of the RMS activity > {GROSS_MISFIT_NRMSE:.0%})"
        )
    chi2_flag = None
    dof = activity_mbq.size - n_parameters
    if sigma_mbq is not None and dof > 0:
        from scipy.stats import chi2

        chi2_value = float(np.sum(((fitted_mbq - activity_mbq) / sigma_mbq) ** 2))
        p_value = float(chi2.sf(chi2_value, dof))
        if p_value < CHI2_P_LIMIT:
            chi2_flag = (
                f"chi^2 = {chi2_value:.3g} for {dof} dof (p = {p_value:.1e}): residuals larger than sigma_mbq"
            )
    return gross, chi2_flag
