"""An uptake phase at the first point of the 4-point protocol is modelled in 'auto' and flagged for 'mono'."""

import math

import numpy as np
import pytest
from ragaliv.constants import LU177_DECAY_CONSTANT_PER_H
from ragaliv.kinetics import fit_tac

TIMES_H = np.array([4.0, 24.0, 72.0, 168.0])


def uptake_curve(uptake_half_time_h):
    clearance = LU177_DECAY_CONSTANT_PER_H + math.log(2) / 80.0
    uptake = math.log(2) / uptake_half_time_h
    return 100.0 * (np.exp(-clearance * TIMES_H) - np.exp(-uptake * TIMES_H)), 100.0 * (1 / clearance - 1 / uptake)


def test_auto_models_a_slow_uptake():
    # Before issue 9, 'auto' could only fit mono to 4 points and over-estimated this TIA by ~11 %.
    activity, true_tia = uptake_curve(2.0)  # 2 h uptake half-time: still rising at the 4 h point
    fit = fit_tac(TIMES_H, activity, model="auto")
    assert fit.model == "biexp-uptake" and fit.selection_criterion == "AIC"
    assert fit.tia_mbq_h == pytest.approx(true_tia, rel=1e-4)
    assert not any("uptake phase is not modelled" in flag for flag in fit.flags)


def test_mono_chosen_by_the_user_flags_the_slow_uptake_with_the_over_estimate():
    activity, true_tia = uptake_curve(2.0)
    unweighted = fit_tac(TIMES_H, activity, model="mono", error_model="absolute")
    assert unweighted.model == "mono"
    assert unweighted.tia_mbq_h > 1.10 * true_tia  # the bias the flag warns about
    relative = fit_tac(TIMES_H, activity, model="mono")
    assert abs(relative.tia_mbq_h / true_tia - 1.0) > 0.03
    for fit in (unweighted, relative):
        assert any("uptake phase is not modelled" in flag and "'auto'" in flag for flag in fit.flags)


def test_fast_uptake_is_not_flagged():
    activity, true_tia = uptake_curve(0.5)
    fit = fit_tac(TIMES_H, activity, model="auto")
    assert fit.tia_mbq_h == pytest.approx(true_tia, rel=0.03)
    assert not any("uptake phase" in flag for flag in fit.flags)


def test_three_points_with_an_uptake_phase_use_the_uptake_model_as_remedy():
    times = TIMES_H[:3]
    clearance = LU177_DECAY_CONSTANT_PER_H + math.log(2) / 80.0
    uptake = math.log(2) / 2.5
    activity = 100.0 * (np.exp(-clearance * times) - np.exp(-uptake * times))
    fit = fit_tac(times, activity, calibration_rel_uncertainty=0.05)
    assert fit.model == "biexp-uptake"
    assert fit.tia_mbq_h == pytest.approx(100.0 * (1 / clearance - 1 / uptake), rel=1e-4)
    assert any("uptake phase shows in the data" in w for w in fit.warnings)
    assert any("calibration only" in f for f in fit.flags)  # N = K: exact fit, no fit uncertainty
    assert fit.tia_rel_uncertainty == pytest.approx(0.05)


def test_two_points_on_the_uptake_limb_are_not_passed_off_as_sound():
    """4 h + 72 h cannot show the uptake phase: the mono TIA is high (here by ~40 %), and the result says so and
    points to the population prior (the method for reduced studies)."""
    activity, true_tia = uptake_curve(2.0)
    fit = fit_tac(TIMES_H[[0, 2]], activity[[0, 2]], model="auto")
    assert fit.model == "mono" and fit.tia_mbq_h == pytest.approx(1.149 * true_tia, rel=0.01)
    assert any("2 time points cannot show an uptake phase" in text and "population prior" in text
               for text in fit.warnings)
