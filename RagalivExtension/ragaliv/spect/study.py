"""A multi-time-point 177Lu SPECT/CT study: the in-memory input of the dosimetry pipeline.

:class:`SpectStudy` holds the administered activity, the time points (activity as measured, in Bq/mL, *not*
decay corrected; CT in HU), the VOIs and the settings of the analysis. It validates itself on creation, so
a study built in code (tests, benchmarks, the Slicer Lib) obeys the same rules as one read from
``STUDY.json`` by :func:`ragaliv.spect.study_json.load_study`.
"""

import datetime
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import numpy as np

from ..constants import BQ_PER_MBQ, LU177_HALF_LIFE_H
from ..errors import RagalivInputError
from ..geometry import SegmentMask, Volume
from ..kinetics import MODEL_NAMES

ACTIVITY_UNIT = "Bq/mL"
# Plausible administered 177Lu activity for one patient cycle (MBq). Clinical PRRT/PSMA cycles are 3.7-9.3 GBq
# (Lutathera 7.4 GBq, dosimetry notes); 100 MBq-20 GBq leaves a wide margin and still catches a value in the
# wrong unit (GBq read as MBq: 7.4; Bq read as MBq: 7.4e9; MBq read as Bq: 0.0074). Local plausibility rule.
PLAUSIBLE_ADMINISTERED_MBQ = (100.0, 20000.0)
REGISTRATION_METRICS = ("mattes", "meansquares")
REGISTRATION_DEFAULTS: dict[str, Any] = {"metric": "mattes", "iterations": 100}
INPUT_UNITS = ("Bq/mL", "counts")


def counts_to_bq_per_ml(
    counts: np.ndarray, duration_s: float, calibration_cps_per_mbq: float, voxel_volume_ml: float
) -> np.ndarray:
    """Activity concentration (Bq/mL) from reconstructed counts per voxel.

    A[Bq/mL] = counts / (duration_s · calibration_cps_per_mbq) · 1e6 / voxel_volume_ml: the count rate per
    voxel divided by the camera sensitivity (cps/MBq) gives MBq in the voxel (EANM/MIRD 23 calibration).
    """
    for name, value in (
        ("duration_s", duration_s),
        ("calibration_cps_per_mbq", calibration_cps_per_mbq),
        ("voxel_volume_ml", voxel_volume_ml),
    ):
        if not _positive_number(value):
            raise RagalivInputError(f"{name} must be a finite number > 0, got {value!r}.",
                                    f"Give {name} in the study (STUDY.json key '{name}').")
    factor = BQ_PER_MBQ / (float(duration_s) * float(calibration_cps_per_mbq) * float(voxel_volume_ml))
    return np.asarray(counts, dtype=np.float64) * factor


@dataclass
class SpectTimepoint:
    """One SPECT/CT acquisition.

    ``activity`` is in Bq/mL as measured at ``time_h`` (not decay corrected; converted from counts when
    ``units`` was "counts"). ``ct`` is in HU on its own grid, or None when there is none or it was not
    needed (a CT of a non-reference time point is loaded only for registration; ``ct_source`` says where
    it is). ``calibration`` records the counts→Bq/mL conversion used (empty for Bq/mL input).
    """

    time_h: float
    activity: Volume
    acquisition_time: Optional[datetime.datetime] = None
    ct: Optional[Volume] = None
    source: str = ""
    description: str = ""
    units: str = ACTIVITY_UNIT
    calibration: dict[str, Any] = field(default_factory=dict)
    time_source: str = "given"
    ct_source: Optional[str] = None
    decay_correction: str = "none"
    decay_correction_source: str = ""

    def summary(self) -> dict[str, Any]:
        """JSON-ready description (no arrays)."""
        geometry = self.activity.geometry
        return {
            "time_h": float(self.time_h),
            "acquisition_time": None if self.acquisition_time is None else self.acquisition_time.isoformat(),
            "time_source": self.time_source,
            "source": self.source,
            "description": self.description,
            "input_units": self.units,
            "calibration": dict(self.calibration),
            "decay_correction_of_input": self.decay_correction,
            "decay_correction_source": self.decay_correction_source,
            "spect_shape_kji": list(geometry.shape_kji),
            "spect_spacing_mm": [round(float(s), 6) for s in geometry.spacing_mm],
            "ct": self.ct_source,
            "ct_loaded": self.ct is not None,
        }


@dataclass
class SpectStudy:
    """A validated multi-time-point study and the settings of its analysis.

    ``model``: "auto", one of :data:`ragaliv.kinetics.MODEL_NAMES`, or a dict region → model (regions not in
    it use ``"auto"``, or the dict's ``"default"`` entry). ``recovery_coefficients``: region → RC (> 0);
    the measured activity is divided by it. ``mass_rel_uncertainty`` replaces the default density
    uncertainty (see :mod:`ragaliv.spect.mass`). ``kernel_directory``: Lanconelli voxel S-value folder
    (None: the shared-data default, see :mod:`ragaliv.spect.voxel`).
    """

    administered_mbq: float
    timepoints: list[SpectTimepoint]
    segments: list[SegmentMask]
    injection_time: Optional[datetime.datetime] = None
    reference_timepoint: int = 0
    register: bool = False
    calibration_rel_uncertainty: float = 0.0
    model: Union[str, dict[str, str]] = "auto"
    recovery_coefficients: dict[str, float] = field(default_factory=dict)
    mass_rel_uncertainty: Optional[float] = None
    kernel_directory: Optional[str] = None
    voxel_dosimetry: bool = True
    registration: dict[str, Any] = field(default_factory=dict)
    half_life_h: float = LU177_HALF_LIFE_H
    radiopharmaceutical: str = ""
    source_path: Optional[str] = None
    inputs: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    injection_time_source: str = ""
    administered_source: str = ""

    def __post_init__(self) -> None:
        self.validate()
        warning = implausible_activity_warning(self.administered_mbq)
        if warning and warning not in self.warnings:
            self.warnings.append(warning)

    # --- validation ---------------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise :class:`RagalivInputError` naming the STUDY.json key when a rule is broken."""
        if not _positive_number(self.administered_mbq):
            raise RagalivInputError(
                f"administered_mbq must be a number > 0, got {self.administered_mbq!r}.",
                "Set 'administered_mbq' in STUDY.json to the administered 177Lu activity in MBq (e.g. 7400).",
            )
        if not self.timepoints:
            raise RagalivInputError("The study has no time points.", "List them under 'timepoints'.")
        check_times_h([tp.time_h for tp in self.timepoints])
        for index, point in enumerate(self.timepoints):
            if point.activity.unit != ACTIVITY_UNIT:
                raise RagalivInputError(
                    f"timepoints[{index}]: activity is in {point.activity.unit!r}, expected {ACTIVITY_UNIT}.",
                    "Convert counts with counts_to_bq_per_ml (STUDY.json: units 'counts' with "
                    "'calibration_cps_per_mbq' and 'duration_s').",
                )
        count = len(self.timepoints)
        reference = self.reference_timepoint
        if isinstance(reference, bool) or not isinstance(reference, numbers.Integral) or not 0 <= reference < count:
            raise RagalivInputError(
                f"reference_timepoint {self.reference_timepoint!r} is not a time point index (0..{count - 1}).",
                "Set 'reference_timepoint' to the 0-based index of the time point the VOIs were drawn on.",
            )
        if self.register:
            missing = [str(i) for i, tp in enumerate(self.timepoints) if tp.ct is None]
            if missing:
                raise RagalivInputError(
                    f"register is true but time point(s) {', '.join(missing)} have no CT.",
                    "Give a 'ct' for every time point, or set 'register' to false.",
                )
        calibration = self.calibration_rel_uncertainty
        if not _non_negative_number(calibration) or calibration >= 1.0:
            raise RagalivInputError(
                f"calibration_rel_uncertainty must be a fraction in [0, 1), got {calibration!r}.",
                "Give the relative standard uncertainty of the calibration, e.g. 0.05 for 5 %.",
            )
        if self.mass_rel_uncertainty is not None and (
            not _non_negative_number(self.mass_rel_uncertainty) or self.mass_rel_uncertainty >= 1.0
        ):
            raise RagalivInputError(
                f"mass_rel_uncertainty must be a fraction in [0, 1), got {self.mass_rel_uncertainty!r}.",
                "Give e.g. 0.05 for 5 %, or leave it out for the default.",
            )
        if not _positive_number(self.half_life_h):
            raise RagalivInputError(f"half_life_h must be > 0, got {self.half_life_h!r}.")
        names = [segment.name for segment in self.segments]
        if not names:
            raise RagalivInputError("The study has no VOIs.", "Give a 'segmentation' with at least one segment.")
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise RagalivInputError(
                f"VOI names must be unique; repeated: {', '.join(duplicates)}.", "Rename the segments."
            )
        self._validate_models(names)
        self._validate_registration()
        for region, rc in self.recovery_coefficients.items():
            if region not in names:
                raise RagalivInputError(
                    f"recovery_coefficients names {region!r}, which is not a VOI.",
                    f"Use one of: {', '.join(names)}.",
                )
            if not _positive_number(rc) or rc > 2.0:
                raise RagalivInputError(
                    f"recovery coefficient of {region!r} must be in (0, 2], got {rc!r}.",
                    "A recovery coefficient is measured/true activity, typically 0.3-1.",
                )

    def _validate_models(self, names: list[str]) -> None:
        allowed = ("auto", *MODEL_NAMES)
        hint = f"Use 'auto' or one of {', '.join(MODEL_NAMES)}."
        if isinstance(self.model, str):
            if self.model not in allowed:
                raise RagalivInputError(f"Unknown model {self.model!r}.", hint)
            return
        if not isinstance(self.model, dict):
            raise RagalivInputError(f"model must be a name or a region → model object, got {self.model!r}.", hint)
        for region, name in self.model.items():
            if region != "default" and region not in names:
                raise RagalivInputError(
                    f"model names the region {region!r}, which is not a VOI.",
                    f"Use one of: {', '.join(names)} (or 'default').",
                )
            if name not in allowed:
                raise RagalivInputError(f"Unknown model {name!r} for {region!r}.", hint)

    def _validate_registration(self) -> None:
        unknown = sorted(set(self.registration) - set(REGISTRATION_DEFAULTS))
        if unknown:
            raise RagalivInputError(
                f"registration: unknown setting(s) {', '.join(unknown)}.",
                f"Use {', '.join(sorted(REGISTRATION_DEFAULTS))}.",
            )
        metric = self.registration.get("metric", REGISTRATION_DEFAULTS["metric"])
        if metric not in REGISTRATION_METRICS:
            raise RagalivInputError(f"registration metric {metric!r} is not known.",
                                    f"Use one of: {', '.join(REGISTRATION_METRICS)}.")
        iterations = self.registration.get("iterations", REGISTRATION_DEFAULTS["iterations"])
        if isinstance(iterations, bool) or not isinstance(iterations, numbers.Integral) or not 1 <= iterations <= 10000:
            raise RagalivInputError(f"registration iterations must be an integer 1..10000, got {iterations!r}.")

    def registration_settings(self) -> dict[str, Any]:
        return {**REGISTRATION_DEFAULTS, **self.registration}

    # --- accessors ----------------------------------------------------------------------------------
    @property
    def time_h(self) -> list[float]:
        return [float(tp.time_h) for tp in self.timepoints]

    @property
    def reference(self) -> SpectTimepoint:
        return self.timepoints[self.reference_timepoint]

    def model_for(self, region: str) -> str:
        if isinstance(self.model, str):
            return self.model
        return self.model.get(region, self.model.get("default", "auto"))

    def recovery_for(self, region: str) -> float:
        return float(self.recovery_coefficients.get(region, 1.0))

    def settings(self) -> dict[str, Any]:
        """The analysis settings (JSON-ready)."""
        return {
            "administered_mbq": float(self.administered_mbq),
            "injection_time": None if self.injection_time is None else self.injection_time.isoformat(),
            "injection_time_source": self.injection_time_source,
            "administered_mbq_source": self.administered_source,
            "radiopharmaceutical": self.radiopharmaceutical,
            "half_life_h": float(self.half_life_h),
            "reference_timepoint": self.reference_timepoint,
            "register": bool(self.register),
            "calibration_rel_uncertainty": float(self.calibration_rel_uncertainty),
            "model": self.model if isinstance(self.model, str) else dict(sorted(self.model.items())),
            "recovery_coefficients": dict(sorted(self.recovery_coefficients.items())),
            "mass_rel_uncertainty": self.mass_rel_uncertainty,
            "voxel_dosimetry": bool(self.voxel_dosimetry),
            "registration": self.registration_settings() if self.register else None,
        }


def implausible_activity_warning(administered_mbq: float) -> Optional[str]:
    """A loud warning when the administered activity is outside :data:`PLAUSIBLE_ADMINISTERED_MBQ`, else None."""
    low, high = PLAUSIBLE_ADMINISTERED_MBQ
    if low <= administered_mbq <= high:
        return None
    return (
        f"CHECK THE ADMINISTERED ACTIVITY: administered_mbq = {administered_mbq:g} MBq is outside the plausible "
        f"177Lu range {low:g}-{high:g} MBq (a value in GBq, Bq or kBq?); every Gy/GBq and TIAC scales with it. "
        "Set 'administered_mbq' in STUDY.json to the activity in MBq (e.g. 7400)."
    )


def check_times_h(times_h: list[float], key: str = "timepoints") -> None:
    """Times after injection (h): finite, > 0, strictly increasing, no duplicates; errors name the index."""
    for index, value in enumerate(times_h):
        if not _is_number(value) or not math.isfinite(value):
            raise RagalivInputError(f"{key}[{index}]: time {value!r} h is not a finite number.")
        if value <= 0.0:
            raise RagalivInputError(
                f"{key}[{index}]: acquisition at {value:g} h is not after the injection.",
                "Check 'injection_time' and the time ('time' or 'hours') of this time point.",
            )
    for index in range(1, len(times_h)):
        previous, current = times_h[index - 1], times_h[index]
        if abs(current - previous) < 1e-9:
            raise RagalivInputError(
                f"{key}[{index - 1}] and {key}[{index}] have the same time ({current:g} h after injection): "
                "duplicate time point.",
                "Remove the repeated acquisition or correct its time.",
            )
        if current < previous:
            raise RagalivInputError(
                f"{key} are not in increasing time order: [{index}] at {current:g} h comes after "
                f"[{index - 1}] at {previous:g} h.",
                "List the time points in acquisition order (earliest first) and check their times.",
            )


def _is_number(value: Any) -> bool:
    """A real number (Python or numpy), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _positive_number(value: Any) -> bool:
    return _is_number(value) and math.isfinite(value) and value > 0


def _non_negative_number(value: Any) -> bool:
    return _is_number(value) and math.isfinite(value) and value >= 0
