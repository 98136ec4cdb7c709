"""What each tissue looks like in each modality, and how it takes up 68Ga and 177Lu peptides.

Values are plausible, not measured: T1-weighted post-contrast MRI signal (a.u.), CT numbers (HU) of a
low-dose non-contrast CT, 68Ga-DOTATATE SUVbw on the IV scan with the IA/IV ratio, and 177Lu-DOTATATE
activity concentrations after 7.4 GBq. Physiological SUVs follow the ranking spleen > kidneys > liver
(PET notes §6); lesion IA/IV ratios spread around 3 (Kratochwil 2010: 3.75 on average).
"""

from dataclasses import dataclass

MRI_SIGNAL = {
    "air": 0.0, "fat": 820.0, "muscle": 330.0, "lung": 25.0, "bowel": 380.0, "colon": 300.0,
    "stomach": 150.0, "gas": 8.0, "pancreas": 520.0, "liver": 640.0, "bile": 90.0, "spleen": 470.0,
    "kidney": 700.0, "renal medulla": 420.0, "blood": 880.0, "cortical bone": 45.0, "bone marrow": 540.0,
    "disc": 210.0, "csf": 120.0, "lesion 1": 285.0, "lesion 2": 300.0, "lesion 3": 265.0,
    "lesion 4": 310.0, "lesion 5": 290.0, "extrahepatic 1": 340.0,
}

CT_HU = {
    "air": -1000.0, "fat": -100.0, "muscle": 45.0, "lung": -820.0, "bowel": 25.0, "colon": 10.0,
    "stomach": 15.0, "gas": -950.0, "pancreas": 40.0, "liver": 58.0, "bile": 8.0, "spleen": 48.0,
    "kidney": 32.0, "renal medulla": 28.0, "blood": 42.0, "cortical bone": 750.0, "bone marrow": 210.0,
    "disc": 90.0, "csf": 12.0, "lesion 1": 40.0, "lesion 2": 42.0, "lesion 3": 38.0, "lesion 4": 44.0,
    "lesion 5": 41.0, "extrahepatic 1": 45.0,
}

# 68Ga-DOTATATE SUVbw on the intravenous scan, and the IA/IV ratio of each tissue. Lesion ratios are
# drawn per patient (see patient.py); here are the ratios of the canonical patient (seed 0).
PET_SUV_IV = {
    "air": 0.0, "fat": 0.25, "muscle": 0.6, "lung": 0.3, "bowel": 1.8, "colon": 1.2, "stomach": 2.5,
    "gas": 0.0, "pancreas": 3.5, "liver": 6.0, "bile": 0.5, "spleen": 22.0, "kidney": 14.0,
    "renal medulla": 14.0, "blood": 1.6, "cortical bone": 0.4, "bone marrow": 1.1, "disc": 0.5,
    "csf": 0.3, "lesion 1": 22.0, "lesion 2": 18.0, "lesion 3": 26.0, "lesion 4": 15.0, "lesion 5": 20.0,
    "extrahepatic 1": 16.0,
}
SYSTEMIC_IA_IV_RATIO = 0.8  # intra-arterial first-pass extraction lowers what reaches the rest of the body
PET_IA_IV_RATIO = {
    "air": 1.0, "gas": 1.0, "liver": 1.35, "spleen": 0.72, "kidney": 0.78, "renal medulla": 0.78,
    "bone marrow": 0.80, "blood": 0.75, "extrahepatic 1": 0.85, "pancreas": 0.9,
    "lesion 1": 3.9, "lesion 2": 2.8, "lesion 3": 4.6, "lesion 4": 2.2, "lesion 5": 3.3,
}


def ia_iv_ratio(tissue: str) -> float:
    return PET_IA_IV_RATIO.get(tissue, SYSTEMIC_IA_IV_RATIO)


@dataclass(frozen=True)
class Kinetics:
    """177Lu activity concentration c(t) = C (exp(-l1 t) - exp(-l2 t)), t in h after administration.

    l1 = ln2 / effective half-life (clearance), l2 = ln2 / uptake half-time; both include physical decay.
    The scale C is set from the concentration at 24 h (``c24_mbq_per_ml``).
    """

    c24_mbq_per_ml: float
    effective_half_life_h: float
    uptake_half_time_h: float = 0.5


SPECT_KINETICS: dict[str, Kinetics] = {
    "air": Kinetics(0.0, 30.0), "gas": Kinetics(0.0, 30.0), "fat": Kinetics(0.001, 25.0),
    "muscle": Kinetics(0.004, 25.0), "lung": Kinetics(0.001, 25.0), "bowel": Kinetics(0.010, 40.0),
    "colon": Kinetics(0.010, 40.0), "stomach": Kinetics(0.012, 40.0), "pancreas": Kinetics(0.030, 55.0),
    "liver": Kinetics(0.100, 70.0), "bile": Kinetics(0.020, 40.0), "spleen": Kinetics(0.450, 65.0),
    "kidney": Kinetics(0.550, 50.0), "renal medulla": Kinetics(0.550, 50.0), "blood": Kinetics(0.015, 30.0),
    "cortical bone": Kinetics(0.003, 35.0), "bone marrow": Kinetics(0.030, 60.0), "disc": Kinetics(0.002, 30.0),
    "csf": Kinetics(0.001, 30.0), "lesion 1": Kinetics(2.0, 85.0), "lesion 2": Kinetics(3.0, 95.0),
    "lesion 3": Kinetics(1.5, 80.0), "lesion 4": Kinetics(3.5, 100.0), "lesion 5": Kinetics(2.5, 90.0),
    "extrahepatic 1": Kinetics(1.2, 90.0),
}
