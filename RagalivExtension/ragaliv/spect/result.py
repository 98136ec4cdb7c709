"""Result of a SPECT/CT dosimetry study: TACs, fits, masses, doses, voxel dosimetry, warnings."""

from dataclasses import dataclass, field
from typing import Any, Optional

from ..constants import LU177_CONSTANTS_SOURCE, LU177_HALF_LIFE_H, LU177_LED_GY_G_PER_MBQ_H
from ..kinetics import TacFit, tiac_h
from .dose import RegionDose
from .mass import VoiMass
from .registration import RigidRegistration
from .tables import dvh_rows, fit_details, join, tia_row
from .tac import RegionTac
from .voxel import RegionVoxelDose, VoxelDosimetry


@dataclass
class RegionResult:
    """Everything computed for one VOI. ``fit`` and ``dose`` are None when they could not be computed;
    ``flags`` then says why."""

    region: str
    role: str
    model_requested: str
    tac: RegionTac
    mass: VoiMass
    fit: Optional[TacFit] = None
    dose: Optional[RegionDose] = None
    voxel: Optional[RegionVoxelDose] = None
    flags: list[str] = field(default_factory=list)

    def tiac_h(self, administered_mbq: float) -> Optional[float]:
        return None if self.fit is None else tiac_h(self.fit.tia_mbq_h, administered_mbq)

    def all_flags(self) -> list[str]:
        flags = [*self.flags]
        if self.dose is not None:
            flags.extend(self.dose.flags)
            flags.extend(self.dose.primary.warnings)
            if self.dose.bed is not None:
                flags.extend(self.dose.bed.warnings)
        flags.extend(self.mass.flags)
        if self.voxel is not None:
            flags.extend(self.voxel.flags)
        return flags


@dataclass
class StudyResult:
    """The whole analysis; ``to_dict`` is the ``summary.json`` document (no arrays)."""

    settings: dict[str, Any]
    timepoints: list[dict[str, Any]]
    regions: list[RegionResult]
    registrations: list[RigidRegistration]
    voxel: VoxelDosimetry
    warnings: list[str] = field(default_factory=list)

    @property
    def administered_mbq(self) -> float:
        return float(self.settings["administered_mbq"])

    def region(self, name: str) -> RegionResult:
        for region in self.regions:
            if region.region == name:
                return region
        raise KeyError(name)

    # --- tables ---------------------------------------------------------------------------------------
    def tac_rows(self) -> list[dict[str, Any]]:
        rows = []
        for region in self.regions:
            tac = region.tac
            for index, time_h in enumerate(tac.time_h):
                rows.append({
                    "region": region.region,
                    "time_h": time_h,
                    "activity_mbq": tac.activity_mbq[index],
                    "mean_concentration_bq_per_ml": tac.mean_concentration_bq_per_ml[index],
                    "volume_ml": tac.volume_ml,
                    "recovery_coefficient": tac.recovery_coefficient,
                    "fraction_outside_fov": tac.fraction_outside_fov[index],
                })
        return rows

    def tia_rows(self) -> list[dict[str, Any]]:
        rows = []
        for region in self.regions:
            row = tia_row(region.region, region.fit, self.administered_mbq, region.flags)
            row["voxel_tia_mbq_h"] = None if region.voxel is None else region.voxel.voxel_tia_mbq_h
            rows.append(row)
        return rows

    def dose_rows(self) -> list[dict[str, Any]]:
        rows = []
        for region in self.regions:
            mass = region.mass
            row: dict[str, Any] = {
                "region": region.region,
                "mass_g": mass.mass_g,
                "role": region.role,
                "density_g_per_ml": mass.density_g_per_ml,
                "mass_source": mass.source,
                "tia_mbq_h": None if region.fit is None else region.fit.tia_mbq_h,
                "flags": join(region.all_flags()),
            }
            dose = region.dose
            if dose is not None:
                row.update({
                    "method": dose.method_key,
                    "dose_gy": dose.primary.dose_gy,
                    "dose_gy_per_gbq": dose.primary.dose_gy_per_gbq,
                    "dose_rel_uncertainty": dose.primary.dose_rel_uncertainty,
                    "source": dose.primary.source,
                    "led_dose_gy": dose.led.dose_gy,
                    "bed_gy": None if dose.bed is None else dose.bed.bed_gy,
                    "method_description": dose.primary.method,
                })
            if region.voxel is not None:
                row.update({
                    "voxel_mean_dose_gy": region.voxel.mean_gy,
                    "voxel_d2_gy": region.voxel.d2_gy,
                    "voxel_d50_gy": region.voxel.d50_gy,
                    "voxel_d98_gy": region.voxel.d98_gy,
                })
            rows.append(row)
        return rows

    def dvh_rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for region in self.regions:
            if region.voxel is not None:
                dvh = region.voxel.dvh
                rows.extend(dvh_rows(region.region, dvh.dose_gy, dvh.volume_fraction, region.voxel.covered_volume_ml))
        return rows

    # --- document -------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        regions = {}
        for region in self.regions:
            regions[region.region] = {
                "role": region.role,
                "model_requested": region.model_requested,
                "tac": region.tac.to_dict(),
                "mass": region.mass.to_dict(),
                "fit": None if region.fit is None else fit_details(region.fit, self.administered_mbq),
                "dose": None if region.dose is None else region.dose.to_dict(),
                "voxel": None if region.voxel is None else region.voxel.to_dict(),
                "flags": list(dict.fromkeys(flag for flag in region.all_flags() if flag)),
            }
        return {
            "settings": self.settings,
            "constants": {
                "half_life_h": LU177_HALF_LIFE_H,
                "led_gy_g_per_mbq_h": LU177_LED_GY_G_PER_MBQ_H,
                "source": LU177_CONSTANTS_SOURCE,
            },
            "timepoints": self.timepoints,
            "registrations": [r.to_dict() for r in self.registrations],
            "regions": regions,
            "voxel_dosimetry": self.voxel.to_dict(),
            "warnings": list(self.warnings),
        }
