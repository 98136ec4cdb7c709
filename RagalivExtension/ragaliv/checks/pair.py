"""Cross-scan consistency of the IA/IV PET pair, and the checks every ratio PET must pass.

:func:`ratio_input_findings` is what the ratio analysis runs before computing (CLI, batch and the lesion-ratio
module's Lib alike): per scan the expected tracer (68Ga) and the activity in the image
(:mod:`.voxels`); for the pair one patient, two different series with different pixel data, weights and
heights that agree, scans that do not overlap in time, and series descriptions that do not contradict the
roles given. Pair findings are ``undetermined``: the decision then reads "NOT DETERMINED" until the user
confirms (``--confirm-consistency``).

A scan is described by :class:`PetScan`: the SUV parameters as a dictionary (``SuvParameters.to_dict()`` plus
``series_instance_uid``, ``series_description``, ``patient_id``) and the SUV volume. Both the CLI (a
:class:`~ragaliv.pet.suv.PetImage`) and the Slicer module (node attributes and the volume) can build it.
"""

import dataclasses
import datetime
import re
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from .findings import UNDETERMINED, WARN, Finding
from .nuclides import expected_nuclide_finding
from .ranges import (
    PAIR_HEIGHT_TOLERANCE_REL,
    PAIR_MAX_INTERVAL_DAYS,
    PAIR_RESIDUAL_FRACTION,
    PAIR_WEIGHT_TOLERANCE_REL,
)
from .voxels import pet_activity_findings

EXPECTED_PET_NUCLIDE = "Ga68"
CONFIRM = "check the inputs; if they are right, confirm with --confirm-consistency"
# Role words in series descriptions ("PET AC IA 68Ga", "i.v.", "intra-arterial"); whole words only.
_ROLE_WORDS = {
    "IA": re.compile(r"(?<![a-z0-9])(ia|i\.a\.?|intra[- ]?arterial|arterial)(?![a-z0-9])", re.IGNORECASE),
    "IV": re.compile(r"(?<![a-z0-9])(iv|i\.v\.?|intra[- ]?venous|venous)(?![a-z0-9])", re.IGNORECASE),
}


@dataclass
class PetScan:
    """One PET of the pair as the checks see it."""

    role: str  # "IA" or "IV"
    parameters: dict[str, Any] = field(default_factory=dict)
    suv: Any = None  # ragaliv.geometry.Volume (SUV)

    @classmethod
    def from_pet(cls, role: str, pet: Any) -> "PetScan":
        """From a :class:`ragaliv.pet.suv.PetImage`."""
        parameters = pet.parameters.to_dict()
        parameters.setdefault("series_instance_uid", getattr(pet, "series_instance_uid", ""))
        parameters.setdefault("series_description", getattr(pet, "description", ""))
        parameters.setdefault("patient_id", getattr(pet, "patient_id", ""))
        return cls(role, parameters, pet.suv)

    def time(self, key: str) -> Optional[datetime.datetime]:
        value = self.parameters.get(key)
        if isinstance(value, datetime.datetime):
            return value
        try:
            return datetime.datetime.fromisoformat(value) if value else None
        except (TypeError, ValueError):
            return None

    def number(self, key: str) -> Optional[float]:
        value = self.parameters.get(key)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def ratio_input_findings(ia: PetScan, iv: PetScan) -> list[Finding]:
    """Every check of the ratio inputs: per scan (refusals and warnings; ``subject`` the scan's role), then the
    pair (undetermined)."""
    findings: list[Finding] = []
    for scan in (ia, iv):
        nuclide = scan.parameters.get("nuclide")
        source = (scan.parameters.get("sources") or {}).get("nuclide", "")
        finding = expected_nuclide_finding(nuclide, EXPECTED_PET_NUCLIDE, f"The {scan.role} PET", source)
        scan_findings = [finding] if finding is not None else []
        if scan.suv is not None:
            scan_findings.extend(pet_activity_findings(scan.suv, scan.parameters, f"The {scan.role} PET",
                                                       f"--{scan.role.lower()}-dose-mbq"))
        findings.extend(dataclasses.replace(item, subject=scan.role) for item in scan_findings)
    return findings + pair_findings(ia, iv)


def pair_findings(ia: PetScan, iv: PetScan) -> list[Finding]:
    """Consistency of the two scans (see the module docstring)."""
    findings: list[Finding] = []
    ia_patient, iv_patient = ia.parameters.get("patient_id") or "", iv.parameters.get("patient_id") or ""
    if ia_patient and iv_patient and ia_patient != iv_patient:
        findings.append(Finding("patient", UNDETERMINED,
                                f"The IA PET belongs to patient {ia_patient!r} but the IV PET to {iv_patient!r} "
                                "(PatientID (0010,0020)).", f"Give the two PET series of one patient; {CONFIRM}."))
    same_uid = ia.parameters.get("series_instance_uid") or ""
    if same_uid and same_uid == iv.parameters.get("series_instance_uid"):
        findings.append(Finding("same-series", UNDETERMINED,
                                f"IA and IV are the same series (SeriesInstanceUID {same_uid}): every ratio is 1.",
                                f"Give the IA PET with --ia and the IV PET with --iv; {CONFIRM}."))
        return findings  # times, roles and weights of one series say nothing more
    if ia.suv is not None and iv.suv is not None and same_pixels(ia.suv.array, iv.suv.array):
        findings.append(Finding("same-pixels", UNDETERMINED,
                                "IA and IV hold the same pixel data (up to one scale factor): one scan was given "
                                "twice, or copied.", f"Give two different PET acquisitions; {CONFIRM}."))
    findings.extend(_body_findings(ia, iv))
    findings.extend(_time_findings(ia, iv))
    findings.extend(_role_findings(ia, iv))
    return findings


SAME_PIXELS_SAMPLE_STRIDE = 997  # a prime: the sample is spread over every slice, row and column


def same_pixels(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape and b = c · a for one constant c (the same data with another dose or slope).

    A sample of every 997th voxel is compared first: two different acquisitions almost always differ there,
    which saves the full comparison (a third of a second on two 11-million-voxel PETs); a sample that agrees is
    confirmed on every voxel, so the answer is exact either way."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.size > 100 * SAME_PIXELS_SAMPLE_STRIDE and not _proportional(
        a.reshape(-1)[::SAME_PIXELS_SAMPLE_STRIDE], b.reshape(-1)[::SAME_PIXELS_SAMPLE_STRIDE]
    ):
        return False
    return _proportional(a, b)


def _proportional(a: np.ndarray, b: np.ndarray) -> bool:
    finite = np.isfinite(a) & np.isfinite(b)
    if not np.array_equal(finite, np.isfinite(a)) or not finite.any():
        return False
    x, y = a[finite].astype(np.float64), b[finite].astype(np.float64)
    norm = float(np.dot(x, x))
    if norm == 0.0:
        return float(np.dot(y, y)) == 0.0
    scale = float(np.dot(x, y)) / norm
    return float(np.max(np.abs(y - scale * x))) <= 1e-5 * max(float(np.max(np.abs(y))), 1e-30)


def _body_findings(ia: PetScan, iv: PetScan) -> list[Finding]:
    findings = []
    for key, check, unit, tolerance, flag in (
        ("weight_kg", "weight-mismatch", "kg", PAIR_WEIGHT_TOLERANCE_REL, "--weight-kg"),
        ("height_cm", "height-mismatch", "cm", PAIR_HEIGHT_TOLERANCE_REL, "--height-cm"),
    ):
        a, b = ia.number(key), iv.number(key)
        if a is None or b is None or not min(a, b) > 0:
            continue
        if abs(a - b) / min(a, b) > tolerance:
            sources = [(scan.parameters.get("sources") or {}).get(key, "") for scan in (ia, iv)]
            findings.append(Finding(
                check, UNDETERMINED,
                f"The {key.split('_')[0]} differs between the scans: IA {a:g} {unit} ({sources[0]}), IV {b:g} {unit} "
                f"({sources[1]}), more than {tolerance:.0%} apart (the SUV ratio scales with it; pounds or a 10x "
                "slip?).",
                f"Give the patient's {key.split('_')[0]} once with {flag} (used for both scans); {CONFIRM}."))
    return findings


def _time_findings(ia: PetScan, iv: PetScan) -> list[Finding]:
    """The second 68Ga scan must not see the first injection, and both fall in the protocol interval."""
    times = {scan.role: (scan.time("injection_time"), scan.time("scan_reference_time")) for scan in (ia, iv)}
    if any(value is None for pair in times.values() for value in pair):
        return []
    try:
        first, second = sorted((ia, iv), key=lambda scan: times[scan.role][0])
        first_injection, first_scan = times[first.role]
        second_injection, second_scan = times[second.role]
        gap_h = (second_injection - first_injection).total_seconds() / 3600.0
        elapsed_s = (second_scan - first_injection).total_seconds()
    except TypeError:  # one time carries a UTC offset, the other not: the SUV rules warned already
        return []
    findings = []
    half_life = first.number("half_life_s")
    first_dose, second_dose = first.number("injected_dose_bq"), second.number("decayed_dose_bq")
    residual = None
    if half_life and first_dose and second_dose:
        residual = first_dose * 2.0 ** (-elapsed_s / half_life) / second_dose
    if second_injection <= first_scan or (residual is not None and residual > PAIR_RESIDUAL_FRACTION):
        what = (f"{residual:.1%} of the second scan's activity is residual tracer of the first injection"
                if residual is not None else "the second injection precedes the first scan")
        findings.append(Finding(
            "scan-order", UNDETERMINED,
            f"The scans overlap: {first.role} injected {first_injection.isoformat()} and scanned "
            f"{first_scan.isoformat()}, {second.role} injected {second_injection.isoformat()} ({gap_h:.3g} h later); "
            f"{what}.",
            f"Check the injection and scan times (--ia-injection-time, --iv-injection-time ...); {CONFIRM}."))
    elif gap_h / 24.0 > PAIR_MAX_INTERVAL_DAYS:
        findings.append(Finding(
            "scan-order", WARN,
            f"The IA and IV scans are {gap_h / 24.0:.0f} days apart (more than {PAIR_MAX_INTERVAL_DAYS:g}; Kratochwil "
            "2010 compared scans within 4 weeks): the tumour may have changed in between."))
    return findings


def _role_findings(ia: PetScan, iv: PetScan) -> list[Finding]:
    findings = []
    for scan, other in ((ia, "IV"), (iv, "IA")):
        description = str(scan.parameters.get("series_description") or "")
        says_own = bool(_ROLE_WORDS[scan.role].search(description))
        says_other = bool(_ROLE_WORDS[other].search(description))
        if says_other and not says_own:
            findings.append(Finding(
                "role-hint", UNDETERMINED,
                f"The series given as {scan.role} PET is described as {other}: SeriesDescription {description!r}.",
                f"Check --ia and --iv (swapped?); {CONFIRM}."))
    return findings
