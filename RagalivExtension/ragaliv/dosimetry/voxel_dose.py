"""Voxel dosimetry: FFT convolution of a TIA (or activity) map with a voxel S-value kernel.

D[k,j,i] = Σ TIA[k',j',i'] · S[k-k', j-j', i-i'] (MIRD voxel S formalism, MIRD Pamphlet 17; Lanconelli 2012
kernels, dosimetry notes §6.4), computed with ``scipy.signal.fftconvolve(mode="same")``. Homogeneous soft
tissue is assumed (no density correction); the kernel must be built for the map's voxel size. The SPECT pipeline
(:mod:`ragaliv.spect.voxel`) passes the kernel through :func:`.voxel_kernel.normalise_kernel_energy`, so that a
region larger than the kernel receives the local-deposition dose at 1.06 g/mL; the scaling is named in
``kernel.method``, which every :func:`voxel_dose_result` carries.
"""

from collections.abc import Sequence
from typing import Optional, Union

import numpy as np
from scipy.signal import fftconvolve

from ..constants import SECONDS_PER_HOUR
from ..errors import RagalivInputError
from .dvh import voxel_weights
from .results import DoseResult, make_dose_result
from .voxel_kernel import DoseKernel

VOXEL_METHOD = "voxel S-value convolution (FFT), homogeneous soft tissue"
_VOXEL_SIZE_RELATIVE_TOLERANCE = 0.01


def _convolve(
    values: np.ndarray,
    kernel: DoseKernel,
    what: str,
    voxel_size_mm: Optional[Sequence[float]],
    dtype: Union[type, np.dtype],
) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 3:
        raise RagalivInputError(
            f"{what} must be a 3D array [k, j, i], got shape {array.shape}.",
            "Pass the voxel map as a 3D array.",
        )
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise RagalivInputError(
            f"{what} must be real numbers, got dtype {array.dtype}.", "Convert it to float."
        )
    if not np.all(np.isfinite(array)):
        raise RagalivInputError(
            f"{what} contains NaN or infinite voxels.",
            "Replace them (e.g. np.nan_to_num) before dose calculation.",
        )
    if array.size and float(array.min()) < 0.0:
        raise RagalivInputError(
            f"{what} has negative voxels (min {float(array.min()):.4g}).",
            "Clip negative voxels (np.clip(values, 0, None)) or fix the reconstruction/registration first.",
        )
    s_values = np.asarray(kernel.s_value_mgy_per_mbq_s)
    if s_values.ndim != 3 or any(n % 2 == 0 for n in s_values.shape):
        raise RagalivInputError(
            f"dose kernel must be 3D with odd sizes, got {s_values.shape}.",
            "Build it with load_lanconelli_kernel.",
        )
    if voxel_size_mm is not None:
        given = np.asarray(voxel_size_mm, dtype=float).reshape(-1)
        expected = np.asarray(kernel.voxel_size_mm, dtype=float)
        if given.shape != (3,) or np.any(np.abs(given / expected - 1.0) > _VOXEL_SIZE_RELATIVE_TOLERANCE):
            raise RagalivInputError(
                f"map voxel size {tuple(given)} mm differs from the kernel voxel size {tuple(expected)} mm.",
                "Load the kernel with load_lanconelli_kernel(directory, geometry.spacing_mm).",
            )
    dtype = np.dtype(dtype)
    result = fftconvolve(array.astype(dtype, copy=False), s_values.astype(dtype), mode="same")
    np.maximum(result, 0.0, out=result)  # FFT round-off around zero-activity voxels
    return result.astype(dtype, copy=False)


def dose_map_gy(
    tia_mbq_h_per_voxel: np.ndarray,
    kernel: DoseKernel,
    voxel_size_mm: Optional[Sequence[float]] = None,
    dtype: Union[type, np.dtype] = np.float32,
) -> np.ndarray:
    """Absorbed dose (Gy) per voxel from the TIA per voxel (MBq·h), indexed [k, j, i].

    Gy = Σ TIA[MBq·h] · 3600 s/h · S[mGy/(MBq·s)] · 1e-3. ``voxel_size_mm`` (i, j, k), when given, is checked
    against the kernel (1 %). ``dtype`` float32 (default) or float64 is used for the FFT and the result.
    """
    convolved = _convolve(tia_mbq_h_per_voxel, kernel, "TIA map (MBq·h per voxel)", voxel_size_mm, dtype)
    convolved *= SECONDS_PER_HOUR / 1000.0  # s per h; 1000 mGy per Gy
    return convolved


def dose_rate_map_gy_per_h(
    activity_mbq_per_voxel: np.ndarray,
    kernel: DoseKernel,
    voxel_size_mm: Optional[Sequence[float]] = None,
    dtype: Union[type, np.dtype] = np.float32,
) -> np.ndarray:
    """Absorbed-dose rate (Gy/h) per voxel from the activity per voxel (MBq) at one time point."""
    convolved = _convolve(
        activity_mbq_per_voxel, kernel, "activity map (MBq per voxel)", voxel_size_mm, dtype
    )
    convolved *= SECONDS_PER_HOUR / 1000.0  # s per h; 1000 mGy per Gy
    return convolved


def voxel_dose_result(
    region: str,
    dose_gy: np.ndarray,
    weights_or_mask: np.ndarray,
    kernel: DoseKernel,
    mass_g: Optional[float] = None,
    administered_activity_mbq: Optional[float] = None,
    tia_rel_uncertainty: Optional[float] = None,
) -> DoseResult:
    """:class:`DoseResult` with the (weighted) mean of a voxel dose map over a region.

    The mean voxel dose does not depend on the region mass, so only the TIA uncertainty is propagated.
    """
    dose = np.asarray(dose_gy, dtype=float)
    weights = voxel_weights(dose, weights_or_mask, region)
    mean_gy = float(np.sum(dose * weights) / np.sum(weights))
    return make_dose_result(
        region,
        f"{VOXEL_METHOD}; kernel: {kernel.method}",
        kernel.source,
        mean_gy,
        mass_g=mass_g,
        administered_activity_mbq=administered_activity_mbq,
        tia_rel_uncertainty=tia_rel_uncertainty,
        warnings=list(kernel.warnings),
    )
