"""CT numbers to mass density (VOI masses for dosimetry)."""

import numpy as np

CT_DENSITY_CALIBRATION = (
    "bilinear HU->density: 1 + HU/1000 up to 0 HU (air-water), 1 + 0.0006 HU above (soft tissue to "
    "cortical bone, 1.45 g/mL at 750 HU); a stated approximation in the spirit of Schneider et al. 1996"
)


def hounsfield_to_density_g_per_ml(hu) -> np.ndarray:
    """Mass density (g/mL) from CT numbers with the bilinear calibration above."""
    hu = np.asarray(hu, dtype=float)
    return np.where(hu <= 0.0, 1.0 + hu / 1000.0, 1.0 + 0.0006 * hu).clip(0.0012, None)
