"""What an SUV needs and where each value came from: overrides, normalisers, the parameter record.

:class:`SuvOverrides` holds user values that replace the header; :class:`SuvParameters` records the values
used, their ``sources`` and the ``warnings`` (for summary.json and the report); :class:`PetImage` is a PET as
activity and SUV. The header-rule thresholds and private tags below are shared by the rules modules.
"""

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Callable, Optional

import numpy as np

from .. import constants
from ..errors import MissingDicomValueError
from ..geometry import Volume
from . import body

# --- header-rule thresholds and private tags (each with its source) ---------------------------------------
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

G_PER_KG = 1000.0  # g per kg
CM2_PER_M2 = 1.0e4


@dataclass(frozen=True)
class Normalizer:
    quantity: str  # name of the SUV
    unit: str  # unit of SUV values
    normalizer_unit: str  # unit of the body-size value
    needs_height: bool
    needs_sex: bool
    size: Callable[[float, Optional[float], Optional[str]], float]  # (kg, cm, sex) -> g or cm²


NORMALIZERS = {
    "bw": Normalizer("SUVbw", "g/mL", "g", False, False, lambda w, h, s: w * G_PER_KG),
    "lbm": Normalizer(
        "SUL (LBM Janmahasatian)",
        "g/mL",
        "g",
        True,
        True,
        lambda w, h, s: body.lbm_janmahasatian_kg(w, h, s) * G_PER_KG,
    ),
    "lbm-james": Normalizer(
        "SUVlbm (James 128)", "g/mL", "g", True, True, lambda w, h, s: body.lbm_james_kg(w, h, s) * G_PER_KG
    ),
    # Only as a stored SUVType "LBM" (Morgan, male coefficient 120), not offered as an output.
    "lbm-morgan": Normalizer(
        "SUVlbm (Morgan 120)", "g/mL", "g", True, True, lambda w, h, s: body.lbm_morgan_kg(w, h, s) * G_PER_KG
    ),
    "ibw": Normalizer("SUVibw", "g/mL", "g", True, True, lambda w, h, s: body.ibw_kg(w, h, s) * G_PER_KG),
    "bsa": Normalizer(
        "SUVbsa", "cm2/mL", "cm2", True, False, lambda w, h, s: body.bsa_dubois_m2(w, h) * CM2_PER_M2
    ),
}
# SUV Type (0054,1006) defined terms -> normaliser (PET notes §3.1/§3.2).
NORMALIZATION_BY_SUV_TYPE = {
    "BW": "bw",
    "LBM": "lbm-morgan",
    "LBMJAMES128": "lbm-james",
    "LBMJANMA": "lbm",
    "IBW": "ibw",
    "BSA": "bsa",
}

# Element names in RadionuclideCodeSequence CodeMeaning ("^68^Gallium") -> symbol.
ELEMENT_SYMBOLS = {
    "gallium": "Ga", "fluorine": "F", "lutetium": "Lu", "carbon": "C", "oxygen": "O", "nitrogen": "N",
    "copper": "Cu", "zirconium": "Zr", "rubidium": "Rb", "iodine": "I", "yttrium": "Y", "technetium": "Tc",
    "indium": "In", "scandium": "Sc", "terbium": "Tb", "bromine": "Br",
}  # fmt: skip

SLICER_PANEL = 'the Slicer "SUV parameters" panel'
OVERRIDE_HINTS = {
    "weight_kg": f"--weight-kg KG (CLI) or the weight field of {SLICER_PANEL}",
    "height_cm": f"--height-cm CM (CLI) or the height field of {SLICER_PANEL}",
    "sex": f"--sex M|F|O (CLI) or the sex field of {SLICER_PANEL}",
    "injected_dose_mbq": f"--dose-mbq MBQ (CLI) or the injected activity field of {SLICER_PANEL}",
    "injection_time": (
        f"--injection-time ISO, e.g. 2025-01-01T10:00:00 (CLI) or the injection time field of {SLICER_PANEL}"
    ),
    "scan_time": f"--scan-time ISO (CLI) or the scan time field of {SLICER_PANEL}",
    "half_life_s": f"--half-life-s SECONDS (CLI) or the half-life field of {SLICER_PANEL}",
}
OVERRIDE_FLAGS = {
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
    return MissingDicomValueError(keyword, tag, what, OVERRIDE_HINTS.get(override, override))


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
    # Plausibility checks whose refusal the user accepts (ids of ragaliv.checks.findings.CHECKS, e.g. "weight").
    accept: tuple[str, ...] = ()


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

