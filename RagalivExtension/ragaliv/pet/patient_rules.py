"""Header rules for the patient and the radiopharmaceutical: weight, height, sex, body size, injected activity,
nuclide and half-life, each with its source and the override that replaces it (PET notes §3.2, §3.5; IBSI).

:meth:`PatientRules.check_plausibility` runs the plausibility checks of :mod:`ragaliv.checks.pet_values` on the
values used (ranges with sources, nuclide identity, uptake time): impossible values are refused (unless the user
accepts them, ``SuvOverrides.accept``), unusual ones become warnings of the SUV parameters.
"""

import re
from typing import Optional

from .. import constants
from ..checks.findings import REFUSE, WARN, Finding, apply_findings
from ..checks.nuclides import half_life_findings
from ..checks.pet_values import bmi_finding, height_finding, injected_activity_finding, uptake_findings, weight_finding
from ..errors import RagalivInputError
from . import body
from .dicom_values import dicom_number, dicom_text
from .suv_parameters import (
    DOSE_IN_MBQ_BELOW,
    ELEMENT_SYMBOLS,
    G_PER_KG,
    HEIGHT_IN_CM_ABOVE,
    OVERRIDE_HINTS,
    WEIGHT_IN_GRAMS_ABOVE,
    Normalizer,
    describe_missing,
)


class PatientRules:
    """Part of :class:`~ragaliv.pet.header_rules.HeaderRules` (uses its ``first``, ``overrides``, ``sources``,
    ``warnings``, ``cached`` and ``override_source``)."""

    def weight_kg(self) -> float:
        header = dicom_number(self.first, "PatientWeight")
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
                f"({header / G_PER_KG:g} kg, IBSI heuristic). Check it or set --weight-kg."
            )
            self.sources["weight_kg"] += " read as grams (value > 1000, IBSI)"
            return header / G_PER_KG
        return header

    def height_cm(self) -> float:
        header = dicom_number(self.first, "PatientSize")
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
        text = dicom_text(self.first, "PatientSex")
        code = body.normalize_sex(text)
        if text.upper() in ("M", "F", "O"):
            self.sources["sex"] = "DICOM PatientSex (0010,0040)"
        else:
            self.sources["sex"] = f"default O: PatientSex (0010,0040) is {text or 'empty'!r}"
        if code == "O":
            self.sources["sex"] += " (mean of the male and female formulas, IBSI)"
        return code

    def body_size(self, normalizer: Normalizer) -> float:
        """Body-size value of ``normalizer`` in g or cm², fetching only the inputs it needs."""
        weight = self.cached("weight_kg", self.weight_kg)
        height = self.cached("height_cm", self.height_cm) if normalizer.needs_height else None
        sex = self.cached("sex", self.sex) if normalizer.needs_sex else None
        if normalizer.needs_sex and sex == "O" and "sex_warned" not in self._cache:
            self._cache["sex_warned"] = True
            self.warnings.append(
                f"Sex is other or unknown (PatientSex (0010,0040) {dicom_text(self.first, 'PatientSex')!r}): "
                f"{normalizer.quantity} uses the mean of the male and female formulas (IBSI). Set --sex M|F."
            )
        return normalizer.size(weight, height, sex)

    # --- radiopharmaceutical -----------------------------------------------------------------------------
    def injected_dose_bq(self) -> float:
        header = dicom_number(self.radiopharmaceutical, "RadionuclideTotalDose")
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
        value = dicom_text(code, "CodeValue")
        if value in constants.NUCLIDE_BY_CODE:
            self.sources["nuclide"] = f"RadionuclideCodeSequence (0054,0300) CodeValue {value}"
            return constants.NUCLIDE_BY_CODE[value]
        meaning = dicom_text(code, "CodeMeaning")
        match = re.search(r"\^(\d+)\^\s*([A-Za-z]+)", meaning)
        if match and match.group(2).lower() in ELEMENT_SYMBOLS:
            self.sources["nuclide"] = f"RadionuclideCodeSequence (0054,0300) CodeMeaning {meaning!r}"
            return f"{ELEMENT_SYMBOLS[match.group(2).lower()]}{int(match.group(1))}"
        name = dicom_text(item, "Radiopharmaceutical")
        symbols = "|".join(sorted(set(ELEMENT_SYMBOLS.values()), key=len, reverse=True))
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
        header = dicom_number(self.radiopharmaceutical, "RadionuclideHalfLife")
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

    # --- plausibility -------------------------------------------------------------------------------------
    def check_plausibility(self) -> None:
        """Ranges, nuclide identity and uptake time of the values used for an activity-based SUV (refusals raise
        :class:`RagalivInputError` naming the tag, the value, the range and the fix; see :mod:`ragaliv.checks`)."""
        p = self.params
        sources = self.sources
        weight = weight_finding(p.weight_kg, sources.get("weight_kg", ""), OVERRIDE_HINTS["weight_kg"])
        body = [height_finding(p.height_cm, sources.get("height_cm", ""), OVERRIDE_HINTS["height_cm"])]
        if not any(f is not None and f.severity == REFUSE for f in (weight, body[0])):
            body.append(bmi_finding(p.weight_kg, p.height_cm))
        if not self.target.needs_height:  # the height is reported, not used: never refuse the SUV for it
            body = [f if f is None or f.severity != REFUSE else Finding(f.check, WARN, f.message) for f in body]
        findings = [weight, *body]
        named = p.nuclide
        named_source = sources.get("nuclide", "")
        identity, nuclide = half_life_findings(
            p.half_life_s, sources.get("half_life_s", ""), named, named_source,
            overridden=self.overrides.half_life_s is not None,
        )
        findings.extend(identity)
        if nuclide and nuclide != named:
            p.nuclide = nuclide
            sources["nuclide"] = (f"inferred from the half-life {p.half_life_s:g} s ({sources.get('half_life_s', '')})"
                                  + (f"; the header named {named}" if named else ""))
        if p.injected_dose_bq is not None:
            findings.append(injected_activity_finding(p.injected_dose_bq / constants.BQ_PER_MBQ, p.nuclide,
                                                      sources.get("injected_dose_bq", ""),
                                                      OVERRIDE_HINTS["injected_dose_mbq"]))
        if p.decay_correction != "ADMIN" and not any(f.severity == REFUSE for f in identity):
            findings.extend(uptake_findings(
                p.decay_time_s, p.half_life_s, p.nuclide,
                f"injection {sources.get('injection_time', '')} to scan {sources.get('scan_reference_time', '')}",
            ))
        apply_findings([f for f in findings if f is not None], self.overrides.accept, self.warnings)
