"""Uptake statistics of one segment in one PET, in the PET's own grid (GUIDE §4 "Uptake").

* ``volume_ml`` — from the segment's own grid (MRI), not from the PET.
* ``suvmean`` — partial-volume weighted mean: Σ w·SUV / Σ w, w = covered fraction of each PET voxel.
* ``suvmax`` — maximum over PET voxels at least half inside the segment (w ≥ 0.5).
* ``suvpeak`` — PERCIST: mean SUV in a 1 mL sphere (r = 6.2035 mm, partial-voxel weights) centred on a PET
  voxel at least half inside the segment, at the position where that mean is highest; the sphere may
  extend beyond the segment but must lie inside the field of view (IBSI "global peak" at voxel centres).
  PET notes §4.1 (Wahl/O 2016, Lodge 2012).
"""

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Optional

import numpy as np

from ..constants import SUVPEAK_SPHERE_RADIUS_MM
from ..geometry import Geometry, SegmentMask, Volume
from ..sampling import VoxelWeights, segment_weights

INSIDE_WEIGHT = 0.5  # a PET voxel counts as "in the segment" for SUVmax / peak centres when half covered
FOV_WARNING_FRACTION = 0.01  # warn when more than 1 % of a segment lies outside a PET field of view
PEAK_SUBDIVISIONS = 9  # sub-samples per axis for the partial-voxel weights of the 1 mL sphere
PEAK_METHOD = (
    "SUVpeak: PERCIST 1 mL sphere (r 6.2035 mm, partial-voxel weights) at the PET voxel, at least half "
    "inside the segment, that maximises the sphere mean"
)


@dataclass
class UptakeStats:
    """Uptake of one segment in one PET. A metric is None only together with a flag saying why."""

    segment: str
    volume_ml: float
    suvmax: Optional[float]
    suvmean: Optional[float]
    suvpeak: Optional[float]
    covered_pet_volume_ml: float
    fraction_outside_fov: float
    peak_centre_lps_mm: Optional[tuple[float, float, float]] = None
    max_voxel_lps_mm: Optional[tuple[float, float, float]] = None
    flags: list[str] = field(default_factory=list)

    def value(self, metric: str) -> Optional[float]:
        return {"suvmax": self.suvmax, "suvmean": self.suvmean, "suvpeak": self.suvpeak}[metric]

    def to_dict(self) -> dict[str, object]:
        return {
            "segment": self.segment,
            "volume_ml": self.volume_ml,
            "suvmax": self.suvmax,
            "suvmean": self.suvmean,
            "suvpeak": self.suvpeak,
            "covered_pet_volume_ml": self.covered_pet_volume_ml,
            "fraction_outside_fov": self.fraction_outside_fov,
            "peak_centre_lps_mm": self.peak_centre_lps_mm,
            "max_voxel_lps_mm": self.max_voxel_lps_mm,
            "flags": list(self.flags),
        }


@lru_cache(maxsize=16)
def _peak_kernel_cached(linear_key: tuple[float, ...], radius_mm: float) -> np.ndarray:
    linear = np.array(linear_key).reshape(3, 3)  # columns: i, j, k axis vectors in mm
    spacing = np.linalg.norm(linear, axis=0)
    half = np.ceil(radius_mm / spacing + 1.0).astype(int)  # i, j, k half widths
    steps = (np.arange(PEAK_SUBDIVISIONS) + 0.5) / PEAK_SUBDIVISIONS - 0.5
    sub = np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), axis=-1).reshape(-1, 3)
    grid_k, grid_j, grid_i = np.meshgrid(
        *(np.arange(-h, h + 1) for h in half[::-1]), indexing="ij"
    )  # shapes [k, j, i]
    centres = np.stack([grid_i.ravel(), grid_j.ravel(), grid_k.ravel()], axis=1).astype(float)
    kernel = np.empty(len(centres))
    for start in range(0, len(centres), 256):
        points = (centres[start : start + 256, np.newaxis, :] + sub[np.newaxis]) @ linear.T
        kernel[start : start + 256] = (np.linalg.norm(points, axis=2) <= radius_mm).mean(axis=1)
    kernel = kernel.reshape(grid_k.shape)
    return kernel / kernel.sum()


def peak_kernel(geometry: Geometry, radius_mm: float = SUVPEAK_SPHERE_RADIUS_MM) -> np.ndarray:
    """Normalised sphere weights on the grid's voxel lattice, indexed ``[dk, dj, di]`` (odd sizes)."""
    key = tuple(np.round(geometry.ijk_to_lps[:3, :3], 9).ravel())
    return _peak_kernel_cached(key, float(radius_mm))


@lru_cache(maxsize=1024)
def _fast_fft_length(length: int) -> int:
    """Smallest 2^a 3^b 5^c >= length: sizes pocketfft transforms fastest."""
    best = 2 * length
    power2 = 1
    while power2 < best:
        power3 = power2
        while power3 < best:
            power5 = power3
            while power5 < length:
                power5 *= 5
            best = min(best, power5)
            power3 *= 3
        power2 *= 2
    return best


def _convolve_same(values: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Linear convolution cropped to ``values``' shape (odd kernel), by real FFT (numpy only: scipy.signal
    would add half a second to the start of the command line)."""
    shape = [v + k - 1 for v, k in zip(values.shape, kernel.shape)]
    fast = [_fast_fft_length(n) for n in shape]
    axes = tuple(range(values.ndim))
    spectrum = np.fft.rfftn(values, fast, axes=axes) * np.fft.rfftn(kernel, fast, axes=axes)
    full = np.fft.irfftn(spectrum, fast, axes=axes)
    start = [k // 2 for k in kernel.shape]
    return full[tuple(slice(s, s + n) for s, n in zip(start, values.shape))]


def _sphere_means(
    image: np.ndarray, centres_kji: np.ndarray, kernel: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sphere mean at each centre and whether the sphere lies inside the image with finite values."""
    half = np.array(kernel.shape) // 2
    low = np.maximum(centres_kji.min(axis=0) - half, 0)
    high = np.minimum(centres_kji.max(axis=0) + half + 1, image.shape)
    block = image[low[0] : high[0], low[1] : high[1], low[2] : high[2]]
    valid = np.isfinite(block)
    # Pad so that spheres reaching beyond the image see "invalid" there.
    pad_low = np.maximum(half - (centres_kji.min(axis=0) - low), 0)
    pad_high = np.maximum((centres_kji.max(axis=0) + half + 1) - high, 0)
    pad = tuple(zip(pad_low, pad_high))
    # float64 explicitly: numpy 1.26 and 2.x promote float32 differently (and numpy 2 FFTs float32 in float32).
    values = np.pad(np.where(valid, block, 0.0).astype(np.float64), pad)
    valid = np.pad(valid, pad)
    sums = _convolve_same(values, kernel)
    coverage = _convolve_same(valid.astype(float), kernel)
    local = centres_kji - low + pad_low
    at = (local[:, 0], local[:, 1], local[:, 2])
    return sums[at], coverage[at] > 1.0 - 1e-6


def uptake_statistics(
    suv: Volume,
    segment: SegmentMask,
    weights: Optional[VoxelWeights] = None,
    compute_peak: bool = True,
) -> UptakeStats:
    """SUV statistics of ``segment`` in the PET ``suv`` (weights are computed unless given)."""
    if weights is None:
        weights = segment_weights(segment, suv.geometry)
    stats = UptakeStats(
        segment=segment.name,
        volume_ml=segment.volume_ml,
        suvmax=None,
        suvmean=None,
        suvpeak=None,
        covered_pet_volume_ml=weights.covered_volume_ml,
        fraction_outside_fov=weights.fraction_outside,
    )
    if segment.is_empty:
        stats.flags.append("empty segment")
        return stats
    if weights.weight.size == 0 or weights.fraction_outside >= 1.0:
        stats.fraction_outside_fov = 1.0
        stats.flags.append("outside the PET field of view")
        return stats
    if weights.fraction_outside > FOV_WARNING_FRACTION:
        stats.flags.append(f"{100 * weights.fraction_outside:.0f}% outside the PET field of view")

    values = suv.array.ravel()[weights.flat_index].astype(np.float64)
    finite = np.isfinite(values)
    if not finite.all():
        stats.flags.append(f"{np.count_nonzero(~finite)} PET voxels are NaN/infinite (ignored)")
    if not finite.any():
        stats.flags.append("no finite PET value in the segment")
        return stats
    negative = np.count_nonzero(values[finite] < 0)
    if negative:
        stats.flags.append(f"{negative} PET voxels are negative")

    w = weights.weight[finite]
    v = values[finite]
    flat = weights.flat_index[finite]
    stats.suvmean = float(np.sum(w * v) / np.sum(w))

    inside = w >= INSIDE_WEIGHT
    if not inside.any():
        stats.flags.append("segment covers no PET voxel by half: SUVmax/peak from the most covered voxel")
        inside = w == w.max()
    index_of_max = int(np.argmax(np.where(inside, v, -np.inf)))
    stats.suvmax = float(v[index_of_max])
    max_kji = np.array(np.unravel_index(flat[index_of_max], suv.geometry.shape_kji))
    stats.max_voxel_lps_mm = tuple(float(c) for c in suv.geometry.index_to_lps(max_kji[::-1]))

    if compute_peak:
        centres = np.stack(np.unravel_index(flat[inside], suv.geometry.shape_kji), axis=1)
        means, complete = _sphere_means(suv.array, centres, peak_kernel(suv.geometry))
        if complete.any():
            best = int(np.argmax(np.where(complete, means, -np.inf)))
            stats.suvpeak = float(means[best])
            stats.peak_centre_lps_mm = tuple(
                float(c) for c in suv.geometry.index_to_lps(centres[best][::-1].astype(float))
            )
        else:
            stats.flags.append("SUVpeak undefined: no 1 mL sphere fits inside the field of view")
    return stats
