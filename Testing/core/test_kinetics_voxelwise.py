"""Voxel-wise TIA maps: exact mono data, fallback voxels, masks, agreement with fit_tac, speed."""

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ragaliv.constants import LU177_DECAY_CONSTANT_PER_H, LU177_HALF_LIFE_H
from ragaliv.kinetics import KineticsInputError, fit_tac, voxel_tia_map

LP = LU177_DECAY_CONSTANT_PER_H
TIMES_H = np.array([4.0, 24.0, 72.0, 168.0])


def _mono_series(a0, lambda_bio, times=TIMES_H, dtype=np.float32):
    """[T, k, j, i] activity for voxel-wise A0 and lambda_bio arrays [k, j, i]."""
    decay = np.exp(-(LP + lambda_bio[None]) * times[:, None, None, None])
    return (a0[None] * decay).astype(dtype)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), lambda_max=st.floats(0.001, 0.2))
def test_exact_mono_voxels_reproduce_a0_over_lambda(seed, lambda_max):
    rng = np.random.default_rng(seed)
    a0 = rng.uniform(1.0, 1e5, (3, 4, 5))
    lambda_bio = rng.uniform(0.0, lambda_max, (3, 4, 5))
    result = voxel_tia_map(_mono_series(a0, lambda_bio), TIMES_H)
    truth = a0 / (LP + lambda_bio)
    np.testing.assert_allclose(result.tia_bq_h_per_ml, truth, rtol=1e-4)
    np.testing.assert_allclose(result.lambda_eff_per_h, LP + lambda_bio, rtol=1e-4, atol=1e-7)
    assert result.tia_bq_h_per_ml.dtype == np.float32
    assert result.n_fallback_voxels == 0 and not result.fallback_mask.any()
    assert result.n_voxels == result.n_fitted_voxels == 60


def test_fallback_voxels_use_trapezoid_and_physical_tail():
    activity = _mono_series(np.full((1, 1, 3), 100.0), np.full((1, 1, 3), 0.01))
    activity[:, 0, 0, 1] = [10.0, 0.0, 5.0, 2.0]  # a zero: fallback
    activity[:, 0, 0, 2] = [0.0, -3.0, 0.0, 0.0]  # nothing but noise: TIA 0
    result = voxel_tia_map(activity, TIMES_H)
    # Trapezoid from (0,0) through max(A,0), then A_last/λp:
    # 0.5*4*10 + 0.5*20*10 + 0.5*48*5 + 0.5*96*(5+2) + 2/λp
    expected = 20.0 + 100.0 + 120.0 + 336.0 + 2.0 / LP
    assert result.tia_bq_h_per_ml[0, 0, 1] == pytest.approx(expected, rel=1e-6)
    assert result.tia_bq_h_per_ml[0, 0, 2] == 0.0
    assert result.fallback_mask[0, 0].tolist() == [False, True, True]
    assert result.n_fallback_voxels == 2
    assert result.lambda_eff_per_h[0, 0, 1] == pytest.approx(LP)
    assert any("trapezoid" in w for w in result.warnings)


def test_rising_voxel_is_clamped_to_physical_decay():
    activity = np.array([10.0, 12.0, 13.0, 14.0], dtype=np.float32).reshape(4, 1, 1, 1)
    result = voxel_tia_map(activity, TIMES_H)
    assert result.lambda_eff_per_h[0, 0, 0] == pytest.approx(LP)
    assert result.n_clamped_voxels == 1 and result.n_fallback_voxels == 0
    assert math.isfinite(result.tia_bq_h_per_ml[0, 0, 0]) and result.tia_bq_h_per_ml[0, 0, 0] > 0


def test_mask_limits_the_fit():
    rng = np.random.default_rng(7)
    a0 = rng.uniform(10.0, 100.0, (2, 3, 4))
    lambda_bio = rng.uniform(0.0, 0.05, (2, 3, 4))
    activity = _mono_series(a0, lambda_bio)
    activity[:, 0] = np.nan  # outside the mask: never read
    mask = np.zeros((2, 3, 4), dtype=bool)
    mask[1] = True
    result = voxel_tia_map(activity, TIMES_H, mask=mask)
    assert result.n_voxels == 12
    assert np.all(result.tia_bq_h_per_ml[0] == 0.0) and np.all(np.isnan(result.lambda_eff_per_h[0]))
    np.testing.assert_allclose(result.tia_bq_h_per_ml[1], (a0 / (LP + lambda_bio))[1], rtol=1e-4)
    assert "outside the mask" in result.method_description


def test_matches_fit_tac_mono_on_noisy_samples():
    """Weighted log-linear vs nonlinear least squares: same optimum to first order in the noise.

    Tolerance: with 3 % noise on 4 points, each voxel within 2 % of the unweighted nonlinear fit
    fit_tac(model="mono", error_model="absolute"), mean within 0.5 %.
    """
    rng = np.random.default_rng(11)
    n = 40
    a0 = rng.uniform(10.0, 1000.0, n)
    lambda_bio = rng.uniform(0.002, 0.05, n)
    clean = a0[None] * np.exp(-(LP + lambda_bio[None]) * TIMES_H[:, None])
    noisy = clean * (1.0 + 0.03 * rng.standard_normal(clean.shape))
    result = voxel_tia_map(noisy.reshape(4, n, 1, 1), TIMES_H, half_life_h=LU177_HALF_LIFE_H)
    reference = np.array(
        [fit_tac(TIMES_H, noisy[:, v], model="mono", error_model="absolute").tia_mbq_h for v in range(n)]
    )
    # Voxels whose first value fell > 10 % below the later points' fit by noise take the uptake hybrid (issue 9):
    # few at 3 % noise, and they are not a mono-exponential fit, so they are left out of this comparison.
    plain = ~result.uptake_mask[:, 0, 0]
    assert plain.sum() >= 0.9 * n and result.n_uptake_voxels == n - plain.sum()
    ratio = (result.tia_bq_h_per_ml[:, 0, 0] / reference - 1.0)[plain]
    assert np.max(np.abs(ratio)) < 0.02
    assert abs(np.mean(ratio)) < 0.005


@pytest.mark.parametrize(
    ("activity", "times", "kwargs", "message"),
    [
        (np.ones((4, 2, 2)), TIMES_H, {}, "4D array"),
        (np.ones((3, 2, 2, 2)), TIMES_H, {}, "3 time frames"),
        (np.ones((1, 2, 2, 2)), [24.0], {}, "at least 2 time points"),
        (np.ones((4, 2, 2, 2)), [4.0, 24.0, 24.0, 72.0], {}, "duplicate time"),
        (np.ones((4, 2, 2, 2)), TIMES_H, {"mask": np.ones((2, 2), bool)}, "mask shape"),
        (np.ones((4, 2, 2, 2)), TIMES_H, {"half_life_h": -1.0}, "half_life_h"),
        (np.full((4, 2, 2, 2), np.inf), TIMES_H, {}, r"non-finite values in 8 voxel"),
    ],
)
def test_bad_input(activity, times, kwargs, message):
    with pytest.raises(KineticsInputError, match=message):
        voxel_tia_map(activity, times, **kwargs)


def test_128_cubed_four_time_points_is_fast():
    shape = (128, 128, 128)
    rng = np.random.default_rng(0)
    a0 = rng.uniform(10.0, 1000.0, shape).astype(np.float32)
    lambda_bio = rng.uniform(0.0, 0.05, shape).astype(np.float32)
    activity = _mono_series(a0, lambda_bio)
    activity[:, :4] = 0.0  # some fallback voxels
    start = time.perf_counter()
    result = voxel_tia_map(activity, TIMES_H)
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0, f"voxel_tia_map took {elapsed:.2f} s on 128^3 x 4"
    assert result.n_fallback_voxels == 4 * 128 * 128
    fitted = ~result.fallback_mask
    truth = a0 / (LP + lambda_bio)
    np.testing.assert_allclose(result.tia_bq_h_per_ml[fitted], truth[fitted], rtol=1e-4)


@pytest.mark.parametrize("uptake_half_time_h", [1.0, 1.5, 2.0, 3.0])
@pytest.mark.parametrize("effective_half_life_h", [40.0, 80.0, 120.0])
def test_uptake_phase_at_the_first_point_uses_the_hybrid(uptake_half_time_h, effective_half_life_h):
    """4, 24, 72, 168 h with an uptake phase (issue 9): a mono-exponential through all points over-estimates by up
    to +37 %; the hybrid (linear rise to the first point + mono-exponential of the later points) stays within
    -1.5 .. +3 %; below the 10 % deficit (uptake half-time 1 h) the mono-exponential is kept (< +5 %)."""
    clearance = math.log(2.0) / effective_half_life_h
    uptake = math.log(2.0) / uptake_half_time_h
    curve = np.exp(-clearance * TIMES_H) - np.exp(-uptake * TIMES_H)
    truth = 1.0 / clearance - 1.0 / uptake
    result = voxel_tia_map(curve.reshape(4, 1, 1, 1), TIMES_H, half_life_h=LU177_HALF_LIFE_H)
    error = float(result.tia_bq_h_per_ml[0, 0, 0]) / truth - 1.0
    if uptake_half_time_h >= 1.5:
        assert result.n_uptake_voxels == 1 and any("uptake phase" in w for w in result.warnings)
        assert -0.015 < error < 0.03
    else:
        assert result.n_uptake_voxels == 0
        assert 0.0 < error < 0.05
