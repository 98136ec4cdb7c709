"""``STUDY.json`` → :class:`~ragaliv.spect.study.SpectStudy` (the input of ``ragaliv dosimetry``).

Keys (paths relative to the JSON file)::

    administered_mbq        MBq (> 0); default: RadionuclideTotalDose of the first DICOM time point
    injection_time          ISO date-time; default: RadiopharmaceuticalStartDateTime of the first DICOM
    timepoints              list of {image, time (ISO) | hours, units ("Bq/mL" | "counts"),
                            calibration_cps_per_mbq, duration_s (counts only), ct, decay_correction
                            ("none" | "injection")}
    segmentation            .seg.nrrd (or a labelmap with 'labels' CSV label,name) drawn on the reference CT
    reference_timepoint     0-based index (default 0)
    register                rigid CT-to-CT registration to the reference (default false)
    calibration_rel_uncertainty   relative standard uncertainty of the calibration (default 0)
    model                   "auto" | model name | {region: model, "default": model}
    recovery_coefficients   {region: RC}
    mass_rel_uncertainty    replaces the default density uncertainty of the masses
    kernel_directory        Lanconelli voxel S-value folder (default: shared data); voxel_dosimetry: false skips it
    registration            {"metric": "mattes" | "meansquares", "iterations": N}

A DICOM image's acquisition time, units and decay correction come from its header unless the JSON gives
them; a NRRD/NIfTI image needs ``time`` or ``hours`` and ``units``.
"""

import datetime
import json
import math
import os
from typing import Any, Optional

from ..constants import LU177_HALF_LIFE_H
from ..errors import RagalivInputError
from ..geometry import Volume
from ..workflow import load_segments
from .loading import LoadedImage, load_ct, load_emission_image
from .study import ACTIVITY_UNIT, INPUT_UNITS, SpectStudy, SpectTimepoint, check_times_h, counts_to_bq_per_ml

TOP_LEVEL_KEYS = {
    "administered_mbq", "injection_time", "timepoints", "segmentation", "labels", "reference_timepoint",
    "register", "calibration_rel_uncertainty", "model", "recovery_coefficients", "mass_rel_uncertainty",
    "kernel_directory", "voxel_dosimetry", "registration", "radiopharmaceutical", "description", "comment",
}
TIMEPOINT_KEYS = {
    "image", "time", "hours", "units", "calibration_cps_per_mbq", "duration_s", "ct", "decay_correction",
    "description", "comment",
}
_DECAY_CORRECTION = {"none": "none", "start": "none", "injection": "injection", "admin": "injection"}


def load_study(path: str) -> SpectStudy:
    """Read, check and load a STUDY.json (images, CTs, segments); errors name the key to fix."""
    document = _read_json(path)
    base = os.path.dirname(os.path.abspath(path))
    warnings: list[str] = []
    unknown = sorted(set(document) - TOP_LEVEL_KEYS)
    if unknown:
        warnings.append(f"STUDY.json: unknown key(s) ignored: {', '.join(unknown)}.")

    entries = document.get("timepoints")
    if not isinstance(entries, list) or not entries:
        raise RagalivInputError("STUDY.json: 'timepoints' must be a non-empty list.",
                                "Give one {\"image\": ..., \"ct\": ...} object per acquisition.")
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("image"), str):
            raise RagalivInputError(f"STUDY.json: timepoints[{index}] must be an object with an 'image' path.")
        extra = sorted(set(entry) - TIMEPOINT_KEYS)
        if extra:
            warnings.append(f"STUDY.json: timepoints[{index}]: unknown key(s) ignored: {', '.join(extra)}.")
        if "time" in entry and "hours" in entry:
            raise RagalivInputError(f"STUDY.json: timepoints[{index}] gives both 'time' and 'hours'.",
                                    "Keep one of them.")

    inputs: dict[str, str] = {"study": os.path.abspath(path)}
    images: list[LoadedImage] = []
    for index, entry in enumerate(entries):
        image_path = _resolve(base, entry["image"])
        inputs[f"timepoint{index}_image"] = image_path
        images.append(load_emission_image(image_path, f"timepoints[{index}] SPECT"))

    injection_time, injection_source = _injection_time(document, entries, images)
    administered, administered_source = _administered(document, images)
    if injection_source:
        warnings.append(f"injection time {injection_time.isoformat()} taken from {injection_source}.")
    if administered_source:
        warnings.append(f"administered activity {administered:g} MBq taken from {administered_source}.")

    times = [_time_of(index, entry, image, injection_time) for index, (entry, image) in enumerate(zip(entries, images))]
    check_times_h([t for t, _, _ in times])

    register = _boolean(document, "register", False)
    reference = document.get("reference_timepoint", 0)
    if isinstance(reference, bool) or not isinstance(reference, int) or not 0 <= reference < len(entries):
        raise RagalivInputError(
            f"STUDY.json: reference_timepoint {reference!r} is not a time point index (0..{len(entries) - 1}).",
            "Give the 0-based index of the time point whose CT the VOIs were drawn on.",
        )

    timepoints = []
    for index, (entry, image, (time_h, stamp, time_source)) in enumerate(zip(entries, images, times)):
        activity, units, calibration, decay = _activity(index, entry, image, time_h)
        ct_path = _resolve(base, entry["ct"]) if isinstance(entry.get("ct"), str) else None
        if "ct" in entry and ct_path is None:
            raise RagalivInputError(f"STUDY.json: timepoints[{index}].ct must be a path.")
        ct = None
        if ct_path is not None:
            inputs[f"timepoint{index}_ct"] = ct_path
            if register or index == reference:
                ct = load_ct(ct_path, f"timepoints[{index}] CT")
        timepoints.append(
            SpectTimepoint(
                time_h=time_h, activity=activity, acquisition_time=stamp, ct=ct, source=entry["image"],
                description=image.description, units=units, calibration=calibration, time_source=time_source,
                ct_source=entry.get("ct"), decay_correction=decay,
            )
        )

    segmentation = document.get("segmentation")
    if not isinstance(segmentation, str):
        raise RagalivInputError("STUDY.json: 'segmentation' (path of a .seg.nrrd) is required.",
                                "Give the VOIs drawn on the reference CT.")
    labels = document.get("labels")
    segmentation_path = _resolve(base, segmentation)
    labels_path = _resolve(base, labels) if isinstance(labels, str) else None
    inputs["segmentation"] = segmentation_path
    if labels_path:
        inputs["labels"] = labels_path
    segments = []
    for segment in load_segments(segmentation_path, labels_path):
        if segment.is_empty:
            warnings.append(f"VOI {segment.name!r} is empty and was skipped.")
        else:
            segments.append(segment)

    kernel_directory = document.get("kernel_directory")
    if kernel_directory is not None:
        if not isinstance(kernel_directory, str):
            raise RagalivInputError("STUDY.json: 'kernel_directory' must be a path.")
        kernel_directory = _resolve(base, kernel_directory)
        if not os.path.isdir(kernel_directory):
            raise RagalivInputError(f"STUDY.json: kernel_directory {kernel_directory} is not a folder.",
                                    "Point it at the Lanconelli voxel_s_values_lu177 folder, or remove the key.")

    return SpectStudy(
        administered_mbq=administered,
        timepoints=timepoints,
        segments=segments,
        injection_time=injection_time,
        reference_timepoint=reference,
        register=register,
        calibration_rel_uncertainty=_number(document, "calibration_rel_uncertainty", 0.0),
        model=document.get("model", "auto"),
        recovery_coefficients=_recovery(document),
        mass_rel_uncertainty=_number(document, "mass_rel_uncertainty", None),
        kernel_directory=kernel_directory,
        voxel_dosimetry=_boolean(document, "voxel_dosimetry", True),
        registration=_registration(document),
        radiopharmaceutical=str(document.get("radiopharmaceutical", "") or images[0].radiopharmaceutical),
        source_path=os.path.abspath(path),
        inputs=inputs,
        warnings=warnings,
    )


# --- helpers ------------------------------------------------------------------------------------------
def _read_json(path: str) -> dict[str, Any]:
    if not os.path.isfile(path):
        raise RagalivInputError(f"Study file not found: {path}", "Give the path of STUDY.json.")
    try:
        with open(path, encoding="utf-8") as stream:
            document = json.load(stream)
    except json.JSONDecodeError as error:
        raise RagalivInputError(
            f"{path} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from None
    except UnicodeDecodeError:
        raise RagalivInputError(f"{path} is not UTF-8 text.", "Save STUDY.json as UTF-8.") from None
    if not isinstance(document, dict):
        raise RagalivInputError(f"{path} must hold a JSON object {{...}}.")
    return document


def _resolve(base: str, value: str) -> str:
    return value if os.path.isabs(value) else os.path.normpath(os.path.join(base, value))


def parse_iso_datetime(text: Any, key: str) -> datetime.datetime:
    """ISO 8601 date-time (a trailing Z is accepted) or RagalivInputError naming ``key``."""
    if not isinstance(text, str):
        raise RagalivInputError(f"STUDY.json: {key} must be an ISO date-time string, got {text!r}.",
                                "Write it like \"2026-04-21T10:00:00\".")
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        return datetime.datetime.fromisoformat(value)
    except ValueError:
        raise RagalivInputError(f"STUDY.json: {key} {text!r} is not an ISO date-time.",
                                "Write it like \"2026-04-21T10:00:00\".") from None


def _injection_time(document, entries, images) -> tuple[Optional[datetime.datetime], str]:
    if "injection_time" in document:
        return parse_iso_datetime(document["injection_time"], "injection_time"), ""
    for index, image in enumerate(images):
        if image.injection_time is not None:
            return image.injection_time, (
                f"the DICOM RadiopharmaceuticalStartDateTime (0018,1078) of timepoints[{index}]"
            )
    if all("hours" in entry for entry in entries):
        return None, ""
    raise RagalivInputError(
        "STUDY.json: 'injection_time' is missing and no DICOM header gives RadiopharmaceuticalStartDateTime.",
        "Add \"injection_time\": \"YYYY-MM-DDTHH:MM:SS\", or give 'hours' after injection for every time point.",
    )


def _administered(document, images) -> tuple[float, str]:
    if "administered_mbq" in document:
        value = document["administered_mbq"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise RagalivInputError(f"STUDY.json: administered_mbq must be a number > 0, got {value!r}.",
                                    "Give the administered 177Lu activity in MBq (e.g. 7400).")
        return float(value), ""
    for index, image in enumerate(images):
        if image.administered_mbq:
            return float(image.administered_mbq), (
                f"the DICOM RadionuclideTotalDose (0018,1074) of timepoints[{index}]"
            )
    raise RagalivInputError("STUDY.json: 'administered_mbq' is missing and no DICOM header gives it.",
                            "Add \"administered_mbq\": <MBq> (e.g. 7400).")


def _time_of(index: int, entry, image: LoadedImage, injection) -> tuple[float, Optional[datetime.datetime], str]:
    """(hours after injection, acquisition date-time, where the time came from)."""
    key = f"timepoints[{index}]"
    if "hours" in entry:
        hours = entry["hours"]
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not math.isfinite(hours):
            raise RagalivInputError(f"STUDY.json: {key}.hours must be a number, got {hours!r}.")
        stamp = None if injection is None else injection + datetime.timedelta(hours=float(hours))
        return float(hours), stamp, "STUDY.json 'hours'"
    if "time" in entry:
        stamp, source = parse_iso_datetime(entry["time"], f"{key}.time"), "STUDY.json 'time'"
    elif image.is_dicom and image.acquisition_time is not None:
        stamp, source = image.acquisition_time, image.acquisition_time_source
    elif image.is_dicom:
        raise RagalivInputError(
            f"STUDY.json: {key}: the DICOM header has no AcquisitionDate/Time or SeriesDate/Time.",
            f"Give {key}.time (ISO) or {key}.hours (after injection).",
        )
    else:
        raise RagalivInputError(
            f"STUDY.json: {key}: a NRRD/NIfTI image carries no acquisition time.",
            f"Give {key}.time (ISO date-time) or {key}.hours (hours after injection).",
        )
    if (stamp.tzinfo is None) != (injection.tzinfo is None):
        raise RagalivInputError(
            f"STUDY.json: {key}: the acquisition time {stamp.isoformat()} and the injection time "
            f"{injection.isoformat()} mix a UTC offset with a local time.",
            "Give both with an offset, or both without (DICOM times are local).",
        )
    return (stamp - injection).total_seconds() / 3600.0, stamp, source


def _activity(index: int, entry, image: LoadedImage, time_h: float) -> tuple[Volume, str, dict[str, Any], str]:
    """Activity in Bq/mL as measured: unit check, counts calibration, undoing a decay correction."""
    key = f"timepoints[{index}]"
    units = entry.get("units")
    if units is not None:
        matches = [u for u in INPUT_UNITS if str(units).strip().lower() == u.lower()]
        if not matches:
            raise RagalivInputError(f"STUDY.json: {key}.units {units!r} is not known.",
                                    f"Use one of: {', '.join(INPUT_UNITS)}.")
        units = matches[0]
        if image.header_units is not None and image.header_units != units:
            raise RagalivInputError(
                f"STUDY.json: {key}.units is {units!r} but the DICOM Units (0054,1001) say {image.header_units!r}.",
                f"Remove {key}.units to use the header, or correct it.",
            )
    elif image.header_units in INPUT_UNITS:
        units = image.header_units
    elif image.header_units:
        raise RagalivInputError(
            f"{key}: DICOM Units (0054,1001) {image.header_units!r} cannot be used for dosimetry.",
            "Give a quantitative SPECT in Bq/mL (BQML) or counts (CNTS) with a calibration.",
        )
    else:
        raise RagalivInputError(f"STUDY.json: {key}.units is required (the image does not say).",
                                f"Set {key}.units to one of: {', '.join(INPUT_UNITS)}.")

    volume = image.volume
    calibration: dict[str, Any] = {}
    if units == "counts":
        for name in ("calibration_cps_per_mbq", "duration_s"):
            if name not in entry:
                raise RagalivInputError(
                    f"STUDY.json: {key} is in counts but '{name}' is missing.",
                    f"Add {key}.{name} (counts → Bq/mL = counts / (duration_s · calibration_cps_per_mbq) "
                    "· 1e6 / voxel volume in mL).",
                )
            value = entry[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise RagalivInputError(f"STUDY.json: {key}.{name} must be a number > 0, got {value!r}.")
        calibration = {"calibration_cps_per_mbq": float(entry["calibration_cps_per_mbq"]),
                       "duration_s": float(entry["duration_s"]),
                       "voxel_volume_ml": volume.geometry.voxel_volume_ml}
        array = counts_to_bq_per_ml(volume.array, calibration["duration_s"],
                                    calibration["calibration_cps_per_mbq"], calibration["voxel_volume_ml"])
    else:
        array = volume.array

    decay = entry.get("decay_correction", image.decay_correction or "none")
    decay_key = str(decay).strip().lower()
    if decay_key not in _DECAY_CORRECTION:
        raise RagalivInputError(f"{key}: decay correction {decay!r} is not supported.",
                                f"Set {key}.decay_correction to 'none' (as measured) or 'injection'.")
    decay = _DECAY_CORRECTION[decay_key]
    if decay == "injection":
        array = array * 2.0 ** (-time_h / LU177_HALF_LIFE_H)  # back to the activity present at the scan
    activity = Volume(array.astype("float64", copy=False), volume.geometry, ACTIVITY_UNIT, dict(volume.metadata))
    return activity, units, calibration, decay


def _boolean(document, key: str, default: bool) -> bool:
    value = document.get(key, default)
    if not isinstance(value, bool):
        raise RagalivInputError(f"STUDY.json: '{key}' must be true or false, got {value!r}.")
    return value


def _number(document, key: str, default):
    if key not in document:
        return default
    value = document[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RagalivInputError(f"STUDY.json: '{key}' must be a number, got {value!r}.")
    return float(value)


def _recovery(document) -> dict[str, float]:
    value = document.get("recovery_coefficients", {})
    if not isinstance(value, dict):
        raise RagalivInputError("STUDY.json: 'recovery_coefficients' must be an object {region: RC}.")
    result = {}
    for region, rc in value.items():
        if isinstance(rc, bool) or not isinstance(rc, (int, float)):
            raise RagalivInputError(f"STUDY.json: recovery coefficient of {region!r} must be a number, got {rc!r}.")
        result[str(region)] = float(rc)
    return result


def _registration(document) -> dict[str, Any]:
    value = document.get("registration", {})
    if not isinstance(value, dict):
        raise RagalivInputError("STUDY.json: 'registration' must be an object, e.g. {\"metric\": \"mattes\"}.")
    return dict(value)
