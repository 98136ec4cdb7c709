"""VOI masses: mean CT density over the VOI × VOI volume, or the soft-tissue default.

* With a CT of the reference time point: HU → density by the bilinear calibration of
  :func:`ragaliv.spect.ct.hounsfield_to_density_g_per_ml` (ρ = 1 + HU/1000 up to 0 HU, 1 + 0.0006·HU
  above), averaged over the VOI with partial-voxel weights on the CT grid; mass = ρ̄ · V (V from the
  segment's own grid).
* Without a CT (or a VOI outside it): ρ = 1.06 g/mL (:data:`ragaliv.constants.SOFT_TISSUE_DENSITY_G_PER_ML`).

Mass uncertainty (Ragaliv convention, overridable with STUDY.json ``mass_rel_uncertainty``): only the
density term counts, because the same VOI volume V multiplies both the TIA (A = C̄·V) and the mass, so it
cancels in every self-dose D ∝ TIA/m. Defaults: 2 % for a CT density (soft tissue: the water and bone
calibration lines differ by ~2.4 % at +60 HU) and 3 % for the default density (ICRU soft tissues
1.03-1.10 g/mL around 1.06).
"""

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..constants import SOFT_TISSUE_DENSITY_G_PER_ML
from ..geometry import SegmentMask, Volume
from ..sampling import segment_weights
from .ct import hounsfield_to_density_g_per_ml

CT_DENSITY_REL_UNCERTAINTY = 0.02
DEFAULT_DENSITY_REL_UNCERTAINTY = 0.03
CT_SOURCE = "CT"
DEFAULT_SOURCE = "default density"


@dataclass
class VoiMass:
    """Mass of one VOI and where its density came from (``source``: "CT" or "default density")."""

    region: str
    volume_ml: float
    density_g_per_ml: float
    mass_g: float
    source: str
    description: str
    mass_rel_uncertainty: float
    flags: list[str] = field(default_factory=list)

    def to_dict(self):
        return {
            "region": self.region,
            "volume_ml": self.volume_ml,
            "density_g_per_ml": self.density_g_per_ml,
            "mass_g": self.mass_g,
            "source": self.source,
            "description": self.description,
            "mass_rel_uncertainty": self.mass_rel_uncertainty,
            "flags": list(self.flags),
        }


def voi_mass(segment: SegmentMask, ct: Optional[Volume], mass_rel_uncertainty: Optional[float] = None) -> VoiMass:
    """Mass of ``segment`` from ``ct`` (HU) when given, else from the soft-tissue default density."""
    volume_ml = segment.volume_ml
    flags: list[str] = []
    if ct is not None:
        weights = segment_weights(segment, ct.geometry)
        total = float(weights.weight.sum())
        if total > 0.0:

            hu = np.asarray(ct.array).ravel()[weights.flat_index].astype(np.float64)
            density = float(np.dot(hounsfield_to_density_g_per_ml(hu), weights.weight) / total)
            if weights.fraction_outside > 0.0:
                flags.append(f"{weights.fraction_outside:.1%} of the VOI outside the CT; density from the rest")
            uncertainty = CT_DENSITY_REL_UNCERTAINTY if mass_rel_uncertainty is None else mass_rel_uncertainty
            description = (
                f"mean CT density {density:.4f} g/mL (bilinear HU→density: 1+HU/1000 below 0 HU, 1+0.0006·HU "
                "above) over the VOI on the reference CT × VOI volume"
            )
            return VoiMass(segment.name, volume_ml, density, density * volume_ml, CT_SOURCE, description,
                           uncertainty, flags)
        flags.append("VOI outside the reference CT: default density used")
    density = SOFT_TISSUE_DENSITY_G_PER_ML
    uncertainty = DEFAULT_DENSITY_REL_UNCERTAINTY if mass_rel_uncertainty is None else mass_rel_uncertainty
    description = f"default soft-tissue density {density:g} g/mL × VOI volume (no CT)"
    return VoiMass(segment.name, volume_ml, density, density * volume_ml, DEFAULT_SOURCE, description,
                   uncertainty, flags)
