"""Is a DICOM series whole, and can its stored values be rescaled? Checked before any number is computed.

Refused (:class:`~ragaliv.errors.RagalivInputError`, CLI exit 2), each message naming the file, the tag and the
fix (issue 8):

* a file that is DICOM but cannot be read whole (truncated header or pixel data, unreadable, a .dcm file that is
  not DICOM): skipping it, as a plain DICOM reader does, silently removes a slice from the field of view;
* an image file without pixel data, and two files holding the same SOPInstanceUID (0008,0018) (a copied slice);
* RescaleSlope (0028,1053) / RescaleIntercept (0028,1052) that is not one finite number, a slope of 0 (an
  all-zero image) or below 0 (a sign-flipped image); either tag missing in a CT or PET image (both are Type 1 in
  the CT Image and PET Image modules, DICOM PS3.3 C.8.2.1 and C.8.9.4), the slope missing in an NM series in
  Bq/mL (its integers would be read as Bq/mL, typically tens of times too low), or present in some slices
  and not in others (the slices would be scaled differently). Taking a missing slope as 1.0 is never done;
* a PET series with fewer slices than its NumberOfSlices (0054,0081) (PET Series module, PS3.3 C.8.9.1) says,
  or with a repeated ImageIndex (0054,1330): a lost first or last slice leaves no gap to see;
* slices of different FrameOfReferenceUID (0020,0052).

Warned (``warnings``, carried into summary.json by the callers), as unusual but possible: more PET slices than
NumberOfSlices, slices sheared against their orientation (gantry tilt).
Gaps in slice positions, duplicate positions and mixed sizes, orientations or spacings are refused where
the volume is stacked (:mod:`.dicom_series`).
"""

import math
import os
from collections.abc import Sequence
from typing import Any, Optional

from ..errors import RagalivInputError
from .dicom_header import UnreadableDicomFile

SLOPE_TAG = "RescaleSlope (0028,1053)"
INTERCEPT_TAG = "RescaleIntercept (0028,1052)"
# Modalities whose image module makes both rescale attributes Type 1 (PS3.3 C.8.2.1 CT, C.8.9.4 PET).
RESCALE_REQUIRED = ("CT", "PT")
_LISTED = 3  # files named in a message; the rest are counted

_RESCALE_FIX = (
    "Re-export the series from the scanner or PACS with its rescale attributes, and keep RescaleSlope "
    "(0028,1053) and RescaleIntercept (0028,1052) when anonymising or converting. If the stored values are "
    "already in the image unit, write RescaleSlope 1 and RescaleIntercept 0 into every file (e.g. dcmodify "
    "-i \"(0028,1053)=1\" -i \"(0028,1052)=0\" *.dcm)."
)
_COPY_FIX = (
    "Copy the series again from the scanner or PACS (a file was cut short or damaged in transfer), or remove "
    "the file if it does not belong to the series. Ragaliv never skips a slice: the field of view would "
    "silently lose it."
)


def listing(names: Sequence[str]) -> str:
    """``a.dcm, b.dcm, c.dcm and 4 more``."""
    shown = ", ".join(names[:_LISTED])
    return shown if len(names) <= _LISTED else f"{shown} and {len(names) - _LISTED} more"


def series_label(role: str, folder: str) -> str:
    return f"the {role} series in {folder}" if folder else f"the {role} series"


# --- files ---------------------------------------------------------------------------------------------------
def refuse_unreadable(problems: Sequence[UnreadableDicomFile], label: str) -> None:
    if not problems:
        return
    first = problems[0]
    more = f" ({len(problems)} such files: {listing([os.path.basename(p.path) for p in problems])})" \
        if len(problems) > 1 else ""
    raise RagalivInputError(
        f"{label[0].upper()}{label[1:]} is incomplete: {os.path.basename(first.path)} {first.reason}{more}. "
        f"File: {first.path}.",
        _COPY_FIX,
    )


def refuse_missing_pixels(files: Sequence[str], label: str) -> None:
    if files:
        raise RagalivInputError(
            f"{label[0].upper()}{label[1:]} is incomplete: {listing([os.path.basename(f) for f in files])} "
            f"{'has' if len(files) == 1 else 'have'} no pixel data (7FE0,0010). File: {files[0]}.",
            _COPY_FIX,
        )


def refuse_duplicate_instances(uids: Sequence[str], files: Sequence[str], label: str) -> None:
    """Two files with one SOPInstanceUID (0008,0018): the same slice copied under two names."""
    seen: dict[str, str] = {}
    for uid, path in zip(uids, files):
        if not uid:
            continue
        if uid in seen:
            raise RagalivInputError(
                f"{label[0].upper()}{label[1:]} holds the same image twice: {os.path.basename(seen[uid])} and "
                f"{os.path.basename(path)} have the same SOPInstanceUID (0008,0018) {uid}.",
                f"Remove one of the two copies ({path}).",
            )
        seen[uid] = path


# --- rescale ---------------------------------------------------------------------------------------------------
def rescale_value(source: Optional[Any], keyword: str) -> tuple[Optional[float], str]:
    """(number, "") for one finite number; (None, "missing") when absent or empty; (None, why) when invalid."""
    value = None if source is None else source.get(keyword)
    if value is None or (isinstance(value, (str, bytes)) and not value.strip()):
        return None, "missing"
    if isinstance(value, bytes):
        value = value.decode("latin_1", "replace").strip("\0 ")
    if not isinstance(value, str) and hasattr(value, "__len__"):
        if len(value) != 1:
            return None, f"has {len(value)} values ({'/'.join(str(v) for v in value)})"
        value = value[0]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None, f"is not a number ({str(value)!r})"
    if math.isnan(number):
        return None, "is NaN"
    if math.isinf(number):
        return None, f"is {'+' if number > 0 else '-'}infinite"
    return number, ""


def check_rescales(slopes: Sequence[tuple[Optional[float], str]], intercepts: Sequence[tuple[Optional[float], str]],
                   places: Sequence[str], modality: str, units: str, label: str) -> tuple[list[float], list[float]]:
    """Slope and intercept per slice (frame) from what each header holds, or a refusal naming tag and files.

    ``places`` name each slice (``PT_0042.dcm`` or ``spect.dcm frame 7``) for the messages."""
    count = len(places)
    for tag, values in ((SLOPE_TAG, slopes), (INTERCEPT_TAG, intercepts)):
        invalid = [(place, why) for place, (number, why) in zip(places, values) if why and why != "missing"]
        if invalid:
            places_text = listing([place for place, _ in invalid])
            raise RagalivInputError(
                f"{tag} {invalid[0][1]} in {len(invalid)} of {count} slices of {label} ({places_text}): the "
                "stored pixel values cannot be converted.",
                _RESCALE_FIX,
            )
    bad_slopes = [(place, number) for place, (number, _) in zip(places, slopes) if number is not None and number <= 0]
    if bad_slopes:
        number = bad_slopes[0][1]
        effect = "every voxel would be 0" if number == 0 else "every value would change sign"
        raise RagalivInputError(
            f"{SLOPE_TAG} is {number:g} in {len(bad_slopes)} of {count} slices of {label} "
            f"({listing([place for place, _ in bad_slopes])}): {effect}. A slope must be above 0.",
            _RESCALE_FIX,
        )
    missing_slopes = [place for place, (number, _) in zip(places, slopes) if number is None]
    missing_intercepts = [place for place, (number, _) in zip(places, intercepts) if number is None]
    required = modality in RESCALE_REQUIRED
    quantitative_nm = modality == "NM" and units == "BQML"
    for tag, missing in ((SLOPE_TAG, missing_slopes), (INTERCEPT_TAG, missing_intercepts)):
        if not missing:
            continue
        partial = len(missing) < count
        if tag == INTERCEPT_TAG and not required and not partial:
            continue  # no Modality LUT in NM/MR images: an intercept of 0
        if tag == INTERCEPT_TAG and not required and len(missing_slopes) == len(missing):
            continue  # both absent in the same slices: reported with the slope
        if partial or required or (tag == SLOPE_TAG and quantitative_nm):
            why = ("it is present in the other slices, which would be scaled differently" if partial else
                   f"it is Type 1 for Modality {modality}" if required else
                   "the series is in Bq/mL (Units BQML) and its stored integers need the slope")
            raise RagalivInputError(
                f"{tag} is missing in {len(missing)} of {count} slices of {label} ({listing(missing)}); {why}. "
                "A missing slope is never taken as 1.0.",
                _RESCALE_FIX,
            )
    return ([1.0 if number is None else number for number, _ in slopes],
            [0.0 if number is None else number for number, _ in intercepts])


# --- completeness --------------------------------------------------------------------------------------------
def check_pet_slice_count(headers: Sequence[Any], places: Sequence[str], label: str) -> list[str]:
    """PET: NumberOfSlices (0054,0081) against the slices present; ImageIndex (0054,1330) unique.
    Returns warnings; raises for missing or repeated slices. Skipped for a single slice given on purpose."""
    warnings: list[str] = []
    if len(headers) < 2:
        return warnings
    indices: dict[int, str] = {}
    for header, place in zip(headers, places):
        value = header.get("ImageIndex")
        if isinstance(value, int):
            if value in indices:
                raise RagalivInputError(
                    f"ImageIndex (0054,1330) {value} appears twice in {label}: {indices[value]} and {place} (two "
                    "copies of one slice, or two reconstructions in one series).",
                    f"Give one reconstruction of the series and remove the duplicate ({place}).",
                )
            indices[value] = place
    declared = {header.get("NumberOfSlices") for header in headers}
    declared.discard(None)
    declared.discard("")
    if len(declared) != 1:
        return warnings
    expected = next(iter(declared))
    if not isinstance(expected, int) or expected <= 0:
        return warnings
    if len(headers) < expected:
        absent = [index for index in range(1, expected + 1) if index not in indices] if indices else []
        which = f" (ImageIndex (0054,1330) {listing([str(i) for i in absent])} absent)" if absent else ""
        raise RagalivInputError(
            f"{label[0].upper()}{label[1:]} is incomplete: {expected - len(headers)} of its {expected} slices "
            f"are missing{which}; NumberOfSlices (0054,0081) is {expected}, {len(headers)} files are present.",
            "Copy the whole series again from the scanner or PACS; a lost first or last slice shortens the field "
            "of view without leaving a gap.",
        )
    if len(headers) > expected:
        warnings.append(
            f"{label[0].upper()}{label[1:]} holds {len(headers)} slices but NumberOfSlices (0054,0081) says "
            f"{expected}: all were used; check that the folder holds one reconstruction only."
        )
    return warnings


def check_frame_of_reference(headers: Sequence[Any], places: Sequence[str], label: str) -> None:
    values: dict[str, str] = {}
    for header, place in zip(headers, places):
        uid = str(header.get("FrameOfReferenceUID") or "").strip()
        if uid and uid not in values:
            values[uid] = place
    if len(values) > 1:
        (first_uid, first_place), (second_uid, second_place) = list(values.items())[:2]
        raise RagalivInputError(
            f"Slices of {label} have different FrameOfReferenceUID (0020,0052): {first_place} has {first_uid}, "
            f"{second_place} has {second_uid}; they do not share one patient coordinate system.",
            "Give one series from one acquisition (the folder mixes series or patients).",
        )


def shear_warning(step_vector: Any, normal: Any, label: str) -> Optional[str]:
    """Slices stacked obliquely to their own plane (gantry tilt): possible in CT, unusual in PET/SPECT."""
    import numpy as np

    length = float(np.linalg.norm(step_vector))
    if length == 0:
        return None
    cosine = min(1.0, abs(float(np.dot(step_vector, normal))) / length)
    angle_deg = math.degrees(math.acos(cosine))
    if angle_deg <= 0.5:
        return None
    return (f"The slices of {label} are sheared by {angle_deg:.1f} degrees against their plane (gantry tilt): "
            "the volume keeps that geometry; check that this is intended.")
