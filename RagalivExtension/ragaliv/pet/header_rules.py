"""The SUV header rules: every value the SUV needs, from the headers and the user's overrides, with sources.

:class:`HeaderRules` joins the patient rules (:mod:`.patient_rules`) and the timing rules (:mod:`.timing_rules`)
with the image semantics here: Units (BQML, CNTS with the Philips factors, GML, CM2ML), DecayCorrection
(START, ADMIN, NONE) against CorrectedImage, rescale intercepts, and the activity or stored-SUV mode that
yields :class:`~ragaliv.pet.suv_parameters.SuvParameters` (PET notes §3, QIBA vendor-neutral pseudo-code).
"""

import math
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar

if TYPE_CHECKING:  # pydicom only where a file is read: `ragaliv ratio` starts faster (issue 12)
    from pydicom.dataset import Dataset

from ..errors import RagalivInputError
from .dicom_time import dataset_zone, iso_or_unknown, seconds_between
from .dicom_values import as_number, dicom_number, dicom_text, private_value
from .patient_rules import PatientRules
from .suv_parameters import (
    LONGEST_PLAUSIBLE_DECAY_TIME_S,
    NORMALIZATION_BY_SUV_TYPE,
    NORMALIZATIONS,
    NORMALIZERS,
    OVERRIDE_FLAGS,
    OVERRIDE_HINTS,
    PHILIPS_ACTIVITY_FACTOR_TAG,
    PHILIPS_PRIVATE_CREATOR,
    PHILIPS_SUV_FACTOR_TAG,
    SuvOverrides,
    SuvParameters,
)
from .timing_rules import TimingRules

T = TypeVar("T")


class HeaderRules(PatientRules, TimingRules):
    """Works out every value the SUV needs from the headers and the overrides, recording sources."""

    def __init__(self, headers: Sequence["Dataset"], overrides: Optional[SuvOverrides], normalization: str):
        if not headers:
            raise RagalivInputError("No PET slice headers given.", "Load a PET DICOM series.")
        key = (normalization or "bw").strip().lower()
        if key not in NORMALIZATIONS:
            raise RagalivInputError(
                f"Unknown SUV normalisation {normalization!r}.", f"Choose one of {', '.join(NORMALIZATIONS)}."
            )
        self.headers = list(headers)
        self.first = self.headers[0]
        self.zone = dataset_zone(self.first)
        self.overrides = overrides or SuvOverrides()
        self.normalization = key
        self.target = NORMALIZERS[key]
        self.params = SuvParameters(
            normalization=key, suv_quantity=self.target.quantity, suv_unit=self.target.unit,
            normalizer_unit=self.target.normalizer_unit,
        )  # fmt: skip
        self.sources = self.params.sources
        self.warnings = self.params.warnings
        sequence = self.first.get("RadiopharmaceuticalInformationSequence")
        self.radiopharmaceutical = sequence[0] if sequence else None
        if sequence and len(sequence) > 1:
            self.warnings.append(
                f"RadiopharmaceuticalInformationSequence (0054,0016) has {len(sequence)} items; the first "
                "is used."
            )
        self._cache: dict[str, Any] = {}

    def _warn_one_sided_zone(self, scan: Optional[datetime], injection: Optional[datetime]) -> None:
        """Only one of the two times carries a UTC offset: both were taken as local clock times; say so,
        because if the offset was real the decay time (and the SUV) is off by that many hours."""
        if scan is None or injection is None or (scan.tzinfo is None) == (injection.tzinfo is None):
            return
        zoned = "scan reference time" if scan.tzinfo is not None else "injection time"
        # A UTC offset the user typed (--injection-time ...Z) against local DICOM times (no TimezoneOffsetFromUTC):
        # dropping it shifts the decay time by the offset, applying it needs the scanner's zone. Refused, as
        # ragaliv dosimetry refuses the same mix in STUDY.json (adversarial test W15).
        key = "scan_time" if scan.tzinfo is not None else "injection_time"
        source_key = "scan_reference_time" if key == "scan_time" else key
        if str(self.sources.get(source_key, "")).startswith("override"):
            given, other = (scan, injection) if key == "scan_time" else (injection, scan)
            other_key = "injection_time" if key == "scan_time" else "scan_reference_time"
            raise RagalivInputError(
                f"{OVERRIDE_FLAGS[key]} {given.isoformat()} carries a UTC offset but the {other_key.replace('_', ' ')} "
                f"{other.isoformat()} ({self.sources.get(other_key, '')}) is a local clock time (the DICOM header "
                "has no TimezoneOffsetFromUTC (0008,0201)): the offset can be neither applied nor dropped safely.",
                f"Give {OVERRIDE_FLAGS[key]} as the local clock time of the scanner without an offset (e.g. "
                f"{given.replace(tzinfo=None).isoformat()} if the clocks share the zone), or give both "
                f"{OVERRIDE_FLAGS['injection_time']} and {OVERRIDE_FLAGS['scan_time']} with their offsets.",
            )
        self.warnings.append(
            f"Only the {zoned} carries a UTC offset ({(scan.tzinfo or injection.tzinfo)}); both were taken as "
            "local clock times. If they were recorded in different time zones, give --injection-time and "
            "--scan-time explicitly."
        )

    def cached(self, name: str, compute: Callable[[], T]) -> T:
        if name not in self._cache:
            self._cache[name] = compute()
        return self._cache[name]

    def optional(self, name: str, compute: Callable[[], T]) -> Optional[T]:
        """A value for the report only: None (and no error) when it cannot be worked out."""
        try:
            return self.cached(name, compute)
        except RagalivInputError:
            return None

    def override_source(self, key: str, header_note: str = "") -> str:
        note = f"; {header_note}" if header_note else ""
        return f"override ({OVERRIDE_FLAGS[key]}{note})"

    # --- image semantics ---------------------------------------------------------------------------------
    def check_uniform(self, keyword: str, tag: str) -> str:
        values = {dicom_text(h, keyword).upper() for h in self.headers}
        if len(values) > 1:
            raise RagalivInputError(
                f"{keyword} {tag} differs between slices ({', '.join(sorted(values))}).",
                "Give one reconstruction of one PET series.",
            )
        return values.pop()

    def decay_correction(self) -> str:
        value = self.check_uniform("DecayCorrection", "(0054,1102)")
        corrected = {v.strip().upper() for v in (self.first.get("CorrectedImage") or [])}
        if isinstance(self.first.get("CorrectedImage"), str):
            corrected = {self.first.get("CorrectedImage").strip().upper()}
        decay_corrected = bool(corrected & {"DECY", "DECAY"})
        if not value:
            if decay_corrected:
                self.warnings.append(
                    "DecayCorrection (0054,1102) is missing; CorrectedImage has DECY: START assumed."
                )
                self.sources["decay_correction"] = (
                    "assumed START (DecayCorrection (0054,1102) missing, DECY present)"
                )
                value = "START"
            else:
                raise RagalivInputError(
                    "DecayCorrection (0054,1102) is missing and CorrectedImage (0028,0051) has no DECY: "
                    "cannot tell whether the values are decay corrected.",
                    "Re-export the PET series with its PET Image module attributes.",
                )
        else:
            self.sources["decay_correction"] = "DICOM DecayCorrection (0054,1102)"
        if value not in ("START", "ADMIN", "NONE"):
            raise RagalivInputError(
                f"DecayCorrection (0054,1102) = {value!r} is not START, ADMIN or NONE.",
                "Re-export the PET series with standard decay correction.",
            )
        if not corrected:
            self.warnings.append(
                "CorrectedImage (0028,0051) is absent: attenuation and decay correction cannot be confirmed; "
                f"DecayCorrection (0054,1102) {value} is trusted."
            )
        else:
            if value in ("START", "ADMIN") and not decay_corrected:
                raise RagalivInputError(
                    f"DecayCorrection (0054,1102) is {value} but CorrectedImage (0028,0051) "
                    f"({', '.join(sorted(corrected))}) lacks DECY: the header contradicts itself (QIBA "
                    "requires DECY).",
                    "Re-export the PET series from the scanner; the SUV cannot be trusted from this header.",
                )
            if value == "NONE" and decay_corrected:
                self.warnings.append(
                    "CorrectedImage (0028,0051) lists DECY but DecayCorrection (0054,1102) is NONE: NONE "
                    "is followed."
                )
            if "ATTN" not in corrected:
                self.warnings.append(
                    "CorrectedImage (0028,0051) lacks ATTN: the image is not attenuation corrected, so its "
                    "SUV is "
                    "not quantitative (only relative comparisons are meaningful)."
                )
        return value

    def check_intercepts(self) -> None:
        nonzero = sum(1 for h in self.headers if (dicom_number(h, "RescaleIntercept") or 0.0) != 0.0)
        if nonzero:
            self.warnings.append(
                f"RescaleIntercept (0028,1052) is non-zero in {nonzero} slice(s) (IBSI: should be 0 for "
                "PET); "
                "it was applied."
            )

    def slice_factors(self, tag: tuple[int, int]) -> Optional[list[float]]:
        """Per-slice Philips private factor; None if absent (or zero) in any slice."""
        values = [as_number(private_value(h, tag, PHILIPS_PRIVATE_CREATOR)) for h in self.headers]
        if any(v is None or v == 0 for v in values):
            return None
        return [float(v) for v in values if v is not None]

    # --- main --------------------------------------------------------------------------------------------
    def run(self) -> SuvParameters:
        p = self.params
        p.units = self.check_uniform("Units", "(0054,1001)")
        self.sources["units"] = "DICOM Units (0054,1001)"
        p.radiopharmaceutical = dicom_text(self.radiopharmaceutical, "Radiopharmaceutical")
        self.check_intercepts()
        if not p.units:
            raise RagalivInputError(
                "Units (0054,1001) is missing: the meaning of the PET pixel values is unknown.",
                "Re-export the PET series with its PET Series module (Units BQML expected).",
            )
        if p.units == "BQML":
            self.activity_mode([1.0] * len(self.headers))
        elif p.units == "CNTS":
            suv_factors = self.slice_factors(PHILIPS_SUV_FACTOR_TAG)
            activity_factors = self.slice_factors(PHILIPS_ACTIVITY_FACTOR_TAG)
            if suv_factors is not None:
                self.sources["units"] += " CNTS; Philips SUV scale factor (7053,1000) gives SUVbw"
                self.sources["stored_suv_type"] = (
                    "BW: Philips SUV scale factor (7053,1000) gives SUVbw (QIBA)"
                )
                self.suv_mode("BW", suv_factors)
            elif activity_factors is not None:
                self.sources["units"] += " CNTS; Philips activity scale factor (7053,1009) gives Bq/mL"
                self.activity_mode(activity_factors)
            else:
                raise RagalivInputError(
                    "Units (0054,1001) is CNTS but neither the Philips SUV scale factor (7053,1000) nor the "
                    "activity concentration scale factor (7053,1009) is present (or they are zero).",
                    "Export the series in Bq/mL (BQML) from the scanner console.",
                )
        elif p.units in ("GML", "CM2ML"):
            suv_type = self.check_uniform("SUVType", "(0054,1006)")
            if p.units == "CM2ML":
                if suv_type not in ("", "BSA"):
                    self.warnings.append(f"Units CM2ML with SUVType (0054,1006) {suv_type}: read as SUVbsa.")
                suv_type = "BSA"
            elif not suv_type:
                self.sources["stored_suv_type"] = "SUVType (0054,1006) empty: BW assumed (IBSI)"
                suv_type = "BW"
            elif suv_type == "BSA" or suv_type not in NORMALIZATION_BY_SUV_TYPE:
                raise RagalivInputError(
                    f"Units (0054,1001) GML with SUVType (0054,1006) {suv_type!r} is not a g/mL SUV this "
                    "program knows "
                    f"({', '.join(k for k in NORMALIZATION_BY_SUV_TYPE if k != 'BSA')}).",
                    "Export the series in Bq/mL (BQML).",
                )
            self.suv_mode(suv_type, [1.0] * len(self.headers))
        else:
            raise RagalivInputError(
                f"Units (0054,1001) = {p.units!r} cannot be converted to SUV; supported are BQML, CNTS "
                "(Philips "
                "with (7053,1000) or (7053,1009)), GML and CM2ML.",
                "Export the series in Bq/mL (BQML) from the scanner console.",
            )
        return p

    def activity_mode(self, activity_factors: list[float], decay_correction: Optional[str] = None) -> None:
        """Stored values are (a multiple of) Bq/mL: SUV = activity x normaliser / decayed dose."""
        p = self.params
        p.stored_quantity = "activity"
        p.decay_correction = decay_correction or self.decay_correction()
        p.normalizer = self.body_size(self.target)
        p.weight_kg = self.cached("weight_kg", self.weight_kg)
        p.height_cm = self.optional("height_cm", self.height_cm)
        p.sex = self.optional("sex", self.sex)
        p.injected_dose_bq = self.cached("injected_dose_bq", self.injected_dose_bq)
        p.nuclide = self.optional("nuclide", self.nuclide)
        scale = list(activity_factors)
        if p.decay_correction == "ADMIN":
            p.half_life_s = self.optional("half_life_s", self.half_life_s)
            p.injection_time = self.optional("injection_time", lambda: self.injection_time(None))
            p.scan_reference_time = p.injection_time
            self.sources["scan_reference_time"] = "administration time (DecayCorrection ADMIN)"
            if self.overrides.scan_time is not None:
                self.warnings.append(
                    "--scan-time is not used: with DecayCorrection ADMIN the values refer to the "
                    "administration time."
                )
            p.decay_time_s = 0.0
            p.decayed_dose_bq = p.injected_dose_bq
            self.sources["decayed_dose_bq"] = "undecayed injected activity (DecayCorrection ADMIN)"
        else:
            p.half_life_s = self.cached("half_life_s", self.half_life_s)
            p.scan_reference_time = self.cached("scan_reference_time", self.scan_reference_time)
            p.injection_time = self.injection_time(p.scan_reference_time)
            p.decay_time_s = seconds_between(p.scan_reference_time, p.injection_time)
            self._warn_one_sided_zone(p.scan_reference_time, p.injection_time)
            if p.decay_time_s < 0:
                raise RagalivInputError(
                    f"The injection time {iso_or_unknown(p.injection_time)} ({self.sources.get('injection_time')}) "
                    "is after "
                    f"the scan reference time {iso_or_unknown(p.scan_reference_time)} "
                    f"({self.sources.get('scan_reference_time')}).",
                    f"Correct them with {OVERRIDE_HINTS['injection_time']} / --scan-time ISO.",
                )
            if p.decay_time_s > LONGEST_PLAUSIBLE_DECAY_TIME_S:
                self.warnings.append(
                    f"{p.decay_time_s / 3600.0:.1f} h between injection and scan is implausible for PET: "
                    "check the injection and scan times."
                )
            p.decayed_dose_bq = p.injected_dose_bq * 2.0 ** (-p.decay_time_s / p.half_life_s)
            self.sources["decayed_dose_bq"] = "injected activity decayed to the scan reference time"
            if p.decay_correction == "NONE":
                scale = [
                    s * f for s, f in zip(scale, self.none_factors(p.scan_reference_time, p.half_life_s))
                ]
        self.check_plausibility()  # before any division: a half-life in the wrong unit decays the dose to 0
        if not (p.decayed_dose_bq > 0 and math.isfinite(p.decayed_dose_bq)):
            raise RagalivInputError(
                f"The injected activity decayed to the scan is {p.decayed_dose_bq:g} Bq: no SUV can be computed.",
                "Check the half-life (--half-life-s) and the injection and scan times (--injection-time, --scan-time).",
            )
        p.suv_per_bq_per_ml = p.normalizer / p.decayed_dose_bq
        self.sources["suv_per_bq_per_ml"] = (
            f"{self.target.quantity} = normaliser [{self.target.normalizer_unit}] / decayed dose [Bq], "
            "applied to "
            "the activity image at the scan reference time"
            + ("; stored values were converted per slice (DecayCorrection NONE, IBSI frame formula)"
               if p.decay_correction == "NONE" else "")
        )  # fmt: skip
        p.pixel_scale_per_slice = scale

    def suv_mode(self, stored_suv_type: str, factors: list[float]) -> None:
        """Stored values are already SUV of ``stored_suv_type``; convert to the requested normalisation."""
        p = self.params
        p.stored_quantity = "suv"
        p.stored_suv_type = stored_suv_type
        p.decay_correction = dicom_text(self.first, "DecayCorrection").upper()
        self.sources.setdefault("stored_suv_type", "DICOM SUVType (0054,1006)" if stored_suv_type else "")
        stored = NORMALIZERS[NORMALIZATION_BY_SUV_TYPE[stored_suv_type]]
        ratio = 1.0
        if stored is not self.target:
            stored_size = self.body_size(stored)
            p.normalizer = self.body_size(self.target)
            ratio = p.normalizer / stored_size
            self.sources["pixel_scale_per_slice"] = (
                f"stored {stored.quantity} x {self.target.quantity} normaliser / {stored.quantity} "
                "normaliser "
                f"= x {p.normalizer:.6g} {self.target.normalizer_unit} / {stored_size:.6g} "
                f"{stored.normalizer_unit}"
            )
        else:
            p.normalizer = self.optional("normalizer", lambda: self.body_size(self.target))
            self.sources["pixel_scale_per_slice"] = f"stored values are {stored.quantity} already"
        p.pixel_scale_per_slice = [f * ratio for f in factors]
        p.suv_per_bq_per_ml = None
        self.sources["suv_per_bq_per_ml"] = "not applicable: the stored values are already SUV"
        # Report what the header says about the injection, without requiring it.
        p.weight_kg = self.optional("weight_kg", self.weight_kg)
        p.height_cm = self.optional("height_cm", self.height_cm)
        p.sex = self.optional("sex", self.sex)
        p.injected_dose_bq = self.optional("injected_dose_bq", self.injected_dose_bq)
        p.half_life_s = self.optional("half_life_s", self.half_life_s)
        p.nuclide = self.optional("nuclide", self.nuclide)
        p.scan_reference_time = self.optional("scan_reference_time", self.scan_reference_time)
        p.injection_time = self.optional("injection_time", lambda: self.injection_time(p.scan_reference_time))
        if None not in (p.scan_reference_time, p.injection_time, p.injected_dose_bq, p.half_life_s):
            p.decay_time_s = seconds_between(p.scan_reference_time, p.injection_time)  # type: ignore[arg-type]
            self._warn_one_sided_zone(p.scan_reference_time, p.injection_time)
            p.decayed_dose_bq = p.injected_dose_bq * 2.0 ** (-p.decay_time_s / p.half_life_s)  # type: ignore[operator]


