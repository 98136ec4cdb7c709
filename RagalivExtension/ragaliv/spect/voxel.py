"""Voxel dosimetry: voxel-wise TIA on the reference SPECT grid, Lanconelli kernel convolution, DVH per VOI.

* All time points on the reference SPECT grid. A time point on the same grid and not registered is used
  as is (nothing interpolated). Otherwise it is resampled by **linear** interpolation through the rigid
  transform (:func:`ragaliv.spect.registration.resample_to_grid`): linear rather than nearest neighbour
  because nearest duplicates/drops voxels under sub-voxel shifts (a blocky TIA map and a biased voxel fit),
  while linear interpolation of a smooth SPECT changes local means little. The VOI TACs never use these
  resampled images.
* TIA per voxel: :func:`ragaliv.kinetics.voxel_tia_map` (mono-exponential per voxel, trapezoid fallback),
  on voxels with activity > 0 at some time point.
* Dose: :func:`ragaliv.dosimetry.dose_map_gy` with the Lanconelli soft-tissue kernel for the SPECT voxel size
  (:func:`ragaliv.dosimetry.load_lanconelli_kernel`), from ``kernel_directory`` or the tables shipped with
  the package (:func:`ragaliv.dosimetry.shipped_kernel_directory`), scaled so that it deposits the ICRP-107
  electron energy per decay at 1.06 g/mL (:func:`ragaliv.dosimetry.voxel_kernel.normalise_kernel_energy`: the
  tables hold 96.4–100.6 % of it; without the scaling the voxel dose in a large uniform region was up to
  3.6 % below the local-deposition dose, and 2 % at the phantom's 4.8 mm voxels). The factor is stated in the
  method and in ``summary.json``. Without a kernel for the voxel size the voxel dosimetry is skipped and the
  result says why.
* DVH and mean dose per VOI with its partial-voxel weights on the reference SPECT grid.
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from ..constants import BQ_PER_MBQ
from ..dosimetry import (
    DoseVolumeHistogram,
    dose_map_gy,
    dose_volume_histogram,
    load_lanconelli_kernel,
    shipped_kernel_directory,
)
from ..dosimetry.voxel_kernel import normalise_kernel_energy
from ..errors import RagalivInputError
from ..geometry import Volume
from ..kinetics import voxel_tia_map
from ..sampling import segment_weights
from .registration import RigidRegistration, resample_to_grid
from .study import SpectStudy


def default_kernel_directory() -> str:
    """The Lanconelli tables shipped with the package (``kernel_directory`` in a study overrides them)."""
    return shipped_kernel_directory()


@dataclass
class RegionVoxelDose:
    """Voxel-dosimetry summary of one VOI (weights on the reference SPECT grid)."""

    region: str
    mean_gy: float
    min_gy: float
    max_gy: float
    d2_gy: float
    d50_gy: float
    d98_gy: float
    voxel_tia_mbq_h: float
    covered_volume_ml: float
    dvh: DoseVolumeHistogram
    flags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region, "mean_gy": self.mean_gy, "min_gy": self.min_gy, "max_gy": self.max_gy,
            "d2_gy": self.d2_gy, "d50_gy": self.d50_gy, "d98_gy": self.d98_gy,
            "voxel_tia_mbq_h": self.voxel_tia_mbq_h, "covered_volume_ml": self.covered_volume_ml,
            "flags": list(self.flags),
        }


@dataclass
class VoxelDosimetry:
    """Outcome of the voxel dosimetry; ``performed`` False with ``reason`` when it was skipped."""

    performed: bool
    reason: str = ""
    dose_map: Optional[Volume] = None  # Gy on the reference SPECT grid
    tia_map: Optional[Volume] = None  # MBq·h per voxel
    regions: dict[str, RegionVoxelDose] = field(default_factory=dict)
    kernel_directory: Optional[str] = None
    kernel_method: str = ""
    kernel_source: str = ""
    kernel_energy_scale: float = 1.0
    kernel_tabulated_energy_fraction: Optional[float] = None
    tia_method: str = ""
    resampling: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def method(self) -> str:
        return f"{self.tia_method} Dose: voxel S-value convolution (FFT) with {self.kernel_method}."

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {"performed": self.performed, "reason": self.reason}
        if self.performed:
            document.update({
                "method": self.method,
                "kernel_directory": self.kernel_directory,
                "kernel_source": self.kernel_source,
                "kernel_energy_scale": self.kernel_energy_scale,
                "kernel_tabulated_energy_fraction": self.kernel_tabulated_energy_fraction,
                "resampling": list(self.resampling),
                "total_tia_mbq_h": float(self.tia_map.array.sum(dtype=np.float64)),
                "regions": {name: region.to_dict() for name, region in self.regions.items()},
            })
        document["warnings"] = list(self.warnings)
        return document


def skipped(reason: str) -> VoxelDosimetry:
    return VoxelDosimetry(False, reason, warnings=[f"voxel dosimetry skipped: {reason}"])


def voxel_dosimetry(
    study: SpectStudy, registrations: Optional[Sequence[RigidRegistration]] = None
) -> VoxelDosimetry:
    """Voxel TIA, dose map and per-VOI DVHs on the reference SPECT grid (see the module docstring)."""
    if not study.voxel_dosimetry:
        return skipped("switched off in the study (voxel_dosimetry: false)")
    if len(study.timepoints) < 2:
        return skipped("the voxel-wise fit needs at least 2 time points")
    directory = study.kernel_directory or default_kernel_directory()
    if not os.path.isdir(directory):
        return skipped(
            f"no Lanconelli kernel folder at {directory} (set kernel_directory in STUDY.json to the folder "
            "of 177Lu<size>mm<soft|bone>.txt tables, or leave it out to use the shipped tables)"
        )
    reference = study.reference.activity.geometry
    try:
        kernel = normalise_kernel_energy(load_lanconelli_kernel(directory, reference.spacing_mm))
    except RagalivInputError as error:
        return skipped(f"no usable kernel for {np.round(reference.spacing_mm, 3).tolist()} mm voxels: {error}")

    frames = []
    resampling = []
    for index, point in enumerate(study.timepoints):
        matrix = None if registrations is None else registrations[index].matrix_lps
        same = point.activity.geometry.is_same_grid(reference, 1e-6)
        identity = matrix is None or np.allclose(matrix, np.eye(4), atol=1e-12)
        frames.append(resample_to_grid(point.activity, reference, matrix))
        if same and identity:
            resampling.append(f"{point.time_h:g} h: reference grid, not resampled")
        else:
            why = "registered" if not identity else "different grid"
            resampling.append(f"{point.time_h:g} h: linear interpolation onto the reference grid ({why})")
    stack = np.stack(frames).astype(np.float32, copy=False)
    del frames
    warnings = []
    bad = ~np.isfinite(stack)
    if bad.any():
        count = int(bad.any(axis=0).sum())
        warnings.append(f"{count} voxels with NaN/infinite SPECT values set to 0 for the voxel fit")
        stack[bad] = 0.0
    mask = np.any(stack > 0.0, axis=0)
    tia = voxel_tia_map(stack, study.time_h, study.half_life_h, mask)
    del stack
    tia_mbq_h = (tia.tia_bq_h_per_ml.astype(np.float64) * (reference.voxel_volume_ml / BQ_PER_MBQ)).astype(
        np.float32
    )
    dose = dose_map_gy(tia_mbq_h, kernel, voxel_size_mm=reference.spacing_mm)
    result = VoxelDosimetry(
        True,
        dose_map=Volume(dose, reference, "Gy"),
        tia_map=Volume(tia_mbq_h, reference, "MBq*h"),
        kernel_directory=os.path.abspath(directory),
        kernel_method=kernel.method,
        kernel_source=kernel.source,
        kernel_energy_scale=kernel.energy_scale,
        kernel_tabulated_energy_fraction=kernel.tabulated_energy_fraction,
        tia_method=tia.method_description,
        resampling=resampling,
        warnings=[*warnings, *tia.warnings, *kernel.warnings],
    )
    for segment in study.segments:
        region = _region_dvh(segment, dose, tia_mbq_h, reference)
        if region is None:
            result.warnings.append(f"{segment.name}: outside the reference SPECT, no DVH")
        else:
            result.regions[segment.name] = region
    return result


def _region_dvh(segment, dose: np.ndarray, tia_mbq_h: np.ndarray, grid) -> Optional[RegionVoxelDose]:
    weights = segment_weights(segment, grid)
    if weights.weight.sum() <= 0.0:
        return None
    kji = np.array(weights.kji())
    low, high = kji.min(axis=1), kji.max(axis=1) + 1
    box = tuple(slice(int(a), int(b)) for a, b in zip(low, high))
    local = np.zeros(tuple(int(n) for n in high - low), dtype=np.float64)
    local[tuple(kji - low[:, None])] = weights.weight
    dvh = dose_volume_histogram(dose[box], local)
    flags = []
    if weights.fraction_outside > 0.0:
        flags.append(f"{weights.fraction_outside:.1%} of the VOI outside the reference SPECT: DVH of the rest")
    return RegionVoxelDose(
        region=segment.name,
        mean_gy=dvh.mean_gy,
        min_gy=dvh.min_gy,
        max_gy=dvh.max_gy,
        d2_gy=dvh.d2_gy,
        d50_gy=dvh.d50_gy,
        d98_gy=dvh.d98_gy,
        voxel_tia_mbq_h=float(np.sum(tia_mbq_h[box].astype(np.float64) * local)),
        covered_volume_ml=weights.covered_volume_ml,
        dvh=dvh,
        flags=flags,
    )
