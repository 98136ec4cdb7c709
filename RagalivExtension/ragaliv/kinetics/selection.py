"""``fit_tac``: fit, select (AICc, NUKFIT) and integrate a time-activity curve with its uncertainty.

Selection ``model="auto"`` (Kletting 2013 NUKFIT; Glatting 2007; Hardiansyah 2021):

* N = 1: Hänscheid single-time-point estimate. N = 2: mono-exponential (exact fit, no AICc).
* N = 3: mono-exponential without AICc (AICc needs N >= K + 2 = 4 for mono). When the first point lies more
  than ``UPTAKE_DEFICIT_LIMIT`` below the mono-exponential (the uptake phase shows in the data), the
  mono-exponential would integrate activity that had not yet arrived; the remedy is the uptake model
  ``biexp-uptake`` fitted exactly (N = K, no fit uncertainty), and a flag says so.
* N = 4, the standard 177Lu protocol (about 4, 24, 72, 168 h): AICc ranks only K <= 2 models (it needs
  N >= K + 2), so the uptake model A·(e^{-(λp+λ1)t} − e^{-(λp+λ2)t}) (K = 3, N = K + 1) could never be chosen
  and a mono-exponential through a first point still on the uptake limb over-estimates the TIA by 10-30 %
  (issue 9). ``auto`` therefore compares ``mono`` and ``biexp-uptake`` by the uncorrected AIC
  N·ln(RSS/N) + 2K (Yamaoka, Nakagawa & Uno, J Pharmacokinet Biopharm 1978;6:165, the criterion AICc
  reduces to without its small-sample term, which is undefined at N = K + 1), with Akaike weights from the
  AIC. AIC leans to the richer model more than the F-test does (Ludden, Beal & Sheiner, J Pharmacokinet
  Biopharm 1994;22:431: the F-test picks the simpler model too often even when the richer one is right);
  that is the safe side here: on noise-free uptake data the uptake model is exact, and on a curve without a
  visible uptake phase with 5 % noise it is chosen in ~40 % of studies with a median TIA change of -0.8 %
  (Testing/validation/test_kinetics_uptake_protocol.py), whereas a missed uptake phase costs +10-30 %.
* N >= 5: every exponential model with N >= K + 2 is fitted; AICc and Akaike weights rank them. The chosen
  model is the best-AICc one that passes the quality checks (CV < 50 %, |corr| < 0.8, no parameter at a
  bound, residuals consistent with sigma) and has Delta AICc <= 10; if none passes, the best-AICc model
  with its flags.
* A model is unusable when it does not converge, its curve misses the data (RMS residual > 25 % of the RMS
  activity), or (auto only) the activity is highest at the last time point, so no clearance is observed. If no
  exponential model is usable, the result falls back to ``trapezoid`` and the warnings say why.

Error model (weights). With ``sigma_mbq`` the points are weighted by 1/sigma² and sigma is taken as known
(absolute covariance). Without it, ``error_model="relative"`` (the default) weights every point by 1/A_i²
(a fractional error model, for activity data whose uncertainty grows with the activity: calibration, partial
volume, segmentation; NUKFIT offers fractional, absolute and combined models, dosimetry notes §3.1, not verified
against the Med Phys 2013 text) with the common scale estimated from the residuals; chosen because it calibrated
the stated uncertainty (67.5 % coverage) where unweighted fits ranged 53-83 % by kinetics;
``error_model="absolute"`` is ordinary unweighted least squares (constant absolute error).

Uncertainty (EANM, Gear 2018): u²(TIA)_fit = grad^T C grad; the calibration factor is fully correlated
across time points and scales the TIA, so its relative uncertainty adds in quadrature to the relative fit
uncertainty. ``tia_sigma_mbq_h`` is the half-width of the 68.27 % coverage interval (the stated "1 sigma"):
when the residual scale is estimated from ν = N − K degrees of freedom, the combined standard uncertainty
is expanded by the Student-t factor t_0.8413(ν_eff), ν_eff from the Welch-Satterthwaite formula with the
calibration term as exact (GUM, JCGM 100:2008 Annex G.3-G.4); with a known sigma the factor is 1. Without
the factor a 1-dof residual estimate covers the truth in only ~50 % of cases (Testing/validation/
test_kinetics_coverage.py measures the coverage). ``tia_standard_uncertainty_mbq_h`` keeps the unexpanded
GUM standard uncertainty.
"""

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..constants import LU177_HALF_LIFE_H
from .fitting import ExponentialFit, fit_exponential
from .models import (
    EXPONENTIAL_MODEL_NAMES,
    EXPONENTIAL_MODELS,
    HANSCHEID_VALID_RATIO_MAX,
    HANSCHEID_VALID_RATIO_MIN,
    MIN_POINTS,
    MODEL_NAMES,
    decay_constant_per_h,
    hanscheid_factor_h,
    trapezoid_areas_mbq_h,
    trapezoid_weights_h,
)
from .quality import (
    AICC_DELTA_SUPPORT,
    aic,
    aicc,
    akaike_weights,
    correlation_matrix,
    misfit,
    quality_flags,
    rss_floor,
)
from .result import TacCandidate, TacFit
from .uncertainty import TiaUncertainty, combine_tia_uncertainty
from .validation import KineticsInputError, check_positive_number, check_tac

ERROR_MODELS = ("relative", "absolute")
UPTAKE_DEFICIT_LIMIT = 0.05  # first point this far below a mono-exponential fit: an uptake phase is missing
UPTAKE_PROTOCOL_POINTS = 4  # N at which auto compares mono and biexp-uptake by AIC (N = K + 1 for the uptake)

_LABELS = {
    "mono": "Mono-exponential",
    "biexp-uptake": "Bi-exponential uptake-clearance",
    "biexp": "Bi-exponential",
    "triexp": "Tri-exponential (uptake + two clearance phases)",
}


@dataclass
class _Data:
    time_h: np.ndarray
    activity_mbq: np.ndarray
    sigma_mbq: Optional[np.ndarray]
    lambda_phys_per_h: float
    half_life_h: float
    calibration: float
    region: str
    error_model: str

    @property
    def n(self) -> int:
        return int(self.time_h.size)

    @property
    def sigma_known(self) -> bool:
        return self.sigma_mbq is not None

    @property
    def fit_sigma(self) -> Optional[np.ndarray]:
        """Sigma handed to the least-squares fit: given, relative (A_i, scale unknown) or None."""
        if self.sigma_mbq is not None:
            return self.sigma_mbq
        return self.activity_mbq if self.error_model == "relative" else None

    @property
    def weighting(self) -> str:
        if self.sigma_known:
            return "weighted (1/sigma^2) with the given sigma_mbq"
        if self.error_model == "relative":
            return "relative-error weighted (1/A^2, scale from the residuals)"
        return "unweighted"


@dataclass(eq=False)
class _Assessed:
    """An exponential fit with its TIA, flags and usability."""

    fit: ExponentialFit
    tia_mbq_h: Optional[float] = None
    tia_fit_sigma_mbq_h: Optional[float] = None
    flags: list[str] = field(default_factory=list)
    unusable: Optional[str] = None
    aicc: Optional[float] = None
    aic: Optional[float] = None
    weight: Optional[float] = None

    @property
    def dof(self) -> float:
        """Degrees of freedom of the fit uncertainty: inf when sigma is known, N - K otherwise."""
        return self.fit.residual_dof


def fit_tac(
    time_h,
    activity_mbq,
    sigma_mbq=None,
    model: str = "auto",
    half_life_h: float = LU177_HALF_LIFE_H,
    calibration_rel_uncertainty: float = 0.0,
    stp_time_h: float = 96.0,
    region: str = "",
    error_model: str = "relative",
) -> TacFit:
    """Fit and integrate a time-activity curve (activity as measured, MBq; times after injection, h).

    ``model``: "auto" or one of :data:`MODEL_NAMES`. ``sigma_mbq`` (per point, or one value for all) turns
    on weighted least squares with known absolute uncertainties. Without it, ``error_model`` "relative"
    (default: sigma proportional to the activity, scale from the residuals) or "absolute" (unweighted).
    ``calibration_rel_uncertainty`` is the relative standard uncertainty of the calibration factor (fully
    correlated across time points, Gear 2018). Raises :class:`KineticsInputError` on bad input.
    """
    if model != "auto" and model not in MODEL_NAMES:
        raise KineticsInputError(
            f"unknown model {model!r}: choose 'auto' or one of {', '.join(MODEL_NAMES)}."
        )
    if error_model not in ERROR_MODELS:
        raise KineticsInputError(f"unknown error_model {error_model!r}: choose {' or '.join(ERROR_MODELS)}.")
    times, activity, sigma = check_tac(time_h, activity_mbq, sigma_mbq)
    half_life = check_positive_number(half_life_h, "half_life_h")
    calibration = check_positive_number(calibration_rel_uncertainty, "calibration_rel_uncertainty", True)
    stp_time = check_positive_number(stp_time_h, "stp_time_h")
    data = _Data(times, activity, sigma, decay_constant_per_h(half_life), half_life, calibration, str(region),
                 error_model)
    if model != "auto" and data.n < MIN_POINTS[model]:
        what = f"K = {MIN_POINTS[model]} parameters" if model in EXPONENTIAL_MODELS else "one point"
        raise KineticsInputError(
            f"model {model!r} needs at least {MIN_POINTS[model]} time points ({what}); got {data.n}.",
            "Use model='auto' or a model with fewer parameters.",
        )
    if model == "trapezoid":
        return _trapezoid_result(data, [], [], "requested")
    if model == "stp":
        return _stp_result(data, stp_time, [])
    if model in EXPONENTIAL_MODELS:
        return _fixed_exponential(data, model)
    return _auto(data, stp_time)


# --- exponential models -------------------------------------------------------------------------------------
def _assess(data: _Data, name: str, check_rising_tail: bool) -> _Assessed:
    fit = fit_exponential(
        EXPONENTIAL_MODELS[name], data.time_h, data.activity_mbq, data.fit_sigma, data.lambda_phys_per_h,
        sigma_scale_known=data.sigma_known,
    )
    assessed = _Assessed(fit)
    if fit.params is None or not fit.converged:
        assessed.unusable = f"did not converge ({fit.message})"
        return assessed
    model = fit.model
    assessed.tia_mbq_h = model.tia(fit.params, data.lambda_phys_per_h)
    if fit.covariance is not None:
        grad = model.tia_gradient(fit.params, data.lambda_phys_per_h)
        assessed.tia_fit_sigma_mbq_h = float(math.sqrt(max(float(grad @ fit.covariance @ grad), 0.0)))
    assessed.flags = quality_flags(fit, data.lambda_phys_per_h)
    fitted = model.evaluate(fit.params, data.time_h, data.lambda_phys_per_h)
    gross, chi2_flag = misfit(fitted, data.activity_mbq, data.sigma_mbq, model.n_parameters)
    if chi2_flag:
        assessed.flags.append(f"{name}: {chi2_flag}")
    if gross:
        assessed.unusable = gross
        assessed.flags.append(f"{name}: {gross}")
    if check_rising_tail and _rising_tail(data):
        assessed.unusable = _RISING_TAIL
    floor = rss_floor(data.activity_mbq, data.fit_sigma)
    assessed.aicc = aicc(fit.rss, data.n, model.n_parameters, floor)
    assessed.aic = aic(fit.rss, data.n, model.n_parameters, floor)
    return assessed


_RISING_TAIL = (
    "activity is highest at the last time point: no clearance phase observed, extrapolation unsupported"
)


def _rising_tail(data: _Data) -> bool:
    return data.n >= 2 and int(np.argmax(data.activity_mbq)) == data.n - 1


def _fixed_exponential(data: _Data, name: str) -> TacFit:
    assessed = _assess(data, name, check_rising_tail=False)
    if _rising_tail(data):
        assessed.flags.append(f"{name}: {_RISING_TAIL}")
    candidate = _candidate(assessed, acceptable=assessed.unusable is None and not assessed.flags)
    if assessed.unusable is not None:
        warning = f"requested model {name!r} unusable ({assessed.unusable}); fell back to 'trapezoid'."
        return _trapezoid_result(data, [warning], [candidate], f"fallback after {name} failed")
    selection = "model fixed by the user"
    return _exponential_result(data, assessed, [candidate], [], selection)


def _auto(data: _Data, stp_time: float) -> TacFit:
    if data.n == 1:
        warning = "one time point: model 'auto' uses the Hänscheid single-time-point estimate (stp)."
        return _stp_result(data, stp_time, [warning])
    if data.n <= 3:
        return _auto_few_points(data)
    if data.n == UPTAKE_PROTOCOL_POINTS:
        return _auto_four_points(data)

    names = [n for n in EXPONENTIAL_MODEL_NAMES if data.n >= EXPONENTIAL_MODELS[n].n_parameters + 2]
    assessed = [_assess(data, n, check_rising_tail=True) for n in names]
    usable = [a for a in assessed if a.unusable is None and a.aicc is not None]
    weights = akaike_weights([a.aicc if a in usable else None for a in assessed])
    for a, w in zip(assessed, weights):
        a.weight = w
    best_aicc = min((a.aicc for a in usable), default=None)
    acceptable = [a for a in usable if not a.flags and a.aicc - best_aicc <= AICC_DELTA_SUPPORT]
    candidates = [_candidate(a, acceptable=a in acceptable) for a in assessed]
    considered = ", ".join(names)
    if not usable:
        reasons = "; ".join(f"{a.fit.model.name}: {a.unusable}" for a in assessed)
        warning = f"no exponential model usable ({reasons}); fell back to 'trapezoid'."
        return _trapezoid_result(data, [warning], candidates, "fallback: no exponential model usable")
    warnings = []
    skipped = [n for n in EXPONENTIAL_MODEL_NAMES if n not in names]
    if skipped:
        warnings.append(
            f"{data.n} time points: {', '.join(skipped)} not considered (AICc needs N >= K + 2 points)."
        )
    if acceptable:
        chosen = min(acceptable, key=lambda a: a.aicc)
        if chosen.aicc > best_aicc:
            best = min(usable, key=lambda a: a.aicc)
            warnings.append(
                f"best-AICc model {best.fit.model.name!r} failed the quality checks; selected "
                f"{chosen.fit.model.name!r} (Delta AICc = {chosen.aicc - best_aicc:.2f})."
            )
    else:
        chosen = min(usable, key=lambda a: a.aicc)
        warnings.append(
            "no candidate passed the quality checks (CV < 50 %, |corr| < 0.8, Hardiansyah 2021); "
            f"selected the best-AICc model {chosen.fit.model.name!r} with its flags."
        )
    selection = (
        f"selected by AICc with Akaike weights among {considered} (NUKFIT, Kletting 2013; Glatting 2007)"
    )
    return _exponential_result(data, chosen, candidates, warnings, selection, "AICc")


def _auto_few_points(data: _Data) -> TacFit:
    """N = 2 or 3: mono without AICc; at N = 3 the uptake model (exact fit) when the uptake phase shows."""
    warnings = [
        f"{data.n} time points: model 'auto' uses mono without AICc selection "
        "(AICc needs N >= K + 2 = 4 points for mono)."
    ]
    if data.n == 2:
        warnings.append(
            f"2 time points cannot show an uptake phase: if the {data.time_h[0]:g} h point is still on the uptake "
            "limb, the mono-exponential over-estimates the TIA (by 15-60 % for a 4 h point and a 2-3 h uptake "
            "half-time). For reduced studies use the population prior (ragaliv population; population.json in "
            "the SpectDosimetry module)."
        )
    assessed = _assess(data, "mono", check_rising_tail=True)
    candidate = _candidate(assessed, acceptable=assessed.unusable is None and not assessed.flags)
    if assessed.unusable is not None:
        warnings.append(f"mono unusable ({assessed.unusable}); fell back to 'trapezoid'.")
        return _trapezoid_result(data, warnings, [candidate], "fallback: mono unusable")
    deficit = _first_point_deficit(data, assessed.fit)
    if data.n == 3 and deficit > UPTAKE_DEFICIT_LIMIT:
        uptake = _assess(data, "biexp-uptake", check_rising_tail=True)
        if uptake.unusable is None and not _uptake_at_bound(uptake.fit):
            remedy = (
                f"first point {deficit:.0%} below the mono-exponential: the uptake phase shows in the data, so "
                "'auto' uses the uptake model biexp-uptake fitted exactly through the 3 points (N = K: the "
                "uptake limb rests on the first point alone; no fit uncertainty)"
            )
            candidates = [candidate, _candidate(uptake, acceptable=True)]
            return _exponential_result(
                data, uptake, candidates, [*warnings, remedy],
                "biexp-uptake as the remedy for an uptake phase at N = 3 (mono would integrate activity "
                "that had not yet arrived)",
            )
    return _exponential_result(data, assessed, [candidate], warnings, f"mono used without AICc (N = {data.n})")


def _auto_four_points(data: _Data) -> TacFit:
    """N = 4: mono and biexp-uptake ranked by AIC (AICc is undefined for the uptake model at N = K + 1)."""
    assessed = [_assess(data, name, check_rising_tail=True) for name in ("mono", "biexp-uptake")]
    usable = [a for a in assessed if a.unusable is None and a.aic is not None]
    weights = akaike_weights([a.aic if a in usable else None for a in assessed])
    for a, w in zip(assessed, weights):
        a.weight = w
    candidates = [_candidate(a, acceptable=a in usable and not a.flags) for a in assessed]
    if not usable:
        reasons = "; ".join(f"{a.fit.model.name}: {a.unusable}" for a in assessed)
        warning = f"no exponential model usable ({reasons}); fell back to 'trapezoid'."
        return _trapezoid_result(data, [warning], candidates, "fallback: no exponential model usable")
    chosen = min(usable, key=lambda a: a.aic)
    warnings = [
        "4 time points: AICc is undefined for biexp-uptake (N = K + 1), so mono and biexp-uptake are ranked by "
        "AIC (Yamaoka 1978); biexp and triexp not considered (too few points)."
    ]
    selection = (
        "selected by AIC with Akaike weights between mono and biexp-uptake (4 points: AICc undefined for the "
        "3-parameter uptake model; Yamaoka 1978, NUKFIT Kletting 2013)"
    )
    return _exponential_result(data, chosen, candidates, warnings, selection, "AIC")


def _uptake_at_bound(fit: ExponentialFit) -> bool:
    """The uptake rate ran to its upper bound: the fit is a mono-exponential in disguise."""
    return any("lambda2_bio_per_h at its upper bound" in note for note in fit.bound_notes)


def _first_point_deficit(data: _Data, fit: ExponentialFit) -> float:
    """(fit − A_1) / fit at the first time point (positive: the first point lies below the curve)."""
    if fit.params is None or data.n < 2:
        return 0.0
    predicted = float(fit.model.evaluate(fit.params, data.time_h[:1], data.lambda_phys_per_h)[0])
    return (predicted - float(data.activity_mbq[0])) / predicted if predicted > 0 else 0.0


def _unmodelled_uptake(data: _Data, fit: ExponentialFit) -> list[str]:
    """A mono-exponential starts at its maximum; when the first measured point lies clearly below the fit,
    the activity was still rising (uptake), and the mono-exponential integral from 0 is biased: an unweighted
    fit over-estimates the TIA by 10-30 % on the 4-point protocol, a relative-error weighted one errs less and
    in either direction."""
    if fit.model.name != "mono" or data.n < 2:
        return []
    deficit = _first_point_deficit(data, fit)
    if deficit <= UPTAKE_DEFICIT_LIMIT:
        return []
    return [f"first point {deficit:.0%} below the mono-exponential fit: an uptake phase is not modelled and the "
            "TIA is biased (unweighted fits over-estimate it) (use model 'auto' or 'biexp-uptake', which model "
            "it, or 'trapezoid')"]


def _candidate(assessed: _Assessed, acceptable: bool) -> TacCandidate:
    if assessed.unusable is not None:
        reason = assessed.unusable
    elif assessed.flags:
        reason = "; ".join(assessed.flags)
    else:
        reason = "passes the quality checks"
    return TacCandidate(
        model=assessed.fit.model.name,
        converged=bool(assessed.fit.converged and assessed.fit.params is not None),
        aicc=assessed.aicc,
        akaike_weight=assessed.weight,
        tia_mbq_h=assessed.tia_mbq_h,
        acceptable=bool(acceptable),
        reason=reason,
        aic=assessed.aic,
    )


def _exponential_result(
    data: _Data,
    assessed: _Assessed,
    candidates: list[TacCandidate],
    warnings: list[str],
    selection: str,
    criterion: str = "",
) -> TacFit:
    fit = assessed.fit
    model = fit.model
    names = model.parameter_names
    flags = [f.split(": ", 1)[1] if f.startswith(model.name + ": ") else f for f in assessed.flags]
    flags.extend(_unmodelled_uptake(data, fit))
    uncertainty = combine_tia_uncertainty(
        assessed.tia_mbq_h, assessed.tia_fit_sigma_mbq_h, assessed.dof, data.calibration, "no fit covariance",
        flags,
    )
    parameter_sigma = {}
    correlation = None
    if fit.covariance is not None:
        parameter_sigma = {n: float(math.sqrt(max(v, 0.0))) for n, v in zip(names, np.diag(fit.covariance))}
        corr = correlation_matrix(fit.covariance)
        correlation = None if corr is None else corr.tolist()
    terminal_rate = data.lambda_phys_per_h + model.terminal_rate_bio_per_h(fit.params)
    description = (
        f"{_LABELS[model.name]} fit {model.formula} to non-decay-corrected activity by least squares, "
        f"{data.weighting}, with λbio >= 0 (λp = ln2/{data.half_life_h:.3f} h), integrated analytically from 0 to ∞; "
        f"{selection}; TIA uncertainty by covariance propagation (Gear 2018 EANM)"
        f"{_calibration_phrase(data)}{uncertainty.phrase()}."
    )
    return TacFit(
        region=data.region,
        model=model.name,
        parameters={n: float(v) for n, v in zip(names, fit.params)},
        parameter_sigma=parameter_sigma,
        correlation=correlation,
        tia_mbq_h=float(assessed.tia_mbq_h),
        tia_sigma_mbq_h=uncertainty.sigma_mbq_h,
        tia_rel_uncertainty=uncertainty.rel,
        effective_half_life_h=math.log(2.0) / terminal_rate,
        aicc=assessed.aicc,
        akaike_weight=assessed.weight,
        n_points=data.n,
        n_parameters=model.n_parameters,
        flags=flags,
        warnings=list(warnings),
        candidates=candidates,
        method_description=description,
        aic=assessed.aic,
        selection_criterion=criterion,
        **_uncertainty_fields(uncertainty),
        **_data_fields(data),
    )


# --- trapezoid and STP --------------------------------------------------------------------------------------
def _trapezoid_result(data: _Data, warnings: list[str], candidates: list[TacCandidate], how: str) -> TacFit:
    lam = data.lambda_phys_per_h
    measured, tail = trapezoid_areas_mbq_h(data.time_h, data.activity_mbq, lam)
    tia = measured + tail
    flags: list[str] = []
    fit_sigma = None
    note = "no sigma_mbq given, so the trapezoid has no statistical uncertainty"
    if data.sigma_mbq is not None:
        weights = trapezoid_weights_h(data.time_h, lam)
        fit_sigma = float(math.sqrt(np.sum((weights * data.sigma_mbq) ** 2)))
    uncertainty = combine_tia_uncertainty(tia, fit_sigma, math.inf, data.calibration, note, flags)
    warnings = [
        *warnings,
        f"trapezoid: effective_half_life_h is the physical half-life ({data.half_life_h:.3f} h) assumed for "
        f"the tail after the last point; the tail is {tail / tia:.0%} of the TIA.",
    ]
    candidates = [*candidates, TacCandidate("trapezoid", True, None, None, tia, True, how)]
    description = (
        f"Trapezoidal integration from (0 h, 0 MBq) through the {data.n} measured (non-decay-corrected) "
        "activities plus a physical-decay tail A_last/λp after the last point "
        f"(T1/2 = {data.half_life_h:.3f} h)"
        f" ({how}){_calibration_phrase(data)}."
    )
    return TacFit(
        region=data.region,
        model="trapezoid",
        parameters={
            "area_to_last_point_mbq_h": measured,
            "tail_area_mbq_h": tail,
            "tail_lambda_per_h": lam,
        },
        parameter_sigma={},
        correlation=None,
        tia_mbq_h=tia,
        tia_sigma_mbq_h=uncertainty.sigma_mbq_h,
        tia_rel_uncertainty=uncertainty.rel,
        effective_half_life_h=data.half_life_h,
        aicc=None,
        akaike_weight=None,
        n_points=data.n,
        n_parameters=0,
        flags=flags,
        warnings=warnings,
        candidates=candidates,
        method_description=description,
        **_uncertainty_fields(uncertainty),
        **_data_fields(data),
    )


def _stp_result(data: _Data, stp_time: float, warnings: list[str]) -> TacFit:
    index = int(np.argmin(np.abs(data.time_h - stp_time)))
    t = float(data.time_h[index])
    a_t = float(data.activity_mbq[index])
    factor = hanscheid_factor_h(t)
    tia = a_t * factor
    warnings = list(warnings)
    if abs(t - stp_time) > 0.25 * stp_time:
        warnings.append(
            f"stp: the point nearest {stp_time:g} h is at {t:g} h; Hänscheid 2018 validated the formula at "
            "about 96 h."
        )
    flags = [
        f"stp: Hänscheid assumes T_eff = t = {t:g} h; the estimate is within ±10 % only for "
        f"{HANSCHEID_VALID_RATIO_MIN} <= T_eff/t <= {HANSCHEID_VALID_RATIO_MAX} "
        f"(T_eff {HANSCHEID_VALID_RATIO_MIN * t:.1f}-{HANSCHEID_VALID_RATIO_MAX * t:.1f} h); "
        "this method error is not in tia_sigma_mbq_h"
    ]
    if data.n >= 2:
        flags.extend(_stp_band_check(data, t))
    fit_sigma = None if data.sigma_mbq is None else factor * float(data.sigma_mbq[index])
    note = "no sigma_mbq given, so the single-point estimate has no statistical uncertainty"
    uncertainty = combine_tia_uncertainty(tia, fit_sigma, math.inf, data.calibration, note, flags)
    description = (
        f"Hänscheid single-time-point estimate TIA = A(t)·2t/ln2 at t = {t:g} h (Hänscheid et al. JNM 2018), "
        f"exact for a mono-exponential with T_eff = t{_calibration_phrase(data)}."
    )
    return TacFit(
        region=data.region,
        model="stp",
        parameters={"activity_at_t_mbq": a_t, "time_h": t},
        parameter_sigma={},
        correlation=None,
        tia_mbq_h=tia,
        tia_sigma_mbq_h=uncertainty.sigma_mbq_h,
        tia_rel_uncertainty=uncertainty.rel,
        effective_half_life_h=t,
        aicc=None,
        akaike_weight=None,
        n_points=data.n,
        n_parameters=0,
        flags=flags,
        warnings=warnings,
        candidates=[TacCandidate("stp", True, None, None, tia, True, f"Hänscheid at {t:g} h")],
        method_description=description,
        **_uncertainty_fields(uncertainty),
        **_data_fields(data),
    )


def _stp_band_check(data: _Data, t: float) -> list[str]:
    """With several points, check the Hänscheid validity band against a mono-exponential T_eff."""
    fit = fit_exponential(
        EXPONENTIAL_MODELS["mono"], data.time_h, data.activity_mbq, data.fit_sigma, data.lambda_phys_per_h,
        sigma_scale_known=data.sigma_known,
    )
    if fit.params is None or not fit.converged:
        return ["stp: T_eff could not be estimated from the other points (mono fit failed)"]
    t_eff = math.log(2.0) / (data.lambda_phys_per_h + fit.params[1])
    ratio = t_eff / t
    inside = HANSCHEID_VALID_RATIO_MIN <= ratio <= HANSCHEID_VALID_RATIO_MAX
    verdict = "inside" if inside else "OUTSIDE"
    return [
        f"stp: mono-exponential T_eff from all points = {t_eff:.1f} h, T_eff/t = {ratio:.2f} ({verdict} "
        "the ±10 % band)"
    ]


# --- shared helpers -----------------------------------------------------------------------------------------
def _uncertainty_fields(uncertainty: TiaUncertainty) -> dict:
    return {
        "tia_standard_uncertainty_mbq_h": uncertainty.standard_mbq_h,
        "tia_coverage_factor": uncertainty.coverage_factor,
        "tia_uncertainty_dof": uncertainty.dof_for_json,
    }


def _calibration_phrase(data: _Data) -> str:
    if data.calibration <= 0.0:
        return ""
    return f", plus {data.calibration:.1%} calibration uncertainty (fully correlated, in quadrature)"


def _data_fields(data: _Data) -> dict:
    return {
        "time_h": [float(v) for v in data.time_h],
        "measured_activity_mbq": [float(v) for v in data.activity_mbq],
        "sigma_mbq": None if data.sigma_mbq is None else [float(v) for v in data.sigma_mbq],
        "half_life_h": data.half_life_h,
        "calibration_rel_uncertainty": data.calibration,
        "weighting": data.weighting,
    }
