"""SUV from PET DICOM headers, following the QIBA vendor-neutral rules exercised by the IBSI SUV DROs.

Spec: PET notes ``pet-suv-and-ratios.md`` §3 (formulas, tags, QIBA pseudo-code, time rules) and §7
(checklist). In short:

* SUVbw = C [Bq/mL] x W [g] / D [Bq], D decayed from the injection to the scan reference time;
* Units BQML, CNTS (Philips (7053,1000) SUV factor, or (7053,1009) activity factor -> as BQML),
  GML (already SUV of SUVType, empty => BW), CM2ML (SUVbsa); other units are refused;
* DecayCorrection START (QIBA reference time), ADMIN (undecayed dose), NONE (per frame, IBSI formula);
* reference time: SeriesDate/Time if not after the earliest AcquisitionDate/Time, else GE (0009,100D),
  else back-computed from FrameReferenceTime, else the earliest acquisition;
* injection: RadiopharmaceuticalStartDateTime, else StartTime on the series date with midnight roll-back;
* IBSI heuristics, each reported as a warning: dose < 1e4 is MBq, weight > 1000 is grams.

Every value can be overridden (:class:`SuvOverrides`); :class:`SuvParameters` records what was used and
where it came from, for the report. Decisions beyond the notes:

* CorrectedImage (0028,0051) without DECY while DecayCorrection is START/ADMIN is an error (the header
  contradicts itself); without ATTN it is a warning (the SUV is then not quantitative, but a relative
  IA/IV comparison may still be wanted); CorrectedImage absent is a warning.
* ADMIN: the stored values refer to the administration time, so that is the scan reference time.
* NONE: stored values are converted per slice to activity at the scan reference time, so one factor
  (``suv_per_bq_per_ml``) applies to the activity image for every decay-correction mode.
"""


import os
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from .. import constants
from ..errors import RagalivInputError
from ..geometry import Volume
from ..io.dicom_header import empty_header
from ..io.dicom_series import read_layout, read_pixels, select_series
from ..io.images import is_image_file, read_image
from .dicom_values import dicom_text
from .header_rules import HeaderRules
from .suv_parameters import (
    DOSE_IN_MBQ_BELOW,
    NORMALIZATIONS,
    NORMALIZERS,
    OVERRIDE_FLAGS,
    SLICER_PANEL,
    PetImage,
    SuvOverrides,
    SuvParameters,
    describe_missing,
)

__all__ = [
    "DOSE_IN_MBQ_BELOW",
    "NORMALIZATIONS",
    "PetImage",
    "SuvOverrides",
    "SuvParameters",
    "compute_suv_parameters",
    "describe_missing",
    "load_pet",
    "parameters_from_overrides",
    "suv_from_activity",
]


def compute_suv_parameters(
    headers: Sequence[Any], overrides: Optional[SuvOverrides] = None, normalization: str = "bw"
) -> SuvParameters:
    """Everything needed to turn the stored values of these sorted per-slice headers into SUV.

    ``headers``: pydicom Datasets or the fast headers of :mod:`ragaliv.io.dicom_header` (read alike).

    ``normalization``: ``"bw"`` (default, g/mL), ``"lbm"`` (SUL, Janmahasatian), ``"lbm-james"``,
    ``"ibw"`` (g/mL) or ``"bsa"`` (cm2/mL).
    """
    return HeaderRules(headers, overrides, normalization).run()


def parameters_from_overrides(overrides: Optional[SuvOverrides], normalization: str = "bw") -> SuvParameters:
    """Parameters for an image without PET header (NRRD/NIfTI in Bq/mL, decay-corrected to the scan time)."""
    overrides = overrides or SuvOverrides()
    required = ("weight_kg", "injected_dose_mbq", "injection_time", "scan_time")
    missing = [OVERRIDE_FLAGS[name] for name in required if getattr(overrides, name) is None]
    key = (normalization or "bw").strip().lower()
    if key in NORMALIZERS and NORMALIZERS[key].needs_height and overrides.height_cm is None:
        missing.append(OVERRIDE_FLAGS["height_cm"])
    if missing:
        raise RagalivInputError(
            "A NRRD/NIfTI PET image carries no injection or patient data: "
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required.",
            f"Give {', '.join(missing)} on the command line, or fill them in {SLICER_PANEL}.",
        )
    header = empty_header()  # every value comes from the overrides
    resolver = HeaderRules([header], overrides, key)
    if overrides.half_life_s is None:
        resolver._cache["half_life_s"] = constants.GA68_HALF_LIFE_S
        resolver.sources["half_life_s"] = (
            f"default: 68Ga half-life {constants.GA68_HALF_LIFE_S:g} s (constants.GA68_HALF_LIFE_S, PET "
            "notes §3.5)"
        )
        resolver.warnings.append(
            f"No half-life given: the 68Ga value {constants.GA68_HALF_LIFE_S:g} s is used (set "
            "--half-life-s)."
        )
        resolver._cache["nuclide"] = "Ga68"
        resolver.sources["nuclide"] = "default (68Ga trial tracer)"
    p = resolver.params
    p.units = "BQML"
    p.decay_correction = "START"
    resolver.sources["units"] = "assumed: image in Bq/mL (NRRD/NIfTI input)"
    resolver.sources["decay_correction"] = "assumed: decay-corrected to --scan-time (NRRD/NIfTI input)"
    resolver.warnings.append(
        "NRRD/NIfTI input: the voxels are taken as Bq/mL decay-corrected to the given scan time."
    )
    resolver.activity_mode([1.0], decay_correction="START")
    p.pixel_scale_per_slice = []
    return p


def suv_from_activity(activity_volume: Volume, parameters: SuvParameters) -> Volume:
    """SUV image (float32, unit ``parameters.suv_unit``) from activity in Bq/mL at the scan reference time."""
    if parameters.suv_per_bq_per_ml is None:
        raise RagalivInputError(
            "These SUV parameters carry no activity-to-SUV factor (the stored values were already SUV).",
            "Use PetImage.suv directly.",
        )
    if activity_volume.unit not in ("", "Bq/mL"):
        raise RagalivInputError(
            f"The activity image is in {activity_volume.unit!r}, not Bq/mL.",
            "Give an activity image in Bq/mL.",
        )
    # float64 product rounded to float32, computed in buffered blocks (no full-size float64 temporary)
    array = np.empty(np.shape(activity_volume.array), dtype=np.float32)
    np.multiply(activity_volume.array, parameters.suv_per_bq_per_ml, out=array, dtype=np.float64,
                casting="same_kind")
    metadata = {k: v for k, v in activity_volume.metadata.items() if k != "slice_headers"}
    metadata["quantity"] = parameters.suv_quantity
    return Volume(array, activity_volume.geometry, parameters.suv_unit, metadata)


def _voxel_warnings(array: np.ndarray, unit: str) -> list[str]:
    """Counts of NaN and negative voxels: reported, never fatal (PET reconstructions can go below zero)."""
    messages: list[str] = []
    lowest = float(np.min(array)) if np.size(array) else 0.0  # NaN if any voxel is NaN: one pass when clean
    if lowest >= 0:
        return messages
    nan_count = int(np.count_nonzero(np.isnan(array)))
    if nan_count:
        messages.append(f"{nan_count} voxels are NaN (left as NaN; statistics must skip them).")
    negative = array < 0
    negative_count = int(np.count_nonzero(negative))
    if negative_count:
        messages.append(
            f"{negative_count} voxels are negative (min {float(np.min(array[negative])):.4g} {unit})."
        )
    return messages


def load_pet(path: Any, overrides: Optional[SuvOverrides] = None, normalization: str = "bw") -> PetImage:
    """Load a PET (DICOM folder/files, or a NRRD/NIfTI image in Bq/mL) and compute its SUV image."""
    if isinstance(path, (str, os.PathLike)) and is_image_file(os.fspath(path)):
        activity = read_image(os.fspath(path), "Bq/mL")
        parameters = parameters_from_overrides(overrides, normalization)
        activity = Volume(
            activity.array.astype(np.float32), activity.geometry, "Bq/mL", {"source_file": os.fspath(path)}
        )
        suv = suv_from_activity(activity, parameters)
        parameters.warnings.extend(_voxel_warnings(suv.array, parameters.suv_unit))
        return PetImage(activity, suv, parameters, "", os.path.basename(os.fspath(path)))

    series = select_series(path, ("PT",), "PET")
    layout = read_layout(series)  # headers only: the SUV parameters are settled before any pixel is read
    parameters = compute_suv_parameters(layout.headers, overrides, normalization)
    parameters.warnings.extend(layout.warnings)
    metadata = {k: v for k, v in layout.metadata().items() if k != "fast_slice_headers"}
    # stored x slope + intercept, x the per-slice scale, in float64, rounded to float32 (PET notes §3.1)
    scaled = read_pixels(layout, np.float32, parameters.pixel_scale_per_slice)
    activity: Optional[Volume] = None
    if parameters.stored_quantity == "activity":
        activity = Volume(scaled, layout.geometry, "Bq/mL", metadata)
        suv = suv_from_activity(activity, parameters)
    else:
        suv_metadata = {k: v for k, v in metadata.items() if k != "slice_headers"}
        suv_metadata["quantity"] = parameters.suv_quantity
        suv = Volume(scaled, layout.geometry, parameters.suv_unit, suv_metadata)
    parameters.warnings.extend(_voxel_warnings(suv.array, parameters.suv_unit))
    first = series.fast_headers[0]
    return PetImage(activity, suv, parameters, series.series_instance_uid, series.series_description,
                    dicom_text(first, "PatientID"), dicom_text(first, "FrameOfReferenceUID"))
