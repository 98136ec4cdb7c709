"""Voxel dosimetry performance: voxel-wise TIA fit of a 128³ study with 4 time points + kernel convolution.

Ours:      ragaliv.kinetics.voxel_tia_map (closed-form weighted log-linear mono-exponential, vectorised) on every
           voxel, then ragaliv.dosimetry.dose_map_gy (FFT convolution with the Lanconelli 4.8 mm kernel).
Baseline:  scipy.optimize.curve_fit of A0·exp(-λt) (λ >= λphys) voxel by voxel on a random sample of voxels,
           time scaled to the whole map; convolution with scipy.ndimage.convolve (direct sum).
Agreement: on the sampled voxels, TIA of ours vs curve_fit (both least squares on activity).

Run: .venv/bin/python benchmarks/bench_voxel_dosimetry.py [--size 128] [--sample 2000] [--repeat 3]
"""

import argparse
import math
import os
import statistics
import sys
import time
import warnings

import numpy as np
from ragaliv.constants import LU177_DECAY_CONSTANT_PER_H
from ragaliv.dosimetry import dose_map_gy, load_lanconelli_kernel
from ragaliv.kinetics import voxel_tia_map
from ragaliv.spect import default_kernel_directory
from scipy import ndimage
from scipy.optimize import OptimizeWarning, curve_fit

TIMES_H = np.array([4.0, 24.0, 72.0, 168.0])
VOXEL_MM = 4.8
LAMBDA_PHYS = LU177_DECAY_CONSTANT_PER_H


def synthetic_study(size: int, seed: int = 7) -> np.ndarray:
    """[T, k, j, i] activity (Bq/mL, not decay corrected): body with organs and lesions, bi-exponential
    uptake/clearance per voxel with spread rates and 5 % multiplicative noise."""
    rng = np.random.default_rng(seed)
    axis = (np.arange(size) - size / 2 + 0.5) / (size / 2)
    z, y, x = np.meshgrid(axis, axis, axis, indexing="ij")
    body = (x / 0.85) ** 2 + (y / 0.6) ** 2 < 1.0
    scale = np.where(body, 2.0e3, 0.0)
    t_eff = np.full(x.shape, 40.0)
    for centre, radii, concentration, half_life in (
        ((0.3, 0.1, 0.0), (0.35, 0.25, 0.3), 1.0e5, 70.0),  # liver
        ((-0.35, 0.15, -0.1), (0.1, 0.12, 0.2), 5.5e5, 50.0),  # kidney
        ((0.35, 0.15, -0.1), (0.1, 0.12, 0.2), 5.5e5, 50.0),  # kidney
        ((-0.3, -0.25, 0.2), (0.15, 0.1, 0.15), 4.5e5, 65.0),  # spleen
        ((0.2, 0.0, 0.2), (0.06, 0.06, 0.06), 2.5e6, 90.0),  # lesion
        ((0.45, -0.05, -0.2), (0.05, 0.05, 0.05), 3.0e6, 95.0),  # lesion
    ):
        inside = sum(((c - o) / r) ** 2 for c, o, r in zip((x, y, z), centre, radii)) < 1.0
        scale = np.where(inside, concentration, scale)
        t_eff = np.where(inside, half_life, t_eff)
    t_eff = t_eff * np.exp(rng.normal(0.0, 0.1, x.shape))
    clearance = np.log(2.0) / t_eff
    uptake = np.log(2.0) / 0.5
    times = TIMES_H[:, None, None, None]
    activity = scale * (np.exp(-clearance * times) - np.exp(-uptake * times))
    activity *= 1.0 + rng.normal(0.0, 0.05, activity.shape)
    return np.clip(activity, 0.0, None).astype(np.float32)


def mono(t, a0, lam):
    return a0 * np.exp(-lam * t)


def baseline_fit(activity: np.ndarray, flat_indices: np.ndarray) -> np.ndarray:
    """curve_fit per voxel (trust-region reflective with bounds λ >= λphys), TIA = A0/λ."""
    series = activity.reshape(activity.shape[0], -1)[:, flat_indices].astype(np.float64)
    tia = np.empty(flat_indices.size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        for n in range(flat_indices.size):
            y = series[:, n]
            positive = y > 0
            slope, intercept = np.polyfit(TIMES_H[positive], np.log(y[positive]), 1) if positive.sum() >= 2 else (
                -LAMBDA_PHYS, math.log(max(y.max(), 1e-9)))
            p0 = (math.exp(intercept), max(-slope, LAMBDA_PHYS * 1.01))
            try:
                (a0, lam), _ = curve_fit(mono, TIMES_H, y, p0=p0, bounds=([0.0, LAMBDA_PHYS], [np.inf, np.inf]),
                                         maxfev=2000)
                tia[n] = a0 / lam
            except RuntimeError:
                tia[n] = np.nan
    return tia


def best_of(function, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-direct-convolution", action="store_true")
    args = parser.parse_args()

    activity = synthetic_study(args.size)
    n_voxels = int(np.prod(activity.shape[1:]))
    print(f"study: {args.size}³ = {n_voxels:,} voxels x {len(TIMES_H)} time points ({VOXEL_MM} mm), "
          f"numpy {np.__version__}, {os.cpu_count()} CPUs")

    mask = np.any(activity > 0.0, axis=0)  # as in ragaliv.spect.voxel: voxels with activity at some time
    n_fitted = int(mask.sum())
    print(f"voxels with activity: {n_fitted:,} (both methods fit these; the rest is TIA 0)")
    fit_best, fit_median, ours = best_of(lambda: voxel_tia_map(activity, TIMES_H, mask=mask), args.repeat)
    rng = np.random.default_rng(0)
    sample = rng.choice(np.flatnonzero(mask.ravel()), args.sample, replace=False)
    start = time.perf_counter()
    base_tia = baseline_fit(activity, sample)
    base_sample_s = time.perf_counter() - start
    base_fit_s = base_sample_s * n_fitted / args.sample

    ours_tia = ours.tia_bq_h_per_ml.ravel()[sample].astype(np.float64)
    valid = np.isfinite(base_tia) & (base_tia > 0) & ~ours.fallback_mask.ravel()[sample]
    difference = np.abs(ours_tia[valid] / base_tia[valid] - 1.0)

    directory = default_kernel_directory()
    rows = [("voxel-wise TIA fit", fit_best, base_fit_s, f"curve_fit on {args.sample} voxels, scaled",
             n_fitted)]
    if os.path.isdir(directory):
        kernel = load_lanconelli_kernel(directory, [VOXEL_MM] * 3)
        tia_mbq_h = ours.tia_bq_h_per_ml * (VOXEL_MM**3 / 1000.0 / 1e6)
        conv_best, _, dose = best_of(lambda: dose_map_gy(tia_mbq_h, kernel), args.repeat)
        if args.skip_direct_convolution:
            direct_s = float("nan")
        else:
            start = time.perf_counter()
            direct = ndimage.convolve(tia_mbq_h.astype(np.float32), kernel.s_value_mgy_per_mbq_s.astype(np.float32),
                                      mode="constant") * 3.6
            direct_s = time.perf_counter() - start
            agreement = float(np.max(np.abs(direct - dose)) / dose.max())
            print(f"FFT vs direct convolution: max |difference| / max dose = {agreement:.2e}")
        rows.append(("kernel convolution", conv_best, direct_s, "ndimage.convolve (direct sum)", n_voxels))
    else:
        print(f"no kernel folder at {directory}: convolution not timed (set RAGALIV_SHARED_DATA)")

    print()
    print(f"{'stage':22s} {'ours (s)':>9s} {'baseline (s)':>13s} {'speed-up':>9s} {'ours µs/voxel':>14s}  baseline")
    total_ours = total_base = 0.0
    for name, ours_s, base_s, how, count in rows:
        speed = base_s / ours_s if math.isfinite(base_s) else float("nan")
        print(f"{name:22s} {ours_s:9.3f} {base_s:13.1f} {speed:9.0f} {ours_s / count * 1e6:14.3f}  {how}")
        total_ours += ours_s
        total_base += base_s
    if math.isfinite(total_base):
        print(f"{'total':22s} {total_ours:9.3f} {total_base:13.1f} {total_base / total_ours:9.0f}")
    print()
    print(f"fit timing: ours best {fit_best:.3f} s / median {fit_median:.3f} s over {args.repeat} runs; baseline "
          f"{base_sample_s:.2f} s for {args.sample} voxels = {base_sample_s / args.sample * 1e6:.0f} µs/voxel")
    print(f"agreement on {valid.sum()} sampled voxels (ours vs curve_fit TIA): median {np.median(difference):.2%}, "
          f"95th percentile {np.percentile(difference, 95):.2%}, max {difference.max():.2%}; "
          f"{ours.n_fallback_voxels:,} voxels used the trapezoid fallback, {ours.n_clamped_voxels:,} clamped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
