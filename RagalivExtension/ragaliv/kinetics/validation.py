"""Input checks for the kinetics functions: each failure names the point and the fix."""

import math
from typing import Optional

import numpy as np

from ..errors import RagalivInputError


class KineticsInputError(RagalivInputError):
    """Time-activity input that cannot be fitted or integrated (the message names the point)."""


def _as_vector(values, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise KineticsInputError(f"{name} must be a sequence of numbers ({exc}).") from None
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise KineticsInputError(f"{name} must be one-dimensional, got shape {array.shape}.")
    return array


def check_positive_number(value, name: str, allow_zero: bool = False) -> float:
    """A finite number > 0 (or >= 0 with ``allow_zero``)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise KineticsInputError(f"{name} must be a number, got {value!r}.") from None
    if not math.isfinite(number) or number < 0.0 or (number == 0.0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise KineticsInputError(f"{name} must be a finite number {bound}, got {value!r}.")
    return number


def check_times(time_h, name: str = "time_h") -> np.ndarray:
    """Times after injection (h): finite, > 0, strictly increasing, no duplicates."""
    times = _as_vector(time_h, name)
    if times.size == 0:
        raise KineticsInputError(f"{name} is empty: at least one time point is needed.")
    for index, value in enumerate(times):
        if not math.isfinite(value):
            raise KineticsInputError(f"{name}[{index}] is {value}: every time must be a finite number.")
        if value <= 0.0:
            raise KineticsInputError(
                f"{name}[{index}] = {value:g} h is not after injection: times are hours after the "
                "administration and must be > 0."
            )
    for index in range(1, times.size):
        if times[index] == times[index - 1]:
            raise KineticsInputError(
                f"duplicate time {times[index]:g} h at points {index - 1} and {index}: "
                "merge or remove the repeated acquisition."
            )
        if times[index] < times[index - 1]:
            raise KineticsInputError(
                f"{name} is not strictly increasing: point {index} ({times[index]:g} h) comes after "
                f"point {index - 1} ({times[index - 1]:g} h); sort the points by time."
            )
    return times


def check_tac(time_h, activity_mbq, sigma_mbq=None) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """Validate a time-activity curve; returns float arrays (sigma None when not given)."""
    times = check_times(time_h)
    activity = _as_vector(activity_mbq, "activity_mbq")
    if activity.size != times.size:
        raise KineticsInputError(
            f"activity_mbq has {activity.size} values but time_h has {times.size}: give one activity "
            "per time point."
        )
    for index, value in enumerate(activity):
        if not math.isfinite(value):
            raise KineticsInputError(
                f"activity_mbq[{index}] (t = {times[index]:g} h) is {value}: every activity must be finite."
            )
        if value <= 0.0:
            raise KineticsInputError(
                f"activity_mbq[{index}] (t = {times[index]:g} h) is {value:g} MBq: activities must be > 0 "
                "(check the VOI and the calibration, or drop the point)."
            )
    sigma = None
    if sigma_mbq is not None:
        sigma = _as_vector(sigma_mbq, "sigma_mbq")
        if sigma.size == 1 and times.size > 1:
            sigma = np.full(times.size, sigma[0])
        if sigma.size != times.size:
            raise KineticsInputError(
                f"sigma_mbq has {sigma.size} values but time_h has {times.size}: give one per point."
            )
        for index, value in enumerate(sigma):
            if not math.isfinite(value) or value <= 0.0:
                raise KineticsInputError(
                    f"sigma_mbq[{index}] (t = {times[index]:g} h) is {value:g}: uncertainties must be "
                    "finite and > 0 (omit sigma_mbq for an unweighted fit)."
                )
    return times, activity, sigma
