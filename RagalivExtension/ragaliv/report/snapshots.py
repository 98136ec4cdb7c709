"""Fused MRI/PET snapshots of a lesion with its contour, as PNG bytes (numpy + zlib; no matplotlib).

One axial plane through the segment centre, sampled on a square grid in patient LPS millimetres and shown
in radiological convention (patient right on the image left, anterior at the top). The background is the
reference MRI (grey, windowed on the panel) or, without an MRI, the IA PET in grey; the PET (IA or IV, on
one SUV scale for both so their difference is visible) is blended in a "hot" colour map, and the segment
boundary is drawn in cyan. Linear interpolation is for display only: the statistics are computed in each
PET's own grid (:mod:`ragaliv.ratio.uptake`). The same inputs give byte-identical PNGs.
"""

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ..geometry import SegmentMask, Volume

PANEL_PIXELS = 240  # width and height of one panel
MIN_FIELD_MM = 60.0  # smallest field of view (small lesions still show their surroundings)
FIELD_PER_EXTENT = 2.5  # field of view = 2.5 x the lesion's in-plane extent
PET_OPACITY = 0.7  # opacity of the PET at and above the top of its colour scale
PET_TRANSPARENT_BELOW = 0.05  # fraction of the scale maximum under which the PET is not drawn
CONTOUR_RGB = (0, 230, 255)
MARKER_RGB = (80, 255, 80)
MRI_WINDOW_PERCENTILES = (1.0, 99.5)


@dataclass
class SnapshotPlane:
    """Where a lesion is shown: plane centre (LPS mm), field of view (mm) and the SUV scale."""

    segment: str
    centre_lps_mm: tuple[float, float, float]
    field_mm: float
    suv_max_scale: float
    marker_lps_mm: Optional[tuple[float, float, float]] = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment": self.segment,
            "centre_lps_mm": [round(float(c), 3) for c in self.centre_lps_mm],
            "field_mm": round(float(self.field_mm), 3),
            "suv_max_scale": round(float(self.suv_max_scale), 6),
            "marker_lps_mm": None if self.marker_lps_mm is None else [round(float(c), 3) for c in self.marker_lps_mm],
        }


# --- PNG -------------------------------------------------------------------------------------------------
def encode_png(rgb: np.ndarray) -> bytes:
    """8-bit RGB ``[rows, columns, 3]`` -> PNG bytes (no timestamp: deterministic)."""
    image = np.ascontiguousarray(np.clip(rgb, 0, 255).astype(np.uint8))
    height, width = image.shape[:2]
    raw = b"".join(b"\x00" + image[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


# --- sampling --------------------------------------------------------------------------------------------
def _plane_points(plane: SnapshotPlane) -> np.ndarray:
    """LPS points ``[rows, columns, 3]``: columns run R->L (x up), rows A->P (y up), z fixed."""
    step = plane.field_mm / PANEL_PIXELS
    offsets = (np.arange(PANEL_PIXELS) - (PANEL_PIXELS - 1) / 2.0) * step
    cx, cy, cz = plane.centre_lps_mm
    x = cx + offsets[np.newaxis, :].repeat(PANEL_PIXELS, axis=0)
    y = cy + offsets[:, np.newaxis].repeat(PANEL_PIXELS, axis=1)
    return np.stack([x, y, np.full_like(x, cz)], axis=-1)


def _sample(volume_array: np.ndarray, geometry, points: np.ndarray, order: int) -> np.ndarray:
    """Values at LPS points (NaN outside the grid)."""
    from scipy.ndimage import map_coordinates

    ijk = geometry.lps_to_index(points.reshape(-1, 3))
    coordinates = ijk[:, ::-1].T  # (k, j, i)
    shape = np.array(volume_array.shape, dtype=float)[:, np.newaxis]
    outside = np.any((coordinates < -0.5) | (coordinates > shape - 0.5), axis=0)
    values = map_coordinates(np.asarray(volume_array, dtype=np.float32), coordinates, order=order, mode="nearest")
    values = values.astype(np.float64)
    values[outside] = np.nan
    return values.reshape(points.shape[:2])


def segment_centre_lps(segment: SegmentMask) -> np.ndarray:
    """Centroid of the segment's voxels (LPS mm)."""
    kji = np.argwhere(segment.mask)
    if kji.size == 0:
        return segment.geometry.index_to_lps(np.array(segment.mask.shape[::-1], float) / 2.0 - 0.5)
    return segment.geometry.index_to_lps(kji[:, ::-1].mean(axis=0))


def plane_for(segment: SegmentMask, suv_max_scale: float,
              marker_lps_mm: Optional[Sequence[float]] = None) -> SnapshotPlane:
    """The axial plane through the segment centroid, its field of view from the lesion's extent."""
    centre = segment_centre_lps(segment)
    kji = np.argwhere(segment.mask)
    extent = 0.0
    if kji.size:
        points = segment.geometry.index_to_lps(kji[:, ::-1].astype(float))
        extent = float(np.max(points[:, :2].max(axis=0) - points[:, :2].min(axis=0))) + float(
            segment.geometry.spacing_mm[:2].max())
    field = max(MIN_FIELD_MM, FIELD_PER_EXTENT * extent)
    scale = float(suv_max_scale) if suv_max_scale and np.isfinite(suv_max_scale) and suv_max_scale > 0 else 1.0
    marker = None if marker_lps_mm is None else tuple(float(c) for c in marker_lps_mm)
    return SnapshotPlane(segment.name, tuple(float(c) for c in centre), field, scale, marker)


# --- colour --------------------------------------------------------------------------------------------
def _hot(fraction: np.ndarray) -> np.ndarray:
    """'hot' colour map without its white end: dark red -> red -> yellow, for fractions in [0, 1].

    White is left out so that the hottest voxels do not look like a bright background.
    """
    f = np.clip(fraction, 0.0, 1.0)
    red = 0.35 + 0.65 * np.clip(f / 0.5, 0, 1)
    green = np.clip((f - 0.5) / 0.5, 0, 1)
    blue = np.zeros_like(f)
    return np.stack([red, green, blue], axis=-1) * 255.0


def hot_colour_bar(width: int = 200, height: int = 10) -> bytes:
    """PNG of the PET colour scale (left 0, right the scale maximum)."""
    fraction = np.linspace(0.0, 1.0, width)[np.newaxis, :].repeat(height, axis=0)
    return encode_png(_hot(fraction))


def _grey(values: np.ndarray) -> np.ndarray:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros((*values.shape, 3))
    low, high = np.percentile(finite, MRI_WINDOW_PERCENTILES)
    if not high > low:
        high = low + 1.0
    grey = np.clip((values - low) / (high - low), 0.0, 1.0) * 255.0
    grey = np.where(np.isfinite(grey), grey, 0.0)
    return np.repeat(grey[..., np.newaxis], 3, axis=-1)


def _outline(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of a 2D mask, two pixels wide."""
    from scipy.ndimage import binary_dilation, binary_erosion

    inner = mask & ~binary_erosion(mask, border_value=0)
    outer = binary_dilation(mask) & ~mask
    return inner | outer


def _draw_marker(rgb: np.ndarray, plane: SnapshotPlane) -> None:
    """A small '+' at the marker (e.g. the SUVmax voxel) when it lies in this plane (within 2 mm)."""
    if plane.marker_lps_mm is None:
        return
    mx, my, mz = plane.marker_lps_mm
    cx, cy, cz = plane.centre_lps_mm
    if abs(mz - cz) > 2.0:
        return
    step = plane.field_mm / PANEL_PIXELS
    column = round((mx - cx) / step + (PANEL_PIXELS - 1) / 2.0)
    row = round((my - cy) / step + (PANEL_PIXELS - 1) / 2.0)
    for offset in range(-6, 7):
        if abs(offset) < 2:
            continue
        for r, c in ((row + offset, column), (row, column + offset)):
            if 0 <= r < PANEL_PIXELS and 0 <= c < PANEL_PIXELS:
                rgb[r, c] = MARKER_RGB


def render_panel(
    plane: SnapshotPlane,
    background: Volume,
    pet_suv: Volume,
    segment: SegmentMask,
    background_is_pet: bool = False,
) -> bytes:
    """One fused panel (PNG bytes): background in grey, ``pet_suv`` in 'hot', the segment outline in cyan."""
    points = _plane_points(plane)
    base = _sample(background.array, background.geometry, points, order=1)
    if background_is_pet:
        finite = base[np.isfinite(base)]
        base = np.clip(base / (np.max(finite) if finite.size and np.max(finite) > 0 else 1.0), 0, 1)
    rgb = _grey(base)
    pet = _sample(pet_suv.array, pet_suv.geometry, points, order=1)
    fraction = np.where(np.isfinite(pet), pet / plane.suv_max_scale, 0.0)
    alpha = PET_OPACITY * np.clip((fraction - PET_TRANSPARENT_BELOW) / (0.3 - PET_TRANSPARENT_BELOW), 0.0, 1.0)
    rgb = rgb * (1.0 - alpha[..., np.newaxis]) + _hot(fraction) * alpha[..., np.newaxis]
    mask = _sample(segment.mask.astype(np.float32), segment.geometry, points, order=1)
    inside = np.where(np.isfinite(mask), mask, 0.0) >= 0.5
    rgb[_outline(inside)] = CONTOUR_RGB
    _draw_marker(rgb, plane)
    return encode_png(np.round(rgb))
