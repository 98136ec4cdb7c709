"""Kinetics models: analytic TIA, trapezoid and Hänscheid formulas, curves, input validation."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ragaliv.constants import LU177_DECAY_CONSTANT_PER_H, LU177_HALF_LIFE_H
from ragaliv.errors import RagalivInputError
from ragaliv.kinetics import MODEL_NAMES, KineticsInputError, fit_tac, tiac_h
from ragaliv.kinetics.models import EXPONENTIAL_MODELS, hanscheid_factor_h
from scipy.integrate import quad

LP = LU177_DECAY_CONSTANT_PER_H
LN2 = math.log(2.0)

# One parameter set per exponential model (amplitudes MBq, then lambda_bio 1/h), ordered rates.
PARAMS = {
    "mono": [100.0, 0.01],
    "biexp-uptake": [100.0, 0.01, 0.5],
    "biexp": [60.0, 40.0, 0.005, 0.1],
    "triexp": [60.0, 60.0, 0.005, 0.1, 1.0],
}


def test_model_names_are_the_public_list():
    assert MODEL_NAMES == ("mono", "biexp-uptake", "biexp", "triexp", "trapezoid", "stp")
    assert issubclass(KineticsInputError, RagalivInputError)


# --- analytic exponential integrals ----------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(
    a0_mbq=st.floats(1e-3, 1e5),
    lambda_bio_per_h=st.floats(0.0, 2.0),
)
def test_mono_tia_is_a0_times_teff_over_ln2(a0_mbq, lambda_bio_per_h):
    model = EXPONENTIAL_MODELS["mono"]
    t_eff_h = LN2 / (LP + lambda_bio_per_h)
    expected = a0_mbq * t_eff_h / LN2
    assert model.tia(np.array([a0_mbq, lambda_bio_per_h]), LP) == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("name", list(PARAMS))
def test_analytic_tia_matches_numerical_integral(name):
    model = EXPONENTIAL_MODELS[name]
    params = np.array(PARAMS[name])
    numeric, _ = quad(lambda t: float(model.evaluate(params, t, LP)), 0.0, np.inf, limit=400)
    assert model.tia(params, LP) == pytest.approx(numeric, rel=1e-6)


@pytest.mark.parametrize("name", list(PARAMS))
def test_jacobian_and_tia_gradient_match_finite_differences(name):
    model = EXPONENTIAL_MODELS[name]
    params = np.array(PARAMS[name])
    times = np.array([0.5, 4.0, 24.0, 96.0, 300.0])
    jac = model.jacobian(params, times, LP)
    grad = model.tia_gradient(params, LP)
    for k in range(params.size):
        step = 1e-6 * max(abs(params[k]), 1e-3)
        up, down = params.copy(), params.copy()
        up[k] += step
        down[k] -= step
        fd_curve = (model.evaluate(up, times, LP) - model.evaluate(down, times, LP)) / (2 * step)
        fd_tia = (model.tia(up, LP) - model.tia(down, LP)) / (2 * step)
        np.testing.assert_allclose(jac[:, k], fd_curve, rtol=1e-5, atol=1e-6)
        assert grad[k] == pytest.approx(fd_tia, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("name", ["biexp-uptake", "triexp"])
def test_uptake_models_start_at_zero(name):
    model = EXPONENTIAL_MODELS[name]
    assert float(model.evaluate(np.array(PARAMS[name]), 0.0, LP)) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=8, deadline=None)
@given(a0_mbq=st.floats(1.0, 1e4), lambda_bio_per_h=st.floats(0.0, 0.1))
def test_fit_tac_on_exact_mono_data_reproduces_the_analytic_tia(a0_mbq, lambda_bio_per_h):
    times = np.array([1.0, 4.0, 24.0, 48.0, 96.0, 168.0])
    activity = a0_mbq * np.exp(-(LP + lambda_bio_per_h) * times)
    for model in ("mono", "auto"):
        result = fit_tac(times, activity, model=model)
        assert result.model == "mono"
        expected = a0_mbq / (LP + lambda_bio_per_h)
        assert result.tia_mbq_h == pytest.approx(expected, rel=1e-3)
        assert result.effective_half_life_h == pytest.approx(LN2 / (LP + lambda_bio_per_h), rel=1e-3)


def test_fit_result_curve_and_serialisation():
    times = np.array([4.0, 24.0, 72.0, 168.0])
    activity = 80.0 * np.exp(-(LP + 0.02) * times)
    result = fit_tac(times, activity, model="mono", region="Kidney L")
    np.testing.assert_allclose(result.activity_mbq(times), activity, rtol=1e-6)
    assert result.parameters["a0_mbq"] == pytest.approx(80.0, rel=1e-6)
    assert result.parameters["lambda_bio_per_h"] == pytest.approx(0.02, rel=1e-5)
    as_dict = json.loads(json.dumps(result.to_dict()))
    assert as_dict["region"] == "Kidney L" and as_dict["model"] == "mono"
    assert as_dict["candidates"][0]["model"] == "mono"
    assert "non-decay-corrected" in result.method_description


# --- trapezoid ----------------------------------------------------------------------------------------
def test_trapezoid_formula_by_hand():
    # (0,0)-(1,10): 5; (1,10)-(2,20): 15; (2,20)-(4,10): 30 -> 50 MBq h; tail 10 / (ln2/10 h) = 144.2695 MBq h
    result = fit_tac([1.0, 2.0, 4.0], [10.0, 20.0, 10.0], model="trapezoid", half_life_h=10.0)
    tail = 10.0 * 10.0 / LN2
    assert result.model == "trapezoid"
    assert result.parameters["area_to_last_point_mbq_h"] == pytest.approx(50.0, rel=1e-12)
    assert result.parameters["tail_area_mbq_h"] == pytest.approx(tail, rel=1e-12)
    assert result.tia_mbq_h == pytest.approx(50.0 + tail, rel=1e-12)
    assert result.effective_half_life_h == 10.0
    assert any("physical half-life" in w for w in result.warnings)
    assert result.tia_sigma_mbq_h is None and any("no TIA uncertainty" in f for f in result.flags)


def test_trapezoid_uncertainty_and_curve():
    sigma = np.array([1.0, 2.0, 0.5])
    result = fit_tac(
        [1.0, 2.0, 4.0],
        [10.0, 20.0, 10.0],
        sigma_mbq=sigma,
        model="trapezoid",
        half_life_h=10.0,
        calibration_rel_uncertainty=0.05,
    )
    # TIA = 1.0*A1 + 1.5*A2 + (1.0 + 10/ln2)*A3
    weights = np.array([1.0, 1.5, 1.0 + 10.0 / LN2])
    fit_sigma = math.sqrt(np.sum((weights * sigma) ** 2))
    rel = math.sqrt((fit_sigma / result.tia_mbq_h) ** 2 + 0.05**2)
    assert result.tia_rel_uncertainty == pytest.approx(rel, rel=1e-12)
    assert result.tia_sigma_mbq_h == pytest.approx(rel * result.tia_mbq_h, rel=1e-12)
    curve = result.activity_mbq([0.0, 0.5, 1.0, 3.0, 4.0, 14.0])
    np.testing.assert_allclose(curve, [0.0, 5.0, 10.0, 15.0, 10.0, 5.0], rtol=1e-12)


def test_trapezoid_single_point_is_triangle_plus_tail():
    result = fit_tac([96.0], [50.0], model="trapezoid")
    assert result.tia_mbq_h == pytest.approx(0.5 * 96.0 * 50.0 + 50.0 * LU177_HALF_LIFE_H / LN2, rel=1e-12)


# --- Hänscheid single time point ----------------------------------------------------------------------
def test_hanscheid_formula_by_hand():
    result = fit_tac([96.0], [50.0], model="stp")
    assert result.model == "stp"
    assert result.tia_mbq_h == pytest.approx(50.0 * 192.0 / LN2, rel=1e-12)  # 13 849.9 MBq h
    assert result.tia_mbq_h == pytest.approx(13849.87, rel=1e-6)
    assert result.effective_half_life_h == 96.0
    assert any("0.41 <= T_eff/t <= 1.31" in f for f in result.flags)
    assert result.tia_sigma_mbq_h is None


def test_hanscheid_uses_point_nearest_96_h_and_checks_band():
    times = [4.0, 24.0, 90.0, 168.0]
    activity = [100.0 * math.exp(-(LP + 0.002) * t) for t in times]
    result = fit_tac(times, activity, sigma_mbq=2.0, model="stp", calibration_rel_uncertainty=0.1)
    assert result.parameters == {"activity_at_t_mbq": activity[2], "time_h": 90.0}
    assert result.tia_mbq_h == pytest.approx(activity[2] * 180.0 / LN2, rel=1e-12)
    rel = math.sqrt((2.0 / activity[2]) ** 2 + 0.1**2)
    assert result.tia_rel_uncertainty == pytest.approx(rel, rel=1e-12)
    # T_eff = ln2/(LP + 0.002) = 109 h, T_eff/t = 1.21: inside the band
    assert any("inside the ±10 % band" in f for f in result.flags)
    # The implied curve is the mono-exponential with T_eff = t through (t, A(t)).
    assert float(result.activity_mbq(180.0)) == pytest.approx(activity[2] / 2.0, rel=1e-12)


def test_hanscheid_exact_for_t_eff_equal_t():
    t_eff_h = 96.0
    activity = 100.0 * math.exp(-LN2 / t_eff_h * 96.0)
    truth = 100.0 * t_eff_h / LN2
    assert activity * hanscheid_factor_h(96.0) == pytest.approx(truth, rel=1e-12)


def test_hanscheid_flags_effective_half_life_outside_band():
    times = [4.0, 24.0, 96.0]
    activity = [100.0 * math.exp(-LN2 / 20.0 * t) for t in times]  # T_eff 20 h: T_eff/t = 0.21
    result = fit_tac(times, activity, model="stp")
    assert any("OUTSIDE" in f for f in result.flags)


# --- TIAC ----------------------------------------------------------------------------------------------
def test_tiac_h():
    assert tiac_h(7400.0, 7400.0) == pytest.approx(1.0)
    assert tiac_h(3700.0, 7400.0) == pytest.approx(0.5)
    for administered in (0.0, -1.0, float("nan")):
        with pytest.raises(KineticsInputError, match="administered_mbq"):
            tiac_h(100.0, administered)
    with pytest.raises(KineticsInputError, match="tia_mbq_h"):
        tiac_h(float("nan"), 100.0)


# --- input validation -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("times", "activity", "kwargs", "message"),
    [
        ([0.0, 24.0, 48.0], [10.0, 8.0, 6.0], {}, r"time_h\[0\] = 0 h is not after injection"),
        ([-2.0, 24.0, 48.0], [10.0, 8.0, 6.0], {}, "not after injection"),
        ([4.0, 48.0, 24.0], [10.0, 8.0, 6.0], {}, "not strictly increasing"),
        ([4.0, 24.0, 24.0], [10.0, 8.0, 6.0], {}, "duplicate time 24 h at points 1 and 2"),
        ([4.0, float("nan"), 48.0], [10.0, 8.0, 6.0], {}, r"time_h\[1\] is nan"),
        ([4.0, 24.0, 48.0], [10.0, float("nan"), 6.0], {}, r"activity_mbq\[1\] \(t = 24 h\) is nan"),
        ([4.0, 24.0, 48.0], [10.0, 0.0, 6.0], {}, r"activity_mbq\[1\] \(t = 24 h\) is 0 MBq"),
        ([4.0, 24.0, 48.0], [10.0, 8.0, -6.0], {}, r"activity_mbq\[2\] \(t = 48 h\) is -6 MBq"),
        ([4.0, 24.0, 48.0], [10.0, 8.0], {}, "one activity per time point"),
        ([], [], {}, "empty"),
        ([4.0, 24.0, 48.0], [10.0, 8.0, 6.0], {"model": "biexp"}, "'biexp' needs at least 4 time points"),
        ([4.0, 24.0], [10.0, 8.0], {"model": "triexp"}, "'triexp' needs at least 5 time points"),
        ([4.0, 24.0], [10.0, 8.0], {"model": "biexp-uptake"}, "needs at least 3 time points"),
        ([4.0], [10.0], {"model": "mono"}, "'mono' needs at least 2 time points"),
        ([4.0, 24.0], [10.0, 8.0], {"model": "gamma"}, "unknown model 'gamma'"),
        ([4.0, 24.0], [10.0, 8.0], {"sigma_mbq": [1.0, 0.0]}, r"sigma_mbq\[1\]"),
        ([4.0, 24.0], [10.0, 8.0], {"sigma_mbq": [1.0, 1.0, 1.0]}, "sigma_mbq has 3 values"),
        ([4.0, 24.0], [10.0, 8.0], {"half_life_h": 0.0}, "half_life_h must be a finite number > 0"),
        ([4.0, 24.0], [10.0, 8.0], {"calibration_rel_uncertainty": -0.1}, "calibration_rel_uncertainty"),
        ([4.0, 24.0], [10.0, 8.0], {"stp_time_h": -96.0}, "stp_time_h"),
        ([[4.0, 24.0]], [10.0, 8.0], {}, "one-dimensional"),
    ],
)
def test_bad_input_raises_named_error(times, activity, kwargs, message):
    with pytest.raises(KineticsInputError, match=message):
        fit_tac(times, activity, **kwargs)
