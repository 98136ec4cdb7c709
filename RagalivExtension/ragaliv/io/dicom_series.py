"""DICOM series -> :class:`~ragaliv.geometry.Volume` with explicit IJK->LPS geometry (no Slicer needed).

Why our own reader: PET quantification needs the *per-slice* headers (RescaleSlope, AcquisitionTime,
ActualFrameDuration differ per slice in real PET, PET notes §3.1 and §7), and a missing slice must be an
error rather than a silently stretched or shortened volume. Headers are parsed by :mod:`.dicom_header`
(fast, no pydicom import on the usual files) and the pixel data is read in one piece per file.

* :func:`list_series` reads headers only and groups files by SeriesInstanceUID.
* :func:`select_series` picks the one series of an expected modality, or explains what was found.
* :func:`load_volume` stacks single-frame slices (PT, CT, MR) along the slice normal, or reads a
  multi-frame object (NM SPECT, classic or enhanced multi-frame PT/CT), applying RescaleSlope/Intercept
  per slice (per frame) after :mod:`.dicom_checks` has found the series whole and its rescale valid.
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import numpy as np

from ..errors import RagalivInputError
from ..geometry import Geometry, Volume
from . import dicom_checks as checks
from .dicom_geometry import (
    SERIES_HINT,
    Plane,
    check_consistent,
    integer,
    multi_frame_planes,
    single_frame_plane,
    sort_and_step,
)
from .dicom_header import DicomFile, UnreadableDicomFile, read_dicom_file

PathInput = Union[str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]]]

# Pixel value unit by PET Units (0054,1001) (PET notes §3.2) and by modality.
_UNIT_BY_PET_UNITS = {"BQML": "Bq/mL", "GML": "g/mL", "CM2ML": "cm2/mL", "CNTS": "counts"}
_UNIT_BY_MODALITY = {"CT": "HU", "NM": "counts"}
_EMISSION = ("PT", "NM")


class PydicomHeaders(Sequence):
    """pydicom Datasets of ``files`` (pixels not read), parsed on first access and kept per file (the frames of
    one multi-frame file share one object): for code that needs pydicom objects, e.g. highdicom in the DICOM
    SEG/SR export. The core reads the fast headers instead."""

    def __init__(self, files: Sequence[str]):
        self._files = list(files)
        self._datasets: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self._files)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        path = self._files[index]
        dataset = self._datasets.get(path)
        if dataset is None:
            import pydicom

            dataset = pydicom.dcmread(path, stop_before_pixels=True)
            self._datasets[path] = dataset
        return dataset


@dataclass
class DicomSeries:
    """One series found on disk: its identity, its files and their headers (pixels not read).

    ``fast_headers`` are the headers as :mod:`.dicom_header` read them (read like pydicom Datasets);
    ``headers`` gives pydicom Datasets of the same files, parsed on first use. ``problems`` lists files under the
    same input that are DICOM but unreadable and belong to this series, or to no series that could be told."""

    series_instance_uid: str
    modality: str
    series_description: str
    files: list[str] = field(default_factory=list)
    fast_headers: list[Any] = field(default_factory=list)
    records: list[DicomFile] = field(default_factory=list)
    problems: list[UnreadableDicomFile] = field(default_factory=list)
    role: str = "DICOM"
    folder: str = ""
    _pydicom_headers: Optional[PydicomHeaders] = field(default=None, repr=False, compare=False)

    @property
    def headers(self) -> PydicomHeaders:
        if self._pydicom_headers is None or len(self._pydicom_headers) != len(self.files):
            self._pydicom_headers = PydicomHeaders(self.files)
        return self._pydicom_headers

    @property
    def label(self) -> str:
        """``the IA PET series in /data/pet_ia`` - for messages."""
        return checks.series_label(self.role, self.folder)

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


def _scan(path: PathInput) -> tuple[list[DicomSeries], list[UnreadableDicomFile]]:
    """Series under ``path`` and the unreadable DICOM files whose series cannot be told."""
    by_uid: dict[str, DicomSeries] = {}
    strays: list[UnreadableDicomFile] = []
    folder = os.fspath(path) if isinstance(path, (str, os.PathLike)) else ""
    for file_path in _candidate_files(path):
        try:
            record = read_dicom_file(file_path)
        except UnreadableDicomFile as problem:
            if problem.series_instance_uid:
                series = by_uid.setdefault(problem.series_instance_uid, DicomSeries(
                    problem.series_instance_uid, "", "", folder=folder))
                series.problems.append(problem)
            else:
                strays.append(problem)
            continue
        if record is None:
            continue
        header = record.header
        sop_class = str(getattr(getattr(header, "file_meta", None), "MediaStorageSOPClassUID", "") or "")
        uid = str(header.get("SeriesInstanceUID", "") or "").strip()
        if sop_class == "1.2.840.10008.1.3.10" or "DirectoryRecordSequence" in header or not uid:
            continue  # a DICOMDIR index (PS3.4 Annex F), or no series at all
        series = by_uid.get(uid)
        if series is None:
            series = DicomSeries(uid, "", "", folder=folder)
            by_uid[uid] = series
        if not series.files:
            series.modality = str(header.get("Modality", "") or "").strip()
            series.series_description = str(header.get("SeriesDescription", "") or "").strip()
        series.files.append(file_path)
        series.fast_headers.append(header)
        series.records.append(record)
    found = [series for series in by_uid.values() if series.files or series.problems]
    for series in found:
        series.problems.extend(strays)
    return found, strays


def list_series(path: PathInput) -> list[DicomSeries]:
    """All DICOM series under ``path`` (folder searched recursively, one file, or a list of files).

    Only headers are read; files that are not DICOM (DICOMDIR, text, images) are skipped. DICOM files that
    cannot be read whole are kept in each series' ``problems`` (they make :func:`load_volume` refuse).
    """
    return [series for series in _scan(path)[0] if series.files]


def select_series(path: PathInput, modalities: Sequence[str] = ("PT",), role: str = "PET") -> DicomSeries:
    """The single series under ``path`` whose Modality (0008,0060) is one of ``modalities``."""
    scanned, strays = _scan(path)
    found = [series for series in scanned if series.files]
    shown = path if isinstance(path, (str, os.PathLike)) else f"{len(list(path))} given files"
    wanted = "/".join(modalities)
    if not found:
        problems = [p for series in scanned for p in series.problems] or strays
        checks.refuse_unreadable(problems, checks.series_label(role, str(shown)))
        raise RagalivInputError(
            f"No DICOM image files found in {shown} (expected the {role} series, Modality {wanted}).",
            "Check the path; DICOMDIR index files and non-DICOM files are ignored.",
        )
    accepted = [series for series in found if series.modality in modalities]
    if len(accepted) == 1:
        series = accepted[0]
        series.role = role
        checks.refuse_unreadable(series.problems, series.label)
        return series
    if not accepted:
        listing = "; ".join(series.describe() for series in found)
        if len(found) == 1:
            message = (
                f"The {role} input {shown} is a {found[0].describe()} series with Modality (0008,0060) "
                f"'{found[0].modality}', not {wanted}."
            )
        else:
            message = f"No {role} series (Modality (0008,0060) {wanted}) in {shown}; found {listing}."
        raise RagalivInputError(message, f"Give the {role} series ({wanted}). " + SERIES_HINT)
    listing = "; ".join(f"{s.describe()} UID {s.series_instance_uid}" for s in accepted)
    raise RagalivInputError(
        f"{len(accepted)} {role} series (Modality {wanted}) found in {shown}: {listing}.",
        "Give the folder of one series. " + SERIES_HINT,
    )


def _pixel_unit(header: Any, modality: str) -> str:
    if modality in ("PT", "NM") and str(header.get("Units", "") or "").strip():
        # (0054,1001) Units: PET always; quantitative SPECT exports (e.g. Bq/mL) use it too.
        return _UNIT_BY_PET_UNITS.get(str(header.get("Units", "") or "").strip().upper(), "")
    return _UNIT_BY_MODALITY.get(modality, "")


def _read_raw_pixels(record: DicomFile) -> Optional[np.ndarray]:
    """Native little-endian pixel data read in one piece from the offset found with the header. None when
    this fast path does not apply (compressed, sign extension, several samples: pydicom decodes those)."""
    header = record.header
    if not record.native_little_endian or record.pixel_offset is None or record.pixel_length is None:
        return None
    bits = integer(header, "BitsAllocated", 0)
    signed = integer(header, "PixelRepresentation", 0) == 1
    stored = integer(header, "BitsStored", bits)
    if bits not in (8, 16, 32) or integer(header, "SamplesPerPixel", 1) != 1 or (signed and stored != bits):
        return None
    with open(record.path, "rb") as stream:
        stream.seek(record.pixel_offset)
        data = stream.read(record.pixel_length)
    if len(data) != record.pixel_length:
        raise RagalivInputError(
            f"{record.path} changed while it was read: its pixel data is now {len(data)} of "
            f"{record.pixel_length} bytes.", "Read the series again once it is completely copied.")
    dtype = np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")
    rows, columns = integer(header, "Rows", 0), integer(header, "Columns", 0)
    frames = integer(header, "NumberOfFrames", 1)
    expected = rows * columns * frames
    if len(data) // dtype.itemsize < expected:
        raise RagalivInputError(
            f"{os.path.basename(record.path)}: its pixel data (7FE0,0010) holds {len(data)} bytes, fewer than "
            f"Rows x Columns x frames ({rows} x {columns} x {frames}) x {bits // 8} bytes = "
            f"{expected * dtype.itemsize}. File: {record.path}.",
            "Copy the series again from the scanner or PACS; the file is damaged.",
        )
    pixels = np.frombuffer(data, dtype=dtype, count=expected)
    return pixels.reshape((frames, rows, columns) if frames > 1 else (rows, columns))


def _read_pixels(record: DicomFile) -> np.ndarray:
    fast = _read_raw_pixels(record)
    if fast is not None:
        return fast
    import pydicom  # compressed or unusual pixel data: pydicom and its decoders

    file_path = record.path
    try:
        dataset = pydicom.dcmread(file_path, force=False)
    except Exception as error:  # pydicom raises several types for broken files
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


def _check_files(series: DicomSeries) -> None:
    """Refuse unreadable files, image files without pixel data and copies of one instance."""
    checks.refuse_unreadable(series.problems, series.label)
    checks.refuse_missing_pixels([r.path for r in series.records if not r.has_pixel_data], series.label)
    checks.refuse_duplicate_instances([str(h.get("SOPInstanceUID") or "").strip() for h in series.fast_headers],
                                      series.files, series.label)


def _planes_and_geometry(series: DicomSeries) -> tuple[list[Plane], Geometry, list[str]]:
    """Sorted slices (frames) of the series, the grid they form and warnings, from the headers alone."""
    if not series.files:
        raise RagalivInputError("The DICOM series has no files.", SERIES_HINT)
    _check_files(series)
    planes: list[Plane] = []
    for header, record in zip(series.fast_headers, series.records):
        if integer(header, "NumberOfFrames", 1) > 1:
            planes.extend(multi_frame_planes(header, record))
        else:
            planes.append(single_frame_plane(header, record))
    check_consistent(planes)
    planes, step_vector = sort_and_step(planes)
    headers = [plane.header for plane in planes]
    places = [plane.place for plane in planes]
    checks.check_frame_of_reference(headers, places, series.label)
    warnings = []
    if series.modality == "PT" and all(plane.frame is None for plane in planes):
        warnings.extend(checks.check_pet_slice_count(headers, places, series.label))
    first = planes[0]
    if len(planes) > 1:
        shear = checks.shear_warning(step_vector, first.normal, series.label)
        if shear:
            warnings.append(shear)

    row_direction, column_direction = first.orientation[:3], first.orientation[3:]
    matrix = np.eye(4)
    matrix[:3, 0] = row_direction * first.pixel_spacing_mm[1]  # i runs along a row: column spacing
    matrix[:3, 1] = column_direction * first.pixel_spacing_mm[0]  # j runs down a column: row spacing
    matrix[:3, 2] = step_vector
    matrix[:3, 3] = first.position_lps_mm
    return planes, Geometry((len(planes), first.rows, first.columns), matrix), warnings


def series_geometry(series: DicomSeries) -> Geometry:
    """The grid of a series without reading its pixels."""
    return _planes_and_geometry(series)[1]


def _rescales(planes: list[Plane], series: DicomSeries) -> tuple[list[float], list[float]]:
    """RescaleSlope/Intercept per slice (frame), validated by :func:`.dicom_checks.check_rescales`."""
    units = str(planes[0].header.get("Units", "") or "").strip().upper()
    by_source: dict[int, tuple] = {}  # the frames of one file share their header: read it once
    slopes, intercepts = [], []
    for plane in planes:
        pair = by_source.get(id(plane.rescale))
        if pair is None:
            pair = (checks.rescale_value(plane.rescale, "RescaleSlope"),
                    checks.rescale_value(plane.rescale, "RescaleIntercept"))
            by_source[id(plane.rescale)] = pair
        slopes.append(pair[0])
        intercepts.append(pair[1])
    return checks.check_rescales(slopes, intercepts, [plane.place for plane in planes], series.modality, units,
                                 series.label)


@dataclass
class SeriesLayout:
    """What the headers of a checked series say, before any pixel is read: the slices sorted along the normal,
    their grid, RescaleSlope/Intercept per slice and the warnings of :mod:`.dicom_checks`."""

    series: DicomSeries
    planes: list[Plane]
    geometry: Geometry
    slopes: list[float]
    intercepts: list[float]
    warnings: list[str]

    @property
    def headers(self) -> list[Any]:
        """One fast header per slice (k order); the frames of a multi-frame file share theirs."""
        return [plane.header for plane in self.planes]

    @property
    def unit(self) -> str:
        return _pixel_unit(self.planes[0].header, self.series.modality)

    def metadata(self) -> dict[str, Any]:
        files = [plane.file for plane in self.planes]
        return {
            "series_instance_uid": self.series.series_instance_uid,
            "modality": self.series.modality,
            "series_description": self.series.series_description,
            "files": files,
            "frame_indices": [plane.frame for plane in self.planes],
            "fast_slice_headers": self.headers,
            "slice_headers": PydicomHeaders(files),
            "rescale_slopes": list(self.slopes),
            "rescale_intercepts": list(self.intercepts),
            "warnings": list(self.warnings),
        }


def read_layout(series: DicomSeries) -> SeriesLayout:
    """Check the series (files, geometry, rescale) and lay out its slices, reading headers only."""
    planes, geometry, warnings = _planes_and_geometry(series)
    slopes, intercepts = _rescales(planes, series)
    return SeriesLayout(series, planes, geometry, slopes, intercepts, warnings)


def read_pixels(layout: SeriesLayout, dtype: Any = np.float64,
                scale_per_slice: Optional[Sequence[float]] = None) -> np.ndarray:
    """The rescaled pixel values ``[k, j, i]``: float64(stored) x slope + intercept per slice, then (optionally)
    x ``scale_per_slice[k]`` in float64, stored as ``dtype`` - the same numbers as rescaling the whole float64
    volume first, computed slice by slice while each slice is in cache."""
    planes, slopes, intercepts = layout.planes, layout.slopes, layout.intercepts
    array = np.empty(layout.geometry.shape_kji, dtype=dtype)
    direct = np.dtype(dtype) == np.float64 and scale_per_slice is None
    work = None if direct else np.empty(layout.geometry.shape_kji[1:], dtype=np.float64)
    pixels: Optional[np.ndarray] = None
    pixels_of = ""
    blank = True
    for k, plane in enumerate(planes):
        if plane.file != pixels_of:  # a multi-frame file is read once for all its frames
            pixels, pixels_of = _read_pixels(plane.record), plane.file
        assert pixels is not None
        frame = pixels.reshape((-1, plane.rows, plane.columns))[plane.frame] if plane.frame is not None else pixels
        if frame.shape != (plane.rows, plane.columns):
            raise RagalivInputError(
                f"{os.path.basename(plane.file)}: pixel data of shape {frame.shape} does not match "
                f"Rows x Columns {plane.rows}x{plane.columns} (colour or corrupt image?).",
                "Give a greyscale image series.",
            )
        # Rescale per slice (slopes differ between slices in real PET, PET notes §3.1).
        target = array[k] if work is None else work
        np.multiply(frame, slopes[k], out=target, dtype=np.float64)
        if intercepts[k] != 0.0:
            target += intercepts[k]
        blank = blank and not target.any()
        if work is not None:
            factor = 1.0 if scale_per_slice is None else float(scale_per_slice[k])
            np.multiply(work, factor, out=array[k], dtype=np.float64, casting="same_kind")
    if layout.series.modality in _EMISSION and blank:
        raise RagalivInputError(
            f"Every voxel of {layout.series.label} is 0: the image is blank (stored pixel values all 0).",
            "Re-export the reconstruction from the scanner or PACS; a blank image cannot be quantified.",
        )
    return array


def load_volume(series: DicomSeries) -> Volume:
    """Pixel volume (float64, ``[k, j, i]``, IJK->LPS geometry) with per-slice rescale applied.

    ``metadata`` holds ``fast_slice_headers`` (one header per k, sorted, as :mod:`.dicom_header` read it; a
    multi-frame file repeats its header), ``slice_headers`` (the same as pydicom Datasets, parsed on first use),
    ``files``, ``frame_indices``, ``series_instance_uid``, ``modality``, ``series_description``, the rescale
    per slice and ``warnings`` (unusual but possible findings, for the caller to report).
    """
    layout = read_layout(series)
    return Volume(read_pixels(layout), layout.geometry, layout.unit, layout.metadata())
