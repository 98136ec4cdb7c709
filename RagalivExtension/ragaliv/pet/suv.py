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

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable, Optional, TypeVar

import numpy as np
from pydicom.dataset import Dataset

from .. import constants
from ..errors import MissingDicomValueError, RagalivInputError
from ..geometry import Volume
from ..io.dicom_series import load_volume, select_series
from ..io.images import is_image_file, read_image
from . import body

# --- local constants (each with its source) ---------------------------------------------------------------
# IBSI dose heuristic (PET notes §3.2): RadionuclideTotalDose values peak near 4e2 (MBq entered) and 4e8 (Bq)
# for FDG; 1e4 separates them with margin: 10 kBq is no PET dose, 10 GBq is no PET dose in MBq either.
DOSE_IN_MBQ_BELOW = 1.0e4
# IBSI (PET notes §3.2): PatientWeight above 1000 was entered in grams.
WEIGHT_IN_GRAMS_ABOVE = 1000.0
# PatientSize is in metres; above 3 it was entered in cm (local plausibility rule, not from IBSI).
HEIGHT_IN_CM_ABOVE = 3.0
# Longest plausible injection-to-scan interval for PET; longer gets a warning (local plausibility rule).
LONGEST_PLAUSIBLE_DECAY_TIME_S = constants.SECONDS_PER_DAY
# Private tags (PET notes §3.2): GE decay-correction DateTime, Philips SUV and activity scale factors.
GE_PRIVATE_CREATOR = "GEMS_PETD_01"
GE_DECAY_DATETIME_TAG = (0x0009, 0x100D)
PHILIPS_PRIVATE_CREATOR = "Philips PET Private Group"
PHILIPS_SUV_FACTOR_TAG = (0x7053, 0x1000)
PHILIPS_ACTIVITY_FACTOR_TAG = (0x7053, 0x1009)

NORMALIZATIONS = ("bw", "lbm", "lbm-james", "bsa", "ibw")

_KG = 1000.0  # g per kg
_CM2_PER_M2 = 1.0e4


@dataclass(frozen=True)
class _Normalizer:
    quantity: str  # name of the SUV
    unit: str  # unit of SUV values
    normalizer_unit: str  # unit of the body-size value
    needs_height: bool
    needs_sex: bool
    size: Callable[[float, Optional[float], Optional[str]], float]  # (kg, cm, sex) -> g or cm²


_NORMALIZERS = {
    "bw": _Normalizer("SUVbw", "g/mL", "g", False, False, lambda w, h, s: w * _KG),
    "lbm": _Normalizer(
        "SUL (LBM Janmahasatian)",
        "g/mL",
        "g",
        True,
        True,
        lambda w, h, s: body.lbm_janmahasatian_kg(w, h, s) * _KG,
    ),
    "lbm-james": _Normalizer(
        "SUVlbm (James 128)", "g/mL", "g", True, True, lambda w, h, s: body.lbm_james_kg(w, h, s) * _KG
    ),
    # Only as a stored SUVType "LBM" (Morgan, male coefficient 120), not offered as an output.
    "lbm-morgan": _Normalizer(
        "SUVlbm (Morgan 120)", "g/mL", "g", True, True, lambda w, h, s: body.lbm_morgan_kg(w, h, s) * _KG
    ),
    "ibw": _Normalizer("SUVibw", "g/mL", "g", True, True, lambda w, h, s: body.ibw_kg(w, h, s) * _KG),
    "bsa": _Normalizer(
        "SUVbsa", "cm2/mL", "cm2", True, False, lambda w, h, s: body.bsa_dubois_m2(w, h) * _CM2_PER_M2
    ),
}
# SUV Type (0054,1006) defined terms -> normaliser (PET notes §3.1/§3.2).
_NORMALIZATION_BY_SUV_TYPE = {
    "BW": "bw",
    "LBM": "lbm-morgan",
    "LBMJAMES128": "lbm-james",
    "LBMJANMA": "lbm",
    "IBW": "ibw",
    "BSA": "bsa",
}

# Element names in RadionuclideCodeSequence CodeMeaning ("^68^Gallium") -> symbol.
_ELEMENT_SYMBOLS = {
    "gallium": "Ga", "fluorine": "F", "lutetium": "Lu", "carbon": "C", "oxygen": "O", "nitrogen": "N",
    "copper": "Cu", "zirconium": "Zr", "rubidium": "Rb", "iodine": "I", "yttrium": "Y", "technetium": "Tc",
    "indium": "In", "scandium": "Sc", "terbium": "Tb", "bromine": "Br",
}  # fmt: skip

_PANEL = 'the Slicer "SUV parameters" panel'
_OVERRIDE_HINTS = {
    "weight_kg": f"--weight-kg KG (CLI) or the weight field of {_PANEL}",
    "height_cm": f"--height-cm CM (CLI) or the height field of {_PANEL}",
    "sex": f"--sex M|F|O (CLI) or the sex field of {_PANEL}",
    "injected_dose_mbq": f"--dose-mbq MBQ (CLI) or the injected activity field of {_PANEL}",
    "injection_time": (
        f"--injection-time ISO, e.g. 2025-01-01T10:00:00 (CLI) or the injection time field of {_PANEL}"
    ),
    "scan_time": f"--scan-time ISO (CLI) or the scan time field of {_PANEL}",
    "half_life_s": f"--half-life-s SECONDS (CLI) or the half-life field of {_PANEL}",
}
_FLAGS = {
    "weight_kg": "--weight-kg",
    "height_cm": "--height-cm",
    "sex": "--sex",
    "injected_dose_mbq": "--dose-mbq",
    "injection_time": "--injection-time",
    "scan_time": "--scan-time",
    "half_life_s": "--half-life-s",
}


def describe_missing(keyword: str, tag: str, what: str, override: str) -> MissingDicomValueError:
    """The error for a missing DICOM value, naming the attribute, its tag and how to supply it.

    ``override`` is a key of :class:`SuvOverrides` (``"weight_kg"`` ...), turned into the CLI flag and
    the Slicer field.
    """
    return MissingDicomValueError(keyword, tag, what, _OVERRIDE_HINTS.get(override, override))


# --- public data classes -----------------------------------------------------------------------------------
@dataclass
class SuvOverrides:
    """User values that replace (or stand in for) DICOM values; None means "use the header"."""

    weight_kg: Optional[float] = None
    height_cm: Optional[float] = None
    sex: Optional[str] = None
    injected_dose_mbq: Optional[float] = None
    injection_time: Optional[datetime] = None
    scan_time: Optional[datetime] = None
    half_life_s: Optional[float] = None


@dataclass
class SuvParameters:
    """The values used for the SUV and where each came from (``sources``), with ``warnings``.

    ``scan_reference_time`` is the time the activity image is decay-corrected to (START: QIBA reference
    time; ADMIN: the administration time; NONE: QIBA reference time after per-slice conversion).
    ``suv_per_bq_per_ml`` turns that activity image into SUV (None when the header already holds SUV).
    ``pixel_scale_per_slice[k]`` turns the rescaled stored value of sorted slice k into activity in Bq/mL
    (``stored_quantity == "activity"``) or into the requested SUV (``"suv"``).
    """

    units: str = ""
    decay_correction: str = ""
    normalization: str = "bw"
    suv_quantity: str = "SUVbw"
    suv_unit: str = "g/mL"
    weight_kg: Optional[float] = None
    height_cm: Optional[float] = None
    sex: Optional[str] = None
    injected_dose_bq: Optional[float] = None
    injection_time: Optional[datetime] = None
    scan_reference_time: Optional[datetime] = None
    decay_time_s: Optional[float] = None
    half_life_s: Optional[float] = None
    nuclide: Optional[str] = None
    decayed_dose_bq: Optional[float] = None
    normalizer: Optional[float] = None
    normalizer_unit: str = "g"
    suv_per_bq_per_ml: Optional[float] = None
    radiopharmaceutical: str = ""
    stored_quantity: str = "activity"
    stored_suv_type: Optional[str] = None
    pixel_scale_per_slice: list[float] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly copy (datetimes as ISO 8601 strings) for summary.json."""
        result: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, dict):
                value = dict(value)
            elif isinstance(value, list):
                value = [float(v) if isinstance(v, (float, np.floating)) else v for v in value]
            elif isinstance(value, np.floating):
                value = float(value)
            result[item.name] = value
        return result


@dataclass
class PetImage:
    """A PET series as SUV and as activity (Bq/mL at ``parameters.scan_reference_time``).

    ``activity`` is None when the header already stores SUV (GML, CM2ML, Philips SUV factor).
    """

    activity: Optional[Volume]
    suv: Volume
    parameters: SuvParameters
    series_instance_uid: str = ""
    description: str = ""
    patient_id: str = ""  # (0010,0020), to check that IA and IV belong to one patient
    frame_of_reference_uid: str = ""  # (0020,0052), to check that IA, IV and the MRI share one space


# --- header readers ----------------------------------------------------------------------------------------
def _text(dataset: Optional[Dataset], keyword: str) -> str:
    value = None if dataset is None else dataset.get(keyword)
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value).strip().strip("\x00").strip()


def _number(dataset: Optional[Dataset], keyword: str) -> Optional[float]:
    """A finite number from ``keyword``, or None when absent, empty or malformed."""
    value = None if dataset is None else dataset.get(keyword)
    return _as_number(value)


def _as_number(value: Any) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace").strip("\x00 ")
    if isinstance(value, str) and not value.strip():
        return None
    if not isinstance(value, str) and hasattr(value, "__len__"):
        if len(value) != 1:
            return None
        value = value[0]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _private_value(dataset: Dataset, tag: tuple[int, int], creator: str) -> Any:
    """A private element by creator; the bare conventional slot is accepted when no creator is written.

    (The IBSI DROs write (0009,100D) and (7053,1000/1009) without their private creator element.)
    """
    group, element = tag
    offset = element & 0xFF
    for block in range(0x10, 0x100):
        creator_element = dataset.get((group, block))
        if creator_element is None:
            continue
        value = creator_element.value
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        if str(value).strip().strip("\x00") == creator:
            found = dataset.get((group, (block << 8) | offset))
            return None if found is None else found.value
    if (group, element >> 8) in dataset:  # the slot belongs to another creator
        return None
    found = dataset.get((group, element))
    return None if found is None else found.value


_DT_PATTERN = re.compile(
    r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,6}))?\s*(?:&?([+-]\d{4}))?$"
)
_TM_PATTERN = re.compile(r"^(\d{2}):?(\d{2})?:?(\d{2})?(?:\.(\d{1,6}))?$")


def _offset(text: str) -> Optional[timezone]:
    match = re.match(r"^([+-])(\d{2})(\d{2})$", text.strip())
    if not match:
        return None
    sign = 1 if match.group(1) == "+" else -1
    return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))


def _parse_date(value: Any) -> Optional[date]:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = re.sub(r"[.\-]", "", str(value or "").strip())
    if not re.match(r"^\d{8}$", text):
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def _parse_time(value: Any) -> Optional[time]:
    if isinstance(value, time):
        return value.replace(tzinfo=None)
    match = _TM_PATTERN.match(str(value or "").strip())
    if not match:
        return None
    hour, minute, second, fraction = match.groups()
    try:
        return time(
            int(hour), int(minute or 0), min(int(second or 0), 59), int((fraction or "0").ljust(6, "0"))
        )
    except ValueError:
        return None


def _parse_datetime(value: Any, zone: Optional[timezone]) -> Optional[datetime]:
    """DICOM DT; an explicit UTC offset wins over the dataset's TimezoneOffsetFromUTC (``zone``)."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None or zone is None else value.replace(tzinfo=zone)
    match = _DT_PATTERN.match(str(value or "").strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        result = datetime(
            int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
            min(int(second or 0), 59), int((fraction or "0").ljust(6, "0")),
        )  # fmt: skip
    except ValueError:
        return None
    tz = _offset(offset) if offset else zone
    return result.replace(tzinfo=tz) if tz is not None else result


def _zone(dataset: Dataset) -> Optional[timezone]:
    """TimezoneOffsetFromUTC (0008,0201), which applies to the dataset's DA/TM and offset-less DT values."""
    return _offset(_text(dataset, "TimezoneOffsetFromUTC"))


def _combine(day: Optional[date], moment: Optional[time], zone: Optional[timezone]) -> Optional[datetime]:
    if day is None or moment is None:
        return None
    return datetime.combine(day, moment).replace(tzinfo=zone)


def _seconds_between(later: datetime, earlier: datetime) -> float:
    """``later - earlier`` in s; if only one side has a UTC offset both are taken as the same zone."""
    if (later.tzinfo is None) != (earlier.tzinfo is None):
        later, earlier = later.replace(tzinfo=None), earlier.replace(tzinfo=None)
    return (later - earlier).total_seconds()


def _iso(moment: Optional[datetime]) -> str:
    return moment.isoformat() if moment is not None else "?"


def _average_time_in_frame_s(duration_s: float, half_life_s: float) -> float:
    """Time after frame start at which the activity equals the frame average (QIBA ``Tave``)."""
    decay_constant = math.log(2.0) / half_life_s
    x = decay_constant * duration_s
    if x < 1e-9:
        return duration_s / 2.0
    return math.log(x / -math.expm1(-x)) / decay_constant


def _frame_average_to_start(duration_s: float, half_life_s: float) -> float:
    """lambda T / (1 - exp(-lambda T)): frame-average activity -> activity at frame start (IBSI, NONE)."""
    x = math.log(2.0) / half_life_s * duration_s
    return 1.0 if x < 1e-12 else x / -math.expm1(-x)


T = TypeVar("T")


# --- the resolver ------------------------------------------------------------------------------------------
class _Resolver:
    """Works out every value the SUV needs from the headers and the overrides, recording sources."""

    def __init__(self, headers: Sequence[Dataset], overrides: Optional[SuvOverrides], normalization: str):
        if not headers:
            raise RagalivInputError("No PET slice headers given.", "Load a PET DICOM series.")
        key = (normalization or "bw").strip().lower()
        if key not in NORMALIZATIONS:
            raise RagalivInputError(
                f"Unknown SUV normalisation {normalization!r}.", f"Choose one of {', '.join(NORMALIZATIONS)}."
            )
        self.headers = list(headers)
        self.first = self.headers[0]
        self.zone = _zone(self.first)
        self.overrides = overrides or SuvOverrides()
        self.normalization = key
        self.target = _NORMALIZERS[key]
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
        return f"override ({_FLAGS[key]}{note})"

    # --- patient -----------------------------------------------------------------------------------------
    def weight_kg(self) -> float:
        header = _number(self.first, "PatientWeight")
        if self.overrides.weight_kg is not None:
            value = float(self.overrides.weight_kg)
            if not value > 0:
                raise RagalivInputError(
                    f"Weight override {value} kg is not positive.", "Give --weight-kg > 0."
                )
            note = f"DICOM PatientWeight (0010,1030) was {header:g}" if header else ""
            self.sources["weight_kg"] = self.override_source("weight_kg", note)
            return value
        if header is None or header <= 0:
            raise describe_missing("PatientWeight", "(0010,1030)", "Patient weight", "weight_kg")
        self.sources["weight_kg"] = "DICOM PatientWeight (0010,1030)"
        if header > WEIGHT_IN_GRAMS_ABOVE:
            self.warnings.append(
                f"PatientWeight (0010,1030) = {header:g} is above {WEIGHT_IN_GRAMS_ABOVE:g}: read as grams "
                f"({header / _KG:g} kg, IBSI heuristic). Check it or set --weight-kg."
            )
            self.sources["weight_kg"] += " read as grams (value > 1000, IBSI)"
            return header / _KG
        return header

    def height_cm(self) -> float:
        header = _number(self.first, "PatientSize")
        if self.overrides.height_cm is not None:
            value = float(self.overrides.height_cm)
            if not value > 0:
                raise RagalivInputError(
                    f"Height override {value} cm is not positive.", "Give --height-cm > 0."
                )
            note = f"DICOM PatientSize (0010,1020) was {header:g} m" if header else ""
            self.sources["height_cm"] = self.override_source("height_cm", note)
            return value
        if header is None or header <= 0:
            raise describe_missing(
                "PatientSize",
                "(0010,1020)",
                f"Patient height (needed for {self.target.quantity})",
                "height_cm",
            )
        if header > HEIGHT_IN_CM_ABOVE:
            self.warnings.append(
                f"PatientSize (0010,1020) = {header:g} is above {HEIGHT_IN_CM_ABOVE:g} m: read as cm. "
                "Check it or set --height-cm."
            )
            self.sources["height_cm"] = "DICOM PatientSize (0010,1020), read as cm (value > 3)"
            return header
        self.sources["height_cm"] = "DICOM PatientSize (0010,1020) m x 100"
        return header * 100.0

    def sex(self) -> str:
        if self.overrides.sex is not None and str(self.overrides.sex).strip():
            value = str(self.overrides.sex).strip().upper()
            if value not in ("M", "F", "O"):
                raise RagalivInputError(
                    f"Sex override {self.overrides.sex!r} is not M, F or O.", "Give --sex M|F|O."
                )
            self.sources["sex"] = self.override_source("sex")
            return value
        text = _text(self.first, "PatientSex")
        code = body.normalize_sex(text)
        if text.upper() in ("M", "F", "O"):
            self.sources["sex"] = "DICOM PatientSex (0010,0040)"
        else:
            self.sources["sex"] = f"default O: PatientSex (0010,0040) is {text or 'empty'!r}"
        if code == "O":
            self.sources["sex"] += " (mean of the male and female formulas, IBSI)"
        return code

    def body_size(self, normalizer: _Normalizer) -> float:
        """Body-size value of ``normalizer`` in g or cm², fetching only the inputs it needs."""
        weight = self.cached("weight_kg", self.weight_kg)
        height = self.cached("height_cm", self.height_cm) if normalizer.needs_height else None
        sex = self.cached("sex", self.sex) if normalizer.needs_sex else None
        if normalizer.needs_sex and sex == "O" and "sex_warned" not in self._cache:
            self._cache["sex_warned"] = True
            self.warnings.append(
                f"Sex is other or unknown (PatientSex (0010,0040) {_text(self.first, 'PatientSex')!r}): "
                f"{normalizer.quantity} uses the mean of the male and female formulas (IBSI). Set --sex M|F."
            )
        return normalizer.size(weight, height, sex)

    # --- radiopharmaceutical -----------------------------------------------------------------------------
    def injected_dose_bq(self) -> float:
        header = _number(self.radiopharmaceutical, "RadionuclideTotalDose")
        if self.overrides.injected_dose_mbq is not None:
            value = float(self.overrides.injected_dose_mbq) * constants.BQ_PER_MBQ
            if not value > 0:
                raise RagalivInputError(
                    "The injected activity override is not positive.", "Give --dose-mbq > 0."
                )
            note = f"DICOM RadionuclideTotalDose (0018,1074) was {header:g}" if header else ""
            self.sources["injected_dose_bq"] = self.override_source("injected_dose_mbq", note)
            return value
        if header is None or header <= 0:
            raise describe_missing(
                "RadionuclideTotalDose", "(0018,1074)", "Injected activity "
                "(RadiopharmaceuticalInformationSequence "
                "(0054,0016))", "injected_dose_mbq",
            )  # fmt: skip
        source = "DICOM RadionuclideTotalDose (0018,1074) (not corrected for residual activity)"
        if header < DOSE_IN_MBQ_BELOW:
            self.warnings.append(
                f"RadionuclideTotalDose (0018,1074) = {header:g} is too small to be Bq: read as MBq "
                f"({header:g} MBq, IBSI heuristic). Check it or set --dose-mbq."
            )
            self.sources["injected_dose_bq"] = source + ", read as MBq (value < 1e4, IBSI)"
            return header * constants.BQ_PER_MBQ
        self.sources["injected_dose_bq"] = source
        return header

    def nuclide(self) -> Optional[str]:
        """Nuclide as ``"Ga68"`` from RadionuclideCodeSequence (code, then meaning) or the tracer name."""
        item = self.radiopharmaceutical
        codes = item.get("RadionuclideCodeSequence") if item is not None else None
        code = codes[0] if codes else None
        value = _text(code, "CodeValue")
        if value in constants.NUCLIDE_BY_CODE:
            self.sources["nuclide"] = f"RadionuclideCodeSequence (0054,0300) CodeValue {value}"
            return constants.NUCLIDE_BY_CODE[value]
        meaning = _text(code, "CodeMeaning")
        match = re.search(r"\^(\d+)\^\s*([A-Za-z]+)", meaning)
        if match and match.group(2).lower() in _ELEMENT_SYMBOLS:
            self.sources["nuclide"] = f"RadionuclideCodeSequence (0054,0300) CodeMeaning {meaning!r}"
            return f"{_ELEMENT_SYMBOLS[match.group(2).lower()]}{int(match.group(1))}"
        name = _text(item, "Radiopharmaceutical")
        symbols = "|".join(sorted(set(_ELEMENT_SYMBOLS.values()), key=len, reverse=True))
        match = re.search(
            rf"(?<![A-Za-z])(?:({symbols})-?(\d{{1,3}})|(\d{{1,3}})-?({symbols}))(?![a-z])", name
        )
        if match:
            symbol = match.group(1) or match.group(4)
            mass = match.group(2) or match.group(3)
            self.sources["nuclide"] = f"Radiopharmaceutical (0018,0031) name {name!r}"
            return f"{symbol}{int(mass)}"
        return None

    def half_life_s(self) -> float:
        header = _number(self.radiopharmaceutical, "RadionuclideHalfLife")
        if self.overrides.half_life_s is not None:
            value = float(self.overrides.half_life_s)
            if not value > 0:
                raise RagalivInputError("The half-life override is not positive.", "Give --half-life-s > 0.")
            note = f"DICOM RadionuclideHalfLife (0018,1075) was {header:g} s" if header else ""
            self.sources["half_life_s"] = self.override_source("half_life_s", note)
            return value
        if header is not None and header > 0:
            self.sources["half_life_s"] = "DICOM RadionuclideHalfLife (0018,1075)"
            return header
        nuclide = self.cached("nuclide", self.nuclide)
        if nuclide in constants.HALF_LIFE_S_BY_NUCLIDE:
            value = constants.HALF_LIFE_S_BY_NUCLIDE[nuclide]
            self.sources["half_life_s"] = (
                f"default: {nuclide} half-life {value:g} s (constants.HALF_LIFE_S_BY_NUCLIDE, PET notes "
                "§3.5); "
                "RadionuclideHalfLife (0018,1075) absent"
            )
            self.warnings.append(
                f"RadionuclideHalfLife (0018,1075) is missing: using {value:g} s for {nuclide}. "
                "Set --half-life-s to use another value."
            )
            return value
        raise describe_missing(
            "RadionuclideHalfLife", "(0018,1075)",
            f"Half-life (nuclide {nuclide or 'not recognised'} from RadionuclideCodeSequence (0054,0300))",
            "half_life_s",
        )  # fmt: skip

    # --- times -------------------------------------------------------------------------------------------
    def header_date(self, dataset: Dataset, *keywords: str) -> Optional[date]:
        for keyword in keywords:
            day = _parse_date(dataset.get(keyword))
            if day is not None:
                return day
        return None

    def acquisition_time(self, dataset: Dataset) -> Optional[datetime]:
        zone = _zone(dataset) or self.zone
        moment = _parse_time(dataset.get("AcquisitionTime"))
        if moment is not None:
            day = self.header_date(dataset, "AcquisitionDate", "SeriesDate", "StudyDate")
            combined = _combine(day, moment, zone)
            if combined is not None:
                return combined
        return _parse_datetime(dataset.get("AcquisitionDateTime"), zone)

    def acquisition_times(self) -> list[Optional[datetime]]:
        return [self.acquisition_time(h) for h in self.headers]

    def earliest_acquisition(self) -> Optional[datetime]:
        times = [t for t in self.cached("acquisition_times", self.acquisition_times) if t is not None]
        if not times:
            return None
        earliest = times[0]
        for moment in times[1:]:
            if _seconds_between(moment, earliest) < 0:
                earliest = moment
        return earliest

    def series_time(self) -> Optional[datetime]:
        moment = _parse_time(self.first.get("SeriesTime"))
        day = self.header_date(self.first, "SeriesDate")
        if moment is not None and day is None:
            day = self.header_date(self.first, "AcquisitionDate", "StudyDate")
            if day is not None:
                self.warnings.append(
                    "SeriesDate (0008,0021) is missing: the AcquisitionDate/StudyDate is used."
                )
        return _combine(day, moment, self.zone)

    def backcomputed_reference(self) -> Optional[datetime]:
        """QIBA: AcquisitionDateTime - FrameReferenceTime + Tave, per slice; None if inputs are missing."""
        half_life = self.optional("half_life_s", self.half_life_s)
        if half_life is None:
            return None
        results: list[datetime] = []
        for header, acquired in zip(self.headers, self.cached("acquisition_times", self.acquisition_times)):
            frame_reference_ms = _number(header, "FrameReferenceTime")
            duration_ms = _number(header, "ActualFrameDuration")
            if acquired is None or not frame_reference_ms or not duration_ms or duration_ms <= 0:
                continue
            offset_s = -frame_reference_ms / 1000.0 + _average_time_in_frame_s(
                duration_ms / 1000.0, half_life
            )
            results.append(acquired + timedelta(seconds=offset_s))
        if not results:
            return None
        earliest = min(results, key=lambda t: _seconds_between(t, results[0]))
        spread_s = max(abs(_seconds_between(t, earliest)) for t in results)
        if spread_s > 1.0:
            self.warnings.append(
                f"Back-computed reference times differ by {spread_s:.1f} s between slices; the earliest is "
                "used."
            )
        return earliest

    def scan_reference_time(self) -> datetime:
        """QIBA priority (PET notes §3.3, §7.2)."""
        if self.overrides.scan_time is not None:
            self.sources["scan_reference_time"] = self.override_source("scan_time")
            return self.overrides.scan_time
        series = self.series_time()
        earliest = self.earliest_acquisition()
        if series is not None and earliest is None:
            self.sources["scan_reference_time"] = (
                "DICOM SeriesDate/SeriesTime (0008,0021)/(0008,0031) (no AcquisitionTime to compare, QIBA)"
            )
            return series
        if series is not None and earliest is not None and _seconds_between(series, earliest) <= 0:
            self.sources["scan_reference_time"] = (
                "DICOM SeriesDate/SeriesTime (0008,0021)/(0008,0031), not after the earliest "
                "AcquisitionDate/AcquisitionTime (0008,0022)/(0008,0032) (QIBA)"
            )
            return series
        if series is not None:
            why = (
                f"SeriesTime (0008,0031) {_iso(series)} is after the earliest AcquisitionTime (0008,0032) "
                f"{_iso(earliest)} (post-processed series, QIBA)"
            )
        else:
            why = "SeriesDate/SeriesTime (0008,0021)/(0008,0031) missing"
        ge_value = _private_value(self.first, GE_DECAY_DATETIME_TAG, GE_PRIVATE_CREATOR)
        if isinstance(ge_value, bytes):
            ge_value = ge_value.decode("ascii", "replace").strip("\x00 ")
        ge_time = _parse_datetime(ge_value, self.zone) if ge_value else None
        if ge_time is not None:
            self.sources["scan_reference_time"] = f"GE private (0009,100D) {GE_PRIVATE_CREATOR} ({why})"
            return ge_time
        back = self.backcomputed_reference()
        if back is not None:
            self.sources["scan_reference_time"] = (
                "back-computed: AcquisitionDateTime - FrameReferenceTime (0054,1300) + Tave from "
                f"ActualFrameDuration (0018,1242) (QIBA; {why})"
            )
            return back
        if earliest is not None:
            self.sources["scan_reference_time"] = (
                f"earliest AcquisitionDate/AcquisitionTime (0008,0022)/(0008,0032) ({why})"
            )
            self.warnings.append(
                f"Scan reference time falls back to the earliest acquisition time ({why}; QIBA notes this is "
                "wrong for multi-injection series). Set --scan-time if you know better."
            )
            return earliest
        raise describe_missing(
            "SeriesTime", "(0008,0031)",
            "Scan reference time (neither SeriesDate/SeriesTime (0008,0021)/(0008,0031) nor "
            "AcquisitionDate/AcquisitionTime (0008,0022)/(0008,0032))",
            "scan_time",
        )  # fmt: skip

    def injection_time(self, reference: Optional[datetime]) -> datetime:
        if self.overrides.injection_time is not None:
            self.sources["injection_time"] = self.override_source("injection_time")
            return self.overrides.injection_time
        item = self.radiopharmaceutical
        if item is not None:
            start = _parse_datetime(item.get("RadiopharmaceuticalStartDateTime"), self.zone)
            if start is not None:
                self.sources["injection_time"] = "DICOM RadiopharmaceuticalStartDateTime (0018,1078)"
                return start
            moment = _parse_time(item.get("RadiopharmaceuticalStartTime"))
            if moment is not None:
                day = self.header_date(self.first, "SeriesDate", "AcquisitionDate", "StudyDate")
                if day is None and reference is not None:
                    day = reference.date()
                if day is not None:
                    start = _combine(day, moment, self.zone)
                    assert start is not None
                    source = "DICOM RadiopharmaceuticalStartTime (0018,1072) on the SeriesDate (0008,0021)"
                    if reference is not None and _seconds_between(start, reference) > 0:
                        start -= timedelta(days=1)
                        source += ", minus one day (injection before midnight)"
                        self.warnings.append(
                            f"RadiopharmaceuticalStartTime {moment.isoformat()} is after the scan "
                            "reference time "
                            f"{_iso(reference)}: the injection is taken on the previous day (midnight "
                            "crossing)."
                        )
                    self.sources["injection_time"] = source
                    return start
        raise describe_missing(
            "RadiopharmaceuticalStartDateTime", "(0018,1078)",
            "Injection time (neither RadiopharmaceuticalStartDateTime (0018,1078) nor "
            "RadiopharmaceuticalStartTime (0018,1072))",
            "injection_time",
        )  # fmt: skip

    # --- image semantics ---------------------------------------------------------------------------------
    def check_uniform(self, keyword: str, tag: str) -> str:
        values = {_text(h, keyword).upper() for h in self.headers}
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
        nonzero = sum(1 for h in self.headers if (_number(h, "RescaleIntercept") or 0.0) != 0.0)
        if nonzero:
            self.warnings.append(
                f"RescaleIntercept (0028,1052) is non-zero in {nonzero} slice(s) (IBSI: should be 0 for "
                "PET); "
                "it was applied."
            )

    def slice_factors(self, tag: tuple[int, int]) -> Optional[list[float]]:
        """Per-slice Philips private factor; None if absent (or zero) in any slice."""
        values = [_as_number(_private_value(h, tag, PHILIPS_PRIVATE_CREATOR)) for h in self.headers]
        if any(v is None or v == 0 for v in values):
            return None
        return [float(v) for v in values if v is not None]

    # --- main --------------------------------------------------------------------------------------------
    def run(self) -> SuvParameters:
        p = self.params
        p.units = self.check_uniform("Units", "(0054,1001)")
        self.sources["units"] = "DICOM Units (0054,1001)"
        p.radiopharmaceutical = _text(self.radiopharmaceutical, "Radiopharmaceutical")
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
            elif suv_type == "BSA" or suv_type not in _NORMALIZATION_BY_SUV_TYPE:
                raise RagalivInputError(
                    f"Units (0054,1001) GML with SUVType (0054,1006) {suv_type!r} is not a g/mL SUV this "
                    "program knows "
                    f"({', '.join(k for k in _NORMALIZATION_BY_SUV_TYPE if k != 'BSA')}).",
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
            p.decay_time_s = _seconds_between(p.scan_reference_time, p.injection_time)
            self._warn_one_sided_zone(p.scan_reference_time, p.injection_time)
            if p.decay_time_s < 0:
                raise RagalivInputError(
                    f"The injection time {_iso(p.injection_time)} ({self.sources.get('injection_time')}) "
                    "is after "
                    f"the scan reference time {_iso(p.scan_reference_time)} "
                    f"({self.sources.get('scan_reference_time')}).",
                    f"Correct them with {_OVERRIDE_HINTS['injection_time']} / --scan-time ISO.",
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
        p.suv_per_bq_per_ml = p.normalizer / p.decayed_dose_bq
        self.sources["suv_per_bq_per_ml"] = (
            f"{self.target.quantity} = normaliser [{self.target.normalizer_unit}] / decayed dose [Bq], "
            "applied to "
            "the activity image at the scan reference time"
            + ("; stored values were converted per slice (DecayCorrection NONE, IBSI frame formula)"
               if p.decay_correction == "NONE" else "")
        )  # fmt: skip
        p.pixel_scale_per_slice = scale

    def none_factors(self, reference: datetime, half_life_s: float) -> list[float]:
        """Per slice: frame-average (not decay corrected) -> activity at ``reference`` (PET notes §3.3)."""
        factors = []
        acquisition_times = self.cached("acquisition_times", self.acquisition_times)
        for index, (header, acquired) in enumerate(zip(self.headers, acquisition_times)):
            duration_ms = _number(header, "ActualFrameDuration")
            if acquired is None:
                raise RagalivInputError(
                    "DecayCorrection NONE needs each slice's AcquisitionDate/AcquisitionTime "
                    "(0008,0022)/(0008,0032); "
                    f"slice {index} has none.",
                    "Re-export the series with decay correction (START), or complete the header.",
                )
            if duration_ms is None or duration_ms <= 0:
                raise RagalivInputError(
                    "DecayCorrection NONE needs each slice's ActualFrameDuration (0018,1242); slice "
                    f"{index} has none.",
                    "Re-export the series with decay correction (START), or complete the header.",
                )
            decay_constant = math.log(2.0) / half_life_s
            factors.append(
                _frame_average_to_start(duration_ms / 1000.0, half_life_s)
                * math.exp(decay_constant * _seconds_between(acquired, reference))
            )
        return factors

    def suv_mode(self, stored_suv_type: str, factors: list[float]) -> None:
        """Stored values are already SUV of ``stored_suv_type``; convert to the requested normalisation."""
        p = self.params
        p.stored_quantity = "suv"
        p.stored_suv_type = stored_suv_type
        p.decay_correction = _text(self.first, "DecayCorrection").upper()
        self.sources.setdefault("stored_suv_type", "DICOM SUVType (0054,1006)" if stored_suv_type else "")
        stored = _NORMALIZERS[_NORMALIZATION_BY_SUV_TYPE[stored_suv_type]]
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
            p.decay_time_s = _seconds_between(p.scan_reference_time, p.injection_time)  # type: ignore[arg-type]
            self._warn_one_sided_zone(p.scan_reference_time, p.injection_time)
            p.decayed_dose_bq = p.injected_dose_bq * 2.0 ** (-p.decay_time_s / p.half_life_s)  # type: ignore[operator]


# --- public functions --------------------------------------------------------------------------------------
def compute_suv_parameters(
    headers: Sequence[Dataset], overrides: Optional[SuvOverrides] = None, normalization: str = "bw"
) -> SuvParameters:
    """Everything needed to turn the stored values of these sorted per-slice headers into SUV.

    ``normalization``: ``"bw"`` (default, g/mL), ``"lbm"`` (SUL, Janmahasatian), ``"lbm-james"``,
    ``"ibw"`` (g/mL) or ``"bsa"`` (cm2/mL).
    """
    return _Resolver(headers, overrides, normalization).run()


def parameters_from_overrides(overrides: Optional[SuvOverrides], normalization: str = "bw") -> SuvParameters:
    """Parameters for an image without PET header (NRRD/NIfTI in Bq/mL, decay-corrected to the scan time)."""
    overrides = overrides or SuvOverrides()
    required = ("weight_kg", "injected_dose_mbq", "injection_time", "scan_time")
    missing = [_FLAGS[name] for name in required if getattr(overrides, name) is None]
    key = (normalization or "bw").strip().lower()
    if key in _NORMALIZERS and _NORMALIZERS[key].needs_height and overrides.height_cm is None:
        missing.append(_FLAGS["height_cm"])
    if missing:
        raise RagalivInputError(
            "A NRRD/NIfTI PET image carries no injection or patient data: "
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required.",
            f"Give {', '.join(missing)} on the command line, or fill them in {_PANEL}.",
        )
    header = Dataset()  # an empty header: every value comes from the overrides
    resolver = _Resolver([header], overrides, key)
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
    array = (np.asarray(activity_volume.array, dtype=np.float64) * parameters.suv_per_bq_per_ml).astype(
        np.float32
    )
    metadata = {k: v for k, v in activity_volume.metadata.items() if k != "slice_headers"}
    metadata["quantity"] = parameters.suv_quantity
    return Volume(array, activity_volume.geometry, parameters.suv_unit, metadata)


def _voxel_warnings(array: np.ndarray, unit: str) -> list[str]:
    """Counts of NaN and negative voxels: reported, never fatal (PET reconstructions can go below zero)."""
    messages = []
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
    volume = load_volume(series)
    parameters = compute_suv_parameters(volume.metadata["slice_headers"], overrides, normalization)
    scale = np.asarray(parameters.pixel_scale_per_slice, dtype=np.float64)[:, np.newaxis, np.newaxis]
    metadata = dict(volume.metadata.items())
    activity: Optional[Volume] = None
    if parameters.stored_quantity == "activity":
        activity = Volume((volume.array * scale).astype(np.float32), volume.geometry, "Bq/mL", metadata)
        suv = suv_from_activity(activity, parameters)
    else:
        suv_metadata = {k: v for k, v in metadata.items() if k != "slice_headers"}
        suv_metadata["quantity"] = parameters.suv_quantity
        suv = Volume(
            (volume.array * scale).astype(np.float32), volume.geometry, parameters.suv_unit, suv_metadata
        )
    parameters.warnings.extend(_voxel_warnings(suv.array, parameters.suv_unit))
    first = series.headers[0]
    return PetImage(activity, suv, parameters, series.series_instance_uid, series.series_description,
                    _text(first, "PatientID"), _text(first, "FrameOfReferenceUID"))
