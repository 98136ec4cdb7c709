"""VOI time-activity curves from the SPECT time points (activity as measured, MBq).

A(t) = C̄_w(t) · V / RC with C̄_w the partial-voxel-weighted mean concentration of the VOI in that SPECT's
own grid (:func:`ragaliv.sampling.segment_weights`, the SPECT is never interpolated), V the VOI volume from
the segment's own grid and RC the recovery coefficient (1 when not given). For a VOI inside a region of
uniform concentration this is exact: Σ w·V_voxel = V.

A VOI partly outside a SPECT field of view is measured on the part inside (the mean is extrapolated to the
whole VOI) and flagged; a VOI entirely outside gives no value at that time point (flagged).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..constants import BQ_PER_MBQ
from ..geometry import SegmentMask, Volume
from ..roles import role_of
from ..sampling import segment_weights
from .registration import RigidRegistration, transform_segment
from .study import SpectStudy


@dataclass
class VoiMeasurement:
    """One VOI in one SPECT: weighted mean (Bq/mL), activity (MBq, after RC), field-of-view coverage."""

    mean_concentration_bq_per_ml: Optional[float]
    activity_mbq: Optional[float]
    fraction_outside_fov: float
    covered_volume_ml: float
    note: str = ""


def measure_voi(segment: SegmentMask, activity: Volume, recovery_coefficient: float = 1.0) -> VoiMeasurement:
    """Activity (MBq) of ``segment`` in ``activity`` (Bq/mL), both in the same patient frame."""
    weights = segment_weights(segment, activity.geometry)
    total = float(weights.weight.sum())
    if total <= 0.0:
        return VoiMeasurement(None, None, 1.0, 0.0)
    values = np.asarray(activity.array).ravel()[weights.flat_index]
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        note = f"{bad} SPECT voxel(s) of the VOI are NaN or infinite"
        return VoiMeasurement(None, None, weights.fraction_outside, weights.covered_volume_ml, note)
    mean = float(np.dot(values.astype(np.float64), weights.weight) / total)
    activity_mbq = mean * segment.volume_ml / BQ_PER_MBQ / float(recovery_coefficient)
    return VoiMeasurement(mean, activity_mbq, weights.fraction_outside, weights.covered_volume_ml)


@dataclass
class RegionTac:
    """Time-activity curve of one VOI; ``activity_mbq[n]`` is None when the VOI was outside SPECT n."""

    region: str
    role: str
    volume_ml: float
    recovery_coefficient: float
    time_h: list[float]
    activity_mbq: list[Optional[float]]
    mean_concentration_bq_per_ml: list[Optional[float]]
    fraction_outside_fov: list[float]
    flags: list[str] = field(default_factory=list)

    def usable_points(self):
        """(times, activities, excluded notes): points with a value > 0, for fitting."""
        times, values, notes = [], [], []
        for time_h, value in zip(self.time_h, self.activity_mbq):
            if value is None:
                notes.append(f"{time_h:g} h excluded (no value)")
            elif not value > 0.0:
                notes.append(f"{time_h:g} h excluded (activity {value:.4g} MBq <= 0)")
            else:
                times.append(time_h)
                values.append(value)
        return times, values, notes

    def to_dict(self):
        return {
            "region": self.region,
            "role": self.role,
            "volume_ml": self.volume_ml,
            "recovery_coefficient": self.recovery_coefficient,
            "time_h": list(self.time_h),
            "activity_mbq": list(self.activity_mbq),
            "mean_concentration_bq_per_ml": list(self.mean_concentration_bq_per_ml),
            "fraction_outside_fov": list(self.fraction_outside_fov),
            "flags": list(self.flags),
        }


def measure_tacs(
    study: SpectStudy, registrations: Optional[Sequence[RigidRegistration]] = None
) -> list[RegionTac]:
    """TAC of every VOI of ``study``; ``registrations[n]`` moves the VOIs into time point n (None: identity)."""
    tacs = []
    for segment in study.segments:
        rc = study.recovery_for(segment.name)
        tac = RegionTac(segment.name, role_of(segment.name), segment.volume_ml, rc, study.time_h, [], [], [])
        for index, point in enumerate(study.timepoints):
            placed = segment
            if registrations is not None and not registrations[index].is_identity:
                placed = transform_segment(segment, registrations[index].matrix_lps)
            measured = measure_voi(placed, point.activity, rc)
            tac.activity_mbq.append(measured.activity_mbq)
            tac.mean_concentration_bq_per_ml.append(measured.mean_concentration_bq_per_ml)
            tac.fraction_outside_fov.append(measured.fraction_outside_fov)
            if measured.note:
                tac.flags.append(f"{measured.note} at {point.time_h:g} h (point excluded)")
            elif measured.activity_mbq is None:
                tac.flags.append(f"outside the SPECT field of view at {point.time_h:g} h (point excluded)")
            elif measured.fraction_outside_fov > 0.0:
                tac.flags.append(
                    f"{measured.fraction_outside_fov:.1%} of the VOI outside the SPECT field of view at "
                    f"{point.time_h:g} h (activity extrapolated from the part inside)"
                )
        if rc != 1.0:
            tac.flags.append(f"activity divided by the recovery coefficient {rc:g}")
        tacs.append(tac)
    return tacs
