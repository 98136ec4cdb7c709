"""Segmentations on disk -> :class:`~ragaliv.geometry.SegmentMask` lists, without importing Slicer.

Two inputs are accepted:

* a Slicer ``.seg.nrrd`` (any number of layers, overlapping segments allowed), read with ``slicerio``;
* a labelmap image (NRRD/NIfTI) plus a labels CSV with the columns ``label,name``.
"""

import csv
import os
from collections.abc import Sequence
from typing import Optional

import numpy as np

from ..errors import RagalivInputError
from ..geometry import Geometry, SegmentMask
from .atomic import atomic_path
from .images import read_image


def read_segments(path: str, labels_csv: Optional[str] = None) -> list[SegmentMask]:
    """Read every segment of a ``.seg.nrrd`` or of a labelmap with its labels CSV."""
    if not os.path.isfile(path):
        raise RagalivInputError(f"Segmentation file not found: {path}", "Check the --segmentation path.")
    if labels_csv:
        return _read_labelmap(path, labels_csv)
    if not path.lower().endswith(".seg.nrrd"):
        raise RagalivInputError(
            f"{os.path.basename(path)} is not a Slicer .seg.nrrd file.",
            "Give a .seg.nrrd, or a labelmap image together with --labels CSV (columns label,name).",
        )
    return _read_seg_nrrd(path)


def _read_seg_nrrd(path: str) -> list[SegmentMask]:
    import slicerio

    try:
        segmentation = slicerio.read_segmentation(path)
    except Exception as error:  # slicerio raises IOError/ValueError/nrrd errors
        raise RagalivInputError(f"Cannot read segmentation {path}: {error}") from None
    voxels = segmentation["voxels"]  # [i, j, k] or [layer, i, j, k]
    layers = voxels if voxels.ndim == 4 else voxels[np.newaxis]
    size_i, size_j, size_k = layers.shape[1:]
    geometry = Geometry((size_k, size_j, size_i), segmentation["ijkToLPS"])
    boxes = [_label_boxes(np.transpose(layer, (2, 1, 0))) for layer in layers]  # views in [k, j, i] order
    segments = []
    for info in segmentation.get("segments", []):
        layer_index, label = int(info.get("layer", 0)), int(info.get("labelValue", 1))
        name = info.get("name", info.get("id", ""))
        color = tuple(float(c) for c in info.get("color", (1.0, 1.0, 0.0)))
        box = boxes[layer_index].get(label)
        if box is None:
            mask, sub = np.zeros((1, 1, 1), bool), geometry.sub_grid(0, 1, 0, 1, 0, 1)
        else:
            (k0, k1), (j0, j1), (i0, i1) = box
            crop = np.transpose(layers[layer_index], (2, 1, 0))[k0:k1, j0:j1, i0:i1]
            mask, sub = np.ascontiguousarray(crop == label), geometry.sub_grid(k0, k1, j0, j1, i0, i1)
        segments.append(SegmentMask(name, mask, sub, segment_id=info.get("id", ""), color_rgb=color))
    if not segments:
        raise RagalivInputError(f"Segmentation {path} contains no segments.")
    return segments


def _label_boxes(labels_kji: np.ndarray) -> dict[int, tuple[tuple[int, int], ...]]:
    """Bounding box (half-open, k/j/i) of every non-zero label, in one pass over the voxels."""
    k, j, i = np.nonzero(labels_kji)
    values = labels_kji[k, j, i]
    boxes = {}
    for label in np.unique(values):
        chosen = values == label
        boxes[int(label)] = tuple(
            (int(axis[chosen].min()), int(axis[chosen].max()) + 1) for axis in (k, j, i)
        )
    return boxes


# --- labels CSV (label,name) ------------------------------------------------------------------------------
LABELS_HINT = "Write one 'label,name' line per segment (a first line 'label,name' is optional), e.g. '1,Lesion 1'."


def read_labels_csv(path: str) -> dict[int, str]:
    """``label,name`` rows -> {label: name}, in file order.

    A header line is optional (a first line whose label is not an integer); a UTF-8 byte-order mark (Excel's
    "CSV UTF-8") is ignored; ``;`` or tab instead of ``,`` is accepted; blank lines and lines starting with ``#``
    are skipped. Refused with the line number: a label that is not a positive integer (0 is the background), an
    empty name, a label value or a name (case-insensitive) given twice - a repeated label would silently replace
    a segment.
    """
    if not os.path.isfile(path):
        raise RagalivInputError(f"Labels file not found: {path}", "Check the --labels path.")
    try:
        with open(path, newline="", encoding="utf-8-sig") as stream:
            text = stream.read()
    except UnicodeDecodeError:
        raise RagalivInputError(f"{path} is not UTF-8 text.", "Save the labels as UTF-8 CSV.") from None
    lines = text.splitlines()
    first = next((line for line in lines if line.strip() and not line.lstrip().startswith("#")), "")
    delimiter = ";" if ";" in first and "," not in first else "\t" if "\t" in first and "," not in first else ","
    labels: dict[int, str] = {}
    line_of_label: dict[int, int] = {}
    line_of_name: dict[str, int] = {}
    seen_content = False
    try:
        rows = list(csv.reader(lines, delimiter=delimiter))
    except csv.Error as error:
        raise RagalivInputError(f"{path} is not a valid CSV file: {error}.", LABELS_HINT) from None
    for row_number, row in enumerate(rows, start=1):
        if not row or not "".join(row).strip() or row[0].strip().startswith("#"):
            continue
        is_first, seen_content = not seen_content, True
        where = f"{path} line {row_number}"
        if len(row) < 2:
            raise RagalivInputError(f"{where}: expected 'label,name', got {delimiter.join(row)!r}.", LABELS_HINT)
        text_label, name = row[0].strip(), row[1].strip()
        try:
            label = int(text_label)
        except ValueError:
            if is_first:
                continue  # header line
            raise RagalivInputError(f"{where}: label {text_label!r} is not an integer.", LABELS_HINT) from None
        if label <= 0:
            raise RagalivInputError(f"{where}: label {label} is not a positive integer (0 is the background).",
                                    "Use the labelmap values of the segments (1, 2, ...).")
        if not name:
            raise RagalivInputError(f"{where}: label {label} has an empty name.", "Name every segment.")
        if label in labels:
            raise RagalivInputError(
                f"{where}: label {label} is listed twice (lines {line_of_label[label]} and {row_number}: "
                f"{labels[label]!r}, {name!r}).", "Give each label value one line.")
        if name.lower() in line_of_name:
            raise RagalivInputError(
                f"{where}: the name {name!r} is used twice (lines {line_of_name[name.lower()]} and {row_number}).",
                "Give each segment its own name (e.g. 'Lesion 1' ... 'Lesion 5').")
        labels[label] = name
        line_of_label[label] = row_number
        line_of_name[name.lower()] = row_number
    if not labels:
        raise RagalivInputError(f"{path} lists no labels.", LABELS_HINT)
    return labels


def _read_labelmap(path: str, labels_csv: str) -> list[SegmentMask]:
    labelmap = read_image(path)
    labels = read_labels_csv(labels_csv)
    values = labelmap.array
    if not np.allclose(values, np.round(values)):
        raise RagalivInputError(f"{path} is not a labelmap (voxel values are not integers).")
    segments = []
    for label, name in labels.items():
        segments.append(SegmentMask.from_full_mask(name, values == label, labelmap.geometry))
    return segments


def write_seg_nrrd(path: str, segments: Sequence[SegmentMask], reference: Geometry) -> None:
    """Write segments (each on a sub-grid of ``reference``) as a Slicer ``.seg.nrrd`` on ``reference``."""
    import slicerio

    segmentation = slicerio.create_segmentation(reference.size_ijk, reference.ijk_to_lps)
    for segment in segments:
        full_kji = paste_into(segment, reference)
        slicerio.add_segment(
            segmentation,
            np.transpose(full_kji, (2, 1, 0)),
            {"id": segment.segment_id, "name": segment.name, "color": list(segment.color_rgb)},
        )
    segmentation["containedRepresentationNames"] = ["Binary labelmap"]
    segmentation["masterRepresentation"] = "Binary labelmap"
    with atomic_path(path) as temporary:
        slicerio.write_segmentation(temporary, segmentation)


def paste_into(segment: SegmentMask, reference: Geometry) -> np.ndarray:
    """The segment mask placed on the full ``reference`` grid (its crop must be aligned with it)."""
    offset_ijk = reference.lps_to_index(segment.geometry.origin_lps_mm)
    rounded = np.round(offset_ijk)
    if not np.allclose(offset_ijk, rounded, atol=1e-3) or not np.allclose(
        segment.geometry.ijk_to_lps[:3, :3], reference.ijk_to_lps[:3, :3], atol=1e-6
    ):
        raise ValueError(f"segment {segment.name!r} is not on a sub-grid of the reference geometry")
    i0, j0, k0 = (int(v) for v in rounded)
    full = np.zeros(reference.shape_kji, dtype=bool)
    dk, dj, di = segment.mask.shape
    full[k0 : k0 + dk, j0 : j0 + dj, i0 : i0 + di] = segment.mask
    return full
