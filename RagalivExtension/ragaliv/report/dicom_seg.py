"""Segments -> DICOM Segmentation (BINARY, one segment per :class:`~ragaliv.geometry.SegmentMask`) and back.

Writing uses highdicom (imported lazily: it is not part of 3D Slicer). Reading uses pydicom only, so a SEG
written here (or by Slicer/dcmqi/highdicom) can be read wherever the core runs.

The masks are placed on the grid of the source image series the segmentation was drawn on (usually the
MRI). A segment whose crop is a sub-grid of that series (same axes and spacing, integer offset - the normal
case for a Slicer ``.seg.nrrd`` saved on the reference volume) is copied voxel for voxel; any other segment
is resampled nearest-neighbour onto the series grid, and the export says so in its ``warnings``.
"""

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.coding import Code

from ..errors import RagalivInputError
from ..geometry import Geometry, SegmentMask
from ..io.dicom_series import load_volume
from ..roles import role_of
from . import dicom_codes as codes
from .dicom_common import (
    MANUFACTURER,
    SOFTWARE_VERSION,
    SeriesInput,
    add_spacing_between_slices,
    content_moment,
    create_sop,
    deidentify,
    deterministic_uid,
    dicom_lab_to_rgb,
    digest,
    import_highdicom,
    make_reproducible,
    patient_identity,
    read_dataset,
    resolve_series,
    rgb_to_dicom_lab,
    save_dataset,
)
from .phi import Deidentifier

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
SOURCE_MODALITIES = ("MR", "CT", "PT", "NM")
_AXIS_TOLERANCE_MM = 1e-3  # IJK->LPS columns of the segment and of the series grid must agree to this
_OFFSET_TOLERANCE_VOXELS = 0.01  # a sub-grid starts at an integer voxel index of the series grid
MANUAL_PROCESSING = Code("123109", "DCM", "Manual Processing")  # CID 7162


@dataclass
class SegExport:
    """What :func:`write_dicom_seg` wrote. ``dataset`` is the written SEG (input of :func:`write_dicom_sr`)."""

    path: str
    sop_instance_uid: str
    series_instance_uid: str
    segment_numbers: dict[str, int]
    source_series_instance_uid: str
    resampled_segments: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dataset: Optional[Dataset] = None


def property_codes(name: str) -> tuple[Code, Code, Optional[Code]]:
    """(category, type, type modifier) of a segment from its name (roles of :func:`ragaliv.roles.role_of`)."""
    role = role_of(name)
    category, kind = codes.PROPERTY_CODES_BY_ROLE.get(role, codes.PROPERTY_CODES_BY_ROLE["other"])
    modifier = None
    lowered = name.lower()
    if role == "kidney":
        if "left" in lowered.split() or lowered.endswith(" l"):
            modifier = codes.LEFT
        elif "right" in lowered.split() or lowered.endswith(" r"):
            modifier = codes.RIGHT
    return category, kind, modifier


# --- placing segments on the source grid ------------------------------------------------------------------
@dataclass
class _Placement:
    box: tuple[slice, slice, slice]  # region of the series grid, [k, j, i]
    mask: np.ndarray  # bool, shaped like the box
    resampled: bool
    lost_voxels: int


def _sub_grid_offset(segment: Geometry, grid: Geometry) -> Optional[np.ndarray]:
    """Integer (i, j, k) offset of ``segment`` in ``grid`` when it is a sub-grid of it, else None."""
    if not np.allclose(segment.ijk_to_lps[:3, :3], grid.ijk_to_lps[:3, :3], atol=_AXIS_TOLERANCE_MM):
        return None
    offset = grid.lps_to_index(segment.origin_lps_mm)
    rounded = np.rint(offset)
    if np.max(np.abs(offset - rounded)) > _OFFSET_TOLERANCE_VOXELS:
        return None
    return rounded.astype(int)


def place_on_grid(segment: SegmentMask, grid: Geometry) -> _Placement:
    """The segment's voxels on ``grid``: copied when it is a sub-grid, else nearest-neighbour resampled."""
    shape = np.array(grid.shape_kji)
    offset = _sub_grid_offset(segment.geometry, grid)
    if offset is not None:
        start = offset[::-1]  # k, j, i
        stop = start + np.array(segment.mask.shape)
        lo, hi = np.maximum(start, 0), np.minimum(stop, shape)
        if np.any(hi <= lo):
            return _Placement((slice(0, 0),) * 3, np.zeros((0, 0, 0), bool), False, segment.voxel_count)
        crop = segment.mask[tuple(slice(a - s, b - s) for a, b, s in zip(lo, hi, start))]
        lost = segment.voxel_count - int(np.count_nonzero(crop))
        return _Placement(tuple(slice(int(a), int(b)) for a, b in zip(lo, hi)), crop, False, lost)
    # Nearest neighbour: every series voxel whose centre falls in a segment voxel takes its value.
    corners = grid.lps_to_index(segment.geometry.corners_lps())  # (8, 3) i, j, k
    lo = np.clip(np.floor(corners.min(axis=0)).astype(int), 0, shape[::-1])
    hi = np.clip(np.ceil(corners.max(axis=0)).astype(int) + 1, 0, shape[::-1])
    if np.any(hi <= lo):
        return _Placement((slice(0, 0),) * 3, np.zeros((0, 0, 0), bool), True, segment.voxel_count)
    k, j, i = np.meshgrid(*(np.arange(lo[a], hi[a]) for a in (2, 1, 0)), indexing="ij")
    ijk = np.stack([i, j, k], axis=-1).astype(float)
    source = np.rint(segment.geometry.lps_to_index(grid.index_to_lps(ijk))).astype(int)  # i, j, k
    size_ijk = np.array(segment.geometry.size_ijk)
    inside = np.all((source >= 0) & (source < size_ijk), axis=-1)
    mask = np.zeros(inside.shape, bool)
    hit = source[inside]
    mask[inside] = segment.mask[hit[:, 2], hit[:, 1], hit[:, 0]]
    box = (slice(int(lo[2]), int(hi[2])), slice(int(lo[1]), int(hi[1])), slice(int(lo[0]), int(hi[0])))
    return _Placement(box, mask, True, 0)


# --- writing ---------------------------------------------------------------------------------------------
def write_dicom_seg(
    segments: Sequence[SegmentMask],
    source_series: SeriesInput,
    path: str,
    deidentifier: Optional[Deidentifier] = None,
    *,
    series_number: int = 9900,
    series_description: str = "Ragaliv segmentation",
    algorithm_type: str = "MANUAL",
    algorithm_name: str = "3D Slicer Segment Editor",
    algorithm_family: Code = MANUAL_PROCESSING,
    content_datetime: Optional[datetime.datetime] = None,
    codes_by_segment: Optional[Mapping[str, tuple[Code, Code]]] = None,
) -> SegExport:
    """Write ``segments`` as a DICOM Segmentation (BINARY) referencing ``source_series``.

    Parameters
    ----------
    segments : segment masks (name = Segment Label and Tracking ID), usually on the series grid.
    source_series : the image series the segmentation was drawn on: a :class:`DicomSeries`, a folder or a
        list of its files (MR, CT, PT or NM).
    path : output file (written atomically).
    deidentifier : when given (and enabled), patient name/ID become the pseudonym, dates are shifted and the
        birth date keeps its year only; UIDs of the referenced images are kept.
    algorithm_type : ``MANUAL`` (default), ``SEMIAUTOMATIC`` or ``AUTOMATIC``; the latter two are identified
        by ``algorithm_name``/``algorithm_family`` (CID 7162).
    content_datetime : Content Date/Time; default the source Series Date/Time, so re-runs are identical.
    codes_by_segment : {segment name: (category, type)} replacing the codes chosen from the name.

    Segment codes by role (name): lesions "Morphologically Abnormal Structure"/"Lesion", healthy liver, kidney
    (with laterality), spleen and bone marrow "Anatomical Structure"/organ, anything else "Tissue"/"Tissue".
    """
    if not segments:
        raise RagalivInputError("No segments to export.", "Give at least one segment.")
    names = [segment.name for segment in segments]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise RagalivInputError(f"Segment names must be unique in a DICOM SEG; repeated: {', '.join(duplicates)}.",
                                "Rename the segments.")
    hd = import_highdicom()
    series = resolve_series(source_series, SOURCE_MODALITIES, "segmentation source image")
    volume = load_volume(series)
    grid = volume.geometry
    headers = volume.metadata["slice_headers"]
    frame_indices = volume.metadata.get("frame_indices") or [None] * len(headers)
    warnings: list[str] = []

    pixels = np.zeros((*grid.shape_kji, len(segments)), dtype=bool)
    resampled = []
    for index, segment in enumerate(segments):
        placement = place_on_grid(segment, grid)
        if placement.mask.size:
            pixels[(*placement.box, index)] = placement.mask
        if placement.resampled:
            resampled.append(segment.name)
            warnings.append(f"Segment {segment.name!r} is not on the grid of the source series: resampled "
                            "nearest-neighbour onto it.")
        if placement.lost_voxels:
            warnings.append(f"Segment {segment.name!r}: {placement.lost_voxels} voxel(s) outside the source "
                            "series are not in the DICOM SEG.")
        if segment.is_empty:
            warnings.append(f"Segment {segment.name!r} is empty.")

    if any(frame is not None for frame in frame_indices):
        if len({id(header) for header in headers}) != 1:
            raise RagalivInputError("The source series holds several multi-frame files; a DICOM SEG needs one "
                                    "multi-frame image or single-frame images.", "Give one reconstruction.")
        source_images = [headers[0]]
        ordered = np.zeros_like(pixels)
        ordered[np.asarray(frame_indices, dtype=int)] = pixels  # array order = frame order of the file
        pixels = ordered
    else:
        source_images = list(headers)

    source_uid = series.series_instance_uid
    content_key = digest(source_uid, *names, *(s.segment_id for s in segments), pixels,
                         algorithm_type, series_number, series_description)
    series_uid = deterministic_uid("seg-series", content_key)
    sop_uid = deterministic_uid("seg-instance", content_key)
    descriptions = []
    for number, segment in enumerate(segments, start=1):
        category, kind, modifier = property_codes(segment.name)
        if codes_by_segment and segment.name in codes_by_segment:
            category, kind = codes_by_segment[segment.name]
            modifier = None
        identification = None
        if algorithm_type.upper() != "MANUAL":
            identification = hd.AlgorithmIdentificationSequence(
                name=algorithm_name, family=algorithm_family, version=SOFTWARE_VERSION)
        description = hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=segment.name,
            segmented_property_category=category,
            segmented_property_type=kind,
            algorithm_type=algorithm_type.upper(),
            algorithm_identification=identification,
            tracking_uid=deterministic_uid("segment-tracking", source_uid, segment.name),
            tracking_id=segment.name,
        )
        # Set directly: highdicom 0.22 (the newest for Python 3.9, i.e. Slicer 5.8) has no display_color.
        description.RecommendedDisplayCIELabValue = [int(v) for v in rgb_to_dicom_lab(segment.color_rgb)]
        if modifier is not None:
            type_item = description.SegmentedPropertyTypeCodeSequence[0]
            type_item.SegmentedPropertyTypeModifierCodeSequence = [hd.sr.CodedConcept.from_code(modifier)]
        descriptions.append(description)

    moment = content_moment(content_datetime, headers, warnings)
    # Newer highdicom copies the source's Specific Character Set by default; 0.22 writes none.
    charset = source_images[0].get("SpecificCharacterSet")
    seg = create_sop(
        hd.seg.Segmentation,
        source_images=source_images,
        pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=sop_uid,
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name="Ragaliv",
        software_versions=SOFTWARE_VERSION,
        device_serial_number="1",
        content_description="Ragaliv segments (IA/IV 68Ga PET trial)",
        content_label="RAGALIV",
        series_description=series_description,
        content_date=moment.date(),
        content_time=moment.time(),
        omit_empty_frames=True,
        **({"specific_character_set": charset} if charset else {}),
    )
    add_spacing_between_slices(seg, source_images)
    make_reproducible(seg, moment, sop_uid)
    if deidentifier is not None and deidentifier.enabled:
        deidentify(seg, deidentifier, *patient_identity(headers[0]))
    save_dataset(seg, path)
    return SegExport(
        path=str(path),
        sop_instance_uid=sop_uid,
        series_instance_uid=series_uid,
        segment_numbers={segment.name: number for number, segment in enumerate(segments, start=1)},
        source_series_instance_uid=source_uid,
        resampled_segments=resampled,
        warnings=warnings,
        dataset=seg,
    )


# --- reading (pydicom only) -------------------------------------------------------------------------------
def _floats(dataset: Optional[Dataset], keyword: str) -> Optional[np.ndarray]:
    value = None if dataset is None else dataset.get(keyword)
    if value is None or value == "":
        return None
    try:
        values = list(value)
    except TypeError:
        values = [value]
    return np.array([float(v) for v in values])


def _functional(frame: Dataset, shared: Optional[Dataset], sequence: str) -> Optional[Dataset]:
    for group in (frame, shared):
        if group is not None and sequence in group and len(group.get(sequence)):
            return group.get(sequence)[0]
    return None


def read_dicom_seg(path) -> list[SegmentMask]:
    """Segments of a DICOM SEG (BINARY or FRACTIONAL, threshold at half the maximum) as cropped masks.

    The grid is the SEG's frame grid (the source series grid for a SEG written by :func:`write_dicom_seg`):
    axes from Image Orientation and Pixel Spacing, slice step from Spacing Between Slices or the frame
    positions. Every segment of the Segment Sequence is returned, an empty one as a 1-voxel empty mask.
    """
    dataset = read_dataset(path, "DICOM SEG")
    if str(dataset.get("SOPClassUID", "")) != SEGMENTATION_STORAGE:
        raise RagalivInputError(f"{path} is not a DICOM Segmentation (SOP Class {dataset.get('SOPClassUID')}).",
                                "Give a DICOM SEG file.")
    seg_type = str(dataset.get("SegmentationType", "BINARY")).upper()
    frames = np.asarray(dataset.pixel_array)
    count = int(dataset.get("NumberOfFrames", 1) or 1)
    frames = frames.reshape((count, int(dataset.Rows), int(dataset.Columns)))
    if seg_type == "FRACTIONAL":
        frames = frames > float(dataset.get("MaximumFractionalValue", 255)) / 2.0
    else:
        frames = frames > 0
    shared_groups = dataset.get("SharedFunctionalGroupsSequence")
    shared = shared_groups[0] if shared_groups else None
    per_frame = dataset.get("PerFrameFunctionalGroupsSequence") or []
    if len(per_frame) != count:
        raise RagalivInputError(f"{path}: {count} frames but {len(per_frame)} per-frame functional groups.")

    positions, numbers = [], []
    orientation = spacing = None
    step = None
    for frame in per_frame:
        plane = _functional(frame, shared, "PlanePositionSequence")
        orient = _functional(frame, shared, "PlaneOrientationSequence")
        measures = _functional(frame, shared, "PixelMeasuresSequence")
        ident = _functional(frame, shared, "SegmentIdentificationSequence")
        if plane is None or orient is None or measures is None or ident is None:
            raise RagalivInputError(f"{path}: a frame lacks its plane position, orientation, pixel measures or "
                                    "segment identification.", "Only volumetric (patient-space) SEGs are read.")
        positions.append(_floats(plane, "ImagePositionPatient"))
        numbers.append(int(ident.ReferencedSegmentNumber))
        orientation = _floats(orient, "ImageOrientationPatient") if orientation is None else orientation
        spacing = _floats(measures, "PixelSpacing") if spacing is None else spacing
        between = _floats(measures, "SpacingBetweenSlices")
        if step is None and between is not None and between[0] > 0:
            step = float(between[0])
    segments_info = list(dataset.get("SegmentSequence") or [])
    if orientation is None or spacing is None:
        return [_empty_segment(item) for item in segments_info]

    row_dir, col_dir = orientation[:3], orientation[3:]
    normal = np.cross(row_dir, col_dir)
    positions_arr = np.array(positions)
    distances = positions_arr @ normal
    if step is None:
        distinct = np.unique(np.round(distances, 3))
        gaps = np.diff(distinct)
        if gaps.size:
            step = float(np.min(gaps))
        else:
            thickness = _floats(_functional(per_frame[0], shared, "PixelMeasuresSequence"), "SliceThickness")
            step = float(thickness[0]) if thickness is not None and thickness[0] > 0 else 1.0
    origin = positions_arr[int(np.argmin(distances))]
    matrix = np.eye(4)
    matrix[:3, 0] = row_dir * spacing[1]
    matrix[:3, 1] = col_dir * spacing[0]
    matrix[:3, 2] = normal * step
    matrix[:3, 3] = origin
    rows, columns = int(dataset.Rows), int(dataset.Columns)
    offsets = Geometry((1, 1, 1), matrix).lps_to_index(positions_arr)  # i, j, k of each frame's first pixel
    rounded = np.rint(offsets)
    if np.max(np.abs(offsets - rounded), initial=0.0) > 0.05:
        raise RagalivInputError(f"{path}: the frames do not lie on one voxel grid.",
                                "Only SEGs whose frames share one orientation and spacing are read.")
    rounded = rounded.astype(int)

    segments = []
    for item in segments_info:
        number = int(item.SegmentNumber)
        chosen = [index for index, n in enumerate(numbers) if n == number]
        if not chosen:
            segments.append(_empty_segment(item))
            continue
        ks = rounded[chosen, 2]
        k0, k1 = int(ks.min()), int(ks.max()) + 1
        i_lo, j_lo = int(rounded[chosen, 0].min()), int(rounded[chosen, 1].min())
        i_hi = int(rounded[chosen, 0].max()) + columns
        j_hi = int(rounded[chosen, 1].max()) + rows
        stack = np.zeros((k1 - k0, j_hi - j_lo, i_hi - i_lo), bool)
        for index in chosen:
            i, j, k = rounded[index]
            stack[k - k0, j - j_lo:j - j_lo + rows, i - i_lo:i - i_lo + columns] |= frames[index]
        full = Geometry((1, 1, 1), matrix)
        block = _block_geometry(full, stack.shape, k0, j_lo, i_lo)
        segments.append(SegmentMask.from_full_mask(str(item.get("SegmentLabel", number)), stack, block,
                                                   segment_id=_segment_id(item),
                                                   color_rgb=_segment_color(item)))
    return segments


def _block_geometry(grid: Geometry, shape: tuple[int, ...], k0: int, j0: int, i0: int) -> Geometry:
    matrix = np.array(grid.ijk_to_lps)
    matrix[:3, 3] = grid.index_to_lps(np.array([i0, j0, k0], dtype=float))
    return Geometry(shape, matrix)


def _segment_id(item: Dataset) -> str:
    return str(item.get("TrackingID", "") or item.get("SegmentLabel", "") or item.SegmentNumber)


def _segment_color(item: Dataset) -> tuple[float, float, float]:
    value = item.get("RecommendedDisplayCIELabValue")
    if value is None or len(value) != 3:
        return (1.0, 1.0, 0.0)
    return dicom_lab_to_rgb([int(v) for v in value])


def _empty_segment(item: Dataset) -> SegmentMask:
    return SegmentMask(str(item.get("SegmentLabel", item.SegmentNumber)), np.zeros((1, 1, 1), bool),
                       Geometry((1, 1, 1), np.eye(4)), segment_id=_segment_id(item), color_rgb=_segment_color(item))
