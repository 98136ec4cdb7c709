"""Segments placed by a click: a sphere of chosen diameter, or an automatic PET contour.

Both are rasterised on the reference grid (the MRI the radiologist segments on), so they can be refined
with the Segment Editor like any drawn segment.

Automatic contour: within ``search_radius_mm`` of the click, find the hottest IA-PET voxel; keep the
PET voxels at or above ``percent`` % of that maximum that are connected (26-neighbourhood) to it and
inside the search sphere; the reference voxels whose centre falls in such a PET voxel form the lesion,
clipped to the liver segment when one is given. (A fixed percentage of the local maximum is the usual
isocontour approach for PET lesions, e.g. 40-50 % for SUV-based volumes.)
"""

from collections.abc import Sequence
from typing import Optional

import numpy as np
from scipy import ndimage

from ..errors import RagalivInputError
from ..geometry import Geometry, SegmentMask, Volume

# Organ VOIs placed by a click: sphere diameters (mm). Healthy liver: PERCIST 3 cm sphere in the right
# lobe (PET notes §6). The others are design choices inside the organ parenchyma (notes: geometry [M]).
VOI_PRESET_DIAMETERS_MM = {
    "Healthy liver": 30.0,
    "Spleen": 30.0,
    "Kidney left": 20.0,
    "Kidney right": 20.0,
    "Bone marrow": 15.0,  # one sphere per click in L2, L3 and L4, added to the same segment
}


def _reference_box(reference: Geometry, centre_lps: np.ndarray, radius_mm: float) -> tuple[tuple[int, int], ...]:
    """Index ranges (k, j, i) of the reference voxels within ``radius_mm`` of the centre (clipped)."""
    corners = centre_lps + np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * radius_mm
    index = reference.lps_to_index(corners)
    low = np.clip(np.floor(index.min(axis=0)).astype(int) - 1, 0, None)
    high = np.minimum(np.ceil(index.max(axis=0)).astype(int) + 2, reference.size_ijk)
    if np.any(high <= low):
        raise RagalivInputError(
            "The clicked point is outside the reference image.", "Click inside the MRI (or chosen reference) volume."
        )
    return tuple((int(low[a]), int(high[a])) for a in (2, 1, 0))


def _box_centres(reference: Geometry, box) -> tuple[Geometry, np.ndarray]:
    (k0, k1), (j0, j1), (i0, i1) = box
    sub = reference.sub_grid(k0, k1, j0, j1, i0, i1)
    x, y, z = sub.voxel_centres_lps()
    return sub, np.stack([x, y, z], axis=-1)


def sphere_segment(
    name: str, centre_lps: Sequence[float], diameter_mm: float, reference: Geometry
) -> SegmentMask:
    """A ball of ``diameter_mm`` around the click, on the reference grid (voxel centres inside)."""
    if not diameter_mm > 0:
        raise RagalivInputError(f"Sphere diameter must be positive, got {diameter_mm}.", "Set the lesion diameter.")
    centre = np.asarray(centre_lps, dtype=float)
    box = _reference_box(reference, centre, diameter_mm / 2.0)
    sub, points = _box_centres(reference, box)
    mask = np.linalg.norm(points - centre, axis=-1) <= diameter_mm / 2.0
    if not mask.any():
        raise RagalivInputError(
            f"A {diameter_mm:g} mm sphere holds no voxel of the reference image.", "Increase the diameter."
        )
    return SegmentMask.from_full_mask(name, mask, sub)


def auto_contour_segment(
    name: str,
    pet: Volume,
    click_lps: Sequence[float],
    reference: Geometry,
    percent_of_max: float = 40.0,
    search_radius_mm: float = 25.0,
    clip: Optional[SegmentMask] = None,
) -> SegmentMask:
    """Isocontour of the IA PET around the click, rasterised on the reference grid (see module docstring)."""
    if not 0 < percent_of_max < 100:
        raise RagalivInputError(f"Contour level must be between 0 and 100 %, got {percent_of_max}.")
    click = np.asarray(click_lps, dtype=float)
    geometry = pet.geometry
    # PET voxels within the search sphere.
    corners = click + np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * search_radius_mm
    index = geometry.lps_to_index(corners)
    low = np.clip(np.floor(index.min(axis=0)).astype(int), 0, None)
    high = np.minimum(np.ceil(index.max(axis=0)).astype(int) + 1, geometry.size_ijk)
    if np.any(high <= low):
        raise RagalivInputError("The clicked point is outside the PET field of view.", "Click inside the IA PET.")
    sub = geometry.sub_grid(low[2], high[2], low[1], high[1], low[0], high[0])
    values = np.asarray(pet.array[low[2]:high[2], low[1]:high[1], low[0]:high[0]], dtype=float)
    x, y, z = sub.voxel_centres_lps()
    in_search = np.sqrt((x - click[0]) ** 2 + (y - click[1]) ** 2 + (z - click[2]) ** 2) <= search_radius_mm
    candidates = np.where(in_search & np.isfinite(values), values, -np.inf)
    peak_index = np.unravel_index(int(np.argmax(candidates)), candidates.shape)
    peak = candidates[peak_index]
    if not np.isfinite(peak) or peak <= 0:
        raise RagalivInputError(
            "No uptake found near the click.", "Click on the lesion in the IA PET, or place a sphere instead."
        )
    above = in_search & (values >= peak * percent_of_max / 100.0)
    components, _ = ndimage.label(above, structure=np.ones((3, 3, 3), bool))
    region = components == components[peak_index]

    box = _reference_box(reference, click, search_radius_mm)
    ref_sub, points = _box_centres(reference, box)
    pet_index = np.rint(sub.lps_to_index(points)).astype(int)
    inside = np.all((pet_index >= 0) & (pet_index < np.array(sub.size_ijk)), axis=-1)
    mask = np.zeros(ref_sub.shape_kji, bool)
    hits = pet_index[inside]
    mask[inside] = region[hits[:, 2], hits[:, 1], hits[:, 0]]
    if clip is not None and not clip.is_empty:
        clip_index = np.rint(clip.geometry.lps_to_index(points)).astype(int)
        in_clip_box = np.all((clip_index >= 0) & (clip_index < np.array(clip.geometry.size_ijk)), axis=-1)
        allowed = np.zeros(ref_sub.shape_kji, bool)
        inner = clip_index[in_clip_box]
        allowed[in_clip_box] = clip.mask[inner[:, 2], inner[:, 1], inner[:, 0]]
        mask &= allowed
    if not mask.any():
        raise RagalivInputError(
            "The automatic contour is empty (outside the liver, or below the reference resolution).",
            "Lower the contour level, click closer to the lesion, or place a sphere.",
        )
    return SegmentMask.from_full_mask(name, mask, ref_sub)


def next_lesion_name(existing_names: Sequence[str]) -> str:
    """The first free "Lesion n" (n = 1, 2, ...)."""
    taken = {name.strip().lower() for name in existing_names}
    number = 1
    while f"lesion {number}" in taken:
        number += 1
    return f"Lesion {number}"
