"""Physical constants and protocol defaults, each with its source.

Every number used by more than one module lives here, once. Sources are the project notes in
``../shared/reference/`` (``pet-suv-and-ratios.md`` = PET notes, ``dosimetry.md`` = dosimetry notes).
"""

import math

# --- Units ---------------------------------------------------------------------------------------------
SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0
BQ_PER_MBQ = 1.0e6
JOULE_PER_MEV = 1.602176634e-13  # CODATA 2018 exact value of the electronvolt

# --- Half-lives (seconds) ------------------------------------------------------------------------------
# 177Lu: 6.647 d = 574 300.8 s (ICRP-107 Lu-177.json; Lutathera EU SmPC). dosimetry notes §2.
LU177_HALF_LIFE_S = 6.647 * SECONDS_PER_DAY
# 68Ga: 67.71 min = 4062.6 s, the value commonly used in software when the header has none.
# (The IBSI Ga-68 DRO itself carries 4057.7 s in RadionuclideHalfLife; the header wins.) PET notes §3.5.
GA68_HALF_LIFE_S = 4062.6
# 18F: 6586.2 s (QIBA examples, IBSI DROs). PET notes §3.5.
F18_HALF_LIFE_S = 6586.2

LU177_HALF_LIFE_H = LU177_HALF_LIFE_S / SECONDS_PER_HOUR
LU177_DECAY_CONSTANT_PER_H = math.log(2.0) / LU177_HALF_LIFE_H

# Fallback half-lives keyed by nuclide; codes from RadionuclideCodeSequence (0054,0300) (PET notes §3.2).
# Other nuclides are recognised from the code meaning (e.g. "^177^Lutetium").
HALF_LIFE_S_BY_NUCLIDE = {
    "Ga68": GA68_HALF_LIFE_S,
    "F18": F18_HALF_LIFE_S,
    "Lu177": LU177_HALF_LIFE_S,
}
NUCLIDE_BY_CODE = {
    "C-131A1": "Ga68",  # ^68^Gallium
    "C-111A1": "F18",  # ^18^Fluorine
}

# --- 177Lu emissions (ICRP Publication 107, via PyPI icrp107-database 0.0.3). dosimetry notes §2 ---------
LU177_ELECTRON_ENERGY_MEV_PER_DECAY = 0.147923  # beta- (0.133270) + IC (0.013522) + Auger (0.001132)
LU177_PHOTON_ENERGY_MEV_PER_DECAY = 0.035098  # gamma (0.031558) + X-rays (0.003540)
LU177_BETA_MEAN_ENERGY_MEV_PER_DECAY = 0.133270
# Gamma lines used for imaging (ICRP-107 yields): 112.95 keV 6.40 %, 208.366 keV 11.0 %.
LU177_GAMMA_YIELD_113KEV = 0.064
LU177_GAMMA_YIELD_208KEV = 0.110

# Local energy deposition of all 177Lu electrons:
# D[Gy] = TIA[MBq h] * 1e6 Bq/MBq * 3600 s/h * E_e[J] / m[kg]  ->  Gy g / (MBq h) = 0.085320
LU177_LED_GY_G_PER_MBQ_H = (
    LU177_ELECTRON_ENERGY_MEV_PER_DECAY * JOULE_PER_MEV * BQ_PER_MBQ * SECONDS_PER_HOUR / 1.0e-3
)
LU177_CONSTANTS_SOURCE = "ICRP Publication 107 (177Lu: T1/2 6.647 d, electrons 0.147923 MeV/decay)"

# --- Tissue ---------------------------------------------------------------------------------------------
# Soft-tissue density used for VOI masses when no CT is available (issue #4; ICRU soft tissue ~1.04-1.06).
SOFT_TISSUE_DENSITY_G_PER_ML = 1.06

# --- PET uptake metrics ---------------------------------------------------------------------------------
# PERCIST SUVpeak: mean in a 1 mL sphere; r = (3/(4 pi))^(1/3) cm = 6.2035 mm (PET notes §4.1).
SUVPEAK_SPHERE_VOLUME_ML = 1.0
SUVPEAK_SPHERE_RADIUS_MM = 10.0 * (3.0 / (4.0 * math.pi)) ** (1.0 / 3.0)

# --- Trial decision defaults (PET notes §2.5; Kratochwil 2010 reports a 3.75-fold mean increase) ------
DEFAULT_RATIO_METRIC = "suvmax"
DEFAULT_RATIO_AGGREGATE = "mean"
DEFAULT_RATIO_THRESHOLD = 3.0
EXPECTED_LESION_COUNT = 5
