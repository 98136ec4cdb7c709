"""Time-activity models for 177Lu: sums of exponentials, trapezoid with physical tail, Hänscheid STP.

All exponential models describe activity *as measured* (not decay corrected), so every exponent is
``lambda_phys + lambda_bio`` with ``lambda_bio >= 0`` (NUKFIT, Kletting et al. Med Phys 2013;40:102504;
Hardiansyah et al. EJNMMI Phys 2021;8:82). Written in one form::

    f(t) = sum_c (M @ a)[c] * exp(-(lambda_phys + lambda_bio[c]) * t)

with amplitudes ``a`` (MBq) and a fixed mixing matrix ``M`` per model. Rates are ordered
``lambda1 < lambda2 < lambda3`` (component 1 clears slowest); this makes the fits identifiable.
The time integral 0 -> inf is analytic: ``sum_c (M @ a)[c] / (lambda_phys + lambda_bio[c])``.
"""

import math
from dataclasses import dataclass

import numpy as np

MODEL_NAMES = ("mono", "biexp-uptake", "biexp", "triexp", "trapezoid", "stp")
EXPONENTIAL_MODEL_NAMES = ("mono", "biexp-uptake", "biexp", "triexp")

# Hänscheid 2018 (J Nucl Med 59:75): TIA ~ A(t) * 2t/ln2 is within +-10 % of the mono-exponential truth for
# 0.41 <= T_eff/t <= 1.31 (dosimetry notes §4.1, derived from (2x/ln2)e^-x, x = ln2 t/T_eff).
HANSCHEID_VALID_RATIO_MIN = 0.41
HANSCHEID_VALID_RATIO_MAX = 1.31


@dataclass(frozen=True)
class ExponentialModel:
    """A sum-of-exponentials model ``f(t) = sum_c (M a)_c exp(-(lp + l_c) t)`` (amplitudes, then rates)."""

    name: str
    amplitude_names: tuple[str, ...]
    rate_names: tuple[str, ...]
    mixing: tuple[tuple[float, ...], ...]  # M[c][j]: component c, amplitude j
    formula: str

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return self.amplitude_names + self.rate_names

    @property
    def n_parameters(self) -> int:
        """K: adjustable parameters (amplitudes + biological rates); lambda_phys is fixed."""
        return len(self.amplitude_names) + len(self.rate_names)

    @property
    def n_amplitudes(self) -> int:
        return len(self.amplitude_names)

    @property
    def n_rates(self) -> int:
        return len(self.rate_names)

    @property
    def mixing_matrix(self) -> np.ndarray:
        return np.asarray(self.mixing, dtype=float)

    def split(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(amplitudes_mbq, lambda_bio_per_h) from the natural parameter vector."""
        params = np.asarray(params, dtype=float)
        return params[: self.n_amplitudes], params[self.n_amplitudes :]

    def coefficients(self, params: np.ndarray) -> np.ndarray:
        """Signed amplitude of each exponential component (MBq)."""
        amplitudes, _ = self.split(params)
        return self.mixing_matrix @ amplitudes

    def evaluate(self, params: np.ndarray, time_h: np.ndarray, lambda_phys_per_h: float) -> np.ndarray:
        """Activity (MBq, not decay corrected) at ``time_h``."""
        _, rates = self.split(params)
        time_h = np.asarray(time_h, dtype=float)
        exps = np.exp(-np.multiply.outer(lambda_phys_per_h + rates, time_h))
        return np.tensordot(self.coefficients(params), exps, axes=1)

    def jacobian(self, params: np.ndarray, time_h: np.ndarray, lambda_phys_per_h: float) -> np.ndarray:
        """d f(t_i) / d params, shape (N, K), in natural units (MBq, 1/h)."""
        _, rates = self.split(params)
        time_h = np.asarray(time_h, dtype=float)
        exps = np.exp(-np.outer(lambda_phys_per_h + rates, time_h))  # (C, N)
        d_amplitudes = (self.mixing_matrix.T @ exps).T  # (N, J)
        d_rates = (-self.coefficients(params)[:, None] * time_h[None, :] * exps).T  # (N, C)
        return np.hstack([d_amplitudes, d_rates])

    def tia(self, params: np.ndarray, lambda_phys_per_h: float) -> float:
        """Analytic integral 0 -> inf (MBq h): sum_c coef_c / (lambda_phys + lambda_c)."""
        _, rates = self.split(params)
        return float(np.sum(self.coefficients(params) / (lambda_phys_per_h + rates)))

    def tia_gradient(self, params: np.ndarray, lambda_phys_per_h: float) -> np.ndarray:
        """d TIA / d params (natural units), for GUM propagation gradᵀ C grad (Gear 2018)."""
        _, rates = self.split(params)
        lam = lambda_phys_per_h + rates
        d_amplitudes = self.mixing_matrix.T @ (1.0 / lam)
        d_rates = -self.coefficients(params) / lam**2
        return np.concatenate([d_amplitudes, d_rates])

    def terminal_rate_bio_per_h(self, params: np.ndarray) -> float:
        """Biological rate of the slowest clearance component (component 1 by the ordering)."""
        _, rates = self.split(params)
        return float(rates[0])


EXPONENTIAL_MODELS = {
    "mono": ExponentialModel("mono", ("a0_mbq",), ("lambda_bio_per_h",), ((1.0,),), "A0·e^{-(λp+λ)t}"),
    "biexp-uptake": ExponentialModel(
        "biexp-uptake",
        ("a_mbq",),
        ("lambda1_bio_per_h", "lambda2_bio_per_h"),
        ((1.0,), (-1.0,)),
        "A·(e^{-(λp+λ1)t} − e^{-(λp+λ2)t}), λ2 > λ1",
    ),
    "biexp": ExponentialModel(
        "biexp",
        ("a1_mbq", "a2_mbq"),
        ("lambda1_bio_per_h", "lambda2_bio_per_h"),
        ((1.0, 0.0), (0.0, 1.0)),
        "A1·e^{-(λp+λ1)t} + A2·e^{-(λp+λ2)t}, λ2 > λ1",
    ),
    "triexp": ExponentialModel(
        "triexp",
        ("a1_mbq", "a2_mbq"),
        ("lambda1_bio_per_h", "lambda2_bio_per_h", "lambda3_bio_per_h"),
        ((1.0, 0.0), (0.0, 1.0), (-1.0, -1.0)),
        "A1·e^{-(λp+λ1)t} + A2·e^{-(λp+λ2)t} − (A1+A2)·e^{-(λp+λ3)t}, λ1 < λ2 < λ3",
    ),
}

# Fewest points a fixed model can be fitted to (N = K: exact fit, no fit uncertainty).
MIN_POINTS = {name: model.n_parameters for name, model in EXPONENTIAL_MODELS.items()}
MIN_POINTS.update({"trapezoid": 1, "stp": 1})


def decay_constant_per_h(half_life_h: float) -> float:
    """lambda = ln2 / T1/2."""
    return math.log(2.0) / half_life_h


# --- trapezoid with physical tail -----------------------------------------------------------------------
def trapezoid_weights_h(time_h: np.ndarray, lambda_phys_per_h: float) -> np.ndarray:
    """Weights c_i with TIA = sum_i c_i A_i for the trapezoid from (0, 0) plus the tail A_N / lambda_phys.

    The trapezoid rule is linear in the activities, so the weights also give the GUM variance
    sum_i c_i^2 sigma_i^2 (independent points).
    """
    time_h = np.asarray(time_h, dtype=float)
    knots = np.concatenate([[0.0], time_h])
    weights = np.empty(time_h.size)
    # Point i (knot i+1) shares the trapezoids to its left and right neighbour.
    weights[:-1] = 0.5 * (knots[2:] - knots[:-2])
    weights[-1] = 0.5 * (knots[-1] - knots[-2]) + 1.0 / lambda_phys_per_h
    return weights


def trapezoid_areas_mbq_h(
    time_h: np.ndarray, activity_mbq: np.ndarray, lambda_phys_per_h: float
) -> tuple[float, float]:
    """(area 0 -> t_N by trapezoids from (0, 0), tail area A_N / lambda_phys after t_N)."""
    knots_t = np.concatenate([[0.0], np.asarray(time_h, dtype=float)])
    knots_a = np.concatenate([[0.0], np.asarray(activity_mbq, dtype=float)])
    measured = float(np.sum(0.5 * (knots_a[1:] + knots_a[:-1]) * np.diff(knots_t)))
    return measured, float(knots_a[-1] / lambda_phys_per_h)


def trapezoid_activity_mbq(
    query_time_h: np.ndarray, time_h: np.ndarray, activity_mbq: np.ndarray, lambda_phys_per_h: float
) -> np.ndarray:
    """Piecewise-linear curve from (0, 0) through the points, then physical decay from the last point."""
    query = np.asarray(query_time_h, dtype=float)
    knots_t = np.concatenate([[0.0], np.asarray(time_h, dtype=float)])
    knots_a = np.concatenate([[0.0], np.asarray(activity_mbq, dtype=float)])
    linear = np.interp(query, knots_t, knots_a)
    tail = knots_a[-1] * np.exp(-lambda_phys_per_h * (query - knots_t[-1]))
    return np.where(query > knots_t[-1], tail, np.where(query < 0.0, 0.0, linear))


# --- Hänscheid single time point -------------------------------------------------------------------------
def hanscheid_factor_h(time_h: float) -> float:
    """TIA / A(t) = 2t/ln2 (Hänscheid et al. J Nucl Med 2018;59:75-81): exact for a mono-exponential
    with T_eff = t."""
    return 2.0 * time_h / math.log(2.0)


def hanscheid_activity_mbq(query_time_h: np.ndarray, time_h: float, activity_mbq: float) -> np.ndarray:
    """The mono-exponential implied by the Hänscheid assumption T_eff = t, through (t, A(t))."""
    query = np.asarray(query_time_h, dtype=float)
    lambda_eff = math.log(2.0) / time_h
    return np.where(query < 0.0, 0.0, activity_mbq * np.exp(-lambda_eff * (query - time_h)))
