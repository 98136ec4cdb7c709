"""Voxel grids, images and segment masks with explicit geometry.

Conventions (the same as SimpleITK's ``GetArrayFromImage`` and Slicer's ``arrayFromVolume``):

* arrays are indexed ``[k, j, i]`` (slice, row, column);
* geometry is a 4x4 matrix mapping homogeneous voxel indices ``(i, j, k, 1)`` to patient LPS millimetres
  (DICOM / ITK convention). Slicer works in RAS; the MRML adapters flip the first two axes.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


class Geometry:
    """A voxel grid: its shape in ``[k, j, i]`` order and its IJK->LPS matrix (mm)."""

    __slots__ = ("_ijk_to_lps", "shape_kji")

    def __init__(self, shape_kji: Sequence[int], ijk_to_lps: np.ndarray):
        self.shape_kji = tuple(int(n) for n in shape_kji)
        if len(self.shape_kji) != 3:
            raise ValueError(f"a 3D grid needs three dimensions, got shape {self.shape_kji}")
        matrix = np.array(ijk_to_lps, dtype=float)
        if matrix.shape != (4, 4):
            raise ValueError("ijk_to_lps must be a 4x4 matrix")
        matrix[3] = (0.0, 0.0, 0.0, 1.0)
        if abs(np.linalg.det(matrix[:3, :3])) < 1e-12:
            raise ValueError("ijk_to_lps is singular (a spacing is zero or two axes coincide)")
        matrix.setflags(write=False)
        self._ijk_to_lps = matrix

    # --- construction --------------------------------------------------------------------------------
    @classmethod
    def from_spacing(
        cls,
        shape_kji: Sequence[int],
        spacing_mm: Sequence[float],
        origin_lps_mm: Sequence[float] = (0.0, 0.0, 0.0),
        direction: Optional[np.ndarray] = None,
    ) -> "Geometry":
        """Grid from spacing ``(i, j, k)``, origin (centre of voxel 0,0,0) and direction cosines (columns)."""
        direction = np.eye(3) if direction is None else np.asarray(direction, dtype=float)
        matrix = np.eye(4)
        matrix[:3, :3] = direction * np.asarray(spacing_mm, dtype=float)[np.newaxis, :]
        matrix[:3, 3] = origin_lps_mm
        return cls(shape_kji, matrix)

    # --- properties ----------------------------------------------------------------------------------
    @property
    def ijk_to_lps(self) -> np.ndarray:
        return self._ijk_to_lps

    @property
    def lps_to_ijk(self) -> np.ndarray:
        return np.linalg.inv(self._ijk_to_lps)

    @property
    def ijk_to_ras(self) -> np.ndarray:
        return LPS_TO_RAS @ self._ijk_to_lps

    @property
    def spacing_mm(self) -> np.ndarray:
        """Voxel size along i, j, k in mm."""
        return np.linalg.norm(self._ijk_to_lps[:3, :3], axis=0)

    @property
    def origin_lps_mm(self) -> np.ndarray:
        return self._ijk_to_lps[:3, 3].copy()

    @property
    def direction(self) -> np.ndarray:
        """Unit direction cosines of the i, j, k axes as columns (LPS)."""
        return self._ijk_to_lps[:3, :3] / self.spacing_mm[np.newaxis, :]

    @property
    def voxel_volume_ml(self) -> float:
        return abs(float(np.linalg.det(self._ijk_to_lps[:3, :3]))) / 1000.0

    @property
    def size_ijk(self) -> tuple[int, int, int]:
        k, j, i = self.shape_kji
        return (i, j, k)

    # --- coordinates ---------------------------------------------------------------------------------
    def index_to_lps(self, ijk: np.ndarray) -> np.ndarray:
        """Continuous voxel indices ``(..., 3)`` in (i, j, k) order -> LPS mm."""
        ijk = np.asarray(ijk, dtype=float)
        return ijk @ self._ijk_to_lps[:3, :3].T + self._ijk_to_lps[:3, 3]

    def lps_to_index(self, lps: np.ndarray) -> np.ndarray:
        """LPS mm ``(..., 3)`` -> continuous voxel indices in (i, j, k) order."""
        inverse = self.lps_to_ijk
        return np.asarray(lps, dtype=float) @ inverse[:3, :3].T + inverse[:3, 3]

    def voxel_centres_lps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """LPS coordinates (x, y, z), each shaped like the grid; memory grows with the grid."""
        k, j, i = np.meshgrid(*(np.arange(n, dtype=float) for n in self.shape_kji), indexing="ij")
        m = self._ijk_to_lps
        x = m[0, 0] * i + m[0, 1] * j + m[0, 2] * k + m[0, 3]
        y = m[1, 0] * i + m[1, 1] * j + m[1, 2] * k + m[1, 3]
        z = m[2, 0] * i + m[2, 1] * j + m[2, 2] * k + m[2, 3]
        return x, y, z

    def corners_lps(self) -> np.ndarray:
        """The 8 outer corners of the grid (voxel faces, not centres), in LPS mm."""
        k, j, i = self.shape_kji
        corners = np.array(
            [[a, b, c] for a in (-0.5, i - 0.5) for b in (-0.5, j - 0.5) for c in (-0.5, k - 0.5)]
        )
        return self.index_to_lps(corners)

    def sub_grid(self, k0: int, k1: int, j0: int, j1: int, i0: int, i1: int) -> "Geometry":
        """Geometry of the block ``[k0:k1, j0:j1, i0:i1]`` of this grid."""
        matrix = np.array(self._ijk_to_lps)
        matrix[:3, 3] = self.index_to_lps(np.array([i0, j0, k0], dtype=float))
        return Geometry((k1 - k0, j1 - j0, i1 - i0), matrix)

    def is_same_grid(self, other: "Geometry", tolerance_mm: float = 1e-3) -> bool:
        return self.shape_kji == other.shape_kji and bool(
            np.allclose(self._ijk_to_lps, other._ijk_to_lps, atol=tolerance_mm)
        )

    def to_dict(self) -> dict[str, Any]:
        return {"shape_kji": list(self.shape_kji), "ijk_to_lps": self._ijk_to_lps.round(9).tolist()}

    def __repr__(self) -> str:
        spacing = ", ".join(f"{s:.4g}" for s in self.spacing_mm)
        return f"Geometry(shape_kji={self.shape_kji}, spacing_mm=({spacing}))"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Geometry) and self.is_same_grid(other, 1e-9)

    def __hash__(self) -> int:
        return hash((self.shape_kji, self._ijk_to_lps.round(6).tobytes()))


@dataclass
class Volume:
    """An image on a grid. ``unit`` names what the voxels hold, e.g. ``"Bq/mL"``, ``"g/mL"`` (SUV), ``"HU"``."""

    array: np.ndarray
    geometry: Geometry
    unit: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if tuple(self.array.shape) != self.geometry.shape_kji:
            raise ValueError(
                f"array shape {tuple(self.array.shape)} does not match geometry {self.geometry.shape_kji}"
            )


@dataclass
class SegmentMask:
    """One segment as a binary mask cropped to its bounding box, with the geometry of that crop."""

    name: str
    mask: np.ndarray
    geometry: Geometry
    segment_id: str = ""
    color_rgb: tuple[float, float, float] = (1.0, 1.0, 0.0)

    def __post_init__(self) -> None:
        self.mask = np.asarray(self.mask, dtype=bool)
        if tuple(self.mask.shape) != self.geometry.shape_kji:
            raise ValueError(f"mask of segment {self.name!r} does not match its geometry")
        if not self.segment_id:
            self.segment_id = self.name

    @classmethod
    def from_full_mask(
        cls, name: str, mask: np.ndarray, geometry: Geometry, **kwargs: Any
    ) -> "SegmentMask":
        """Crop a mask on ``geometry`` to its bounding box (an empty mask keeps a 1-voxel grid)."""
        mask = np.asarray(mask, dtype=bool)
        box = bounding_box(mask)
        if box is None:
            return cls(name, np.zeros((1, 1, 1), bool), geometry.sub_grid(0, 1, 0, 1, 0, 1), **kwargs)
        (k0, k1), (j0, j1), (i0, i1) = box
        return cls(name, mask[k0:k1, j0:j1, i0:i1], geometry.sub_grid(k0, k1, j0, j1, i0, i1), **kwargs)

    @property
    def voxel_count(self) -> int:
        return int(np.count_nonzero(self.mask))

    @property
    def volume_ml(self) -> float:
        """Volume from the segment's own grid (not from the PET grid)."""
        return self.voxel_count * self.geometry.voxel_volume_ml

    @property
    def is_empty(self) -> bool:
        return self.voxel_count == 0


def bounding_box(mask: np.ndarray) -> Optional[tuple[tuple[int, int], ...]]:
    """Half-open ``((k0, k1), (j0, j1), (i0, i1))`` of the true voxels, or None if there are none."""
    box = []
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        present = np.flatnonzero(mask.any(axis=other))
        if present.size == 0:
            return None
        box.append((int(present[0]), int(present[-1]) + 1))
    return tuple(box)
