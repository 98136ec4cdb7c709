"""Input checks shared by the command-line workflows."""

import os
from typing import Optional

import numpy as np

from ..errors import RagalivInputError
from ..geometry import SegmentMask
from ..io.segmentation import read_segments


def _reference_geometry(path: str):
    from ..io.dicom_series import load_volume, select_series
    from ..io.images import is_image_file, read_image

    if is_image_file(path):
        return read_image(path).geometry
    return load_volume(select_series(path, ("MR", "CT", "PT", "NM"), "reference image")).geometry


def frame_of_reference_uid(path: Optional[str]) -> str:
    """FrameOfReferenceUID (0020,0052) of a DICOM series (first file), or "" for images and missing paths."""
    from ..io.images import is_image_file

    if not path or not os.path.exists(path) or is_image_file(path):
        return ""
    import pydicom

    files = [path] if os.path.isfile(path) else sorted(
        os.path.join(root, name) for root, _, names in os.walk(path) for name in names)
    for file_path in files:  # the first DICOM file is enough: one series per folder is checked elsewhere
        try:
            header = pydicom.dcmread(file_path, stop_before_pixels=True, specific_tags=["FrameOfReferenceUID"])
        except Exception:  # not DICOM: look further
            continue
        return str(header.get("FrameOfReferenceUID", "") or "")
    return ""


def load_segments(path: str, labels_csv: Optional[str] = None, reference: Optional[str] = None) -> list[SegmentMask]:
    """Segments from a .seg.nrrd or labelmap(+labels); optionally check they lie inside the reference image."""
    segments = read_segments(path, labels_csv)
    names = [segment.name for segment in segments]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise RagalivInputError(
            f"Segment names must be unique; repeated: {', '.join(duplicates)}.",
            "Rename the segments (e.g. 'Lesion 1' ... 'Lesion 5').",
        )
    if reference:
        if not os.path.exists(reference):
            raise RagalivInputError(f"Reference image not found: {reference}", "Check --reference.")
        geometry = _reference_geometry(reference)
        corners = geometry.corners_lps()
        low, high = corners.min(axis=0), corners.max(axis=0)
        for segment in segments:
            if segment.is_empty:
                continue
            centre = segment.geometry.index_to_lps(np.array(segment.mask.shape[::-1], float) / 2.0 - 0.5)
            if np.any(centre < low - 1.0) or np.any(centre > high + 1.0):
                raise RagalivInputError(
                    f"Segment {segment.name!r} lies outside the reference image {reference}.",
                    "Give the image the segmentation was drawn on (--reference), or check the segmentation file.",
                )
    return segments
