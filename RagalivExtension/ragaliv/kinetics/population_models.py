"""Time-activity models of the population fit, in log parameters, vectorised over patients and time points.

Each patient's curve is parameterised directly in its time-integrated activity coefficient, as in the
MS-NLME functions of Hardiansyah et al. (EJNMMI Phys 2023, doi 10.1186/s40658-023-00530-1: "normalised so that
its integral is A1"), so that the population mean, the between-patient variability and each patient's
uncertainty of the TIA are read off the first parameter, and the prior of a patient with one time point acts
on the TIA directly:

* ``biexp-uptake``: phi = (ln TIAC [h], ln lambda_eff [1/h], ln k [1/h])::

      A(t) = D · TIAC · (e^{-la t} − e^{-lb t}) / (1/la − 1/lb),  la = lambda_eff,  lb = la + k

  with D the administered activity (MBq), lambda_eff the effective clearance rate (physical decay included)
  and k = e^{phi_3} > 0 the excess of the uptake rate over it, so lb > la by construction;
* ``mono``: phi = (ln TIAC, ln lambda_eff): A(t) = D · TIAC · la · e^{-la t}.

The clearance is parameterised by the effective rate because effective half-lives are log-normally
distributed across patients (Hou et al. J Nucl Med 2021, PMC8882881); lambda_eff >= lambda_phys
(lambda_bio >= 0, NUKFIT convention, Kletting 2013) is a bound of the estimation (:mod:`.population`).
Activity as measured (not decay corrected). Everything works on ln A, the scale of the proportional
(log-normal) residual error model; :func:`log_activity_and_gradient` returns ln A and d ln A / d phi in
closed form (numerically stable through ``expm1``).
"""

import math
from dataclasses import dataclass

import numpy as np

POPULATION_MODEL_NAMES = ("biexp-uptake", "mono")
# Box for the log parameters (a MAP step never leaves it): TIAC 1e-6..1e5 h, rates 1e-7..50 /h.
_LOG_TIAC_BOUNDS = (math.log(1e-6), math.log(1e5))
_LOG_RATE_BOUNDS = (math.log(1e-7), math.log(50.0))


@dataclass(frozen=True)
class PopulationModel:
    name: str
    parameter_names: tuple
    formula: str

    @property
    def n_parameters(self) -> int:
        return len(self.parameter_names)

    def bounds(self, lambda_phys: float) -> tuple[np.ndarray, np.ndarray]:
        """Box of phi: the effective rate at least the physical decay constant (lambda_bio >= 0)."""
        low = np.array([_LOG_TIAC_BOUNDS[0]] + [_LOG_RATE_BOUNDS[0]] * (self.n_parameters - 1))
        low[1] = math.log(lambda_phys * (1.0 + 1e-6))
        high = np.array([_LOG_TIAC_BOUNDS[1]] + [_LOG_RATE_BOUNDS[1]] * (self.n_parameters - 1))
        return low, high


POPULATION_MODELS = {
    "biexp-uptake": PopulationModel(
        "biexp-uptake",
        ("ln_tiac_h", "ln_lambda_eff_per_h", "ln_uptake_rate_excess_per_h"),
        "D·TIAC·(e^{-λa t} − e^{-λb t})/(1/λa − 1/λb), λb = λa + k",
    ),
    "mono": PopulationModel("mono", ("ln_tiac_h", "ln_lambda_eff_per_h"), "D·TIAC·λa·e^{-λa t}"),
}


def log_activity_and_gradient(
    model: PopulationModel, phi: np.ndarray, time_h: np.ndarray, log_administered: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """ln A and d ln A / d phi for ``phi`` [M, q], ``time_h`` [M, n], ``log_administered`` [M].

    Returns arrays [M, n] and [M, n, q].
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        la = np.exp(phi[:, 1])[:, None]  # d la / d phi_2 = la
        t = time_h
        base = log_administered[:, None] + phi[:, :1]
        if model.name == "mono":
            log_a = base + np.log(la) - la * t
            grad = np.empty((*t.shape, 2))
            grad[..., 0] = 1.0
            grad[..., 1] = 1.0 - la * t
            return log_a, grad
        k = np.exp(phi[:, 2])[:, None]
        lb = la + k
        kt = k * t
        log_a = base - la * t + np.log(-np.expm1(-kt)) - np.log(k) + np.log(la) + np.log(lb)
        ratio = np.where(kt > 1e-8, kt / np.expm1(kt), 1.0 - 0.5 * kt)  # kt / (e^{kt} − 1), → 0 for large kt
        ratio = np.where(np.isfinite(ratio), ratio, 0.0)
        grad = np.empty((*t.shape, 3))
        grad[..., 0] = 1.0
        grad[..., 1] = la * (-t + 1.0 / la + 1.0 / lb)
        grad[..., 2] = ratio - 1.0 + k / lb
    return log_a, grad


def curve_mbq(model: PopulationModel, phi: np.ndarray, time_h: np.ndarray, administered_mbq: float) -> np.ndarray:
    """Activity (MBq, not decay corrected) of one parameter vector ``phi`` [q] at ``time_h`` (for plots)."""
    times = np.asarray(time_h, dtype=float)[None, :]
    log_a, _ = log_activity_and_gradient(model, np.asarray(phi, float)[None, :], times,
                                         np.array([math.log(administered_mbq)]))
    return np.where(times[0] > 0.0, np.exp(log_a[0]), 0.0)


def kinetic_summary(model: PopulationModel, phi: np.ndarray) -> dict:
    """TIAC (h), effective half-life of the clearance (h) and, for the uptake model, the uptake half-time (h)."""
    phi = np.asarray(phi, dtype=float)
    la = math.exp(phi[1])
    summary = {"tiac_h": math.exp(phi[0]), "effective_half_life_h": math.log(2.0) / la}
    if model.name == "biexp-uptake":
        summary["uptake_half_time_h"] = math.log(2.0) / (la + math.exp(phi[2]))
    return summary
