"""A segment drawn on one grid (usually the MRI or CT) seen from another grid (a PET or SPECT).

PET values are always taken in the PET's own grid (GUIDE §3): we never interpolate the PET. Instead each
PET voxel gets the fraction of its volume that lies inside the segment (partial-voxel weight).

Two ways, same result:

* **Axis-aligned grids** (the usual case: both axial, axes parallel up to order and sign): the overlap
  of two boxes is the product of three 1D interval overlaps, so the weights are an exact separable
  contraction of the mask with three small overlap matrices. Exact, and Σ w·V_pet = V_segment.
* **Oblique grids**: for every PET voxel near the segment, look up the segment mask at the voxel centre.
  Voxels whose centre and all 26 neighbours' centres agree are fully inside (1) or outside (0); the
  others (boundary, thin structures and their neighbours) are sub-sampled on a lattice with at least two
  samples per segment voxel along each axis.
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .geometry import Geometry, SegmentMask

MIN_SUBDIVISIONS = 4  # per axis, even so that a voxel-centred boundary splits the samples evenly
MAX_SUBDIVISIONS = 8


@dataclass
class VoxelWeights:
    """Target-grid voxels touched by a segment: flat ``[k, j, i]`` indices and covered fractions (0, 1]."""

    target: Geometry
    flat_index: np.ndarray
    weight: np.ndarray
    segment_voxel_count: int
    segment_voxels_outside: int

    @property
    def fraction_outside(self) -> float:
        """Fraction of the segment's voxels whose centre lies outside the target grid (field of view)."""
        if self.segment_voxel_count == 0:
            return 0.0
        return self.segment_voxels_outside / self.segment_voxel_count

    @property
    def covered_volume_ml(self) -> float:
        return float(self.weight.sum()) * self.target.voxel_volume_ml

    def kji(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.unravel_index(self.flat_index, self.target.shape_kji)


def _mask_lookup(segment: SegmentMask, target_to_segment: np.ndarray, points_ijk: np.ndarray) -> np.ndarray:
    """Segment mask value (nearest voxel) at continuous target indices ``(n, 3)``."""
    indices = np.rint(points_ijk @ target_to_segment[:3, :3].T + target_to_segment[:3, 3]).astype(np.int64)
    size_k, size_j, size_i = segment.mask.shape
    i, j, k = indices[:, 0], indices[:, 1], indices[:, 2]
    inside = (i >= 0) & (i < size_i) & (j >= 0) & (j < size_j) & (k >= 0) & (k < size_k)
    result = np.zeros(len(indices), dtype=bool)
    result[inside] = segment.mask[k[inside], j[inside], i[inside]]
    return result


def subdivisions_for(segment_grid: Geometry, target: Geometry) -> tuple[int, int, int]:
    """Samples per target voxel along i, j, k: two or more per segment voxel (Nyquist), even, capped."""
    finest_mm = float(segment_grid.spacing_mm.min())
    wanted = np.ceil(2.0 * target.spacing_mm / finest_mm / 2.0) * 2
    return tuple(int(n) for n in np.clip(wanted, MIN_SUBDIVISIONS, MAX_SUBDIVISIONS))


def _sample_offsets(subdivisions: tuple[int, int, int]) -> np.ndarray:
    axes = [(np.arange(n) + 0.5) / n - 0.5 for n in subdivisions]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)


def _axis_permutation(segment_to_target: np.ndarray) -> Optional[np.ndarray]:
    """For each segment axis (i, j, k) the parallel target axis, or None if the grids are oblique."""
    linear = segment_to_target[:3, :3]
    permutation = np.argmax(np.abs(linear), axis=0)
    if len(set(permutation.tolist())) != 3:
        return None
    off_axis = np.abs(linear).copy()
    off_axis[permutation, np.arange(3)] = 0.0
    scale = np.abs(linear[permutation, np.arange(3)])
    return permutation if np.all(off_axis < 1e-6 * scale.max()) else None


def _interval_overlaps(centres: np.ndarray, width: float, first: int, count: int) -> np.ndarray:
    """Overlap lengths (in target voxel units) of intervals ``centre ± width/2`` with target voxels
    ``first .. first+count-1`` (voxel n spans [n - 0.5, n + 0.5])."""
    low = centres[:, np.newaxis] - width / 2.0
    high = centres[:, np.newaxis] + width / 2.0
    edges = np.arange(first, first + count, dtype=float)[np.newaxis, :]
    return np.clip(np.minimum(high, edges + 0.5) - np.maximum(low, edges - 0.5), 0.0, None)


def _aligned_weights(
    segment: SegmentMask, target: Geometry, segment_to_target: np.ndarray, permutation: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Exact weights on the target box around the segment: (weights [K, J, I] of the box, box low ijk)."""
    target_size_ijk = np.array(target.size_ijk)
    mask_size_ijk = np.array(segment.mask.shape[::-1])
    overlaps = []
    low = np.zeros(3, int)
    high = np.zeros(3, int)
    for axis in range(3):  # segment axis i, j, k
        target_axis = permutation[axis]
        step = segment_to_target[target_axis, axis]
        centres = np.arange(mask_size_ijk[axis]) * step + segment_to_target[target_axis, 3]
        width = abs(step)
        first = max(int(np.floor(centres.min() - width / 2.0 + 0.5)), 0)
        last = min(int(np.floor(centres.max() + width / 2.0 + 0.5)), target_size_ijk[target_axis] - 1)
        low[target_axis], high[target_axis] = first, last + 1
        overlaps.append(_interval_overlaps(centres, width, first, max(last - first + 1, 0)))
    if np.any(high <= low):
        return np.zeros((0, 0, 0)), low
    mask = segment.mask.astype(np.float32)  # [k, j, i]
    # Contract segment i, then j, then k with their overlap matrices.
    result = np.tensordot(mask, overlaps[0].astype(np.float32), axes=([2], [0]))  # [k, j, A]
    result = np.tensordot(result, overlaps[1].astype(np.float32), axes=([1], [0]))  # [k, A, B]
    result = np.tensordot(result, overlaps[2].astype(np.float32), axes=([0], [0]))  # [A, B, C]
    # Axes A, B, C are target axes permutation[0..2]; reorder to target [K, J, I].
    order_ijk = np.argsort(permutation)  # position of target i, j, k among A, B, C
    result = np.transpose(result, (order_ijk[2], order_ijk[1], order_ijk[0]))
    return np.clip(result.astype(np.float64), 0.0, 1.0), low


def segment_weights(
    segment: SegmentMask, target: Geometry, subdivisions: Optional[tuple[int, int, int]] = None
) -> VoxelWeights:
    """Partial-voxel weights of ``segment`` on the ``target`` grid (see module docstring)."""
    empty = VoxelWeights(target, np.zeros(0, np.int64), np.zeros(0), 0, 0)
    segment_kji = np.argwhere(segment.mask)
    if segment_kji.size == 0:
        return empty
    segment_to_target = target.lps_to_ijk @ segment.geometry.ijk_to_lps
    target_to_segment = np.linalg.inv(segment_to_target)

    # Forward: where do the segment voxel centres fall on the target grid?
    pushed = segment_kji[:, ::-1].astype(float) @ segment_to_target[:3, :3].T + segment_to_target[:3, 3]
    pushed_ijk = np.rint(pushed).astype(np.int64)
    target_size_ijk = np.array(target.size_ijk)
    in_grid = np.all((pushed_ijk >= 0) & (pushed_ijk < target_size_ijk), axis=1)
    outside_count = int(np.count_nonzero(~in_grid))

    permutation = _axis_permutation(segment_to_target)
    if permutation is not None and subdivisions is None:
        box_weights, low = _aligned_weights(segment, target, segment_to_target, permutation)
        return _sparse(box_weights, low, target, len(segment_kji), outside_count)

    # Target box around the segment (one voxel margin), clipped to the target grid.
    corners = segment.geometry.corners_lps()
    corner_ijk = target.lps_to_index(corners)
    low = np.maximum(np.floor(corner_ijk.min(axis=0)).astype(int) - 1, 0)
    high = np.minimum(np.ceil(corner_ijk.max(axis=0)).astype(int) + 2, target_size_ijk)
    if np.any(high <= low):
        return VoxelWeights(target, empty.flat_index, empty.weight, len(segment_kji), outside_count)
    box_shape_kji = tuple(int(n) for n in (high - low)[::-1])

    # Centre lookup on the whole box.
    kk, jj, ii = np.indices(box_shape_kji)
    centres = np.stack([ii.ravel() + low[0], jj.ravel() + low[1], kk.ravel() + low[2]], axis=1).astype(float)
    centre_inside = _mask_lookup(segment, target_to_segment, centres).reshape(box_shape_kji)

    # Voxels that hold at least one segment voxel centre.
    touched = np.zeros(box_shape_kji, dtype=bool)
    local = pushed_ijk[in_grid] - low
    touched[local[:, 2], local[:, 1], local[:, 0]] = True

    from scipy import ndimage  # only oblique grids need it; keeps the CLI start fast

    structure = np.ones((3, 3, 3), dtype=bool)
    interior = ndimage.binary_erosion(centre_inside, structure, border_value=0)
    boundary = ndimage.binary_dilation(centre_inside | touched, structure) & ~interior

    weights = interior.astype(np.float64)
    boundary_kji = np.argwhere(boundary)
    if len(boundary_kji):
        offsets = _sample_offsets(subdivisions or subdivisions_for(segment.geometry, target))
        base = boundary_kji[:, ::-1].astype(float) + low
        fraction = np.empty(len(base))
        chunk = max(1, 400_000 // len(offsets))
        for start in range(0, len(base), chunk):
            points = (base[start : start + chunk, np.newaxis, :] + offsets[np.newaxis, :, :]).reshape(-1, 3)
            hits = _mask_lookup(segment, target_to_segment, points).reshape(-1, len(offsets))
            fraction[start : start + chunk] = hits.mean(axis=1)
        weights[boundary_kji[:, 0], boundary_kji[:, 1], boundary_kji[:, 2]] = fraction

    return _sparse(weights, low, target, len(segment_kji), outside_count)


def _sparse(
    box_weights: np.ndarray, low_ijk: np.ndarray, target: Geometry, voxel_count: int, outside_count: int
) -> VoxelWeights:
    nonzero = np.argwhere(box_weights > 1e-9)
    global_kji = nonzero + np.asarray(low_ijk)[::-1]
    flat = np.ravel_multi_index(tuple(global_kji.T), target.shape_kji)
    return VoxelWeights(target, flat, box_weights[tuple(nonzero.T)], voxel_count, outside_count)
