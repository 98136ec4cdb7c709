"""What the slice views show: the MRI with one PET fused over it (IA or IV), the PET window in SUV, and where
the slices are. Display only: nothing here changes a number of the analysis.

Works on trame-slicer ``SliceView`` objects (their slice composite nodes, as Slicer's
``setSliceViewerLayers`` does) and on the PET volumes' display nodes.
"""

from collections.abc import Sequence

import numpy as np
from ragaliv_mrml import nodes

# PET display windows (SUV, lower and upper bound). Display only: the analysis never uses them. Both PETs get
# the same window, so IA and IV are compared at one colour scale.
PET_WINDOWS_SUV = {"0-6": (0.0, 6.0), "0-15": (0.0, 15.0), "0-40": (0.0, 40.0), "0-100": (0.0, 100.0)}
DEFAULT_PET_WINDOW = "0-15"
DEFAULT_OPACITY = 0.5


def show_fusion(views: Sequence, background, foreground, opacity: float) -> None:
    """``background`` (the MRI, or the PET when there is no MRI) under ``foreground`` (a PET) in every view."""
    for view in views:
        view.set_background_volume_id(background.GetID() if background is not None else None)
        view.set_foreground_volume_id(foreground.GetID() if foreground is not None else None)
        view.set_foreground_opacity(float(opacity))


def set_pet_window(pet_nodes: Sequence, low_suv: float, high_suv: float) -> None:
    for node in pet_nodes:
        display = node.GetDisplayNode()
        display.AutoWindowLevelOff()
        display.SetWindowLevelMinMax(float(low_suv), float(high_suv))


def segment_centre_ras(segmentation_node, segment_id: str):
    """Centre (RAS, mm) of a segment's voxels, or None when it is empty."""
    mask = nodes.segment_mask(segmentation_node, segment_id)
    if mask.is_empty:
        return None
    kji = np.argwhere(mask.mask)
    centre_lps = mask.geometry.index_to_lps(kji[:, ::-1].mean(axis=0))
    return [-float(centre_lps[0]), -float(centre_lps[1]), float(centre_lps[2])]


def jump_to(views: Sequence, ras: Sequence[float]) -> None:
    """Move every slice view so that its slice passes through ``ras`` (views stay centred where they were)."""
    for view in views:
        view.get_view_node().JumpSliceByOffsetting(float(ras[0]), float(ras[1]), float(ras[2]))


def slice_geometry(view) -> dict:
    """How a view maps its pixels to patient coordinates: ``xy_to_ras`` (4x4, row-major; XY = pixels from the
    bottom-left corner of the view's image), ``size`` (pixels) and ``offset_mm`` (slice position)."""
    slice_node = view.get_view_node()
    matrix = slice_node.GetXYToRAS()
    width, height = view.render_window().GetSize()
    return {"xy_to_ras": [matrix.GetElement(row, column) for row in range(4) for column in range(4)],
            "size": [int(width), int(height)], "offset_mm": float(view.get_slice_value()),
            "orientation": slice_node.GetOrientation()}
