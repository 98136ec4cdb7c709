"""Population kinetics core: model algebra, exact recovery on noiseless cohorts, the prior, input errors."""

import json
import math

import numpy as np
import pytest
from ragaliv.constants import LU177_DECAY_CONSTANT_PER_H
from ragaliv.kinetics import (
    KineticsInputError,
    PatientTac,
    fit_population,
    fit_with_population_prior,
    population_from_document,
)
from ragaliv.kinetics.population_models import POPULATION_MODELS, curve_mbq, log_activity_and_gradient
from scipy.integrate import quad

LP = LU177_DECAY_CONSTANT_PER_H
FULL = (4.0, 24.0, 72.0, 168.0)


def uptake_tac(tiac_h, effective_h, uptake_h, times, administered=7400.0):
    clearance, uptake = math.log(2) / effective_h, math.log(2) / uptake_h
    scale = tiac_h * administered / (1 / clearance - 1 / uptake)
    return (scale * (np.exp(-clearance * np.asarray(times)) - np.exp(-uptake * np.asarray(times)))).tolist()


@pytest.mark.parametrize("name", ["biexp-uptake", "mono"])
def test_gradient_and_integral_of_the_population_models(name):
    model = POPULATION_MODELS[name]
    phi = np.array([[math.log(3.0), math.log(0.012), math.log(0.3)][: model.n_parameters],
                    [math.log(0.4), math.log(LP * 1.5), math.log(2.0)][: model.n_parameters]])
    times = np.array([[0.5, 4.0, 24.0, 72.0, 168.0, 600.0]] * 2)
    log_d = np.log([7400.0, 5550.0])
    _, analytic = log_activity_and_gradient(model, phi, times, log_d)
    for j in range(model.n_parameters):
        step = np.zeros_like(phi)
        step[:, j] = 1e-6
        numeric = (log_activity_and_gradient(model, phi + step, times, log_d)[0]
                   - log_activity_and_gradient(model, phi - step, times, log_d)[0]) / 2e-6
        np.testing.assert_allclose(analytic[..., j], numeric, atol=1e-7)
    # the first parameter is ln TIAC: the curve integrates to TIAC x administered activity
    area = quad(lambda t: float(curve_mbq(model, phi[0], [t], 7400.0)[0]), 0.0, np.inf, limit=400)[0]
    assert area == pytest.approx(3.0 * 7400.0, rel=1e-7)


def _cohort(effective_hs, uptake_hs, tiacs, designs):
    tacs, truth = [], {}
    for index, (effective, uptake, tiac, design) in enumerate(zip(effective_hs, uptake_hs, tiacs, designs)):
        patient = f"P{index}"
        tacs.append(PatientTac(patient, "Kidney", list(design), uptake_tac(tiac, effective, uptake, design), 7400.0))
        truth[patient] = tiac * 7400.0
    return tacs, truth


def test_noiseless_cohort_is_recovered_for_full_and_sparse_patients():
    """Every patient follows the uptake model exactly: full-data patients within 0.1 %, and the population
    typical curve near their median; sparse patients near their truth (the prior is only approximately theirs)."""
    effective = [50.0, 55.0, 60.0, 52.0, 58.0, 54.0, 56.0]
    uptake = [1.2, 1.5, 2.0, 1.8, 1.4, 1.6, 1.5]
    tiacs = [1.0, 1.3, 0.9, 1.2, 1.1, 1.25, 1.15]
    designs = [FULL] * 5 + [(24.0, 168.0), (72.0,)]
    tacs, truth = _cohort(effective, uptake, tiacs, designs)
    fit = fit_population(tacs, model="biexp-uptake")
    region = fit.regions["Kidney"]
    assert region.converged and region.model == "biexp-uptake"
    assert region.residual_sd < 0.01  # noiseless: only the floor and the sparse patients' misfit
    for estimate in region.patients:
        error = estimate.tia_mbq_h / truth[estimate.patient] - 1.0
        assert abs(error) < (0.001 if estimate.n_points == 4 else 0.05), (estimate.patient, error)
        assert estimate.tiac_h == pytest.approx(estimate.tia_mbq_h / 7400.0)
    typical = region.typical()
    assert typical["effective_half_life_h"] == pytest.approx(55.0, rel=0.05)
    assert typical["uptake_half_time_h"] == pytest.approx(1.5, rel=0.2)
    document = fit.to_document()
    assert document["format"] == "ragaliv-population"
    entry = json.loads(json.dumps(document))["regions"]["Kidney"]
    assert entry["model"] == "biexp-uptake" and entry["converged"] is True
    assert set(entry["between_patient_cv"]) == {"tiac_h", "lambda_eff_per_h", "uptake_rate_excess_per_h"}


def test_mono_model_and_auto_choice_without_an_uptake_phase():
    """Fast uptake (0.1 h): nothing of the uptake shows at 4 h, so AIC prefers mono in 'auto'."""
    effective = [40.0, 45.0, 50.0, 55.0, 60.0]
    tacs, truth = _cohort(effective, [0.1] * 5, [1.0, 1.1, 0.9, 1.2, 1.05], [FULL] * 5)
    fit = fit_population(tacs)
    region = fit.regions["Kidney"]
    assert region.model == "mono"
    assert [c["model"] for c in region.candidates] == ["biexp-uptake", "mono"]
    assert sum(c["akaike_weight"] for c in region.candidates) == pytest.approx(1.0)
    for estimate in region.patients:
        assert estimate.tia_mbq_h == pytest.approx(truth[estimate.patient], rel=0.01)
        assert estimate.uptake_half_time_h is None


def test_prior_with_a_single_point_and_the_flag_for_a_late_one():
    tacs, _ = _cohort([50.0, 55.0, 60.0, 52.0, 58.0], [1.2, 1.5, 2.0, 1.8, 1.4], [1.0, 1.3, 0.9, 1.2, 1.1],
                      [FULL] * 5)
    region = fit_population(tacs, model="biexp-uptake").regions["Kidney"]
    prior = population_from_document(json.loads(json.dumps(fit_population(tacs, "biexp-uptake").to_document())),
                                     "Kidney")
    truth_tiac = 1.1
    value = uptake_tac(truth_tiac, region.typical()["effective_half_life_h"], 1.5, [80.0])
    estimate = fit_with_population_prior([80.0], value, 7400.0, prior, patient="new", calibration_rel_uncertainty=0.05)
    assert estimate.patient == "new" and estimate.n_points == 1
    assert estimate.tiac_h == pytest.approx(truth_tiac, rel=0.03)
    assert estimate.tia_rel_uncertainty > 0.05
    assert any("saved population prior" in flag for flag in estimate.flags)
    late = fit_with_population_prior([300.0], uptake_tac(1.1, 55.0, 1.5, [300.0]), 7400.0, prior)
    assert any("far from the best single time" in flag for flag in late.flags)


def test_input_errors_and_regions_with_too_few_patients():
    tacs, _ = _cohort([50.0, 55.0], [1.5, 1.5], [1.0, 1.1], [FULL, FULL])
    fit = fit_population(tacs)
    assert not fit.regions and "at least 3" in fit.unfitted["Kidney"]
    with pytest.raises(KineticsInputError, match="unknown population model"):
        fit_population(tacs, model="triexp")
    with pytest.raises(KineticsInputError, match="appear more than once"):
        fit_population([tacs[0], tacs[0], tacs[1]])
    with pytest.raises(KineticsInputError, match="no time-activity data"):
        fit_population([])
    bad = PatientTac("P9", "Kidney", [4.0, 24.0], [10.0, -1.0], 7400.0)
    with pytest.raises(KineticsInputError, match="activities must be > 0"):
        fit_population([*tacs, bad])
    with pytest.raises(KineticsInputError, match="not a Ragaliv population"):
        population_from_document({"regions": {}}, "Kidney")
    with pytest.raises(KineticsInputError, match="no region 'Liver'"):
        population_from_document({"format": "ragaliv-population", "regions": {"Kidney": {}}}, "Liver")
    with pytest.raises(KineticsInputError, match="malformed"):
        population_from_document({"format": "ragaliv-population", "regions": {"Kidney": {"model": "mono"}}}, "Kidney")
