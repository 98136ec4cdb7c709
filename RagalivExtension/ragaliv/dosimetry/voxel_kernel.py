"""Lanconelli 2012 177Lu voxel S-value kernels: reading, symmetric expansion, resampling to a SPECT grid.

Data (shipped with the package in ``kernels/lu177_lanconelli/``, with its MIT licence and citation, read through
:func:`shipped_kernel_directory`; a ``kernel_directory`` given by the user overrides it): files
``177Lu<size>mm<soft|bone>.txt`` of Lanconelli N et al.,
"A free database of radionuclide voxel S values for the dosimetry of nonuniform activity distributions",
Phys Med Biol 2012;57:517, as distributed by MGHPhysicsResearch/MIRDCalculation ``MIRD/VoxelSValues/`` (MIT).
Format (dosimetry notes §1.2): Latin-1 text, CRLF; two header lines, then 216 rows ``i j k S`` for the octant
i, j, k = 0..5, S in mGy/(MBq·s) (mean dose in target voxel (i, j, k) per unit activity uniformly
distributed in voxel (0, 0, 0)).

Resampling to another (possibly anisotropic) voxel size — energy conserving, separable box overlap:

1. the tabulated kernel is read as a piecewise-constant dose field S(x) [mGy/(MBq·s)] over cubes of side a
   centred on the offsets n·a, n = -5..5 (the energy in a cube is S_n·ρ·a³, so S·m_voxel is the energy
   deposited at that offset; ρ cancels in what follows);
2. the new kernel value at offset m is the volume average of that field over the new voxel
   [(m-½)b, (m+½)b] per axis: S'_m = Σ_n S_n · Π_axes overlap_axis(m, n)/b_axis — a product of three 1D
   overlap matrices, so it is exact for box-shaped voxels and costs one small tensor contraction;
3. the new grid spans at least the tabulated extent (±5.5·a), so Σ S'·V_new equals Σ S·V_tab exactly; the
   result is renormalised to that tabulated total to remove round-off.

The source voxel stays the tabulated cube (the source side is not re-binned), which is a second-order effect
when b ≈ a: 4.8 → 5 mm reproduces the tabulated 5 mm kernel within 0.2 % (self voxel) and 2 % (offsets up to
4 voxels); the outermost shell is lower because the 4.8 mm table stops at 26.4 mm. The tabulated size is the
one nearest to the geometric mean of the requested voxel size; a change of more than a factor 2 along any
axis is refused, more than 10 % is warned.

Energy budget (:func:`normalise_kernel_energy`, issue 9). The tables sum to less than the ICRP-107 electron
energy: Σ S·m_voxel / 0.147923 MeV = 0.946–0.973 at 1.04 g/mL for 2.21–6.8 mm and 0.987 at 9.28 mm
(Testing/validation/test_voxel_kernel.py), i.e. 0.964–0.991 (1.006 at 9.28 mm) at Ragaliv's soft-tissue density
1.06 g/mL. The data
files do not document why (decay data, medium density or transport cut-offs of the 2012 simulation; the rise
with the kernel extent shows some photon energy inside it). In a region larger than the kernel, charged-particle
equilibrium holds and the absorbed energy per decay must equal the emitted non-penetrating energy (MIRD schema:
S = Δ·φ/m with Σ φ = 1 over an infinite medium; Bolch et al., MIRD Pamphlet 17, J Nucl Med 1999;40:11S), which is
what the local-deposition and organ-S methods use. The voxel pipeline therefore rescales the kernel so that
Σ S·m = 0.147923 MeV at 1.06 g/mL (ICRP-107 electrons), keeping its shape (the cross-fire between voxels); the
factor (0.994–1.037) and the tabulated fraction are stated with every voxel result. Photons are left out, as in the
local-deposition method (their self-absorbed share in a 300 g kidney is ~1.5 %, dosimetry notes §6.2).
"""

import importlib.resources
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional, Union

import numpy as np

from ..constants import JOULE_PER_MEV, LU177_ELECTRON_ENERGY_MEV_PER_DECAY, SOFT_TISSUE_DENSITY_G_PER_ML
from ..errors import RagalivInputError

LANCONELLI_SOURCE = (
    "Lanconelli et al. 2012 Phys Med Biol 57:517, 177Lu voxel S-values "
    "(MGHPhysicsResearch/MIRDCalculation MIRD/VoxelSValues, MIT)"
)
TISSUES = ("soft", "bone")
OCTANT_SIZE = 6  # offsets 0..5 per axis -> 11 x 11 x 11 full kernel
_FILE_PATTERN = re.compile(r"^177Lu(?P<size>\d+(?:\.\d+)?)mm(?P<tissue>soft|bone)\.txt$")
_HEADER_PATTERN = re.compile(r"Lu177\s*-\s*(?P<size>\d+(?:\.\d+)?)\s*mm\s*-\s*(?P<tissue>soft|bone)", re.I)
_SAME_SIZE_TOLERANCE_MM = 1e-3
_MAX_RESAMPLING_RATIO = 2.0
SHIPPED_KERNEL_FOLDER = "lu177_lanconelli"
_WARN_RESAMPLING_RATIO = 1.10


@dataclass
class LanconelliTable:
    """One tabulated octant, indexed ``[k, j, i]`` (file columns i, j, k)."""

    size_mm: float
    tissue: str
    octant_mgy_per_mbq_s: np.ndarray
    path: str


@dataclass
class DoseKernel:
    """A voxel S-value kernel on a given grid, centred: ``s_value_mgy_per_mbq_s[k, j, i]``, odd shape."""

    s_value_mgy_per_mbq_s: np.ndarray
    voxel_size_mm: np.ndarray  # (i, j, k) like Geometry.spacing_mm
    source: str
    tissue: str
    tabulated_size_mm: float
    method: str = "tabulated voxel S-values"
    warnings: list[str] = field(default_factory=list)
    energy_scale: float = 1.0  # factor applied to the tabulated values (normalise_kernel_energy)
    tabulated_energy_fraction: Optional[float] = None  # Σ S·m / E_e of the tables before that factor

    @property
    def voxel_volume_ml(self) -> float:
        return float(np.prod(self.voxel_size_mm)) / 1000.0

    @property
    def centre_kji(self) -> tuple[int, int, int]:
        return tuple(n // 2 for n in self.s_value_mgy_per_mbq_s.shape)

    def deposited_energy_fraction(
        self, density_g_per_ml: float, energy_mev_per_decay: float = LU177_ELECTRON_ENERGY_MEV_PER_DECAY
    ) -> float:
        """Σ S·m_voxel / E: energy deposited within the kernel per decay, as a fraction of ``E``."""
        mass_kg = density_g_per_ml * self.voxel_volume_ml / 1000.0
        # S [mGy/(MBq s)] * 1e-3 Gy/mGy * 1e-6 MBq/Bq * m [kg] = J per decay
        energy_j = float(self.s_value_mgy_per_mbq_s.sum()) * 1.0e-9 * mass_kg
        return energy_j / (energy_mev_per_decay * JOULE_PER_MEV)


def normalise_kernel_energy(
    kernel: DoseKernel,
    density_g_per_ml: float = SOFT_TISSUE_DENSITY_G_PER_ML,
    energy_mev_per_decay: float = LU177_ELECTRON_ENERGY_MEV_PER_DECAY,
) -> DoseKernel:
    """The kernel scaled so that Σ S·m_voxel = ``energy_mev_per_decay`` at ``density_g_per_ml`` (module docstring):
    in a uniform region larger than the kernel its dose then equals the local-deposition dose at that density."""
    if not (math.isfinite(density_g_per_ml) and density_g_per_ml > 0.0):
        raise RagalivInputError(f"kernel reference density {density_g_per_ml!r} g/mL must be > 0.")
    fraction = kernel.deposited_energy_fraction(density_g_per_ml, energy_mev_per_decay)
    if not (math.isfinite(fraction) and fraction > 0.0):
        raise RagalivInputError("the dose kernel sums to zero or a non-finite value.", "Check the kernel tables.")
    tabulated = fraction / kernel.energy_scale  # of the original tables, whatever was applied before
    scale = kernel.energy_scale / fraction
    method = (
        f"{kernel.method}; scaled ×{scale:.4f} so that Σ S·m = {energy_mev_per_decay:g} MeV per decay (ICRP-107 "
        f"electrons, as in the local-deposition method) at {density_g_per_ml:g} g/mL: the tables hold "
        f"{tabulated:.1%} of it (MIRD energy balance in a region larger than the kernel)"
    )
    return DoseKernel(
        s_value_mgy_per_mbq_s=np.asarray(kernel.s_value_mgy_per_mbq_s, dtype=float) / fraction,
        voxel_size_mm=kernel.voxel_size_mm,
        source=kernel.source,
        tissue=kernel.tissue,
        tabulated_size_mm=kernel.tabulated_size_mm,
        method=method,
        warnings=list(kernel.warnings),
        energy_scale=scale,
        tabulated_energy_fraction=tabulated,
    )


def shipped_kernel_directory() -> str:
    """Folder of the Lanconelli 177Lu tables shipped inside the package (checkout, wheel, Slicer extension).

    Read through :mod:`importlib.resources` so it follows the package wherever it is installed.
    """
    return str(importlib.resources.files(__package__) / "kernels" / SHIPPED_KERNEL_FOLDER)


def _malformed(path: str, what: str) -> RagalivInputError:
    return RagalivInputError(
        f"Lanconelli voxel S-value file {os.path.basename(path)} is malformed: {what}.",
        f"Replace {path} with the original file (2 header lines + 216 rows 'i j k S', "
        "shipped in ragaliv/dosimetry/kernels/lu177_lanconelli).",
    )


def read_lanconelli_table(path: Union[str, os.PathLike]) -> LanconelliTable:
    """Parse one ``177Lu<size>mm<tissue>.txt`` file (Latin-1, CRLF) into a 6×6×6 octant."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise RagalivInputError(
            f"Lanconelli voxel S-value file {path} not found.",
            "Point to the folder holding 177Lu<size>mm<soft|bone>.txt "
            "(the tables shipped in ragaliv/dosimetry/kernels/lu177_lanconelli).",
        )
    match = _FILE_PATTERN.match(os.path.basename(path))
    if match is None:
        raise _malformed(path, "the name is not 177Lu<size>mm<soft|bone>.txt")
    size_mm, tissue = float(match.group("size")), match.group("tissue")
    with open(path, encoding="latin-1") as handle:
        lines = [line.strip() for line in handle.read().splitlines()]
    lines = [line for line in lines if line]
    if len(lines) < 2:
        raise _malformed(path, "fewer than two header lines")
    header = _HEADER_PATTERN.search(lines[0])
    if header is None or abs(float(header.group("size")) - size_mm) > 1e-9:
        raise _malformed(path, f"first line {lines[0]!r} does not read 'Lu177 - {size_mm:g}mm - ...'")
    if header.group("tissue").lower() != tissue:
        raise _malformed(path, f"header tissue {header.group('tissue')!r} differs from the file name")
    rows = lines[2:]
    if len(rows) != OCTANT_SIZE**3:
        raise _malformed(path, f"{len(rows)} data rows instead of {OCTANT_SIZE**3}")
    octant = np.full((OCTANT_SIZE,) * 3, np.nan)
    for number, row in enumerate(rows, start=3):
        fields = row.split()
        if len(fields) != 4:
            raise _malformed(path, f"line {number} has {len(fields)} fields instead of 4")
        try:
            i, j, k = (int(text) for text in fields[:3])
            value = float(fields[3])
        except ValueError:
            raise _malformed(path, f"line {number} {row!r} is not 'i j k S'") from None
        if not all(0 <= n < OCTANT_SIZE for n in (i, j, k)):
            raise _malformed(path, f"line {number} has an index outside 0..5")
        if not (math.isfinite(value) and value > 0.0):
            raise _malformed(path, f"line {number} has a non-positive or non-finite S = {fields[3]}")
        if not math.isnan(octant[k, j, i]):
            raise _malformed(path, f"line {number} repeats offset ({i}, {j}, {k})")
        octant[k, j, i] = value
    return LanconelliTable(size_mm, tissue, octant, path)


def lanconelli_files(directory: Union[str, os.PathLike], tissue: str = "soft") -> dict[float, str]:
    """Tabulated voxel size (mm) -> file path for ``tissue`` in ``directory``."""
    directory = os.fspath(directory)
    if tissue not in TISSUES:
        raise RagalivInputError(f"unknown tissue {tissue!r} for Lanconelli kernels.", "Use 'soft' or 'bone'.")
    if not os.path.isdir(directory):
        raise RagalivInputError(
            f"Lanconelli voxel S-value folder {directory} not found.",
            "Give the folder holding 177Lu<size>mm<soft|bone>.txt "
            "(the tables shipped in ragaliv/dosimetry/kernels/lu177_lanconelli).",
        )
    files = {}
    for name in os.listdir(directory):
        match = _FILE_PATTERN.match(name)
        if match and match.group("tissue") == tissue:
            files[float(match.group("size"))] = os.path.join(directory, name)
    if not files:
        raise RagalivInputError(
            f"no 177Lu<size>mm{tissue}.txt file in {directory}.",
            "Copy the Lanconelli 177Lu voxel S-value tables (e.g. 177Lu4.8mmsoft.txt) into that folder.",
        )
    return dict(sorted(files.items()))


def expand_octant(octant: np.ndarray) -> np.ndarray:
    """Full (2n-1)³ kernel from the n³ octant by mirror symmetry in each axis: K[k,j,i] = O[|k|,|j|,|i|]."""
    octant = np.asarray(octant, dtype=float)
    index = np.abs(np.arange(-(octant.shape[0] - 1), octant.shape[0]))
    return octant[np.ix_(index, index, index)]


def _voxel_size_vector(voxel_size_mm: Union[float, Sequence[float]]) -> np.ndarray:
    hint = "Give the SPECT voxel size in mm, one number or (i, j, k) = Geometry.spacing_mm."
    try:
        size = np.asarray(voxel_size_mm, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise RagalivInputError(f"voxel size {voxel_size_mm!r} is not numeric.", hint) from None
    if size.size == 1:
        size = np.repeat(size, 3)
    if size.size != 3 or not np.all(np.isfinite(size)) or np.any(size <= 0.0):
        raise RagalivInputError(f"voxel size {voxel_size_mm!r} must be 1 or 3 positive finite numbers.", hint)
    return size


def nearest_tabulated_size_mm(available_mm: Sequence[float], voxel_size_mm: Sequence[float]) -> float:
    """Tabulated cubic size nearest to the geometric mean of ``voxel_size_mm`` (i, j, k)."""
    target = float(np.prod(_voxel_size_vector(voxel_size_mm))) ** (1.0 / 3.0)
    return min(available_mm, key=lambda size: (abs(size - target), size))


def load_lanconelli_kernel(
    directory: Union[str, os.PathLike],
    voxel_size_mm: Union[float, Sequence[float]],
    tissue: str = "soft",
    tabulated_size_mm: Optional[float] = None,
) -> DoseKernel:
    """Kernel for ``voxel_size_mm`` (i, j, k): nearest tabulated size, resampled when the size differs.

    ``tabulated_size_mm`` forces the tabulated table to start from (it must exist in ``directory``).
    """
    size = _voxel_size_vector(voxel_size_mm)
    files = lanconelli_files(directory, tissue)
    if tabulated_size_mm is None:
        chosen = nearest_tabulated_size_mm(list(files), size)
    else:
        matches = [s for s in files if abs(s - float(tabulated_size_mm)) < _SAME_SIZE_TOLERANCE_MM]
        if not matches:
            raise RagalivInputError(
                f"no tabulated {tissue} kernel of {tabulated_size_mm} mm in {os.fspath(directory)}.",
                f"Available sizes (mm): {', '.join(f'{s:g}' for s in files)}.",
            )
        chosen = matches[0]
    table = read_lanconelli_table(files[chosen])
    kernel = DoseKernel(
        s_value_mgy_per_mbq_s=expand_octant(table.octant_mgy_per_mbq_s),
        voxel_size_mm=np.full(3, table.size_mm),
        source=f"{LANCONELLI_SOURCE}; file {os.path.basename(table.path)}",
        tissue=tissue,
        tabulated_size_mm=table.size_mm,
        method=f"Lanconelli voxel S-value kernel, {table.size_mm:g} mm {tissue} tissue",
    )
    return resample_kernel(kernel, size)


def _overlap_matrix(old_mm: float, old_half: int, new_mm: float) -> np.ndarray:
    """W[m, n] = length of new voxel m ∩ old voxel n divided by the new voxel length."""
    new_half = max(0, math.ceil((old_half + 0.5) * old_mm / new_mm - 0.5 - 1e-9))
    old_centres = np.arange(-old_half, old_half + 1) * old_mm
    new_centres = np.arange(-new_half, new_half + 1) * new_mm
    low = np.maximum((new_centres - new_mm / 2)[:, None], (old_centres - old_mm / 2)[None, :])
    high = np.minimum((new_centres + new_mm / 2)[:, None], (old_centres + old_mm / 2)[None, :])
    return np.clip(high - low, 0.0, None) / new_mm


def _mm(size: np.ndarray) -> str:
    return " × ".join(f"{float(s):.5g}" for s in size)


def resample_kernel(kernel: DoseKernel, voxel_size_mm: Union[float, Sequence[float]]) -> DoseKernel:
    """Kernel on voxels of ``voxel_size_mm`` (i, j, k) by energy-conserving box overlap (module doc)."""
    size = _voxel_size_vector(voxel_size_mm)
    old_size = np.asarray(kernel.voxel_size_mm, dtype=float)
    if np.all(np.abs(size - old_size) < _SAME_SIZE_TOLERANCE_MM):
        return kernel
    ratio = size / old_size
    if np.any(ratio > _MAX_RESAMPLING_RATIO) or np.any(ratio < 1.0 / _MAX_RESAMPLING_RATIO):
        raise RagalivInputError(
            f"voxel size {_mm(size)} mm is more than a factor {_MAX_RESAMPLING_RATIO:g} from the kernel "
            f"voxel size {_mm(old_size)} mm; resampling would be unreliable.",
            "Resample the SPECT (or TIA map) to a voxel size near a tabulated one (2.21–9.28 mm).",
        )
    values = np.asarray(kernel.s_value_mgy_per_mbq_s, dtype=float)
    halves = [n // 2 for n in values.shape]
    # values is [k, j, i]; size/old_size are (i, j, k)
    w_k = _overlap_matrix(old_size[2], halves[0], size[2])
    w_j = _overlap_matrix(old_size[1], halves[1], size[1])
    w_i = _overlap_matrix(old_size[0], halves[2], size[0])
    resampled = np.einsum("ak,bj,ci,kji->abc", w_k, w_j, w_i, values, optimize=True)
    tabulated_energy = values.sum() * float(np.prod(old_size))
    resampled *= tabulated_energy / (resampled.sum() * float(np.prod(size)))
    messages = list(kernel.warnings)
    if np.any(ratio > _WARN_RESAMPLING_RATIO) or np.any(ratio < 1.0 / _WARN_RESAMPLING_RATIO):
        messages.append(
            f"kernel resampled from {_mm(old_size)} mm to {_mm(size)} mm (> 10 % change along an axis): "
            "the self-voxel value is approximate."
        )
    return DoseKernel(
        s_value_mgy_per_mbq_s=resampled,
        voxel_size_mm=size,
        source=kernel.source,
        tissue=kernel.tissue,
        tabulated_size_mm=kernel.tabulated_size_mm,
        method=f"{kernel.method}, resampled to {_mm(size)} mm by energy-conserving box overlap",
        warnings=messages,
        energy_scale=kernel.energy_scale,
        tabulated_energy_fraction=kernel.tabulated_energy_fraction,
    )
