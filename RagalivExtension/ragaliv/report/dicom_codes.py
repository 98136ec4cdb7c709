"""Coded concepts used in the DICOM SEG and SR exports, each with its source.

Standard codes were checked against the DICOM standard's Content Mapping Resource as shipped in pydicom's
concept dictionary (``pydicom.sr.codedict.codes``, generated from PS3.16) and against the codes highdicom,
dcmqi and DCMTK use (``Testing/cli/test_dicom_export.py`` re-checks every standard code against pydicom).
Where the standard has no concept (the IA/IV ratio, its aggregate and threshold, the eligibility verdict,
time-integrated activity, BED), a private coding scheme ``99RAGALIV`` is used (PS3.16 §8.2: designators
starting with "99" are private); it is declared in the Coding Scheme Identification Sequence of the SR.

Only pydicom is needed here (no highdicom), so the readers work inside Slicer without extra packages.
"""

from typing import Optional

from pydicom.sr.coding import Code

PRIVATE_SCHEME = "99RAGALIV"
PRIVATE_SCHEME_NAME = "Ragaliv private codes"
PRIVATE_SCHEME_ORGANIZATION = "Ragaliv project"


def private(value: str, meaning: str) -> Code:
    return Code(value, PRIVATE_SCHEME, meaning)


# --- segmentation property categories (CID 7150) and types (CID 7151) -----------------------------------
MORPHOLOGICALLY_ABNORMAL_STRUCTURE = Code("49755003", "SCT", "Morphologically Abnormal Structure")  # CID 7150
ANATOMICAL_STRUCTURE = Code("91723000", "SCT", "Anatomical Structure")  # CID 7150
TISSUE = Code("85756007", "SCT", "Tissue")  # CID 7150 and CID 7151
LESION = Code("52988006", "SCT", "Lesion")  # CID 7151
LIVER = Code("10200004", "SCT", "Liver")  # CID 7151
KIDNEY = Code("64033007", "SCT", "Kidney")  # CID 7151
SPLEEN = Code("78961009", "SCT", "Spleen")  # CID 7151
BONE_MARROW = Code("14016003", "SCT", "Bone Marrow")  # CID 644/8134 (CID 7151 is extensible)
LEFT = Code("7771000", "SCT", "Left")  # CID 244 Laterality
RIGHT = Code("24028007", "SCT", "Right")  # CID 244 Laterality

# role (ragaliv.roles.role_of) -> (category, type)
PROPERTY_CODES_BY_ROLE: dict[str, tuple[Code, Code]] = {
    "lesion": (MORPHOLOGICALLY_ABNORMAL_STRUCTURE, LESION),
    "extrahepatic": (MORPHOLOGICALLY_ABNORMAL_STRUCTURE, LESION),
    "healthy_liver": (ANATOMICAL_STRUCTURE, LIVER),
    "kidney": (ANATOMICAL_STRUCTURE, KIDNEY),
    "spleen": (ANATOMICAL_STRUCTURE, SPLEEN),
    "bone_marrow": (ANATOMICAL_STRUCTURE, BONE_MARROW),
    "other": (TISSUE, TISSUE),
}

# --- SR document structure -----------------------------------------------------------------------------
IMAGING_MEASUREMENT_REPORT = Code("126000", "DCM", "Imaging Measurement Report")  # CID 7021 (TID 1500 title)
IMAGING_MEASUREMENTS = Code("126010", "DCM", "Imaging Measurements")  # TID 1500 row 6
MEASUREMENT_GROUP = Code("125007", "DCM", "Measurement Group")  # TID 1501/1411
QUALITATIVE_EVALUATIONS = Code("C0034375", "UMLS", "Qualitative Evaluations")  # TID 1500 row 12 (DCMTK, dcmjs)
TRACKING_IDENTIFIER = Code("112039", "DCM", "Tracking Identifier")
ACTIVITY_SESSION = Code("C67447", "NCIt", "Activity Session")  # highdicom's "session" of TID 1501/1411
REFERENCED_SEGMENT = Code("121191", "DCM", "Referenced Segment")
SOURCE_OF_MEASUREMENT = Code("121112", "DCM", "Source of Measurement")
DERIVATION = Code("121401", "DCM", "Derivation")
MEASUREMENT_METHOD = Code("370129005", "SCT", "Measurement Method")
PET_UNSPECIFIED_BODY_REGION = Code("44136-0", "LN", "PET unspecified body region")  # CID 100

# --- measurements ----------------------------------------------------------------------------------------
VOLUME = Code("118565006", "SCT", "Volume")  # CID 7469
MASS = Code("118538004", "SCT", "Mass")  # CID 12304
ABSORBED_DOSE = Code("128513", "DCM", "Absorbed Dose")  # CID 7469, CID 10070
LESION_TO_BACKGROUND_SUV_RATIO = Code("126039", "DCM", "Lesion to Background SUV Ratio")  # CID 7466
# CID 7464 "General Region of Interest Measurement Modifiers"
MAXIMUM = Code("56851009", "SCT", "Maximum")
MEAN = Code("373098007", "SCT", "Mean")
MEDIAN = Code("373099004", "SCT", "Median")
PEAK_VALUE_WITHIN_ROI = Code("126031", "DCM", "Peak Value Within ROI")
DERIVATION_BY_METRIC = {"suvmax": MAXIMUM, "suvmean": MEAN, "suvpeak": PEAK_VALUE_WITHIN_ROI}
METRIC_BY_DERIVATION = {code.value: metric for metric, code in DERIVATION_BY_METRIC.items()}

# Route of administration names the PET scan of a measurement group (CID 11).
ROUTE_OF_ADMINISTRATION = Code("410675002", "SCT", "Route of administration")
INTRA_ARTERIAL_ROUTE = Code("58100008", "SCT", "Intra-arterial route")
INTRAVENOUS_ROUTE = Code("47625008", "SCT", "Intravenous route")
ROUTE_BY_SCAN = {"ia": INTRA_ARTERIAL_ROUTE, "iv": INTRAVENOUS_ROUTE}
SCAN_BY_ROUTE = {code.value: scan for scan, code in ROUTE_BY_SCAN.items()}

# Yes/No (CID 230) and "Undetermined" for the eligibility verdict.
YES = Code("373066001", "SCT", "Yes")
NO = Code("373067005", "SCT", "No")
UNDETERMINED = Code("373068000", "SCT", "Undetermined")


class SuvCodes:
    """Concept, UCUM unit and calculation method of one SUV normalisation (CIDs 7180/7469, 85, 7466 text).

    Units follow the current CID 85 spelling ``g/ml{SUVbw}``; dcmqi/QuantitativeReporting examples use the
    older ``{SUVbw}g/ml``, which :func:`~ragaliv.report.dicom_sr.read_dicom_sr` also accepts.
    """

    def __init__(self, quantity: Code, unit: Code, method: Code):
        self.quantity = quantity
        self.unit = unit
        self.method = method


SUV_CODES_BY_NORMALIZATION: dict[str, SuvCodes] = {
    "bw": SuvCodes(
        Code("126401", "DCM", "SUVbw"),
        Code("g/ml{SUVbw}", "UCUM", "Standardized Uptake Value body weight"),
        Code("126410", "DCM", "SUV body weight calculation method"),
    ),
    "lbm": SuvCodes(
        Code("126405", "DCM", "SUVlbm(Janma)"),
        Code("g/ml{SUVlbm(Janma)}", "UCUM", "Standardized Uptake Value lean body mass (Janma)"),
        Code("126414", "DCM", "SUV lean body mass calculation Janmahasatian method"),
    ),
    "lbm-james": SuvCodes(
        Code("126406", "DCM", "SUVlbm(James128)"),
        Code("g/ml{SUVlbm(James128)}", "UCUM", "Standardized Uptake Value lean body mass (James 128 multiplier)"),
        Code("126415", "DCM", "SUV lean body mass calculation method using 128 multiplier"),
    ),
    "lbm-morgan": SuvCodes(  # a stored SUV Type "LBM"
        Code("126402", "DCM", "SUVlbm"),
        Code("g/ml{SUVlbm}", "UCUM", "Standardized Uptake Value lean body mass (James)"),
        Code("126411", "DCM", "SUV lean body mass calculation method"),
    ),
    "ibw": SuvCodes(
        Code("126404", "DCM", "SUVibw"),
        Code("g/ml{SUVibw}", "UCUM", "Standardized Uptake Value ideal body weight"),
        Code("126413", "DCM", "SUV ideal body weight calculation method"),
    ),
    "bsa": SuvCodes(
        Code("126403", "DCM", "SUVbsa"),
        Code("cm2/ml{SUVbsa}", "UCUM", "Standardized Uptake Value body surface area"),
        Code("126412", "DCM", "SUV body surface area calculation method"),
    ),
}
SUV_QUANTITY_VALUES = {"126400", *(codes.quantity.value for codes in SUV_CODES_BY_NORMALIZATION.values())}

# --- private concepts (no standard code exists) -------------------------------------------------------------
IA_IV_RATIO = private("IAIV-RATIO", "IA/IV uptake ratio")
AGGREGATE_BY_NAME = {
    "mean": private("IAIV-AGG-MEAN", "Mean of lesion IA/IV uptake ratios"),
    "median": private("IAIV-AGG-MEDIAN", "Median of lesion IA/IV uptake ratios"),
}
NAME_BY_AGGREGATE_VALUE = {code.value: name for name, code in AGGREGATE_BY_NAME.items()}
IA_IV_THRESHOLD = private("IAIV-THRESHOLD", "Eligibility threshold of the aggregate IA/IV ratio")
LESION_COUNT = private("LESION-COUNT", "Number of lesion segments")
IA_ELIGIBLE = private("IA-ELIGIBLE", "Eligible for an intra-arterial cycle")
DECISION = private("DECISION", "IA/IV eligibility decision")
DECISION_RULE = private("DECISION-RULE", "IA/IV eligibility rule")
WARNING = private("WARNING", "Analysis warning")

# --- units (UCUM) ---------------------------------------------------------------------------------------------
UNITS: dict[str, Code] = {
    "ml": Code("ml", "UCUM", "milliliter"),
    "1": Code("1", "UCUM", "no units"),
    "Gy": Code("Gy", "UCUM", "Gy"),
    "MBq.h": Code("MBq.h", "UCUM", "megabecquerel hour"),
    "h": Code("h", "UCUM", "hour"),
    "g": Code("g", "UCUM", "gram"),
    "MBq": Code("MBq", "UCUM", "megabecquerel"),
    "Bq/ml": Code("Bq/ml", "UCUM", "Becquerels/milliliter"),
    "%": Code("%", "UCUM", "percent"),
    "Gy/GBq": Code("Gy/GBq", "UCUM", "gray per gigabecquerel"),
}
_UNIT_ALIASES = {
    "ml": "ml", "mL": "ml", "cm3": "ml", "1": "1", "": "1", "ratio": "1", "Gy": "Gy", "gy": "Gy",
    "MBq.h": "MBq.h", "MBq*h": "MBq.h", "MBq h": "MBq.h", "MBq·h": "MBq.h", "MBqh": "MBq.h",
    "h": "h", "hour": "h", "hours": "h", "g": "g", "MBq": "MBq", "Bq/mL": "Bq/ml", "Bq/ml": "Bq/ml",
    "%": "%", "percent": "%", "Gy/GBq": "Gy/GBq",
}  # fmt: skip


def unit_code(unit: Optional[str]) -> Code:
    """UCUM code for a unit as written in Ragaliv results (``mL``, ``MBq*h``, ``ratio`` ...).

    An unknown unit is passed through as a UCUM code of its own text (the caller vouches for it).
    """
    text = "" if unit is None else str(unit).strip()
    key = _UNIT_ALIASES.get(text)
    if key is not None:
        return UNITS[key]
    return Code(text, "UCUM", text)


# --- dosimetry quantities: name -> (concept, default unit, derivation) --------------------------------------
DOSE_QUANTITIES: dict[str, tuple[Code, str, Optional[Code]]] = {
    "absorbed_dose": (ABSORBED_DOSE, "Gy", None),
    "mean_absorbed_dose": (ABSORBED_DOSE, "Gy", MEAN),
    "max_absorbed_dose": (ABSORBED_DOSE, "Gy", MAXIMUM),
    "dose_per_activity": (private("DOSE-PER-ACT", "Absorbed dose per administered activity"), "Gy/GBq", None),
    "bed": (private("BED", "Biologically effective dose"), "Gy", None),
    "d2": (private("DOSE-D2", "Minimum absorbed dose to the hottest 2% of the volume"), "Gy", None),
    "d50": (private("DOSE-D50", "Minimum absorbed dose to the hottest 50% of the volume"), "Gy", None),
    "d98": (private("DOSE-D98", "Minimum absorbed dose to the hottest 98% of the volume"), "Gy", None),
    "tia": (private("TIA", "Time-integrated activity"), "MBq.h", None),
    "tiac": (private("TIAC", "Time-integrated activity coefficient"), "h", None),
    "mass": (MASS, "g", None),
    "volume": (VOLUME, "ml", None),
}


def dose_quantity_key(code_value: str, scheme: str, derivation_value: Optional[str], meaning: str) -> str:
    """Inverse of :data:`DOSE_QUANTITIES` (a private code not in the table reads back as its meaning)."""
    for name, (code, _, derivation) in DOSE_QUANTITIES.items():
        if code.value == code_value and code.scheme_designator == scheme:
            if (derivation.value if derivation is not None else None) == derivation_value:
                return name
    return meaning


def private_code_for(quantity: str) -> Code:
    """A private concept for a quantity name not in the table: value from the name (16 chars max)."""
    value = "".join(ch if ch.isalnum() else "-" for ch in quantity.upper()).strip("-")[:16] or "QUANTITY"
    return private(value, quantity)
