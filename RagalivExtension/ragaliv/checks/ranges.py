"""Plausibility ranges, each with its source, and the tolerances of the consistency checks.

A range has an inner band (values inside raise nothing), an outer band (values there are unusual but possible:
a loud warning) and hard limits (values beyond are impossible or a unit slip: refused unless accepted).
Sources: the project notes (``../shared/reference/pet-suv-and-ratios.md`` = PET notes, ``dosimetry.md`` =
dosimetry notes), product information and guidelines as cited; where no published limit exists the rule is
marked "local rule" with its reasoning, so that a reviewer can change it in one place.
"""

import math
from dataclasses import dataclass
from typing import Optional

from ..constants import LU177_HALF_LIFE_H
from .findings import REFUSE, WARN


@dataclass(frozen=True)
class PlausibleRange:
    """``warn_low <= value <= warn_high``: plausible; beyond the ``refuse_*`` limits: refused."""

    check: str
    quantity: str
    unit: str
    refuse_low: float
    warn_low: float
    warn_high: float
    refuse_high: float
    source: str

    def assess(self, value: float) -> Optional[str]:
        """REFUSE, WARN or None."""
        if not math.isfinite(value) or value < self.refuse_low or value > self.refuse_high:
            return REFUSE
        if value < self.warn_low or value > self.warn_high:
            return WARN
        return None

    def describe(self) -> str:
        return (f"plausible {self.warn_low:g}-{self.warn_high:g} {self.unit}; below {self.refuse_low:g} or above "
                f"{self.refuse_high:g} {self.unit} is refused").strip()


# --- patient -----------------------------------------------------------------------------------------------
# Local rule. The SUV is proportional to the weight, and the trial treats adults (Lutathera is given to adult
# patients). Beyond the hard limits a value is a slip: 10x off (7.8 or 780 for 78 kg) or grams (IBSI reads
# values > 1000 as grams, PET notes §3.2). Pounds (x 2.2) of an adult stay inside: caught by the BMI and by the
# IA/IV weight comparison.
WEIGHT_KG = PlausibleRange("weight", "patient weight", "kg", 20.0, 35.0, 180.0, 350.0,
                           "local rule: adult patients; 10x slips fall outside")
# Local rule: PatientSize is in metres (PET notes §3.2); values > 3 are read as cm by the header rules.
HEIGHT_CM = PlausibleRange("height", "patient height", "cm", 100.0, 140.0, 210.0, 250.0,
                           "local rule: adult patients; PatientSize in m, values above 3 read as cm")
# Body-mass index (kg/m2): WHO classes put BMI >= 40 in obesity class III [M]; 78 kg entered in pounds at
# 1.76 m gives 55. Refused beyond 10-90 (incompatible with life for an adult [M]); local rule.
BMI_KG_M2 = PlausibleRange("bmi", "body-mass index", "kg/m2", 10.0, 15.0, 50.0, 90.0,
                           "local rule: WHO BMI classes [M]; pounds entered as kg give BMI ~ 2.2x")

# --- activities --------------------------------------------------------------------------------------------
# 68Ga-DOTA peptides: EANM procedure guidelines (Virgolini 2010, EJNMMI 37:2004; Bozkurt 2017, EJNMMI 44:1588)
# recommend 100-200 MBq [M: range recalled, guideline titles verified]; the paediatric dosage-card paper for
# 68Ga peptides (EJNMMI 2016, doi:10.1007/s00259-015-3289-x) uses 185 MBq as the adult upper limit and 14 MBq as
# the minimum [V, abstract]. Warned outside 50-300 MBq; refused below 10 MBq (kBq entered as Bq reads 0.148 MBq,
# GBq entered reads 0.148 MBq) and above 1000 MBq (more than a 68Ge/68Ga generator elution gives a patient).
GA68_ACTIVITY_MBQ = PlausibleRange(
    "injected-activity", "injected 68Ga activity", "MBq", 10.0, 50.0, 300.0, 1000.0,
    "EANM 68Ga-DOTA peptide guidelines 100-200 MBq [M]; adult upper limit 185 MBq (EJNMMI 2016, "
    "doi:10.1007/s00259-015-3289-x)")
# Any other PET nuclide (the `suv` command also converts e.g. 18F): only unit slips are refused (local rule).
PET_ACTIVITY_MBQ = PlausibleRange("injected-activity", "injected PET activity", "MBq", 1.0, 20.0, 800.0, 5000.0,
                                  "local rule: diagnostic PET activities are tens to hundreds of MBq")
# 177Lu: Lutathera EU SmPC: 7 400 MBq per vial at the time of infusion (ec.europa.eu anx_161629, [V]); the
# dosimetry notes and spect.study.PLAUSIBLE_ADMINISTERED_MBQ refuse header values outside 100-20 000 MBq
# (GBq read as MBq: 7.4; Bq: 7.4e9). Warned outside 3000-10 000 MBq (reduced or escalated cycles happen).
LU177_ACTIVITY_MBQ = PlausibleRange(
    "administered-activity", "administered 177Lu activity", "MBq", 100.0, 3000.0, 10000.0, 20000.0,
    "Lutathera EU SmPC: 7400 MBq per administration; 100-20000 MBq catches GBq/kBq slips")

# --- times -------------------------------------------------------------------------------------------------
# 68Ga SSTR PET is acquired about 45-90 min after injection [M]; warned outside 20-180 min (local rule).
GA68_UPTAKE_MIN = PlausibleRange("uptake-time", "68Ga uptake time", "min", 0.0, 20.0, 180.0, math.inf,
                                 "68Ga SSTR PET ~45-90 min after injection [M]; local margins")
# Any nuclide: after 10 half-lives less than 0.1 % of the activity is left: no quantitative PET (local rule;
# typically a wrong injection date or a half-life in the wrong unit).
MAX_UPTAKE_HALF_LIVES = 10.0

# --- images ------------------------------------------------------------------------------------------------
# Activity in the PET image as a fraction of the injected activity decayed to the scan: it cannot exceed 1
# (more activity than was injected); 1.5 leaves room for calibration error (local rule). A single absurd voxel
# (1e30 Bq/mL) or an injected activity 10x too small fails it.
PET_ACTIVITY_FRACTION_REFUSE = 1.5
PET_ACTIVITY_FRACTION_WARN = 1.1
# Lesion SUVmax: IV 68Ga-DOTATATE liver lesions average SUVmax 28.7 (Ann Nucl Med 2013, PET notes §6); IA raises
# SUV ~3.75-fold on average (Kratochwil 2010, PET notes §2.1). Above 300 (10x the IV mean) is warned (local rule).
LESION_SUVMAX_WARN = 300.0
# A lesion SUVmax above 10x its SUVpeak (the 1 mL sphere around the hottest region) is an isolated voxel, not
# uptake: PET resolution spreads real uptake over several voxels (local rule).
SUVMAX_OVER_SUVPEAK_OUTLIER = 10.0

# --- SPECT / TAC -------------------------------------------------------------------------------------------
# 177Lu physical mean life 1/lambda = T1/2 / ln 2 = 230.15 h (T1/2 6.647 d, dosimetry notes §2): the largest
# TIAC any region can have (all the activity, forever, no clearance).
LU177_MEAN_LIFE_H = LU177_HALF_LIFE_H / math.log(2.0)
# Measured activities carry calibration error (EANM, Gear 2018: a few %); 10 % margin before refusing.
ACTIVITY_MARGIN = 0.10
# Total activity in one SPECT field of view as a fraction of the decayed administered activity.
SPECT_FRACTION_REFUSE = 1.5
SPECT_FRACTION_WARN = 1.0 + ACTIVITY_MARGIN
# A time point holding less than 1/20 of the largest (decay-corrected) fraction of the study lost a factor
# (the RescaleSlope case: 60x low). Whole-body retention of 177Lu-DOTATATE falls far less than 20x in a week
# [M]; local rule.
SPECT_FRACTION_DROP = 20.0
# All SPECTs of a study holding less than 5 % of the decayed administered activity: a calibration (cps/MBq) or
# unit 10-100x low, or an administered activity typed too large; only warned (a small field of view is possible).
SPECT_FRACTION_LOW_WARN = 0.05
# STUDY.json time/hours against the header acquisition time: agree within max(0.5 h, 5 %) (a SPECT takes
# ~30 min; protocol times are rounded; local rule).
SPECT_TIME_TOLERANCE_H = 0.5
# An injection time entered against the header's RadiopharmaceuticalStartDateTime: a 177Lu-DOTATATE infusion lasts
# about 30-40 min (Lutathera SmPC), so start and end of infusion differ by up to ~0.7 h; a 1 h shift changes the
# doses of the 4-point protocol by about 1 % (review of the adversarial fixes). Refused beyond 1 h (local rule).
INJECTION_TIME_TOLERANCE_H = 1.0
SPECT_TIME_TOLERANCE_REL = 0.05

# A 177Lu TAC whose last point is before 20 h was entered in days (4, 24, 72, 168 h typed as 0.17, 1, 3, 7):
# the trial protocol samples up to 168 h (GUIDE §4 "Kinetics"), and no multi-point 177Lu study ends within the
# first day; the TIA would come out ~24x small (local rule).
TAC_LAST_TIME_MIN_H = 20.0
# A 177Lu TAC whose last point is after 1000 h (6 weeks: 6.3 half-lives, < 1.3 % of the activity left) was
# entered in minutes (24 h = 1440 min, 168 h = 10080 min): 177Lu-DOTATATE dosimetry images up to 7-8 days (the
# trial 168 h; 4/24/72/192 h in dosimetry notes §7.2); the activity checks would blame the activities instead
# (local rule).
TAC_LAST_TIME_MAX_H = 1000.0
# One time point gives a TIA only by the Hänscheid approximation TIA ~ A(t)*2t/ln2 (Hänscheid et al. J Nucl Med
# 2018;59:75), exact when T_eff = t; its error is (2x/ln2)e^-x - 1, x = ln2*t/T_eff (dosimetry notes §4.1).
# 177Lu-DOTATATE kidneys clear with T_eff ~50-60 h, tumours ~70-100 h (dosimetry notes §7.2 [M]). A point before 48 h
# underestimates every such TIA: at 24 h kidney -31..-39 %, tumour -46..-59 %; at 4 h 85-92 % low (6-12x). From
# 48 h the kidney error is within ±10 % (60 h / 1.31 = 46 h), the tumour within -15..-31 %. Refused before
# STP_MIN_TIME_H (the population-T½ single-point error of the renal "Lutate" study is still 30 % at 24 h,
# EJNMMI Phys 2018, 10.1186/s40658-018-0232-9); warned outside STP_WINDOW_H: Hou et al. J Nucl Med 2021 find
# the optimal single time for 177Lu-DOTATATE at ~72 h, Hänscheid 2018 and Sundlöv et al. EJNMMI Phys 2018;5:12
# validate ~96 h; at 168 h the kidney TIA is 20-35 % low.
STP_MIN_TIME_H = 48.0
STP_WINDOW_H = (72.0, 96.0)

# --- IA/IV pair --------------------------------------------------------------------------------------------
# The SUVbw ratio scales with W_IA/W_IV; the two scans are days to weeks apart (Kratochwil 2010: within 4
# weeks). Weights agreeing within 10 % and heights within 3 % (~5 cm) are one patient measured twice; pounds
# (x2.2) or a 10x slip are far outside (local rule).
PAIR_WEIGHT_TOLERANCE_REL = 0.10
PAIR_HEIGHT_TOLERANCE_REL = 0.03
# Residual activity of the first 68Ga injection at the second scan, relative to the second scan's activity:
# above 1 % the second image holds the first tracer too (local rule; 10 half-lives of 68Ga = 11.3 h).
PAIR_RESIDUAL_FRACTION = 0.01
# Kratochwil 2010 (PET notes §2.1): i.v. and i.a. PET/CT within 4 weeks, no therapy in between.
PAIR_MAX_INTERVAL_DAYS = 28.0
