"""A mono-exponential fitted to a curve that was still rising at the first point says so."""

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


def test_slow_uptake_is_flagged_with_the_over_estimate():
    activity, true_tia = uptake_curve(2.0)  # 2 h uptake half-time: still rising at the 4 h point
    fit = fit_tac(TIMES_H, activity, model="auto")
    assert fit.model == "mono"
    assert fit.tia_mbq_h > 1.05 * true_tia  # the bias the flag warns about
    assert any("uptake phase is not modelled" in flag for flag in fit.flags)


def test_fast_uptake_is_not_flagged():
    activity, true_tia = uptake_curve(0.5)
    fit = fit_tac(TIMES_H, activity, model="auto")
    assert fit.tia_mbq_h == pytest.approx(true_tia, rel=0.03)
    assert not any("uptake phase" in flag for flag in fit.flags)
