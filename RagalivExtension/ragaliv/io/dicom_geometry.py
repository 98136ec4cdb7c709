"""Slices (frames) of a DICOM series as planes in patient space, and the grid they stack into.

Single-frame slices (PT, CT, MR) carry ImagePositionPatient/ImageOrientationPatient (0020,0032/0037) each;
an enhanced multi-frame object carries them per frame in its functional groups; a classic NM multi-frame
object keeps the first frame's position in DetectorInformationSequence and steps by SpacingBetweenSlices
(as ITK/GDCM and Slicer read NM). A series must form one volume: one size, one orientation, one pixel
spacing, uniform steps along one line; a missing slice is an error, never a stretched volume.
"""

import math
import os
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ..errors import RagalivInputError
from .dicom_header import DicomFile

# Relative tolerance on slice gaps: a missing slice doubles a gap, rounding in DS strings is < 0.1 %.
_GAP_RELATIVE_TOLERANCE = 0.02
# Direction cosines of two slices of one series must agree to this (DICOM DS precision is ~1e-6).
_ORIENTATION_TOLERANCE = 1e-4

SERIES_HINT = (
    "Point the input at a folder (or files) holding exactly one series; in Slicer load the series "
    "through the DICOM module and pick its volume."
)


# --- header helpers ----------------------------------------------------------------------------------
def _numbers(dataset: Optional[Any], keyword: str, count: int) -> Optional[list[float]]:
    """``count`` finite numbers from ``keyword``, or None when absent, empty or malformed."""
    value = None if dataset is None else dataset.get(keyword)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        value = [value]
    try:
        values = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    if len(values) != count or not all(math.isfinite(v) for v in values):
        return None
    return values


def _floats(dataset: Optional[Any], keyword: str, count: int) -> Optional[np.ndarray]:
    values = _numbers(dataset, keyword, count)
    return None if values is None else np.array(values, dtype=float)


def number(dataset: Optional[Any], keyword: str, default: float) -> float:
    value = _numbers(dataset, keyword, 1)
    return default if value is None else value[0]


def integer(dataset: Any, keyword: str, default: int) -> int:
    """A US/IS value (an int from the fast reader), else parsed like :func:`_float`."""
    value = dataset.get(keyword)
    return value if type(value) is int else int(number(dataset, keyword, float(default)))


def _require(dataset: Any, keyword: str, tag: str, count: int, where: str) -> np.ndarray:
    values = _floats(dataset, keyword, count)
    if values is None:
        raise RagalivInputError(
            f"DICOM attribute {keyword} {tag} is missing or invalid in {where}: the image geometry "
            "cannot be built.",
            "Re-export the series from the scanner or PACS with complete geometry attributes.",
        )
    return values


@dataclass
class Plane:
    """One 2D slice (or frame) to stack: its position, orientation, pixel spacing and rescale."""

    position_lps_mm: np.ndarray
    orientation: np.ndarray  # row (i) direction, column (j) direction: 6 cosines
    pixel_spacing_mm: np.ndarray  # (row spacing = along j, column spacing = along i)
    rows: int
    columns: int
    rescale: Optional[Any]  # where RescaleSlope/Intercept are read: the header, or a transformation item
    header: Any
    record: DicomFile
    frame: Optional[int] = None  # index into a multi-frame pixel array

    @property
    def file(self) -> str:
        return self.record.path

    @property
    def place(self) -> str:
        """``PT_0042.dcm`` or ``spect.dcm frame 7``: how messages name this slice."""
        name = os.path.basename(self.record.path)
        return name if self.frame is None else f"{name} frame {self.frame + 1}"

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.orientation[:3], self.orientation[3:])


def single_frame_plane(header: Any, record: DicomFile) -> Plane:
    where = os.path.basename(record.path)
    return Plane(
        position_lps_mm=_require(header, "ImagePositionPatient", "(0020,0032)", 3, where),
        orientation=_require(header, "ImageOrientationPatient", "(0020,0037)", 6, where),
        pixel_spacing_mm=_require(header, "PixelSpacing", "(0028,0030)", 2, where),
        rows=int(_require(header, "Rows", "(0028,0010)", 1, where)[0]),
        columns=int(_require(header, "Columns", "(0028,0011)", 1, where)[0]),
        rescale=header,
        header=header,
        record=record,
    )


def _first_item(dataset: Any, keyword: str) -> Optional[Any]:
    sequence = dataset.get(keyword)
    return sequence[0] if sequence else None


def _functional(frame_group: Optional[Any], shared: Optional[Any], keyword: str) -> Optional[Any]:
    """An item of a functional group macro, per-frame first, then shared (enhanced multi-frame)."""
    for group in (frame_group, shared):
        if group is not None:
            item = _first_item(group, keyword)
            if item is not None:
                return item
    return None


def multi_frame_planes(header: Any, record: DicomFile) -> list[Plane]:
    """Frames of one multi-frame file as planes: NM (DetectorInformationSequence), enhanced or classic."""
    where = os.path.basename(record.path)
    frames = int(_require(header, "NumberOfFrames", "(0028,0008)", 1, where)[0])
    rows = int(_require(header, "Rows", "(0028,0010)", 1, where)[0])
    columns = int(_require(header, "Columns", "(0028,0011)", 1, where)[0])
    per_frame = header.get("PerFrameFunctionalGroupsSequence")
    if per_frame:
        # Enhanced multi-frame (e.g. Enhanced PET/CT): position per frame; orientation and spacing
        # per frame or shared.
        shared = _first_item(header, "SharedFunctionalGroupsSequence")
        planes = []
        for index, group in enumerate(per_frame):
            position = _functional(group, shared, "PlanePositionSequence")
            orientation = _functional(group, shared, "PlaneOrientationSequence")
            measures = _functional(group, shared, "PixelMeasuresSequence")
            transform = _functional(group, shared, "PixelValueTransformationSequence")
            if position is None or orientation is None or measures is None:
                raise RagalivInputError(
                    f"Frame {index + 1} of {where} lacks PlanePositionSequence (0020,9113), "
                    "PlaneOrientationSequence (0020,9116) or PixelMeasuresSequence (0028,9110).",
                    "Re-export the series as single-frame images.",
                )
            planes.append(
                Plane(
                    position_lps_mm=_require(position, "ImagePositionPatient", "(0020,0032)", 3, where),
                    orientation=_require(orientation, "ImageOrientationPatient", "(0020,0037)", 6, where),
                    pixel_spacing_mm=_require(measures, "PixelSpacing", "(0028,0030)", 2, where),
                    rows=rows,
                    columns=columns,
                    rescale=transform,
                    header=header,
                    record=record,
                    frame=index,
                )
            )
        return planes
    # Classic multi-frame: NM keeps the first frame's position/orientation in DetectorInformationSequence;
    # frames are slices stepping along the normal by SpacingBetweenSlices (as ITK/GDCM and Slicer read NM).
    detector = _first_item(header, "DetectorInformationSequence")
    source = detector if detector is not None and "ImagePositionPatient" in detector else header
    position = _require(source, "ImagePositionPatient", "(0020,0032)", 3, where)
    orientation = _require(source, "ImageOrientationPatient", "(0020,0037)", 6, where)
    pixel_spacing = _require(header, "PixelSpacing", "(0028,0030)", 2, where)
    step = _floats(header, "SpacingBetweenSlices", 1)
    if step is None or step[0] == 0:
        step = _floats(header, "SliceThickness", 1)
    if step is None or step[0] == 0:
        raise RagalivInputError(
            f"{where} is a {frames}-frame image without SpacingBetweenSlices (0018,0088) or "
            "SliceThickness (0018,0050): the slice spacing is unknown.",
            "Re-export the reconstruction with its slice spacing.",
        )
    normal = np.cross(orientation[:3], orientation[3:])
    order = list(range(frames))
    slice_vector = header.get("SliceVector")
    if slice_vector is not None and len(slice_vector) == frames:
        order = sorted(order, key=lambda f: int(slice_vector[f]))
    planes = []
    for k, frame in enumerate(order):
        planes.append(
            Plane(
                position_lps_mm=position + k * float(step[0]) * normal,
                orientation=orientation,
                pixel_spacing_mm=pixel_spacing,
                rows=rows,
                columns=columns,
                rescale=header,
                header=header,
                record=record,
                frame=frame,
            )
        )
    return planes


# --- stacking ----------------------------------------------------------------------------------------
def check_consistent(planes: list[Plane]) -> None:
    first = planes[0]
    orientations = np.array([plane.orientation for plane in planes])
    spacings = np.array([plane.pixel_spacing_mm for plane in planes])
    sizes = {(plane.rows, plane.columns) for plane in planes}
    if (len(sizes) == 1 and np.allclose(orientations, first.orientation, atol=_ORIENTATION_TOLERANCE)
            and np.allclose(spacings, first.pixel_spacing_mm, rtol=1e-4, atol=1e-5)):
        return  # all agree (checked at once); otherwise find the first slice that differs, for the message
    for plane in planes[1:]:
        name = os.path.basename(plane.file)
        if (plane.rows, plane.columns) != (first.rows, first.columns):
            raise RagalivInputError(
                f"Slices differ in size: {name} is {plane.rows}x{plane.columns}, "
                f"{os.path.basename(first.file)} is {first.rows}x{first.columns} "
                "(Rows/Columns (0028,0010)/(0028,0011)).",
                SERIES_HINT,
            )
        if not np.allclose(plane.orientation, first.orientation, atol=_ORIENTATION_TOLERANCE):
            raise RagalivInputError(
                f"Slices differ in ImageOrientationPatient (0020,0037): {name} vs "
                f"{os.path.basename(first.file)}; a series with several orientations cannot form one volume.",
                SERIES_HINT,
            )
        if not np.allclose(plane.pixel_spacing_mm, first.pixel_spacing_mm, rtol=1e-4, atol=1e-5):
            raise RagalivInputError(
                f"Slices differ in PixelSpacing (0028,0030): {name} has {list(plane.pixel_spacing_mm)}, "
                f"{os.path.basename(first.file)} has {list(first.pixel_spacing_mm)}.",
                SERIES_HINT,
            )


def sort_and_step(planes: list[Plane]) -> tuple[list[Plane], np.ndarray]:
    """Planes sorted along the slice normal and the uniform step vector between them (mm, LPS)."""
    normal = planes[0].normal
    distances = np.array([float(np.dot(p.position_lps_mm, normal)) for p in planes])
    order = np.argsort(distances, kind="stable")
    planes = [planes[i] for i in order]
    distances = distances[order]
    if len(planes) == 1:
        header = planes[0].header
        spacing = _floats(header, "SpacingBetweenSlices", 1)
        if spacing is None or spacing[0] == 0:
            spacing = _floats(header, "SliceThickness", 1)
        thickness = abs(float(spacing[0])) if spacing is not None and spacing[0] != 0 else 1.0
        return planes, normal * thickness
    gaps = np.diff(distances)
    duplicates = np.flatnonzero(np.abs(gaps) < 1e-3)
    if duplicates.size:
        a, b = planes[duplicates[0]], planes[duplicates[0] + 1]
        raise RagalivInputError(
            f"Two slices at the same position {distances[duplicates[0]]:.3f} mm along the slice normal: "
            f"{os.path.basename(a.file)} and {os.path.basename(b.file)} (duplicate copies, or several "
            "time frames/reconstructions in one series).",
            SERIES_HINT,
        )
    step = float(np.min(gaps))  # missing slices only ever widen a gap, so the smallest gap is the spacing
    tolerance = max(0.01, _GAP_RELATIVE_TOLERANCE * step)
    bad = np.flatnonzero(np.abs(gaps - step) > tolerance)
    if bad.size:
        index = int(bad[0])
        gap = float(gaps[index])
        ratio = gap / step
        where = f"between {distances[index]:.2f} mm and {distances[index + 1]:.2f} mm along the slice normal"
        if ratio > 1.5 and abs(ratio - round(ratio)) * step <= tolerance:
            missing = round(ratio) - 1
            message = (
                f"{missing} slice{'s are' if missing > 1 else ' is'} missing {where} "
                f"(gap {gap:.3f} mm, slice spacing {step:.3f} mm; {len(planes)} slices present)."
            )
        else:
            message = f"Non-uniform slice spacing {where}: gap {gap:.3f} mm, typical spacing {step:.3f} mm."
        raise RagalivInputError(message, "Give the complete series (all slices, one reconstruction).")
    step_vector = (planes[-1].position_lps_mm - planes[0].position_lps_mm) / (len(planes) - 1)
    expected = planes[0].position_lps_mm + np.arange(len(planes))[:, None] * step_vector
    actual = np.array([p.position_lps_mm for p in planes])
    if np.max(np.linalg.norm(actual - expected, axis=1)) > tolerance:
        raise RagalivInputError(
            "The slice positions (ImagePositionPatient (0020,0032)) do not lie on one straight line.",
            "Give one reconstruction of one acquisition.",
        )
    return planes, step_vector
