"""Model selection (AICc, Akaike weights, quality flags), fallbacks and TIA uncertainty."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ragaliv.constants import LU177_DECAY_CONSTANT_PER_H
from ragaliv.kinetics import fit_tac
from ragaliv.kinetics.models import EXPONENTIAL_MODELS
from ragaliv.kinetics.quality import aicc, akaike_weights

LP = LU177_DECAY_CONSTANT_PER_H
TIMES_H = np.array([0.5, 1.0, 2.0, 4.0, 8.0, 24.0, 48.0, 72.0, 96.0, 144.0, 200.0, 300.0])
GENERATORS = {
    "mono": [100.0, 0.01],
    "biexp-uptake": [100.0, 0.01, 0.5],
    "biexp": [60.0, 40.0, 0.005, 0.1],
    "triexp": [60.0, 60.0, 0.005, 0.1, 1.0],
}


def _noisy(name, seed, rel_noise=0.01, times=TIMES_H):
    model = EXPONENTIAL_MODELS[name]
    params = np.array(GENERATORS[name])
    clean = model.evaluate(params, times, LP)
    rng = np.random.default_rng(seed)
    return clean * (1.0 + rel_noise * rng.standard_normal(times.size)), model.tia(params, LP)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", list(GENERATORS))
def test_auto_selects_the_generating_model(name, seed):
    activity, true_tia = _noisy(name, seed)
    result = fit_tac(TIMES_H, activity)
    assert result.model == name, [(c.model, c.aicc, c.reason) for c in result.candidates]
    assert result.tia_mbq_h == pytest.approx(true_tia, rel=0.03)
    assert [c.model for c in result.candidates] == ["mono", "biexp-uptake", "biexp", "triexp"]
    weights = [c.akaike_weight for c in result.candidates if c.akaike_weight is not None]
    assert sum(weights) == pytest.approx(1.0)
    assert result.akaike_weight == max(weights)
    assert result.aicc == min(c.aicc for c in result.candidates if c.akaike_weight is not None)
    assert "AICc" in result.method_description


def test_aicc_formula_and_weights():
    # N ln(RSS/N) + 2K + 2K(K+1)/(N-K-1) with N = 10, K = 2, RSS = 5
    assert aicc(5.0, 10, 2, 0.0) == pytest.approx(10 * math.log(0.5) + 4 + 12 / 7)
    assert aicc(5.0, 4, 3, 0.0) is None  # N < K + 2
    assert aicc(0.0, 10, 2, 1e-6) == pytest.approx(10 * math.log(1e-7) + 4 + 12 / 7)  # RSS floor
    weights = akaike_weights([10.0, 12.0, None])
    assert weights[2] is None
    assert weights[0] == pytest.approx(1.0 / (1.0 + math.exp(-1.0)))
    assert sum(w for w in weights if w is not None) == pytest.approx(1.0)


def test_noiseless_data_use_the_rss_floor_and_pick_the_simplest_model():
    times = np.array([1.0, 4.0, 24.0, 48.0, 72.0, 96.0, 168.0])
    activity = 50.0 * np.exp(-(LP + 0.02) * times)
    result = fit_tac(times, activity)
    assert result.model == "mono"
    assert all(c.aicc is not None and math.isfinite(c.aicc) for c in result.candidates)
    assert result.tia_mbq_h == pytest.approx(50.0 / (LP + 0.02), rel=1e-6)


def test_quality_flags_on_overparameterised_fit():
    activity, _ = _noisy("mono", 0)
    result = fit_tac(TIMES_H, activity, model="triexp")
    assert result.model == "triexp"
    assert result.flags, "an over-parameterised tri-exponential on mono data must be flagged"
    assert result.akaike_weight is None  # a fixed model is not compared


def test_few_points():
    one = fit_tac([96.0], [40.0])
    assert one.model == "stp" and "Hänscheid" in one.warnings[0]
    times = [4.0, 24.0, 72.0]
    activity = [100.0 * math.exp(-(LP + 0.01) * t) for t in times]
    three = fit_tac(times, activity)
    assert three.model == "mono" and three.aicc is None
    assert any("without AICc" in w for w in three.warnings)
    two = fit_tac(times[:2], activity[:2])
    assert two.model == "mono"
    assert two.tia_sigma_mbq_h is None and any("N = 2 points = K = 2" in f for f in two.flags)
    four = fit_tac([4.0, 24.0, 72.0, 168.0], [100.0 * math.exp(-(LP + 0.01) * t) for t in (4, 24, 72, 168)])
    # 4 points: mono and biexp-uptake ranked by AIC (AICc undefined for the uptake model at N = K + 1). On
    # noiseless mono data both fits reach the RSS floor, so AIC differs by the penalty 2 (one parameter more).
    assert [c.model for c in four.candidates] == ["mono", "biexp-uptake"]
    assert four.model == "mono" and four.selection_criterion == "AIC"
    assert four.akaike_weight == pytest.approx(1.0 / (1.0 + math.exp(-1.0)))
    assert any("not considered" in w for w in four.warnings)


@pytest.mark.parametrize("model", ["auto", "mono"])
def test_rising_activity_falls_back_to_trapezoid_by_name(model):
    times = [4.0, 24.0, 72.0, 168.0, 200.0]
    activity = [10.0, 20.0, 30.0, 40.0, 45.0]
    result = fit_tac(times, activity, model=model)
    assert result.model == "trapezoid"
    assert any("fell back to 'trapezoid'" in w for w in result.warnings)
    assert result.candidates[-1].model == "trapezoid"
    assert "fallback" in result.method_description
    if model == "auto":
        assert any("highest at the last time point" in c.reason for c in result.candidates[:-1])


def test_rising_three_points_fall_back():
    result = fit_tac([4.0, 24.0, 72.0], [10.0, 20.0, 30.0])
    assert result.model == "trapezoid"
    assert any("mono unusable" in w for w in result.warnings)


# --- uncertainty ---------------------------------------------------------------------------------------
def test_propagated_sigma_matches_monte_carlo_for_mono():
    times = np.array([4.0, 24.0, 72.0, 168.0])
    truth = 100.0 * np.exp(-(LP + 0.01) * times)
    sigma = 0.05 * truth
    reference = fit_tac(times, truth, sigma_mbq=sigma, model="mono")
    rng = np.random.default_rng(20180901)
    tias = [
        fit_tac(
            times, truth + sigma * rng.standard_normal(times.size), sigma_mbq=sigma, model="mono"
        ).tia_mbq_h
        for _ in range(200)
    ]
    mc_sigma = float(np.std(tias, ddof=1))
    assert reference.tia_sigma_mbq_h == pytest.approx(mc_sigma, rel=0.15)
    assert "weighted (1/sigma^2)" in reference.method_description


def test_calibration_uncertainty_adds_in_quadrature():
    times = np.array([4.0, 24.0, 72.0, 168.0])
    activity, _ = _noisy("mono", 3, rel_noise=0.03, times=times)
    sigma = 0.03 * activity
    without = fit_tac(times, activity, sigma_mbq=sigma, model="mono")
    with_cal = fit_tac(times, activity, sigma_mbq=sigma, model="mono", calibration_rel_uncertainty=0.08)
    assert with_cal.tia_mbq_h == without.tia_mbq_h
    expected = math.sqrt(without.tia_rel_uncertainty**2 + 0.08**2)
    assert with_cal.tia_rel_uncertainty == pytest.approx(expected, rel=1e-12)
    assert with_cal.tia_sigma_mbq_h == pytest.approx(expected * with_cal.tia_mbq_h, rel=1e-12)


@pytest.mark.parametrize("error_model", ["absolute", "relative"])
def test_residual_scaled_covariance_matches_mono_formula(error_model):
    # EANM (Gear 2018): u²(TIA) = u²(A0)/λ² + A0² u²(λ)/λ⁴ - 2 A0 cov(A0, λ)/λ³ is the standard uncertainty;
    # the stated 68 % half-width expands it by t_0.8413(N - K = 3) = 1.197 (GUM G.4: residual scale, 3 dof).
    times = np.array([4.0, 24.0, 72.0, 168.0, 240.0])
    activity, _ = _noisy("mono", 5, rel_noise=0.05, times=times)
    result = fit_tac(times, activity, model="mono", error_model=error_model)
    a0 = result.parameters["a0_mbq"]
    lam = LP + result.parameters["lambda_bio_per_h"]
    s_a, s_l = result.parameter_sigma["a0_mbq"], result.parameter_sigma["lambda_bio_per_h"]
    cov = result.correlation[0][1] * s_a * s_l
    variance = s_a**2 / lam**2 + a0**2 * s_l**2 / lam**4 - 2 * a0 * cov / lam**3
    assert result.tia_standard_uncertainty_mbq_h == pytest.approx(math.sqrt(variance), rel=1e-9)
    assert result.tia_uncertainty_dof == pytest.approx(3.0)
    assert result.tia_coverage_factor == pytest.approx(1.19688, abs=1e-5)  # Student t, 3 dof, 84.13 %
    assert result.tia_sigma_mbq_h == pytest.approx(1.19688 * math.sqrt(variance), rel=1e-5)


def test_exact_fit_with_sigma_keeps_absolute_uncertainty():
    result = fit_tac([24.0, 96.0], [50.0, 30.0], sigma_mbq=[2.5, 1.5], model="mono")
    assert result.tia_sigma_mbq_h is not None and result.tia_sigma_mbq_h > 0
    calibration_only = fit_tac([24.0, 96.0], [50.0, 30.0], model="mono", calibration_rel_uncertainty=0.1)
    assert calibration_only.tia_rel_uncertainty == pytest.approx(0.1)
    assert any("calibration only" in f for f in calibration_only.flags)


@settings(max_examples=6, deadline=None)
@given(
    a0_mbq=st.floats(10.0, 1000.0),
    lambda_bio_per_h=st.floats(0.0, 0.05),
    rel_noise=st.floats(0.0, 0.1),
    seed=st.integers(0, 2**16),
)
def test_auto_result_numbers_are_finite_or_explained(a0_mbq, lambda_bio_per_h, rel_noise, seed):
    times = np.array([1.0, 4.0, 24.0, 48.0, 96.0, 168.0])
    rng = np.random.default_rng(seed)
    activity = a0_mbq * np.exp(-(LP + lambda_bio_per_h) * times) * (1 + rel_noise * rng.uniform(-1, 1, 6))
    result = fit_tac(times, activity, calibration_rel_uncertainty=0.05)
    assert math.isfinite(result.tia_mbq_h) and result.tia_mbq_h > 0
    assert math.isfinite(result.effective_half_life_h) and result.effective_half_life_h > 0
    assert result.tia_sigma_mbq_h is not None and math.isfinite(result.tia_sigma_mbq_h)
    assert all(math.isfinite(v) for v in result.parameters.values())
    assert all(math.isfinite(v) for v in result.parameter_sigma.values())
    truth = a0_mbq / (LP + lambda_bio_per_h)
    assert result.tia_mbq_h == pytest.approx(truth, rel=0.25)
