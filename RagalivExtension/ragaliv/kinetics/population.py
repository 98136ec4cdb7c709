"""Population kinetics: a non-linear mixed-effects (NLME) fit per region across a cohort, and its use as a prior.

Why: with fewer than four time points (a missed scan, a single-time-point protocol) one patient's data cannot
carry an uptake-and-clearance curve; the cohort can. Each region (kidney, spleen, liver, tumours ...) is fitted
across all patients at once, and every patient's TIA is the empirical-Bayes (MAP) estimate of its own curve with
the population as prior (Devasia et al. J Nucl Med 2021;62:1118: NLME with 1 or 2 time points for 177Lu-DOTATATE
kidneys; Hardiansyah et al. EJNMMI Phys 2021;8:82 and 2023, doi 10.1186/s40658-023-00530-1: population-based model
selection and NLME for few time points).

Model (:mod:`.population_models`): patient i has log parameters phi_i = mu + eta_i, eta_i ~ N(0, Omega) with
Omega diagonal (log-normal, independent parameters: with ~10 patients, half of them with sparse data, the
correlations of a full Omega are not estimable, and their noise moved sparse patients' TIAs by up to 25 % in
simulations); the curve is parameterised by ln TIAC (so the TIA has its own random effect), the log effective
clearance rate and the log uptake rate excess; activity as measured (physical decay in every exponent,
lambda_eff >= lambda_phys). Residual error proportional: ln A_ij = ln f(t_ij; phi_i) + eps_ij,
eps_ij ~ N(0, sigma²) (SPECT activities have an uncertainty that grows with the activity).

Estimation: iterative two-stage / expectation-maximisation with a Laplace (first-order conditional) E-step —
the IT2S-EM scheme of population PK software (Certara Phoenix NLME "IT2S-EM"; methods "based on individual
estimates" in Davidian & Giltinan, Chemometr Intell Lab Syst 1993;20:1; the conditional linearisation of
Lindstrom & Bates, Biometrics 1990;46:673, as in R ``nlme``):

1. conditional step: for the current (mu, Omega, sigma) each patient's mode phi_i of
   J_i = sum_j r_ij²/sigma² + (phi − mu)^T Omega^-1 (phi − mu) (Levenberg-Marquardt, all patients vectorised)
   and its curvature H_i = G_i^T G_i / sigma² + Omega^-1 (Gauss-Newton), Sigma_i = H_i^-1;
2. population step: mu = mean phi_i; Omega = diag sum_i [(phi_i − mu)(phi_i − mu)^T + Sigma_i] / (M − 1) (M − 1:
   one degree of freedom goes to mu, as in REML; with M = 12 the ML divisor M under-estimated the variability
   and made the EM crawl towards zero variances); sigma² = sum_ij [r_ij² + g_ij^T Sigma_i g_ij] / N_obs;
3. repeat until the Laplace approximation of −2 log L (sum_i n_i ln(2π sigma²) + J_i(phi_i) + ln|Omega| +
   ln|H_i|) changes by less than 1e-6 (relative) and the parameters by less than 1e-5.

Model choice per region (``model="auto"``): ``biexp-uptake`` and ``mono`` are both fitted and ranked by
AIC = −2 log L + 2P (P = fixed effects + variances + sigma), with Akaike weights (Hardiansyah 2023 select NLME
functions by Akaike weights).

Per-patient uncertainty: the posterior variance of ln TIAC, Sigma_i[0, 0], plus the part due to the estimated
population mean, (Sigma_i Omega^-1) V_mu (Omega^-1 Sigma_i) with V_mu = [sum_j (Omega^-1 − Omega^-1 Sigma_j
Omega^-1)]^-1 (the generalised-least-squares variance of mu in the linearised model), on the log scale (≈
relative), expanded by the Student-t factor t_0.8413(M − 1) because Omega and sigma are themselves estimated from
the M patients (the prediction interval of a new member of a normal population whose variance comes from M
samples; GUM G.4), and combined in quadrature with the calibration uncertainty. Without the factor the stated 1σ
covered 64 % of 1440 simulated patient-regions (30 cohorts of 12), with it 67 %
(Testing/validation/test_kinetics_population_cohort.py).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from ..constants import LU177_HALF_LIFE_H
from .models import decay_constant_per_h
from .population_models import (
    POPULATION_MODEL_NAMES,
    POPULATION_MODELS,
    PopulationModel,
    kinetic_summary,
    log_activity_and_gradient,
)
from .quality import akaike_weights
from .uncertainty import coverage_factor
from .validation import KineticsInputError, check_positive_number, check_tac

POPULATION_FORMAT = "ragaliv-population"
POPULATION_FORMAT_VERSION = 1
MIN_PATIENTS = 3  # fewer patients in a region: no population fit (the patients are fitted alone)
METHOD_NAME = "NLME, iterative two-stage EM with Laplace (first-order conditional) E-step; empirical Bayes (MAP)"
_MAX_EM_ITERATIONS = 400
_EM_OBJECTIVE_TOLERANCE = 1e-6
_EM_PARAMETER_TOLERANCE = 1e-5
_MAX_MAP_ITERATIONS = 60
_SIGMA_FLOOR = 1e-3  # 0.1 % proportional error: below it the data are numerically exact
_OMEGA_FLOOR = 1e-4  # (1 %)² on the log scale: a variance component cannot collapse to exactly 0
_INITIAL_OMEGA = 0.5**2
_INITIAL_SIGMA = 0.1
_MAX_LOG_STEP = 2.0


@dataclass
class PatientTac:
    """One patient's time-activity points of one region (activity as measured, not decay corrected)."""

    patient: str
    region: str
    time_h: Sequence[float]
    activity_mbq: Sequence[float]
    administered_mbq: float


@dataclass
class PatientKinetics:
    """A patient's TIA of one region from the population fit (or from the population prior)."""

    patient: str
    region: str
    model: str
    tia_mbq_h: float
    tiac_h: float
    tia_rel_uncertainty: float
    effective_half_life_h: float
    uptake_half_time_h: Optional[float]
    n_points: int
    administered_mbq: float
    parameters: dict[str, float]
    time_h: list[float]
    activity_mbq: list[float]
    shrinkage: float  # 1 − posterior SD / population SD of ln TIAC: 0 = data alone, 1 = population alone
    method: str
    flags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RegionPopulation:
    """The population of one region: typical curve, between-patient variability, residual error, convergence."""

    region: str
    model: str
    parameter_names: list[str]
    population_mean: np.ndarray
    omega: np.ndarray
    residual_sd: float  # proportional residual error (SD of ln A)
    mean_covariance: np.ndarray  # V_mu
    half_life_h: float
    converged: bool
    iterations: int
    minus_2_log_likelihood: float
    aic: float
    akaike_weight: Optional[float] = None
    n_patients: int = 0
    n_observations: int = 0
    candidates: list[dict[str, Any]] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    patients: list[PatientKinetics] = field(default_factory=list)

    @property
    def population_model(self) -> PopulationModel:
        return POPULATION_MODELS[self.model]

    @property
    def lambda_phys_per_h(self) -> float:
        return decay_constant_per_h(self.half_life_h)

    def typical(self) -> dict[str, float]:
        return kinetic_summary(self.population_model, self.population_mean)

    def between_patient_cv(self) -> dict[str, float]:
        """CV of each log-normal parameter: sqrt(exp(omega²) − 1)."""
        names = [name.replace("ln_", "", 1) for name in self.parameter_names]
        return {name: math.sqrt(math.expm1(float(v))) for name, v in zip(names, np.diag(self.omega))}

    def method_description(self) -> str:
        return (
            f"Population {self.model} model {self.population_model.formula} fitted to the non-decay-corrected "
            f"activities of {self.n_patients} patients ({self.n_observations} points) by non-linear mixed effects: "
            f"{METHOD_NAME}; log-normal parameters with independent (diagonal) between-patient variances, "
            f"proportional residual error (λp = ln2/{self.half_life_h:.3f} h)"
        )

    def to_document(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "parameter_names": list(self.parameter_names),
            "population_mean": self.population_mean.tolist(),
            "omega": self.omega.tolist(),
            "residual_sd_log": self.residual_sd,
            "population_mean_covariance": self.mean_covariance.tolist(),
            "typical": self.typical(),
            "between_patient_cv": self.between_patient_cv(),
            "residual_error_cv": math.sqrt(math.expm1(self.residual_sd**2)),
            "method": self.method_description(),
            "converged": self.converged,
            "iterations": self.iterations,
            "minus_2_log_likelihood": self.minus_2_log_likelihood,
            "aic": self.aic,
            "akaike_weight": self.akaike_weight,
            "candidates": list(self.candidates),
            "n_patients": self.n_patients,
            "n_observations": self.n_observations,
            "half_life_h": self.half_life_h,
            "flags": list(self.flags),
        }


@dataclass
class PopulationFit:
    """Every region's population and every patient's TIA; ``unfitted`` names regions with too few patients."""

    regions: dict[str, RegionPopulation]
    unfitted: dict[str, str]
    half_life_h: float
    calibration_rel_uncertainty: float
    model_requested: str

    @property
    def patients(self) -> list[PatientKinetics]:
        return [patient for region in self.regions.values() for patient in region.patients]

    def to_document(self) -> dict[str, Any]:
        """The ``population.json`` document (also the input of :func:`load_population`)."""
        return {
            "format": POPULATION_FORMAT,
            "format_version": POPULATION_FORMAT_VERSION,
            "method": METHOD_NAME,
            "model_requested": self.model_requested,
            "half_life_h": self.half_life_h,
            "calibration_rel_uncertainty": self.calibration_rel_uncertainty,
            "regions": {name: region.to_document() for name, region in self.regions.items()},
            "regions_without_population_fit": dict(self.unfitted),
        }


# --- data -----------------------------------------------------------------------------------------------------
@dataclass
class _RegionData:
    """Padded arrays of one region: M patients, up to n points each."""

    patients: list[PatientTac]
    time_h: np.ndarray  # [M, n]
    log_activity: np.ndarray  # [M, n]
    mask: np.ndarray  # [M, n] bool
    log_administered: np.ndarray  # [M]

    @property
    def n_observations(self) -> int:
        return int(self.mask.sum())


def _region_data(patients: Sequence[PatientTac]) -> _RegionData:
    checked = []
    for tac in patients:
        times, activity, _ = check_tac(tac.time_h, tac.activity_mbq)
        administered = check_positive_number(tac.administered_mbq, f"administered_mbq of patient {tac.patient!r}")
        checked.append((times, activity, administered))
    n_max = max(len(times) for times, _, _ in checked)
    shape = (len(checked), n_max)
    time_h = np.ones(shape)
    log_activity = np.zeros(shape)
    mask = np.zeros(shape, bool)
    for row, (times, activity, _) in enumerate(checked):
        time_h[row, : times.size] = times
        log_activity[row, : times.size] = np.log(activity)
        mask[row, : times.size] = True
    log_administered = np.log([administered for _, _, administered in checked])
    return _RegionData(list(patients), time_h, log_activity, mask, log_administered)


# --- the conditional (MAP) step -------------------------------------------------------------------------------
def _map_step(model, data: _RegionData, phi, mu, omega_inv, sigma, lambda_phys):
    """Modes phi_i of the individual objectives (vectorised Levenberg-Marquardt) and their curvature H_i."""
    low, high = model.bounds(lambda_phys)
    mask = data.mask.astype(float)

    def evaluate(values):
        log_a, grad = log_activity_and_gradient(model, values, data.time_h, data.log_administered)
        residual = (data.log_activity - log_a) * mask
        deviation = values - mu
        cost = np.sum(residual**2, axis=1) / sigma**2 + np.einsum("mi,ij,mj->m", deviation, omega_inv, deviation)
        grad = grad * mask[..., None]
        return cost, residual, grad, deviation

    cost, residual, grad, deviation = evaluate(phi)
    damping = np.full(phi.shape[0], 1e-3)
    active = np.ones(phi.shape[0], bool)
    identity = np.eye(phi.shape[1])
    for _ in range(_MAX_MAP_ITERATIONS):
        if not active.any():
            break
        hessian = np.einsum("mnq,mnr->mqr", grad, grad) / sigma**2 + omega_inv
        gradient = -np.einsum("mnq,mn->mq", grad, residual) / sigma**2 + deviation @ omega_inv
        diagonal = np.einsum("mqq->mq", hessian)
        system = hessian + damping[:, None, None] * diagonal[:, :, None] * identity
        step = -np.linalg.solve(system, gradient[..., None])[..., 0]
        step = np.clip(step, -_MAX_LOG_STEP, _MAX_LOG_STEP)
        step[~active] = 0.0
        trial = np.clip(phi + step, low, high)
        trial_cost, trial_residual, trial_grad, trial_deviation = evaluate(trial)
        better = active & np.isfinite(trial_cost) & (trial_cost <= cost)
        small = np.max(np.abs(trial - phi), axis=1) < 1e-9
        decrease = (cost - trial_cost) <= 1e-12 * (1.0 + cost)
        phi = np.where(better[:, None], trial, phi)
        residual = np.where(better[:, None], trial_residual, residual)
        grad = np.where(better[:, None, None], trial_grad, grad)
        deviation = np.where(better[:, None], trial_deviation, deviation)
        cost = np.where(better, trial_cost, cost)
        damping = np.where(better, damping / 3.0, damping * 4.0)
        active &= ~((better & (small | decrease)) | (damping > 1e12))
    hessian = np.einsum("mnq,mnr->mqr", grad, grad) / sigma**2 + omega_inv
    return phi, hessian, residual, grad, cost


def _minus_2_log_likelihood(data, sigma, omega, hessian, cost) -> float:
    """Laplace approximation of −2 log L (module docstring), on the ln A scale."""
    n_i = data.mask.sum(axis=1)
    _, log_det_omega = np.linalg.slogdet(omega)
    _, log_det_h = np.linalg.slogdet(hessian)
    return float(np.sum(n_i * math.log(2.0 * math.pi * sigma**2) + cost + log_det_omega + log_det_h))


def _symmetric_floor(matrix: np.ndarray, floor: float) -> np.ndarray:
    matrix = 0.5 * (matrix + matrix.T)
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.maximum(values, floor)) @ vectors.T


# --- initial values -------------------------------------------------------------------------------------------
def _initial_mean(model, data: _RegionData, lambda_phys: float) -> np.ndarray:
    """Naive pooled fit (one curve for all patients, activity per administered MBq) from a few starts."""
    from scipy.optimize import least_squares

    mask = data.mask
    late = mask & (data.time_h >= 20.0)
    use = late if late.sum() >= 2 and np.unique(data.time_h[late]).size >= 2 else mask
    t = data.time_h[use]
    y = data.log_activity[use] - np.broadcast_to(data.log_administered[:, None], mask.shape)[use]
    if np.unique(t).size >= 2:
        slope = float(np.polyfit(t, y, 1)[0])
    else:
        slope = -(lambda_phys + math.log(2.0) / 100.0)
    lambda_eff = lambda_phys + min(max(-slope - lambda_phys, 1e-4), 1.0)
    normalised = data.log_activity - data.log_administered[:, None]
    tiac_guess = float(np.exp(np.median(normalised[mask] + lambda_eff * data.time_h[mask]))) / lambda_eff
    starts = [[math.log(tiac_guess), math.log(lambda_eff)]]
    if model.name == "biexp-uptake":
        starts = [[math.log(tiac_guess), math.log(lambda_eff), math.log(k)] for k in (0.05, 0.3, 2.0)]
    low, high = model.bounds(lambda_phys)
    rows = np.nonzero(mask)

    def residuals(theta):
        phi = np.broadcast_to(theta, (mask.shape[0], theta.size))
        log_a, _ = log_activity_and_gradient(model, np.array(phi), data.time_h, data.log_administered)
        return (data.log_activity - log_a)[rows]

    best = None
    for start in starts:
        start = np.clip(np.array(start, float), low + 1e-6, high - 1e-6)
        result = least_squares(residuals, start, bounds=(low, high), method="trf", max_nfev=200)
        if best is None or result.cost < best.cost:
            best = result
    return best.x


# --- the EM fit of one region and model ---------------------------------------------------------------------
def _fit_region_model(model: PopulationModel, data: _RegionData, lambda_phys: float) -> dict[str, Any]:
    q = model.n_parameters
    mu = _initial_mean(model, data, lambda_phys)
    omega = np.eye(q) * _INITIAL_OMEGA
    sigma = _INITIAL_SIGMA
    phi = np.tile(mu, (len(data.patients), 1))
    n_obs = data.n_observations
    previous = math.inf
    converged = False
    iterations = 0
    for iterations in range(1, _MAX_EM_ITERATIONS + 1):  # noqa: B007 (the count is reported)
        omega_inv = np.linalg.inv(omega)
        phi, hessian, residual, grad, cost = _map_step(model, data, phi, mu, omega_inv, sigma, lambda_phys)
        objective = _minus_2_log_likelihood(data, sigma, omega, hessian, cost)
        posterior = np.linalg.inv(hessian)
        new_mu = phi.mean(axis=0)
        centred = phi - new_mu
        new_omega = _symmetric_floor(
            (np.einsum("mi,mj->ij", centred, centred) + posterior.sum(axis=0)) / (len(data.patients) - 1),
            _OMEGA_FLOOR,
        )
        new_omega = np.diag(np.diag(new_omega))  # diagonal Omega (module docstring)
        spread = np.einsum("mnq,mqr,mnr->mn", grad, posterior, grad)
        new_sigma = max(math.sqrt(float(np.sum(residual**2 + spread * data.mask)) / n_obs), _SIGMA_FLOOR)
        change = max(
            float(np.max(np.abs(new_mu - mu))),
            float(np.max(np.abs(new_omega - omega))),
            abs(new_sigma - sigma) / sigma,
        )
        mu, omega, sigma = new_mu, new_omega, new_sigma
        if abs(previous - objective) <= _EM_OBJECTIVE_TOLERANCE * (1.0 + abs(objective)) and \
                change <= _EM_PARAMETER_TOLERANCE:
            converged = True
            break
        previous = objective
    omega_inv = np.linalg.inv(omega)
    phi, hessian, residual, grad, cost = _map_step(model, data, phi, mu, omega_inv, sigma, lambda_phys)
    objective = _minus_2_log_likelihood(data, sigma, omega, hessian, cost)
    n_population_parameters = q + q * (q + 1) // 2 + 1
    return {
        "mu": mu, "omega": omega, "sigma": sigma, "phi": phi, "posterior": np.linalg.inv(hessian),
        "objective": objective, "aic": objective + 2.0 * n_population_parameters, "converged": converged,
        "iterations": iterations,
    }


def _mean_covariance(omega: np.ndarray, posterior: np.ndarray) -> np.ndarray:
    """V_mu = [sum_j (Omega^-1 − Omega^-1 Sigma_j Omega^-1)]^-1 (linearised GLS variance of the mean)."""
    omega_inv = np.linalg.inv(omega)
    information = sum(omega_inv - omega_inv @ sigma_j @ omega_inv for sigma_j in posterior)
    information = _symmetric_floor(information, 1e-12)
    return np.linalg.inv(information)


def _patient_uncertainty(posterior_i, omega, mean_covariance) -> float:
    """Variance of ln TIAC: posterior + the part from the estimated population mean (module docstring)."""
    gain = posterior_i @ np.linalg.inv(omega)
    variance = posterior_i + gain @ mean_covariance @ gain.T
    return float(variance[0, 0])


def _patient_result(region_population: RegionPopulation, tac: PatientTac, phi, posterior_i, calibration, flags,
                    method) -> PatientKinetics:
    model = region_population.population_model
    summary = kinetic_summary(model, phi)
    variance = _patient_uncertainty(posterior_i, region_population.omega, region_population.mean_covariance)
    factor = coverage_factor(max(region_population.n_patients - 1, 1))
    rel = math.sqrt(factor**2 * max(variance, 0.0) + calibration**2)
    shrinkage = 1.0 - math.sqrt(max(posterior_i[0, 0], 0.0) / region_population.omega[0, 0])
    tiac = summary["tiac_h"]
    return PatientKinetics(
        patient=tac.patient,
        region=tac.region,
        model=region_population.model,
        tia_mbq_h=tiac * float(tac.administered_mbq),
        tiac_h=tiac,
        tia_rel_uncertainty=rel,
        effective_half_life_h=summary["effective_half_life_h"],
        uptake_half_time_h=summary.get("uptake_half_time_h"),
        n_points=len(tac.time_h),
        administered_mbq=float(tac.administered_mbq),
        parameters={name: float(value) for name, value in zip(model.parameter_names, phi)},
        time_h=[float(v) for v in tac.time_h],
        activity_mbq=[float(v) for v in tac.activity_mbq],
        shrinkage=shrinkage,
        method=method,
        flags=list(flags),
    )


# --- public API -----------------------------------------------------------------------------------------------
def fit_population(
    tacs: Sequence[PatientTac],
    model: str = "auto",
    half_life_h: float = LU177_HALF_LIFE_H,
    calibration_rel_uncertainty: float = 0.0,
) -> PopulationFit:
    """NLME fit per region of ``tacs`` (one :class:`PatientTac` per patient and region; module docstring).

    ``model``: "auto" (AIC between biexp-uptake and mono per region), "biexp-uptake" or "mono". Regions with
    fewer than :data:`MIN_PATIENTS` patients get no population fit and are named in ``unfitted``.
    Raises :class:`KineticsInputError` on bad input.
    """
    if model != "auto" and model not in POPULATION_MODEL_NAMES:
        raise KineticsInputError(
            f"unknown population model {model!r}: choose 'auto' or one of {', '.join(POPULATION_MODEL_NAMES)}."
        )
    half_life = check_positive_number(half_life_h, "half_life_h")
    calibration = check_positive_number(calibration_rel_uncertainty, "calibration_rel_uncertainty", True)
    lambda_phys = decay_constant_per_h(half_life)
    by_region: dict[str, list[PatientTac]] = {}
    for tac in tacs:
        by_region.setdefault(str(tac.region), []).append(tac)
    if not by_region:
        raise KineticsInputError("no time-activity data given to the population fit.")
    regions, unfitted = {}, {}
    for region, patients in by_region.items():
        names = [str(tac.patient) for tac in patients]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise KineticsInputError(
                f"region {region!r}: patient(s) {', '.join(duplicated)} appear more than once.",
                "Give one time-activity curve per patient and region.",
            )
        if len(patients) < MIN_PATIENTS:
            unfitted[region] = (
                f"{len(patients)} patient(s): a population fit needs at least {MIN_PATIENTS}; fit them alone "
                "(ragaliv tac)"
            )
            continue
        regions[region] = _fit_region(region, patients, model, half_life, lambda_phys, calibration)
    return PopulationFit(regions, unfitted, half_life, calibration, model)


def _fit_region(region, patients, model_name, half_life, lambda_phys, calibration) -> RegionPopulation:
    data = _region_data(patients)
    names = POPULATION_MODEL_NAMES if model_name == "auto" else (model_name,)
    fits = {name: _fit_region_model(POPULATION_MODELS[name], data, lambda_phys) for name in names}
    weights = akaike_weights([fits[name]["aic"] for name in names])
    chosen = min(names, key=lambda name: fits[name]["aic"])
    fit = fits[chosen]
    candidates = [
        {"model": name, "aic": fits[name]["aic"], "akaike_weight": weight,
         "minus_2_log_likelihood": fits[name]["objective"], "converged": fits[name]["converged"]}
        for name, weight in zip(names, weights)
    ]
    flags = []
    if not fit["converged"]:
        flags.append(f"the EM iterations did not converge in {fit['iterations']} steps: treat the numbers with care")
    if not (data.time_h[data.mask] < 12.0).any() and chosen == "biexp-uptake":
        flags.append("no point before 12 h in the cohort: the uptake half-time is not determined by the data")
    population = RegionPopulation(
        region=region,
        model=chosen,
        parameter_names=list(POPULATION_MODELS[chosen].parameter_names),
        population_mean=fit["mu"],
        omega=fit["omega"],
        residual_sd=float(fit["sigma"]),
        mean_covariance=_mean_covariance(fit["omega"], fit["posterior"]),
        half_life_h=half_life,
        converged=bool(fit["converged"]),
        iterations=int(fit["iterations"]),
        minus_2_log_likelihood=float(fit["objective"]),
        aic=float(fit["aic"]),
        akaike_weight=weights[names.index(chosen)],
        n_patients=len(patients),
        n_observations=data.n_observations,
        candidates=candidates,
        flags=flags,
    )
    selection = "selected by AIC between biexp-uptake and mono" if model_name == "auto" else "model fixed by the user"
    method = f"{population.method_description()}; {selection}; this patient's TIA is its empirical Bayes estimate"
    for index, tac in enumerate(patients):
        population.patients.append(
            _patient_result(population, tac, fit["phi"][index], fit["posterior"][index], calibration,
                            _patient_flags(tac.time_h, population), method)
        )
    return population


# A single point whose TIA moves by more than half the relative change of the clearance rate (|1 − λ t| > 0.5)
# is far from the best single-time-point time t = 1/λ_eff (Madsen 2018 / Hou 2021 reasoning, dosimetry notes §4.2).
SINGLE_POINT_SENSITIVITY_LIMIT = 0.5


def _patient_flags(time_h: Sequence[float], population: RegionPopulation) -> list[str]:
    flags = list(population.flags)
    n_points = len(time_h)
    if n_points < population.population_model.n_parameters:
        flags.append(
            f"{n_points} point(s) for {population.population_model.n_parameters} parameters: the curve leans on the "
            "population prior"
        )
    if n_points == 1:
        rate = math.exp(float(population.population_mean[1]))
        sensitivity = 1.0 - rate * float(time_h[0])
        if abs(sensitivity) > SINGLE_POINT_SENSITIVITY_LIMIT:
            flags.append(
                f"single point at {float(time_h[0]):g} h, far from the best single time 1/λeff ≈ {1.0 / rate:.0f} h: "
                f"the TIA moves by {abs(sensitivity):.1f}× any error of the clearance rate, so it rests on the "
                "population's clearance (a low late value may be low uptake or fast clearance)"
            )
    return flags


def population_from_document(document: dict[str, Any], region: str) -> RegionPopulation:
    """The :class:`RegionPopulation` of ``region`` from a ``population.json`` document (for use as a prior)."""
    if not isinstance(document, dict) or document.get("format") != POPULATION_FORMAT:
        raise KineticsInputError(
            "not a Ragaliv population document (population.json from `ragaliv population`).",
            "Give the population.json written by `ragaliv population`.",
        )
    regions = document.get("regions") or {}
    if region not in regions:
        known = ", ".join(sorted(regions)) or "none"
        raise KineticsInputError(
            f"the population has no region {region!r} (regions: {known}).",
            "Name the VOI as in the cohort, or fit a population for this region.",
        )
    entry = regions[region]
    try:
        model = str(entry["model"])
        q = POPULATION_MODELS[model].n_parameters
        mean = np.asarray(entry["population_mean"], dtype=float).reshape(q)
        omega = np.asarray(entry["omega"], dtype=float).reshape(q, q)
        mean_covariance = np.asarray(entry["population_mean_covariance"], dtype=float).reshape(q, q)
        sigma = float(entry["residual_sd_log"])
        half_life = float(entry.get("half_life_h", document.get("half_life_h", LU177_HALF_LIFE_H)))
    except (KeyError, TypeError, ValueError) as error:
        raise KineticsInputError(
            f"population.json region {region!r} is incomplete or malformed ({error}).",
            "Write it again with `ragaliv population`.",
        ) from None
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(omega)) and math.isfinite(sigma) and sigma > 0):
        raise KineticsInputError(f"population.json region {region!r} has non-finite parameters.")
    if np.any(np.linalg.eigvalsh(0.5 * (omega + omega.T)) <= 0.0):
        raise KineticsInputError(f"population.json region {region!r}: omega is not positive definite.")
    return RegionPopulation(
        region=region, model=model, parameter_names=list(POPULATION_MODELS[model].parameter_names),
        population_mean=mean, omega=omega, residual_sd=sigma, mean_covariance=mean_covariance,
        half_life_h=half_life, converged=bool(entry.get("converged", True)),
        iterations=int(entry.get("iterations", 0)),
        minus_2_log_likelihood=float(entry.get("minus_2_log_likelihood", math.nan)),
        aic=float(entry.get("aic", math.nan)), n_patients=int(entry.get("n_patients", 0)),
        n_observations=int(entry.get("n_observations", 0)), flags=list(entry.get("flags", [])),
    )


def load_population(path: str) -> dict[str, Any]:
    """Read ``population.json`` (raises :class:`KineticsInputError` with a fix when it cannot be used)."""
    import json

    try:
        with open(path, encoding="utf-8") as stream:
            document = json.load(stream)
    except FileNotFoundError:
        raise KineticsInputError(f"population file not found: {path}", "Give the population.json path.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise KineticsInputError(f"{path} is not a readable JSON file ({error}).") from None
    if not isinstance(document, dict) or document.get("format") != POPULATION_FORMAT:
        raise KineticsInputError(
            f"{path} is not a Ragaliv population document.", "Give the population.json of `ragaliv population`."
        )
    return document


def fit_with_population_prior(
    time_h,
    activity_mbq,
    administered_mbq: float,
    population: RegionPopulation,
    patient: str = "",
    calibration_rel_uncertainty: float = 0.0,
) -> PatientKinetics:
    """One patient's TIA from a few points (1 or more) with a saved population as prior (MAP, empirical Bayes).

    The population (μ, Ω, σ and the uncertainty of μ) stays fixed; the patient's curve is the mode of its
    posterior, the TIA uncertainty as in the population fit (module docstring) plus the calibration term.
    """
    calibration = check_positive_number(calibration_rel_uncertainty, "calibration_rel_uncertainty", True)
    tac = PatientTac(patient, population.region, list(np.atleast_1d(time_h)), list(np.atleast_1d(activity_mbq)),
                     administered_mbq)
    data = _region_data([tac])
    model = population.population_model
    omega_inv = np.linalg.inv(population.omega)
    phi, hessian, _, _, _ = _map_step(model, data, population.population_mean[None, :].copy(),
                                      population.population_mean, omega_inv, population.residual_sd,
                                      population.lambda_phys_per_h)
    method = (
        f"Empirical Bayes (MAP) fit of the population {model.name} model of region {population.region!r} "
        f"({population.n_patients} patients, {METHOD_NAME}) to this patient's {len(tac.time_h)} point(s)"
    )
    flags = [*_patient_flags(tac.time_h, population), "TIA from a saved population prior"]
    return _patient_result(population, tac, phi[0], np.linalg.inv(hessian[0]), calibration, flags, method)
