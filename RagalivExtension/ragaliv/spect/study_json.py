"""``STUDY.json`` → :class:`~ragaliv.spect.study.SpectStudy` (the input of ``ragaliv dosimetry``).

Keys (paths relative to the JSON file)::

    administered_mbq        MBq (> 0); default: RadionuclideTotalDose (0018,1074) of the first DICOM time point
    injection_time          ISO date-time; default: RadiopharmaceuticalStartDateTime (0018,1078) of the first
                            DICOM time point that has it (RadiopharmaceuticalStartTime (0018,1072) alone is
                            refused: it has no date)
    timepoints              list of {image, time (ISO) | hours, units ("Bq/mL" | "counts"),
                            calibration_cps_per_mbq, duration_s (counts only), ct, decay_correction
                            ("none" | "start" = activity at the acquisition (start), "injection" | "admin" =
                            decay corrected to the injection time)}
    segmentation            .seg.nrrd (or a labelmap with 'labels' CSV label,name) drawn on the reference CT
    reference_timepoint     0-based index (default 0)
    register                rigid CT-to-CT registration to the reference (default false)
    calibration_rel_uncertainty   relative standard uncertainty of the calibration (default 0)
    model                   "auto" | model name | {region: model, "default": model}
    recovery_coefficients   {region: RC}
    mass_rel_uncertainty    replaces the default density uncertainty of the masses
    kernel_directory        Lanconelli voxel S-value folder (default: the tables shipped with ragaliv)
    voxel_dosimetry         false skips the voxel dosimetry
    registration            {"metric": "mattes" | "meansquares", "iterations": N}

A DICOM image's acquisition time, units and decay correction come from its header unless the JSON gives
them; a NRRD/NIfTI image needs ``time`` or ``hours`` and ``units``.

Rules that protect the numbers (each violation is a :class:`RagalivInputError` naming the key or tag):

* Injection moment: ``injection_time``, else RadiopharmaceuticalStartDateTime (0018,1078). A header with only
  RadiopharmaceuticalStartTime (0018,1072) (a clock time) is refused unless every time point gives ``hours``:
  no rule makes the date unambiguous, because a SPECT series is dated on its own day (24, 72, 168 h ...),
  and a midnight roll-back would silently put the injection on the day of the first scan. Time points whose
  headers give different start date-times are refused (another administration?). An ``injection_time`` that
  differs from a header's start date-time (or clock time) by more than 0.5 h is refused (``--accept
  injection-time``), by up to 0.5 h warned. The source used is in the warnings and in
  ``settings.injection_time_source``.
* Administered activity: ``administered_mbq``, else RadionuclideTotalDose (0018,1074) in Bq (values < 1e4 are
  MBq, the IBSI rule of :data:`ragaliv.pet.suv.DOSE_IN_MBQ_BELOW`, with a warning); a header value outside
  :data:`ragaliv.spect.study.PLAUSIBLE_ADMINISTERED_MBQ` (100-20000 MBq) is refused, an explicit
  ``administered_mbq`` outside it gets a loud warning.
* Decay correction: a DICOM image whose CorrectedImage (0028,0051) contains DECY must say to which time, by
  DecayCorrection (0054,1102) or ``timepoints[i].decay_correction``; otherwise it is refused (fitting
  decay-corrected values as measured activity would add the physical half-life to every T_eff).
* Identity: DICOM time points (and the CTs loaded) must share PatientID (0010,0020). Different
  FrameOfReferenceUID (0020,0052) across time points with ``register: false`` gives a warning (the VOIs are
  used unmoved, which is right only if the patient was positioned identically).
"""

import datetime
import json
import math
import os
from collections.abc import Sequence
from typing import Any, Optional

from ..checks.findings import REFUSE, WARN, Finding, apply_findings
from ..checks.ranges import INJECTION_TIME_TOLERANCE_H
from ..checks.spect import administered_finding, spect_time_finding
from ..constants import LU177_HALF_LIFE_H
from ..errors import RagalivInputError
from ..geometry import Volume
from ..io.user_time import EXAMPLE, parse_user_datetime
from ..ratio.segments import load_segments
from .loading import (
    CORRECTED_IMAGE_TAG,
    DECAY_CORRECTION_TAG,
    DOSE_TAG,
    PATIENT_ID_TAG,
    START_DATETIME_TAG,
    START_TIME_TAG,
    LoadedImage,
    load_ct,
    load_emission_image,
)
from .study import (
    ACTIVITY_UNIT,
    INPUT_UNITS,
    PLAUSIBLE_ADMINISTERED_MBQ,
    SpectStudy,
    SpectTimepoint,
    check_times_h,
    counts_to_bq_per_ml,
)

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
SAME_INJECTION_S = 60.0  # start date-times closer than this are the same injection (header rounding)
_SAME_ACTIVITY_REL = 0.01  # administered activities closer than 1 % agree


def load_study(path: str, accept: Sequence[str] = ()) -> SpectStudy:
    """Read, check and load a STUDY.json (images, CTs, segments); errors name the key to fix. ``accept``:
    plausibility checks whose refusal the user accepts (:data:`ragaliv.checks.findings.CHECKS`)."""
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

    given = document.get("administered_mbq")
    if isinstance(given, (int, float)) and not isinstance(given, bool) and math.isfinite(given) and given > 0:
        finding = administered_finding(float(given), "STUDY.json 'administered_mbq'")  # a unit slip: before loading
        apply_findings([finding] if finding is not None else [], accept, warnings)

    inputs: dict[str, str] = {"study": os.path.abspath(path)}
    images: list[LoadedImage] = []
    for index, entry in enumerate(entries):
        image_path = _resolve(base, entry["image"])
        inputs[f"timepoint{index}_image"] = image_path
        images.append(load_emission_image(image_path, f"timepoints[{index}] SPECT"))
        warnings.extend(images[-1].warnings)  # DICOM reader findings (io/dicom_checks), into summary.json

    register = _boolean(document, "register", False)
    _check_identity(images, register, warnings)
    injection_time, injection_source = _injection_time(document, entries, images, accept, warnings)
    administered, administered_source = _administered(document, images, warnings)
    if injection_source.startswith("DICOM"):
        warnings.append(f"injection time {injection_time.isoformat()} taken from the {injection_source}.")
    if administered_source.startswith("DICOM"):
        warnings.append(f"administered activity {administered:g} MBq taken from the {administered_source}.")

    times = [
        _time_of(index, entry, image, injection_time, injection_source, warnings)
        for index, (entry, image) in enumerate(zip(entries, images))
    ]
    check_times_h([t for t, _, _ in times])
    _check_header_times(entries, images, times, injection_time, accept, warnings)

    reference = document.get("reference_timepoint", 0)
    if isinstance(reference, bool) or not isinstance(reference, int) or not 0 <= reference < len(entries):
        raise RagalivInputError(
            f"STUDY.json: reference_timepoint {reference!r} is not a time point index (0..{len(entries) - 1}).",
            "Give the 0-based index of the time point whose CT the VOIs were drawn on.",
        )

    timepoints = []
    for index, (entry, image, (time_h, stamp, time_source)) in enumerate(zip(entries, images, times)):
        activity, units, calibration, (decay, decay_source) = _activity(index, entry, image, time_h, warnings)
        ct_path = _resolve(base, entry["ct"]) if isinstance(entry.get("ct"), str) else None
        if "ct" in entry and ct_path is None:
            raise RagalivInputError(f"STUDY.json: timepoints[{index}].ct must be a path.")
        ct = None
        if ct_path is not None:
            inputs[f"timepoint{index}_ct"] = ct_path
            if register or index == reference:
                ct = load_ct(ct_path, f"timepoints[{index}] CT")
                warnings.extend(ct.metadata.get("warnings", []))
                _check_ct_patient(index, ct, ct_path, image)
        timepoints.append(
            SpectTimepoint(
                time_h=time_h, activity=activity, acquisition_time=stamp, ct=ct, source=entry["image"],
                description=image.description, units=units, calibration=calibration, time_source=time_source,
                ct_source=entry.get("ct"), decay_correction=decay, decay_correction_source=decay_source,
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
        injection_time_source=injection_source,
        administered_source=administered_source,
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
    """ISO 8601 date-time with a time of day (:func:`ragaliv.io.user_time.parse_user_datetime`; a date alone is
    refused, not read as midnight) or RagalivInputError naming ``key``."""
    try:
        return parse_user_datetime(text)
    except ValueError as error:
        raise RagalivInputError(f"STUDY.json: {key} {error}.",
                                f"Write \"{key.split('.')[-1]}\" like \"{EXAMPLE}\" (date, T, clock time).") from None


def _differs_s(first: datetime.datetime, second: datetime.datetime) -> float:
    """|first - second| in s; when only one carries a UTC offset both are read as local clock times."""
    if (first.tzinfo is None) != (second.tzinfo is None):
        first, second = first.replace(tzinfo=None), second.replace(tzinfo=None)
    return abs((first - second).total_seconds())


def _where(index: int, image: LoadedImage) -> str:
    return f"timepoints[{index}] ({image.path})"


def _check_identity(images: list[LoadedImage], register: bool, warnings: list[str]) -> None:
    """Same PatientID (0010,0020) in every DICOM time point; a warning for unregistered frames of reference."""
    patients = [(index, image) for index, image in enumerate(images) if image.is_dicom and image.patient_id]
    first = patients[0] if patients else None
    for index, image in patients[1:]:
        if image.patient_id != first[1].patient_id:
            raise RagalivInputError(
                f"STUDY.json: the time points come from different patients: {PATIENT_ID_TAG} of "
                f"{_where(index, image)} differs from that of {_where(*first)}.",
                "Check the 'image' path of each time point: every SPECT must be of the same patient.",
            )
    frames = [(index, image) for index, image in enumerate(images) if image.is_dicom and image.frame_of_reference_uid]
    distinct = list(dict.fromkeys(image.frame_of_reference_uid for _, image in frames))
    if len(distinct) > 1 and not register:
        groups = "; ".join(
            "timepoints[" + ", ".join(str(i) for i, image in frames if image.frame_of_reference_uid == uid) + "]"
            for uid in distinct
        )
        warnings.append(
            f"time points are in different frames of reference and were not registered; set 'register': true "
            f"(FrameOfReferenceUID (0020,0052) groups: {groups}). The VOIs were used unmoved at every time point, "
            "which is right only if the patient lay exactly as at the reference time point."
        )


def _check_ct_patient(index: int, ct: Volume, ct_path: str, image: LoadedImage) -> None:
    ct_patient = str(ct.metadata.get("patient_id", "") or "")
    if ct_patient and image.is_dicom and image.patient_id and ct_patient != image.patient_id:
        raise RagalivInputError(
            f"STUDY.json: timepoints[{index}]: the CT ({ct_path}) and the SPECT ({image.path}) have different "
            f"{PATIENT_ID_TAG}.",
            f"Check timepoints[{index}].ct: it must be the CT of the same patient and session.",
        )


def _injection_time(document, entries, images: list[LoadedImage], accept: Sequence[str], warnings: list[str]):
    """(injection moment or None, source): STUDY.json, else RadiopharmaceuticalStartDateTime (0018,1078).

    A STUDY.json ``injection_time`` that disagrees with a header's start date-time (or clock time) by more than
    :data:`~ragaliv.checks.ranges.INJECTION_TIME_TOLERANCE_H` is refused (check ``injection-time``): it shifts
    every time point by that much (adversarial test W7: 10 h off gave doses +7-12 %); see
    :func:`injection_time_finding` for a header dated with the scan's day."""
    dated = [(index, image) for index, image in enumerate(images) if image.injection_time is not None]
    if "injection_time" in document:
        injection = parse_iso_datetime(document["injection_time"], "injection_time")
        findings = []
        for index, image in dated:
            gap_s = _differs_s(injection, image.injection_time)
            if gap_s > SAME_INJECTION_S:
                findings.append(_injection_finding(
                    injection, gap_s, f"DICOM {START_DATETIME_TAG} {image.injection_time.isoformat()}", index,
                    scan_dated=header_dated_with_scan_day(image.injection_time, image.acquisition_time, gap_s)))
        for index, image in enumerate(images):
            clock = image.injection_clock_time
            if image.injection_time is None and clock is not None:
                given = injection.time().replace(tzinfo=None)
                gap_s = abs((datetime.datetime.combine(datetime.date.min, given)
                             - datetime.datetime.combine(datetime.date.min, clock)).total_seconds())
                gap_s = min(gap_s, 86400.0 - gap_s)
                if gap_s > SAME_INJECTION_S:
                    findings.append(_injection_finding(
                        injection, gap_s, f"DICOM {START_TIME_TAG} {clock.isoformat()} (clock time)", index))
        apply_findings(findings, accept, warnings)
        return injection, "STUDY.json 'injection_time'"
    if dated:
        first_index, first = dated[0]
        for index, image in dated[1:]:
            gap_s = _differs_s(image.injection_time, first.injection_time)
            if gap_s > SAME_INJECTION_S:
                raise RagalivInputError(
                    f"STUDY.json: the time points give different injection times: {START_DATETIME_TAG} "
                    f"{first.injection_time.isoformat()} in {_where(first_index, first)} but "
                    f"{image.injection_time.isoformat()} in {_where(index, image)} (another administration?).",
                    "Check that every time point belongs to this cycle, and set \"injection_time\" in STUDY.json.",
                )
        return first.injection_time, f"DICOM {START_DATETIME_TAG} of timepoints[{first_index}]"
    if all("hours" in entry for entry in entries):
        return None, ""
    clocks = [(index, image) for index, image in enumerate(images) if image.injection_clock_time is not None]
    if clocks:
        index, image = clocks[0]
        raise RagalivInputError(
            f"STUDY.json: 'injection_time' is missing and the DICOM header of timepoints[{index}] gives only "
            f"{START_TIME_TAG} {image.injection_clock_time.isoformat()}, a clock time without a date (no "
            f"{START_DATETIME_TAG}). The injection date cannot be taken from the SPECT: a series is dated on its "
            "own day, which may be days after the injection.",
            f"Add \"injection_time\": \"YYYY-MM-DDT{image.injection_clock_time.strftime('%H:%M:%S')}\" (the date of "
            "the injection) to STUDY.json, or give 'hours' after injection for every time point.",
        )
    raise RagalivInputError(
        f"STUDY.json: 'injection_time' is missing and no DICOM header gives {START_DATETIME_TAG}.",
        "Add \"injection_time\": \"YYYY-MM-DDTHH:MM:SS\", or give 'hours' after injection for every time point.",
    )


def _injection_finding(injection: datetime.datetime, gap_s: float, header: str, index: int,
                       scan_dated: bool = False) -> Finding:
    """STUDY.json injection_time against a header's injection time (:func:`injection_time_finding`)."""
    return injection_time_finding(
        gap_s, f"STUDY.json injection_time {injection.isoformat()}", f"{header} of timepoints[{index}]",
        "Correct \"injection_time\" in STUDY.json (date and clock time of the 177Lu injection) or remove it to use "
        "the header", used="the STUDY.json value", scan_dated=scan_dated)


def header_dated_with_scan_day(header_injection: Optional[datetime.datetime],
                               acquisition: Optional[datetime.datetime], gap_s: float) -> bool:
    """The header's injection date-time carries the scan's own date with the injection's clock time (some scanners
    fill RadiopharmaceuticalStartDateTime so): whole days off the entered value, clock times within
    :data:`~ragaliv.checks.ranges.INJECTION_TIME_TOLERANCE_H`, and the header's date is the acquisition date."""
    if header_injection is None or acquisition is None:
        return False
    days = round(gap_s / 86400.0)
    return (days >= 1 and abs(gap_s - days * 86400.0) <= INJECTION_TIME_TOLERANCE_H * 3600.0
            and header_injection.date() == acquisition.date())


def injection_time_finding(gap_s: float, given: str, header: str, fix: str,
                           used: str = "the value entered", scan_dated: bool = False) -> Finding:
    """An injection time given by the user (``given``: where and what) ``gap_s`` seconds off a DICOM header's
    (``header``): a warning within :data:`~ragaliv.checks.ranges.INJECTION_TIME_TOLERANCE_H` (start and end of a
    30-40 min infusion), or when the header is dated with the scan's day (``scan_dated``:
    :func:`header_dated_with_scan_day`), else a refusal (check ``injection-time``; ``fix`` says how). STUDY.json
    and the SpectDosimetry panel use it."""
    text = f"{given} differs by {gap_s / 3600.0:.3g} h from the {header}"
    if gap_s <= INJECTION_TIME_TOLERANCE_H * 3600.0:
        return Finding("injection-time", WARN, f"{text}; {used} is used. Check which one is right.")
    if scan_dated:
        return Finding("injection-time", WARN,
                       f"{text}: whole days, with the clock times agreeing and the header dated with the scan's own "
                       f"day (a scanner that writes the scan date into the injection date-time); {used} is used.")
    return Finding(
        "injection-time", REFUSE,
        f"{text} (more than {INJECTION_TIME_TOLERANCE_H:g} h): every time after injection, hence every TIA and dose, "
        "depends on it.",
        f"{fix}; if {used} is right and the header wrong, add --accept injection-time.")


def _administered(document, images: list[LoadedImage], warnings: list[str]) -> tuple[float, str]:
    """(MBq, source): STUDY.json 'administered_mbq', else RadionuclideTotalDose (0018,1074) checked for units."""
    from_header = [(index, image) for index, image in enumerate(images) if image.administered_mbq]
    if "administered_mbq" in document:
        value = document["administered_mbq"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise RagalivInputError(f"STUDY.json: administered_mbq must be a number > 0, got {value!r}.",
                                    "Give the administered 177Lu activity in MBq (e.g. 7400).")
        for index, image in from_header[:1]:
            if abs(image.administered_mbq / float(value) - 1.0) > _SAME_ACTIVITY_REL:
                warnings.append(
                    f"STUDY.json administered_mbq {float(value):g} MBq differs from the {image.administered_note} of "
                    f"timepoints[{index}] ({image.administered_mbq:g} MBq); the STUDY.json value is used."
                )
        return float(value), "STUDY.json 'administered_mbq'"
    if not from_header:
        raise RagalivInputError(f"STUDY.json: 'administered_mbq' is missing and no DICOM header gives {DOSE_TAG}.",
                                "Add \"administered_mbq\": <MBq> (e.g. 7400).")
    index, image = from_header[0]
    mbq = float(image.administered_mbq)
    low, high = PLAUSIBLE_ADMINISTERED_MBQ
    if not low <= mbq <= high:
        raise RagalivInputError(
            f"STUDY.json: 'administered_mbq' is missing and the {image.administered_note} of timepoints[{index}] "
            f"gives {mbq:g} MBq, outside the plausible 177Lu range {low:g}-{high:g} MBq (wrong unit?).",
            "Set \"administered_mbq\" in STUDY.json to the administered activity in MBq (e.g. 7400).",
        )
    if "read as" in image.administered_note:
        warnings.append(f"{image.administered_note}; set 'administered_mbq' in STUDY.json if this is wrong.")
    for other_index, other in from_header[1:]:
        if abs(other.administered_mbq / mbq - 1.0) > _SAME_ACTIVITY_REL:
            warnings.append(
                f"{DOSE_TAG} differs between time points: {mbq:g} MBq in timepoints[{index}], "
                f"{other.administered_mbq:g} MBq in timepoints[{other_index}] (another administration?); the first "
                "is used. Set 'administered_mbq' in STUDY.json."
            )
    return mbq, f"DICOM {DOSE_TAG} of timepoints[{index}]"


def _time_of(
    index: int, entry, image: LoadedImage, injection, injection_source: str, warnings: list[str]
) -> tuple[float, Optional[datetime.datetime], str]:
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
    start = injection
    if (stamp.tzinfo is None) != (injection.tzinfo is None):
        offset_from_dicom = (stamp.tzinfo is not None and source.startswith("DICOM")) or (
            injection.tzinfo is not None and injection_source.startswith("DICOM")
        )
        if not offset_from_dicom:
            raise RagalivInputError(
                f"STUDY.json: {key}: the acquisition time {stamp.isoformat()} and the injection time "
                f"{injection.isoformat()} mix a UTC offset with a local time.",
                "Give both with an offset, or both without (DICOM times are local).",
            )
        # The PET rule (ragaliv.pet.suv): only one side has an offset, from the DICOM header; both are local clocks.
        warnings.append(
            f"{key}: only one of the acquisition time {stamp.isoformat()} ({source}) and the injection time "
            f"{injection.isoformat()} ({injection_source}) carries a UTC offset; both were taken as local clock "
            f"times. If they were recorded in different time zones, give {key}.time and 'injection_time' with offsets."
        )
        stamp_local, start = stamp.replace(tzinfo=None), injection.replace(tzinfo=None)
        return (stamp_local - start).total_seconds() / 3600.0, stamp, source
    return (stamp - start).total_seconds() / 3600.0, stamp, source


def _check_header_times(entries, images: list[LoadedImage], times, injection: Optional[datetime.datetime],
                        accept: Sequence[str], warnings: list[str]) -> None:
    """A STUDY.json 'time' or 'hours' must agree with the DICOM acquisition time of its SPECT
    (:func:`ragaliv.checks.spect.spect_time_finding`); without an injection time the intervals between time
    points are compared."""
    findings = []
    anchor = None
    for index, (entry, image, (time_h, _, _)) in enumerate(zip(entries, images, times)):
        given = "time" if "time" in entry else "hours" if "hours" in entry else None
        if given is None or not image.is_dicom or image.acquisition_time is None:
            continue
        reference = "injection"
        if injection is not None:
            header_h, given_h = _hours_after(image.acquisition_time, injection), time_h
        elif anchor is None:
            anchor = (index, image.acquisition_time, time_h)
            continue
        else:
            header_h, given_h = _hours_after(image.acquisition_time, anchor[1]), time_h - anchor[2]
            reference = f"timepoints[{anchor[0]}]"
        finding = spect_time_finding(f"timepoints[{index}]", given_h, header_h, f"'{given}'",
                                     image.acquisition_time_source, reference)
        if finding is not None:
            findings.append(finding)
    apply_findings(findings, accept, warnings)


def _hours_after(stamp: datetime.datetime, start: datetime.datetime) -> float:
    """Hours from ``start`` to ``stamp``; a UTC offset on one side only is dropped (both local clocks)."""
    if (stamp.tzinfo is None) != (start.tzinfo is None):
        stamp, start = stamp.replace(tzinfo=None), start.replace(tzinfo=None)
    return (stamp - start).total_seconds() / 3600.0


def _activity(
    index: int, entry, image: LoadedImage, time_h: float, warnings: list[str]
) -> tuple[Volume, str, dict[str, Any], tuple[str, str]]:
    """Activity in Bq/mL as measured: unit check, counts calibration, undoing a decay correction.

    Returns (activity, input units, calibration, (decay correction "none" | "injection", its source)).
    """
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

    decay, decay_source = _decay_correction(index, entry, image, warnings)
    if decay == "injection":
        array = array * 2.0 ** (-time_h / LU177_HALF_LIFE_H)  # back to the activity present at the scan
    activity = Volume(array.astype("float64", copy=False), volume.geometry, ACTIVITY_UNIT, dict(volume.metadata))
    return activity, units, calibration, (decay, decay_source)


def _decay_correction(index: int, entry, image: LoadedImage, warnings: list[str]) -> tuple[str, str]:
    """("none" | "injection", source) from STUDY.json, else DecayCorrection (0054,1102), else CorrectedImage.

    "none": the values are the activity at the acquisition (start), as measured (DICOM NONE or START);
    "injection": decay corrected to the injection time (DICOM ADMIN). DECY in CorrectedImage (0028,0051)
    without a stated reference time is refused: the two readings differ by 2^(t/T1/2), 2x at one week.
    """
    key = f"timepoints[{index}]"
    hint = (
        f"Set {key}.decay_correction in STUDY.json: 'start' (or 'none') if the values are the activity at the "
        "acquisition start (decay corrected within the acquisition only), 'injection' if they are decay corrected "
        "to the injection time. Ask the site physicist: a guess changes every TIA."
    )
    header = image.decay_correction
    header_mode = None if header is None else _DECAY_CORRECTION.get(header.strip().lower())
    if "decay_correction" in entry:
        given = entry["decay_correction"]
        given_key = str(given).strip().lower()
        if given_key not in _DECAY_CORRECTION:
            raise RagalivInputError(f"STUDY.json: {key}.decay_correction {given!r} is not supported.",
                                    "Use 'none', 'start' (activity at the acquisition) or 'injection'/'admin'.")
        mode = _DECAY_CORRECTION[given_key]
        if header_mode is not None and header_mode != mode:
            warnings.append(
                f"STUDY.json {key}.decay_correction {given!r} overrides the DICOM {DECAY_CORRECTION_TAG} {header!r}."
            )
        return mode, f"STUDY.json {key}.decay_correction {given!r}"
    if header is not None:
        if header_mode is None:
            raise RagalivInputError(
                f"{key}: DICOM {DECAY_CORRECTION_TAG} {header!r} is not supported ({image.path}).", hint
            )
        if header.strip().upper() == "NONE" and image.decay_corrected_by_header:
            raise RagalivInputError(
                f"{key}: the DICOM header contradicts itself: {DECAY_CORRECTION_TAG} is NONE but "
                f"{CORRECTED_IMAGE_TAG} contains DECY ({image.path}).",
                hint,
            )
        return header_mode, f"DICOM {DECAY_CORRECTION_TAG} {header.strip().upper()}"
    if image.decay_corrected_by_header:
        raise RagalivInputError(
            f"{key}: the DICOM {CORRECTED_IMAGE_TAG} contains DECY (decay corrected) but the header does not say "
            f"to which time (no {DECAY_CORRECTION_TAG}) ({image.path}); decay-corrected values must not be fitted "
            "as measured activity.",
            hint,
        )
    if image.is_dicom:
        return "none", f"DICOM: no {DECAY_CORRECTION_TAG} and no DECY in {CORRECTED_IMAGE_TAG}: as measured"
    return "none", f"default for an image file: as measured (set {key}.decay_correction otherwise)"


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
