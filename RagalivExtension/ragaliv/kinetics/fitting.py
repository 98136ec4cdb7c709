"""Least-squares fit of one exponential model, with robust starts and the Jacobian covariance.

* Objective: sum ((f(t_i) - A_i) / sigma_i)^2 with sigma_i = ``sigma_mbq`` (weighted, 1/sigma^2), or
  sum (f(t_i) - A_i)^2 when no sigma is given (unweighted), on activity as measured. ``sigma_scale_known``
  False means the sigma are relative weights known only up to a common factor (e.g. sigma_i = A_i for a
  fractional error model): the covariance is then scaled by the residual variance, as for an unweighted fit.
* Parameters are fitted as amplitudes / max(A_i) bounded to [1e-8, 1e4] (so A > 0), ``lambda1_bio >= 0``
  and positive rate increments ``lambda_{c+1} - lambda_c`` (so the rates stay ordered and
  ``lambda_bio >= 0``); see :mod:`.models`.
* Starts: peeling (log-linear fit of the tail, then of the residual; the classic curve-stripping start) and a
  coarse grid of biological rates with the best non-negative amplitudes for each rate combination (variable
  projection); the best few distinct starts are refined with ``scipy.optimize.least_squares`` (TRF with
  bounds) and the lowest cost wins.
* Covariance (EANM, Gear et al. EJNMMI 2018;45:2456): C = (J^T W J)^-1 at the optimum, absolute when sigma
  is given with a known scale, scaled by RSS/(N-K) otherwise; none when N == K without a known scale.
"""

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from scipy.optimize import least_squares

from .models import ExponentialModel

# Upper bound of a biological rate: LAMBDA_BIO_MAX_FACTOR / t_first. A component this fast has decayed by
# e^-20 before the first measurement, so the data cannot tell larger rates apart (Ragaliv convention).
LAMBDA_BIO_MAX_FACTOR = 20.0
# Smallest gap between two ordered rates (1/h); a gap at this bound means the components coincide.
RATE_GAP_MIN_PER_H = 1.0e-6
# Amplitude bounds relative to the largest measured activity.
AMPLITUDE_REL_MIN = 1.0e-8
AMPLITUDE_REL_MAX = 1.0e4
# Rate grid for the variable-projection starts: 0 plus log-spaced values up to the upper bound.
_GRID_LOWEST_RATE_PER_H = 5.0e-4
_GRID_SIZE = 24
_MAX_STARTS = 4
# Function-evaluation budgets per parameter: each start, then the polish of the best start.
_START_EVALUATIONS = 50
_POLISH_EVALUATIONS = 200
# Relative singular value below which the column-scaled Jacobian counts as rank deficient.
_RANK_TOLERANCE = 1.0e-10


@dataclass(eq=False)
class ExponentialFit:
    """Outcome of fitting one exponential model (natural parameters: amplitudes MBq, lambda_bio 1/h)."""

    model: ExponentialModel
    converged: bool
    message: str
    params: Optional[np.ndarray] = None
    rss: Optional[float] = None  # weighted (chi^2) when sigma was given
    covariance: Optional[np.ndarray] = None
    covariance_note: str = ""
    bound_notes: list[str] = field(default_factory=list)
    n_points: int = 0
    sigma_scale_known: bool = False  # True: absolute covariance (sigma given and known)

    @property
    def residual_dof(self) -> float:
        """Degrees of freedom behind the covariance: inf for a known sigma, N - K when scaled by residuals."""
        if self.sigma_scale_known:
            return math.inf
        return float(self.n_points - self.model.n_parameters)


def lambda_bio_max_per_h(time_h: np.ndarray) -> float:
    """Upper bound of every biological rate: LAMBDA_BIO_MAX_FACTOR / first time (1/h)."""
    return LAMBDA_BIO_MAX_FACTOR / float(time_h[0])


# --- parameter transform ---------------------------------------------------------------------------------
def _to_natural(theta: np.ndarray, model: ExponentialModel, scale: float) -> np.ndarray:
    n_amp = model.n_amplitudes
    amplitudes = scale * theta[:n_amp]
    rates = np.cumsum(theta[n_amp:])
    return np.concatenate([amplitudes, rates])


def _to_internal(params: np.ndarray, model: ExponentialModel, scale: float) -> np.ndarray:
    n_amp = model.n_amplitudes
    amplitudes = params[:n_amp] / scale
    increments = np.diff(params[n_amp:], prepend=0.0)
    return np.concatenate([amplitudes, increments])


def _bounds(model: ExponentialModel, rate_max: float) -> tuple[np.ndarray, np.ndarray]:
    n_amp, n_rate = model.n_amplitudes, model.n_rates
    lower = np.concatenate(
        [np.full(n_amp, AMPLITUDE_REL_MIN), [0.0], np.full(n_rate - 1, RATE_GAP_MIN_PER_H)]
    )
    upper = np.concatenate([np.full(n_amp, AMPLITUDE_REL_MAX), np.full(n_rate, rate_max)])
    return lower, upper


def _clip_into(theta: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    span = upper - lower
    return np.clip(theta, lower + 1e-9 * span, upper - 1e-9 * span)


# --- starting values -------------------------------------------------------------------------------------
def _loglinear(time_h: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """(A0, lambda_eff) of a log-linear least-squares fit, values > 0."""
    if time_h.size == 1:
        return float(values[0]), 0.0
    log_values = np.log(values)
    centred = time_h - time_h.mean()
    slope = float(np.sum(centred * (log_values - log_values.mean())) / np.sum(centred**2))
    return float(np.exp(log_values.mean() - slope * time_h.mean())), -slope


def _peel_start(
    model: ExponentialModel, time_h: np.ndarray, activity: np.ndarray, lambda_phys: float, rate_max: float
) -> Optional[np.ndarray]:
    """Curve stripping: the tail gives the slowest component, the early residual the next one."""
    n = time_h.size
    n_tail = max(2, math.ceil(n / 3.0))
    _, lam_slow = _loglinear(time_h[-n_tail:], activity[-n_tail:])
    l_slow = min(max(lam_slow - lambda_phys, 0.0), 0.5 * rate_max)
    a_slow = activity[-1] * np.exp((lambda_phys + l_slow) * time_h[-1])
    if model.name == "mono":
        a0, lam = _loglinear(time_h, activity)
        return np.array([a0, min(max(lam - lambda_phys, 0.0), 0.5 * rate_max)])
    slow_curve = a_slow * np.exp(-(lambda_phys + l_slow) * time_h)
    early = slice(0, max(n - n_tail, 1))
    residual = (activity - slow_curve)[early]
    t_early = time_h[early]
    if model.name == "biexp":
        positive = residual > 0
        if positive.sum() < 1:
            return None
        a_fast, lam_fast = _loglinear(t_early[positive], residual[positive])
        if positive.sum() == 1:
            lam_fast = lambda_phys + l_slow + 1.0 / t_early[positive][0]
            a_fast = residual[positive][0] * np.exp(lam_fast * t_early[positive][0])
        l_fast = min(max(lam_fast - lambda_phys, l_slow + 1e-3), rate_max * 0.9)
        return np.array([a_slow, a_fast, l_slow, l_fast])
    if model.name == "biexp-uptake":
        deficit = -residual
        positive = deficit > 0
        if positive.sum() >= 2:
            _, lam_up = _loglinear(t_early[positive], deficit[positive])
        else:
            lam_up = lambda_phys + l_slow + 3.0 / time_h[0]
        l_up = min(max(lam_up - lambda_phys, l_slow + 1e-3), rate_max * 0.9)
        return np.array([a_slow, l_slow, l_up])
    return None


def _rate_grid(rate_max: float) -> np.ndarray:
    upper = max(rate_max * 0.9, _GRID_LOWEST_RATE_PER_H * 10)
    return np.concatenate([[0.0], np.geomspace(_GRID_LOWEST_RATE_PER_H, upper, _GRID_SIZE - 1)])


def _grid_starts(
    model: ExponentialModel,
    time_h: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    lambda_phys: float,
    rate_max: float,
) -> list[np.ndarray]:
    """Best distinct rate combinations on a grid, each with its optimal non-negative amplitudes."""
    grid = _rate_grid(rate_max)
    n_rates = model.n_rates
    index = np.array(np.meshgrid(*[np.arange(grid.size)] * n_rates, indexing="ij")).reshape(n_rates, -1).T
    if n_rates > 1:
        index = index[np.all(np.diff(index, axis=1) > 0, axis=1)]
    rates = grid[index]  # (G, C)
    exps = np.exp(-(lambda_phys + rates)[:, :, None] * time_h[None, None, :])  # (G, C, N)
    basis = np.einsum("cj,gcn->gjn", model.mixing_matrix, exps) * weights  # (G, J, N)
    yw = y * weights
    amplitudes, rss = _nonnegative_lsq(basis, yw)
    order = np.argsort(rss)
    chosen: list[int] = []
    for candidate in order[:400]:
        if not np.isfinite(rss[candidate]) or np.any(amplitudes[candidate] <= 0):
            continue
        if all(np.max(np.abs(index[candidate] - index[other])) >= 3 for other in chosen):
            chosen.append(int(candidate))
        if len(chosen) >= _MAX_STARTS:
            break
    return [np.concatenate([amplitudes[g], rates[g]]) for g in chosen]


def _nonnegative_lsq(basis: np.ndarray, yw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised NNLS for one or two amplitudes: basis (G, J, N), target (N,) -> (G, J), rss (G,)."""
    n_amp = basis.shape[1]
    if n_amp == 1:
        b = basis[:, 0, :]
        bb = np.einsum("gn,gn->g", b, b)
        amp = np.maximum(np.einsum("gn,n->g", b, yw) / np.where(bb > 0, bb, np.inf), 0.0)
        rss = np.sum((yw - amp[:, None] * b) ** 2, axis=1)
        return amp[:, None], rss
    b1, b2 = basis[:, 0, :], basis[:, 1, :]
    g11, g22, g12 = (np.einsum("gn,gn->g", u, v) for u, v in ((b1, b1), (b2, b2), (b1, b2)))
    r1, r2 = b1 @ yw, b2 @ yw
    det = g11 * g22 - g12**2
    with np.errstate(divide="ignore", invalid="ignore"):
        full = np.stack([(g22 * r1 - g12 * r2) / det, (g11 * r2 - g12 * r1) / det], axis=1)
        only1 = np.stack([np.maximum(r1 / g11, 0.0), np.zeros_like(r1)], axis=1)
        only2 = np.stack([np.zeros_like(r2), np.maximum(r2 / g22, 0.0)], axis=1)
    options = []
    for amp in (full, only1, only2):
        feasible = np.all(np.isfinite(amp), axis=1) & np.all(amp >= 0, axis=1)
        amp = np.where(feasible[:, None], amp, 0.0)
        rss = np.sum((yw - amp[:, :1] * b1 - amp[:, 1:] * b2) ** 2, axis=1)
        options.append((amp, np.where(feasible, rss, np.inf)))
    best = np.argmin(np.stack([o[1] for o in options]), axis=0)
    amp = np.choose(best[:, None], [o[0] for o in options])
    rss = np.choose(best, [o[1] for o in options])
    return amp, rss


# --- the fit ---------------------------------------------------------------------------------------------
def fit_exponential(
    model: ExponentialModel,
    time_h: np.ndarray,
    activity_mbq: np.ndarray,
    sigma_mbq: Optional[np.ndarray],
    lambda_phys_per_h: float,
    sigma_scale_known: bool = True,
) -> ExponentialFit:
    """Fit ``model`` by (weighted) least squares from several starts; covariance from the Jacobian.

    Floating-point warnings are silenced inside: every start, optimum and covariance is checked for
    finiteness instead, and a fit without a finite result is reported as not converged.
    """
    with np.errstate(all="ignore"):
        return _fit_exponential(model, time_h, activity_mbq, sigma_mbq, lambda_phys_per_h, sigma_scale_known)


def _fit_exponential(model, time_h, activity_mbq, sigma_mbq, lambda_phys_per_h, sigma_scale_known) -> ExponentialFit:
    n = time_h.size
    scale = float(np.max(activity_mbq))
    y = activity_mbq / scale
    weights = np.ones(n) if sigma_mbq is None else scale / sigma_mbq
    rate_max = lambda_bio_max_per_h(time_h)
    lower, upper = _bounds(model, rate_max)

    starts = []
    peel = _peel_start(model, time_h, activity_mbq, lambda_phys_per_h, rate_max)
    if peel is not None and np.all(np.isfinite(peel)):
        starts.append(_to_internal(peel, model, scale))
    for params in _grid_starts(model, time_h, y, weights, lambda_phys_per_h, rate_max):
        starts.append(_to_internal(params, model, 1.0))  # grid amplitudes are already activity / scale

    n_amp = model.n_amplitudes
    lower_tri = np.tril(np.ones((model.n_rates, model.n_rates)))

    def residuals(theta):
        params = _to_natural(theta, model, 1.0)
        return (model.evaluate(params, time_h, lambda_phys_per_h) - y) * weights

    def jacobian(theta):
        params = _to_natural(theta, model, 1.0)
        jac = model.jacobian(params, time_h, lambda_phys_per_h)
        jac[:, n_amp:] = jac[:, n_amp:] @ lower_tri  # rates are cumulative sums of increments
        return jac * weights[:, None]

    def solve(theta0: np.ndarray, budget: int):
        with np.errstate(over="ignore", invalid="ignore"):
            return least_squares(
                residuals,
                theta0,
                jac=jacobian,
                bounds=(lower, upper),
                method="trf",
                x_scale="jac",
                ftol=1e-10,
                xtol=1e-10,
                gtol=1e-10,
                max_nfev=budget,
            )

    # Stage 1: every start with a small budget; stage 2: polish the best one.
    best = None
    last_error = "no start gave finite residuals"
    for start in starts:
        try:
            result = solve(_clip_into(start, lower, upper), _START_EVALUATIONS * model.n_parameters)
        except (ValueError, np.linalg.LinAlgError) as exc:  # non-finite residuals at a start
            last_error = str(exc)
            continue
        if (
            np.all(np.isfinite(result.x))
            and np.isfinite(result.cost)
            and (best is None or result.cost < best.cost)
        ):
            best = result
    if best is None:
        return ExponentialFit(model, False, f"optimizer failed ({last_error})", n_points=n)
    if best.status == 0:
        polished = solve(best.x, _POLISH_EVALUATIONS * model.n_parameters)
        if np.all(np.isfinite(polished.x)) and polished.cost <= best.cost:
            best = polished
    message = best.message
    if best.status == 0:
        message = (
            f"no convergence within {best.nfev} evaluations: the parameters drift along a flat direction "
            "(model over-parameterised for these data)"
        )

    params = _to_natural(best.x, model, scale)
    fit = ExponentialFit(model, bool(best.success), message, params=params, n_points=n,
                         sigma_scale_known=sigma_mbq is not None and sigma_scale_known)
    residual = model.evaluate(params, time_h, lambda_phys_per_h) - activity_mbq
    if sigma_mbq is not None:
        residual = residual / sigma_mbq
    fit.rss = float(np.sum(residual**2))
    fit.bound_notes = _bound_notes(model, params, best.x, lower, upper, rate_max)
    fit.covariance, fit.covariance_note = _covariance(
        model, params, time_h, sigma_mbq, lambda_phys_per_h, fit.rss, sigma_scale_known
    )
    return fit


def _bound_notes(model, params, theta, lower, upper, rate_max) -> list[str]:
    notes = []
    n_amp = model.n_amplitudes
    names = model.parameter_names
    for j in range(n_amp):
        if theta[j] <= lower[j] + 1e-6 or theta[j] >= upper[j] - 1e-6:
            notes.append(f"{names[j]} at its bound ({params[j]:.4g} MBq)")
    rates = params[n_amp:]
    for c, rate in enumerate(rates):
        if rate >= 0.999 * rate_max:
            notes.append(
                f"{names[n_amp + c]} at its upper bound {rate_max:.3g}/h (faster than the first time point "
                "can resolve)"
            )
    for c in range(1, rates.size):
        if theta[n_amp + c] <= RATE_GAP_MIN_PER_H * 1.001:
            notes.append(f"{names[n_amp + c - 1]} and {names[n_amp + c]} coincide (components merge)")
    return notes


def _covariance(
    model: ExponentialModel,
    params: np.ndarray,
    time_h: np.ndarray,
    sigma_mbq: Optional[np.ndarray],
    lambda_phys_per_h: float,
    rss: float,
    sigma_scale_known: bool = True,
) -> tuple[Optional[np.ndarray], str]:
    """Parameter covariance from the Jacobian at the optimum (natural units), or None with the reason."""
    n, k = time_h.size, model.n_parameters
    scaled_by_residuals = sigma_mbq is None or not sigma_scale_known
    if scaled_by_residuals and n <= k:
        return None, f"no fit uncertainty: N = {n} points = K = {k} parameters (exact fit, no residual dof)"
    jac = model.jacobian(params, time_h, lambda_phys_per_h)
    if sigma_mbq is not None:
        jac = jac / sigma_mbq[:, None]
    norms = np.linalg.norm(jac, axis=0)
    if not np.all(np.isfinite(jac)) or np.any(norms <= 0.0):
        return None, "no fit uncertainty: a parameter does not influence the curve (singular Jacobian)"
    scaled = jac / norms
    _, singular, vt = np.linalg.svd(scaled, full_matrices=False)
    if singular[-1] <= _RANK_TOLERANCE * singular[0]:
        return None, "no fit uncertainty: parameters not identifiable (singular Jacobian)"
    inverse = (vt.T / singular**2) @ vt
    covariance = inverse / np.outer(norms, norms)
    if scaled_by_residuals:
        covariance = covariance * rss / (n - k)
    return covariance, ""
