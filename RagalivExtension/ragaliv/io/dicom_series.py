"""DICOM series -> :class:`~ragaliv.geometry.Volume` with explicit IJK->LPS geometry (no Slicer needed).

Why our own reader: PET quantification needs the *per-slice* headers (RescaleSlope, AcquisitionTime,
ActualFrameDuration differ per slice in real PET, PET notes §3.1 and §7), and a missing slice must be an
error rather than a silently stretched volume.

* :func:`list_series` reads headers only and groups files by SeriesInstanceUID.
* :func:`select_series` picks the one series of an expected modality, or explains what was found.
* :func:`load_volume` stacks single-frame slices (PT, CT, MR) along the slice normal, or reads a
  multi-frame object (NM SPECT, classic or enhanced multi-frame PT/CT), applying RescaleSlope/Intercept
  per slice (per frame).
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from ..errors import RagalivInputError
from ..geometry import Geometry, Volume

PathInput = Union[str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]]]

# Media Storage Directory (DICOMDIR) SOP Class: an index file, not an image (DICOM PS3.4 Annex F).
_DICOMDIR_SOP_CLASS_UID = "1.2.840.10008.1.3.10"

# Relative tolerance on slice gaps: a missing slice doubles a gap, rounding in DS strings is < 0.1 %.
_GAP_RELATIVE_TOLERANCE = 0.02
# Direction cosines of two slices of one series must agree to this (DICOM DS precision is ~1e-6).
_ORIENTATION_TOLERANCE = 1e-4

# Pixel value unit by PET Units (0054,1001) (PET notes §3.2) and by modality.
_UNIT_BY_PET_UNITS = {"BQML": "Bq/mL", "GML": "g/mL", "CM2ML": "cm2/mL", "CNTS": "counts"}
_UNIT_BY_MODALITY = {"CT": "HU", "NM": "counts"}

_SERIES_HINT = (
    "Point the input at a folder (or files) holding exactly one series; in Slicer load the series "
    "through the DICOM module and pick its volume."
)


@dataclass
class DicomSeries:
    """One series found on disk: its identity, its files and their headers (pixels not read)."""

    series_instance_uid: str
    modality: str
    series_description: str
    files: list[str] = field(default_factory=list)
    headers: list[Dataset] = field(default_factory=list)
    pixel_offsets: list[Optional[int]] = field(default_factory=list)  # byte offset of (7FE0,0010), if known

    def describe(self) -> str:
        """``CT 'Abdomen' (120 files)`` - how a user recognises the series."""
        count = len(self.files)
        return f"{self.modality or '?'} '{self.series_description}' ({count} file{'s' if count != 1 else ''})"

    def __repr__(self) -> str:
        return f"DicomSeries({self.describe()}, uid={self.series_instance_uid})"


# --- discovery ---------------------------------------------------------------------------------------
def _candidate_files(path: PathInput) -> list[str]:
    if isinstance(path, (str, os.PathLike)):
        items = [os.fspath(path)]
    else:
        items = [os.fspath(p) for p in path]
    files: list[str] = []
    for item in items:
        if os.path.isdir(item):
            for root, dirs, names in os.walk(item):
                dirs.sort()
                files.extend(os.path.join(root, name) for name in sorted(names))
        elif os.path.isfile(item):
            files.append(item)
        else:
            raise RagalivInputError(f"DICOM input not found: {item}", "Check the path.")
    return files


def _read_header(path: str) -> tuple[Optional[Dataset], Optional[int]]:
    """Header of a DICOM file and the byte offset where its pixel data element starts (reading stops
    there), or (None, None) for anything that is not a DICOM image (DICOMDIR, .txt ...)."""
    try:
        with open(path, "rb") as stream:
            dataset = pydicom.dcmread(stream, stop_before_pixels=True, force=False)
            offset = stream.tell()
    except Exception:  # not DICOM, or too broken to be one of ours: skip it like any other stray file
        return None, None
    sop_class = str(getattr(getattr(dataset, "file_meta", None), "MediaStorageSOPClassUID", "") or "")
    if sop_class == _DICOMDIR_SOP_CLASS_UID or "DirectoryRecordSequence" in dataset:
        return None, None
    if not str(dataset.get("SeriesInstanceUID", "") or ""):
        return None, None
    return dataset, offset


def list_series(path: PathInput) -> list[DicomSeries]:
    """All DICOM series under ``path`` (folder searched recursively, one file, or a list of files).

    Only headers are read; files that are not DICOM (DICOMDIR, text, images) are skipped silently.
    """
    by_uid: dict[str, DicomSeries] = {}
    for file_path in _candidate_files(path):
        dataset, pixel_offset = _read_header(file_path)
        if dataset is None:
            continue
        uid = str(dataset.SeriesInstanceUID)
        series = by_uid.get(uid)
        if series is None:
            series = DicomSeries(
                series_instance_uid=uid,
                modality=str(dataset.get("Modality", "") or "").strip(),
                series_description=str(dataset.get("SeriesDescription", "") or "").strip(),
            )
            by_uid[uid] = series
        series.files.append(file_path)
        series.headers.append(dataset)
        series.pixel_offsets.append(pixel_offset)
    return list(by_uid.values())


def select_series(path: PathInput, modalities: Sequence[str] = ("PT",), role: str = "PET") -> DicomSeries:
    """The single series under ``path`` whose Modality (0008,0060) is one of ``modalities``."""
    found = list_series(path)
    shown = path if isinstance(path, (str, os.PathLike)) else f"{len(list(path))} given files"
    wanted = "/".join(modalities)
    if not found:
        raise RagalivInputError(
            f"No DICOM image files found in {shown} (expected the {role} series, Modality {wanted}).",
            "Check the path; DICOMDIR index files and non-DICOM files are ignored.",
        )
    accepted = [series for series in found if series.modality in modalities]
    if len(accepted) == 1:
        return accepted[0]
    if not accepted:
        listing = "; ".join(series.describe() for series in found)
        if len(found) == 1:
            message = (
                f"The {role} input {shown} is a {found[0].describe()} series with Modality (0008,0060) "
                f"'{found[0].modality}', not {wanted}."
            )
        else:
            message = f"No {role} series (Modality (0008,0060) {wanted}) in {shown}; found {listing}."
        raise RagalivInputError(message, f"Give the {role} series ({wanted}). " + _SERIES_HINT)
    listing = "; ".join(f"{s.describe()} UID {s.series_instance_uid}" for s in accepted)
    raise RagalivInputError(
        f"{len(accepted)} {role} series (Modality {wanted}) found in {shown}: {listing}.",
        "Give the folder of one series. " + _SERIES_HINT,
    )


# --- header helpers ----------------------------------------------------------------------------------
def _floats(dataset: Optional[Dataset], keyword: str, count: int) -> Optional[np.ndarray]:
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
    if len(values) != count or not all(np.isfinite(values)):
        return None
    return np.array(values, dtype=float)


def _float(dataset: Optional[Dataset], keyword: str, default: float) -> float:
    value = _floats(dataset, keyword, 1)
    return default if value is None else float(value[0])


def _require(dataset: Dataset, keyword: str, tag: str, count: int, where: str) -> np.ndarray:
    values = _floats(dataset, keyword, count)
    if values is None:
        raise RagalivInputError(
            f"DICOM attribute {keyword} {tag} is missing or invalid in {where}: the image geometry "
            "cannot be built.",
            "Re-export the series from the scanner or PACS with complete geometry attributes.",
        )
    return values


@dataclass
class _Plane:
    """One 2D slice (or frame) to stack: its position, orientation, pixel spacing and rescale."""

    position_lps_mm: np.ndarray
    orientation: np.ndarray  # row (i) direction, column (j) direction: 6 cosines
    pixel_spacing_mm: np.ndarray  # (row spacing = along j, column spacing = along i)
    rows: int
    columns: int
    slope: float
    intercept: float
    header: Dataset
    file: str
    frame: Optional[int] = None  # index into a multi-frame pixel array

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.orientation[:3], self.orientation[3:])


def _single_frame_plane(header: Dataset, file_path: str) -> _Plane:
    where = os.path.basename(file_path)
    return _Plane(
        position_lps_mm=_require(header, "ImagePositionPatient", "(0020,0032)", 3, where),
        orientation=_require(header, "ImageOrientationPatient", "(0020,0037)", 6, where),
        pixel_spacing_mm=_require(header, "PixelSpacing", "(0028,0030)", 2, where),
        rows=int(_require(header, "Rows", "(0028,0010)", 1, where)[0]),
        columns=int(_require(header, "Columns", "(0028,0011)", 1, where)[0]),
        slope=_float(header, "RescaleSlope", 1.0),
        intercept=_float(header, "RescaleIntercept", 0.0),
        header=header,
        file=file_path,
    )


def _first_item(dataset: Dataset, keyword: str) -> Optional[Dataset]:
    sequence = dataset.get(keyword)
    return sequence[0] if sequence else None


def _functional(frame_group: Optional[Dataset], shared: Optional[Dataset], keyword: str) -> Optional[Dataset]:
    """An item of a functional group macro, per-frame first, then shared (enhanced multi-frame)."""
    for group in (frame_group, shared):
        if group is not None:
            item = _first_item(group, keyword)
            if item is not None:
                return item
    return None


def _multi_frame_planes(header: Dataset, file_path: str) -> list[_Plane]:
    """Frames of one multi-frame file as planes: NM (DetectorInformationSequence), enhanced or classic."""
    where = os.path.basename(file_path)
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
                _Plane(
                    position_lps_mm=_require(position, "ImagePositionPatient", "(0020,0032)", 3, where),
                    orientation=_require(orientation, "ImageOrientationPatient", "(0020,0037)", 6, where),
                    pixel_spacing_mm=_require(measures, "PixelSpacing", "(0028,0030)", 2, where),
                    rows=rows,
                    columns=columns,
                    slope=_float(transform, "RescaleSlope", 1.0) if transform is not None else 1.0,
                    intercept=_float(transform, "RescaleIntercept", 0.0) if transform is not None else 0.0,
                    header=header,
                    file=file_path,
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
            _Plane(
                position_lps_mm=position + k * float(step[0]) * normal,
                orientation=orientation,
                pixel_spacing_mm=pixel_spacing,
                rows=rows,
                columns=columns,
                slope=_float(header, "RescaleSlope", 1.0),
                intercept=_float(header, "RescaleIntercept", 0.0),
                header=header,
                file=file_path,
                frame=frame,
            )
        )
    return planes


# --- stacking ----------------------------------------------------------------------------------------
def _check_consistent(planes: list[_Plane]) -> None:
    first = planes[0]
    for plane in planes[1:]:
        name = os.path.basename(plane.file)
        if (plane.rows, plane.columns) != (first.rows, first.columns):
            raise RagalivInputError(
                f"Slices differ in size: {name} is {plane.rows}x{plane.columns}, "
                f"{os.path.basename(first.file)} is {first.rows}x{first.columns} "
                "(Rows/Columns (0028,0010)/(0028,0011)).",
                _SERIES_HINT,
            )
        if not np.allclose(plane.orientation, first.orientation, atol=_ORIENTATION_TOLERANCE):
            raise RagalivInputError(
                f"Slices differ in ImageOrientationPatient (0020,0037): {name} vs "
                f"{os.path.basename(first.file)}; a series with several orientations cannot form one volume.",
                _SERIES_HINT,
            )
        if not np.allclose(plane.pixel_spacing_mm, first.pixel_spacing_mm, rtol=1e-4, atol=1e-5):
            raise RagalivInputError(
                f"Slices differ in PixelSpacing (0028,0030): {name} has {list(plane.pixel_spacing_mm)}, "
                f"{os.path.basename(first.file)} has {list(first.pixel_spacing_mm)}.",
                _SERIES_HINT,
            )


def _sort_and_step(planes: list[_Plane]) -> tuple[list[_Plane], np.ndarray]:
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
            _SERIES_HINT,
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


def _pixel_unit(header: Dataset, modality: str) -> str:
    if modality in ("PT", "NM") and str(header.get("Units", "") or "").strip():
        # (0054,1001) Units: PET always; quantitative SPECT exports (e.g. Bq/mL) use it too.
        return _UNIT_BY_PET_UNITS.get(str(header.get("Units", "") or "").strip().upper(), "")
    return _UNIT_BY_MODALITY.get(modality, "")


_UNCOMPRESSED_LITTLE_ENDIAN = {"1.2.840.10008.1.2": False, "1.2.840.10008.1.2.1": True}  # UID -> explicit VR
_PIXEL_DATA_TAG = b"\xe0\x7f\x10\x00"


def _read_raw_pixels(file_path: str, header: Dataset, offset: Optional[int]) -> Optional[np.ndarray]:
    """Native little-endian pixel data read straight from its byte offset (no second parse of the
    header: about twice as fast on a PET series). None when this fast path does not apply."""
    meta = getattr(header, "file_meta", None)
    syntax = str(getattr(meta, "TransferSyntaxUID", "") or "")
    explicit = _UNCOMPRESSED_LITTLE_ENDIAN.get(syntax)
    bits = int(_float(header, "BitsAllocated", 0.0))
    signed = int(_float(header, "PixelRepresentation", 0.0)) == 1
    stored = int(_float(header, "BitsStored", float(bits)))
    single_channel = int(_float(header, "SamplesPerPixel", 1.0)) == 1
    if offset is None or explicit is None or bits not in (8, 16, 32) or not single_channel:
        return None
    if signed and stored != bits:
        return None  # needs sign extension: leave it to pydicom
    with open(file_path, "rb") as stream:
        stream.seek(offset)
        element = stream.read(12 if explicit else 8)
        if len(element) < 8 or element[:4] != _PIXEL_DATA_TAG:
            return None
        length = int.from_bytes(element[8:12] if explicit else element[4:8], "little")
        if explicit and element[4:6] not in (b"OW", b"OB"):
            return None
        if length == 0xFFFFFFFF:
            return None  # encapsulated (compressed)
        data = stream.read(length)
    dtype = np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")
    rows, columns = int(_float(header, "Rows", 0.0)), int(_float(header, "Columns", 0.0))
    frames = int(_float(header, "NumberOfFrames", 1.0))
    expected = rows * columns * frames
    pixels = np.frombuffer(data, dtype=dtype, count=min(expected, len(data) // dtype.itemsize))
    if pixels.size != expected:
        return None
    return pixels.reshape((frames, rows, columns) if frames > 1 else (rows, columns))


def _read_pixels(file_path: str, header: Optional[Dataset] = None, offset: Optional[int] = None) -> np.ndarray:
    if header is not None:
        fast = _read_raw_pixels(file_path, header, offset)
        if fast is not None:
            return fast
    try:
        dataset = pydicom.dcmread(file_path, force=False)
    except (InvalidDicomError, OSError, EOFError, ValueError) as error:
        raise RagalivInputError(f"Cannot read {file_path}: {error}", "Check the file.") from None
    try:
        return np.asarray(dataset.pixel_array)
    except Exception as error:  # pydicom raises several types for missing decoders / corrupt data
        syntax_uid = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", None)
        syntax = f" (transfer syntax {getattr(syntax_uid, 'name', syntax_uid)})" if syntax_uid else ""
        raise RagalivInputError(
            f"Cannot decode the pixel data of {os.path.basename(file_path)}{syntax}: {error}",
            "Install a decoder (pip install pylibjpeg pylibjpeg-libjpeg) or decompress the series "
            "(e.g. gdcmconv --raw), or load it in Slicer's DICOM module.",
        ) from None


def _planes_and_geometry(series: DicomSeries) -> tuple[list[_Plane], Geometry]:
    """Sorted slices (frames) of the series and the grid they form, from the headers alone."""
    if not series.files:
        raise RagalivInputError("The DICOM series has no files.", _SERIES_HINT)
    planes: list[_Plane] = []
    for header, file_path in zip(series.headers, series.files):
        if int(_float(header, "NumberOfFrames", 1.0)) > 1:
            planes.extend(_multi_frame_planes(header, file_path))
        else:
            planes.append(_single_frame_plane(header, file_path))
    _check_consistent(planes)
    planes, step_vector = _sort_and_step(planes)

    first = planes[0]
    row_direction, column_direction = first.orientation[:3], first.orientation[3:]
    matrix = np.eye(4)
    matrix[:3, 0] = row_direction * first.pixel_spacing_mm[1]  # i runs along a row: column spacing
    matrix[:3, 1] = column_direction * first.pixel_spacing_mm[0]  # j runs down a column: row spacing
    matrix[:3, 2] = step_vector
    matrix[:3, 3] = first.position_lps_mm
    return planes, Geometry((len(planes), first.rows, first.columns), matrix)


def series_geometry(series: DicomSeries) -> Geometry:
    """The grid of a series without reading its pixels."""
    return _planes_and_geometry(series)[1]


def load_volume(series: DicomSeries) -> Volume:
    """Pixel volume (float64, ``[k, j, i]``, IJK->LPS geometry) with per-slice rescale applied.

    ``metadata`` holds ``slice_headers`` (one dataset per k, sorted; a multi-frame file repeats its header),
    ``files``, ``series_instance_uid``, ``modality``, ``series_description`` and the rescale per slice.
    """
    planes, geometry = _planes_and_geometry(series)
    first = planes[0]
    array = np.empty(geometry.shape_kji, dtype=np.float64)
    file_header = {path: (header, offset) for path, header, offset in
                   zip(series.files, series.headers, series.pixel_offsets or [None] * len(series.files))}
    cache: dict[str, np.ndarray] = {}
    for k, plane in enumerate(planes):
        pixels = cache.get(plane.file)
        if pixels is None:
            pixels = _read_pixels(plane.file, *file_header.get(plane.file, (None, None)))
            if plane.frame is not None:
                cache = {plane.file: pixels}  # keep only the current multi-frame file in memory
        if plane.frame is not None:
            frame = pixels.reshape((-1, plane.rows, plane.columns))[plane.frame]
        else:
            frame = pixels
        if frame.shape != (plane.rows, plane.columns):
            raise RagalivInputError(
                f"{os.path.basename(plane.file)}: pixel data of shape {frame.shape} does not match "
                f"Rows x Columns {plane.rows}x{plane.columns} (colour or corrupt image?).",
                "Give a greyscale image series.",
            )
        array[k] = frame
    # Rescale per slice (slopes differ between slices in real PET), in one vectorised step.
    array *= np.array([plane.slope for plane in planes])[:, np.newaxis, np.newaxis]
    array += np.array([plane.intercept for plane in planes])[:, np.newaxis, np.newaxis]

    metadata: dict[str, Any] = {
        "series_instance_uid": series.series_instance_uid,
        "modality": series.modality,
        "series_description": series.series_description,
        "files": [plane.file for plane in planes],
        "frame_indices": [plane.frame for plane in planes],
        "slice_headers": [plane.header for plane in planes],
        "rescale_slopes": [plane.slope for plane in planes],
        "rescale_intercepts": [plane.intercept for plane in planes],
    }
    return Volume(array, geometry, _pixel_unit(first.header, series.modality), metadata)
