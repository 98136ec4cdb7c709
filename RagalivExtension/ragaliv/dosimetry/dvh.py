"""Cumulative dose-volume histogram of a region, with D2, D50, D98 and V(x) computed exactly from voxels.

Definitions (ICRU 83 style, on voxel data without interpolation): V(x) = volume fraction receiving a dose ≥ x;
D_p = the largest dose received by at least p % of the volume, i.e. walking the voxels from the hottest down,
the dose of the voxel at which the cumulative volume first reaches p %. Voxels are weighted by a mask (1/0) or
by fractional weights (partial-volume fractions or masses).
"""

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from ..errors import RagalivInputError

DVH_METHOD = (
    "cumulative DVH from voxel doses; D_p = largest dose received by >= p % of the volume (no interpolation)"
)
_DEFAULT_BIN_COUNT = 1000
_FRACTION_TOLERANCE = 1e-12


def voxel_weights(dose_gy: np.ndarray, weights_or_mask: np.ndarray, region: str = "region") -> np.ndarray:
    """Float weights (>= 0, not all 0) of the same shape as ``dose_gy`` from a mask or weight array."""
    weights = np.asarray(weights_or_mask)
    if weights.shape != np.shape(dose_gy):
        raise RagalivInputError(
            f"mask/weights of {region!r} have shape {weights.shape}, the dose map {np.shape(dose_gy)}.",
            "Resample the segment onto the dose (SPECT) grid first.",
        )
    weights = weights.astype(float)
    if not np.all(np.isfinite(weights)) or (weights.size and weights.min() < 0.0):
        raise RagalivInputError(
            f"weights of {region!r} must be finite and >= 0.", "Use a mask or fractions 0..1."
        )
    if not np.any(weights > 0.0):
        raise RagalivInputError(f"region {region!r} is empty on the dose grid.", "Check the segmentation.")
    return weights


@dataclass
class DoseVolumeHistogram:
    """Cumulative DVH: ``volume_fraction[n]`` = fraction of the region with dose ≥ ``dose_gy[n]``."""

    dose_gy: np.ndarray
    volume_fraction: np.ndarray
    bin_width_gy: float
    mean_gy: float
    min_gy: float
    max_gy: float
    d2_gy: float
    d50_gy: float
    d98_gy: float
    method: str = DVH_METHOD
    _sorted_dose_gy: np.ndarray = field(default=None, repr=False)  # descending
    _cumulative_fraction: np.ndarray = field(default=None, repr=False)

    def v_gy(self, threshold_gy: float) -> float:
        """Fraction of the volume receiving a dose ≥ ``threshold_gy`` (exact, from the voxels)."""
        return _volume_at_or_above(self._sorted_dose_gy, self._cumulative_fraction, float(threshold_gy))

    def d_gy(self, percent: float) -> float:
        """D_p: the largest dose received by at least ``percent`` % of the volume."""
        return _dose_at_percent(self._sorted_dose_gy, self._cumulative_fraction, float(percent))

    def to_dict(self) -> dict[str, Any]:
        return {
            "dose_gy": self.dose_gy.tolist(),
            "volume_fraction": self.volume_fraction.tolist(),
            "bin_width_gy": self.bin_width_gy,
            "mean_gy": self.mean_gy,
            "min_gy": self.min_gy,
            "max_gy": self.max_gy,
            "d2_gy": self.d2_gy,
            "d50_gy": self.d50_gy,
            "d98_gy": self.d98_gy,
            "method": self.method,
        }


def _dose_at_percent(sorted_desc: np.ndarray, cumulative: np.ndarray, percent: float) -> float:
    if not 0.0 < percent <= 100.0:
        raise RagalivInputError(f"DVH percentage {percent} is outside (0, 100].", "Use e.g. 2, 50 or 98.")
    index = int(np.searchsorted(cumulative, percent / 100.0 - _FRACTION_TOLERANCE, side="left"))
    return float(sorted_desc[min(index, sorted_desc.size - 1)])


def _volume_at_or_above(sorted_desc: np.ndarray, cumulative: np.ndarray, threshold_gy: float) -> float:
    # number of voxels (from the hottest) with dose >= threshold
    count = int(np.searchsorted(-sorted_desc, -threshold_gy, side="right"))
    return 0.0 if count == 0 else float(min(cumulative[count - 1], 1.0))


def dose_volume_histogram(
    dose_gy: np.ndarray, weights_or_mask: np.ndarray, bin_width_gy: Optional[float] = None
) -> DoseVolumeHistogram:
    """Cumulative DVH of ``dose_gy`` over a mask or voxel weights; default bin width max/1000."""
    dose = np.asarray(dose_gy, dtype=float)
    weights = voxel_weights(dose, weights_or_mask)
    inside = weights > 0.0
    values, w = dose[inside], weights[inside]
    if not np.all(np.isfinite(values)) or values.min() < 0.0:
        raise RagalivInputError(
            "the dose map has NaN, infinite or negative voxels in the region.", "Fix the map."
        )
    order = np.argsort(-values, kind="stable")
    sorted_desc = values[order]
    cumulative = np.cumsum(w[order]) / w.sum()
    max_gy = float(sorted_desc[0])
    if bin_width_gy is None:
        width = max_gy / _DEFAULT_BIN_COUNT if max_gy > 0.0 else 1.0
    else:
        width = float(bin_width_gy)
        if not np.isfinite(width) or width <= 0.0:
            raise RagalivInputError(f"bin width {bin_width_gy!r} Gy must be > 0.", "Omit it for max/1000.")
    edges = np.arange(0.0, max_gy + width, width) if max_gy > 0.0 else np.zeros(1)
    counts = np.searchsorted(-sorted_desc, -edges, side="right")
    fractions = np.where(counts > 0, cumulative[np.maximum(counts - 1, 0)], 0.0).clip(0.0, 1.0)
    return DoseVolumeHistogram(
        dose_gy=edges,
        volume_fraction=fractions,
        bin_width_gy=width,
        mean_gy=float(np.sum(values * w) / w.sum()),
        min_gy=float(sorted_desc[-1]),
        max_gy=max_gy,
        d2_gy=_dose_at_percent(sorted_desc, cumulative, 2.0),
        d50_gy=_dose_at_percent(sorted_desc, cumulative, 50.0),
        d98_gy=_dose_at_percent(sorted_desc, cumulative, 98.0),
        _sorted_dose_gy=sorted_desc,
        _cumulative_fraction=cumulative,
    )
