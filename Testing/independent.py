"""Brute-force uptake statistics, written independently of ragaliv.sampling / ragaliv.ratio.uptake, to check them
on images where no analytic truth exists (blurred PET). Slow and simple on purpose."""

import math

import numpy as np

PEAK_RADIUS_MM = 10.0 * (3.0 / (4.0 * math.pi)) ** (1.0 / 3.0)  # 1 mL sphere (PERCIST)


def voxel_weights(segment, spacing, origin, low, high, subsamples=16):
    """Covered fraction of each PET voxel of the box [low, high) (i, j, k), by sub-sampling each voxel."""
    offsets = (np.arange(subsamples) + 0.5) / subsamples - 0.5
    geometry = segment.geometry
    weights = np.zeros(tuple(high[::-1] - low[::-1]))
    for kk in range(weights.shape[0]):
        for jj in range(weights.shape[1]):
            for ii in range(weights.shape[2]):
                centre = origin + spacing * (np.array([ii, jj, kk]) + low)
                ox, oy, oz = np.meshgrid(*(centre[a] + offsets * spacing[a] for a in range(3)), indexing="ij")
                index = np.rint(geometry.lps_to_index(np.stack([ox, oy, oz], -1).reshape(-1, 3))).astype(int)
                ok = np.all((index >= 0) & (index < np.array(geometry.size_ijk)), axis=1)
                weights[kk, jj, ii] = segment.mask[index[ok, 2], index[ok, 1], index[ok, 0]].sum() / len(index)
    return weights


def sphere_kernel(spacing, subsamples=12):
    """Fraction of each voxel inside a 1 mL sphere centred on voxel (0, 0, 0); normalised to sum 1."""
    half = np.ceil(PEAK_RADIUS_MM / spacing).astype(int) + 1
    offsets = (np.arange(subsamples) + 0.5) / subsamples - 0.5
    kernel = np.zeros(tuple(2 * half[::-1] + 1))
    for kk in range(kernel.shape[0]):
        for jj in range(kernel.shape[1]):
            for ii in range(kernel.shape[2]):
                centre = (np.array([ii, jj, kk]) - half) * spacing
                ox, oy, oz = np.meshgrid(*(centre[a] + offsets * spacing[a] for a in range(3)), indexing="ij")
                kernel[kk, jj, ii] = np.mean(ox**2 + oy**2 + oz**2 <= PEAK_RADIUS_MM**2)
    return kernel / kernel.sum(), half


def uptake(suv_kji, spacing, origin, segment):
    """{"suvmean", "suvmax", "suvpeak"} of a segment in an axis-aligned SUV image (LPS origin, spacing i,j,k)."""
    spacing, origin = np.asarray(spacing, float), np.asarray(origin, float)
    corners = segment.geometry.corners_lps()
    low = np.floor((corners.min(0) - origin) / spacing).astype(int) - 1
    high = np.ceil((corners.max(0) - origin) / spacing).astype(int) + 2
    weights = voxel_weights(segment, spacing, origin, low, high)
    values = suv_kji[low[2]:high[2], low[1]:high[1], low[0]:high[0]].astype(float)
    kernel, half = sphere_kernel(spacing)
    best = -np.inf
    for kk, jj, ii in np.argwhere(weights >= 0.5):
        k, j, i = np.array([kk, jj, ii]) + low[::-1]
        window = suv_kji[k - half[2]:k + half[2] + 1, j - half[1]:j + half[1] + 1, i - half[0]:i + half[0] + 1]
        if window.shape == kernel.shape:
            best = max(best, float((window * kernel).sum()))
    return {"suvmean": float((weights * values).sum() / weights.sum()),
            "suvmax": float(values[weights >= 0.5].max()), "suvpeak": best}
