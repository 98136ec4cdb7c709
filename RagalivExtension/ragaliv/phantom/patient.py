"""The synthetic RAGALIV patient: MRI, IA and IV 68Ga PET, lesion/organ segments, 177Lu SPECT/CT study.

Everything is computed from the analytic anatomy (``anatomy.py``) and the tissue tables (``tissues.py``);
the truth (concentrations, SUVs, ratios, TACs, TIAs) follows from the same numbers, so it is exact by
construction. ``seed`` varies the patient (body size, injected activities, lesion positions, lesion
IA/IV ratios) and the noise; seed 0 is the canonical patient.
"""

import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
from scipy import ndimage

from ..constants import GA68_HALF_LIFE_S, LU177_HALF_LIFE_H, SOFT_TISSUE_DENSITY_G_PER_ML
from ..geometry import Geometry, SegmentMask, Volume
from ..roles import role_of
from ..spect.ct import hounsfield_to_density_g_per_ml
from .anatomy import UPTAKE_MARGIN_MM, Anatomy, build_anatomy, label_map, tissue_names
from .tissues import CT_HU, MRI_SIGNAL, PET_SUV_IV, SPECT_KINETICS, Kinetics, ia_iv_ratio

SPECT_TIMEPOINTS_H = (4.0, 24.0, 72.0, 168.0)
SPECT_ADMINISTERED_MBQ = 7400.0
SEGMENT_COLORS = {
    "lesion": (0.90, 0.30, 0.20), "healthy_liver": (0.85, 0.65, 0.45), "kidney": (0.55, 0.30, 0.65),
    "spleen": (0.20, 0.55, 0.80), "bone_marrow": (0.95, 0.85, 0.35), "extrahepatic": (0.95, 0.50, 0.70),
}

# Grids (axis-aligned, LPS). Different grids and voxel sizes on purpose: the PETs are not resampled.
MRI_GRID = Geometry.from_spacing((100, 256, 256), (1.5, 1.5, 3.0), (-191.25, -191.25, -148.5))
IA_PET_GRID = Geometry.from_spacing((100, 168, 168), (4.0728, 4.0728, 3.0), (-339.97, -339.97, -149.0))
IV_PET_GRID = Geometry.from_spacing((95, 200, 200), (3.6458, 3.6458, 3.27), (-362.75, -362.75, -157.3))
SPECT_GRID = Geometry.from_spacing((80, 128, 128), (4.7952, 4.7952, 4.7952), (-304.5, -304.5, -189.4))
CT_GRID = Geometry.from_spacing((128, 160, 160), (3.125, 3.125, 3.0), (-248.4375, -248.4375, -190.5))


@dataclass
class PetScan:
    role: str  # "IA" or "IV"
    activity: Volume  # Bq/mL decay-corrected to the scan start (DecayCorrection START)
    injected_mbq: float
    injection_time: datetime.datetime
    scan_time: datetime.datetime
    half_life_s: float
    suv_per_bq_per_ml: float  # weight_g / decayed dose: SUVbw = Bq/mL * this
    tissue_suv: dict[str, float]


@dataclass
class SpectTimepoint:
    time_h: float
    acquisition_time: datetime.datetime
    activity: Volume  # Bq/mL at acquisition, NOT decay corrected
    ct: Volume  # HU


@dataclass
class SyntheticPatient:
    seed: int
    patient_name: str
    patient_id: str
    birth_date: str
    weight_kg: float
    height_cm: float
    sex: str
    anatomy: Anatomy
    mri: Volume
    segments: list[SegmentMask]
    ia: PetScan
    iv: PetScan
    spect_injection_time: datetime.datetime
    administered_mbq: float
    spect: list[SpectTimepoint]
    spect_segments: list[SegmentMask]
    blur_fwhm_mm: float
    noise: bool
    truth: dict[str, Any] = field(default_factory=dict)
    spect_shift_mm: Optional[Sequence[float]] = None


def _kinetic_rates(kinetics: Kinetics):
    clearance = math.log(2.0) / kinetics.effective_half_life_h
    uptake = math.log(2.0) / kinetics.uptake_half_time_h
    scale = kinetics.c24_mbq_per_ml / (math.exp(-clearance * 24.0) - math.exp(-uptake * 24.0))
    return scale, clearance, uptake


def concentration_mbq_per_ml(kinetics: Kinetics, time_h: float) -> float:
    scale, clearance, uptake = _kinetic_rates(kinetics)
    return scale * (math.exp(-clearance * time_h) - math.exp(-uptake * time_h))


def integral_mbq_h_per_ml(kinetics: Kinetics) -> float:
    """∫0^∞ c(t) dt, analytic."""
    scale, clearance, uptake = _kinetic_rates(kinetics)
    return scale * (1.0 / clearance - 1.0 / uptake)


def _gaussian_blur(volume: Volume, fwhm_mm: float) -> Volume:
    if fwhm_mm <= 0:
        return volume
    sigma_voxels = fwhm_mm / (2.0 * math.sqrt(2.0 * math.log(2.0))) / volume.geometry.spacing_mm[::-1]
    blurred = ndimage.gaussian_filter(volume.array, sigma_voxels, mode="nearest")
    return Volume(blurred, volume.geometry, volume.unit)


def _broadcast_axes(geometry: Geometry):
    """LPS coordinates of the voxel centres of an axis-aligned grid, as broadcastable [k, j, i] arrays."""
    origin, spacing = geometry.origin_lps_mm, geometry.spacing_mm
    x, y, z = (origin[a] + spacing[a] * np.arange(geometry.size_ijk[a]) for a in range(3))
    return x[np.newaxis, np.newaxis, :], y[np.newaxis, :, np.newaxis], z[:, np.newaxis, np.newaxis]


def _rasterise_voi(anatomy: Anatomy, name: str, geometry: Geometry) -> np.ndarray:
    """A VOI mask on ``geometry``: explicit spheres, or an organ eroded by the uptake margin."""
    x, y, z = _broadcast_axes(geometry)
    if name in anatomy.voi_shapes:
        mask = np.zeros(geometry.shape_kji, bool)
        for shape in anatomy.voi_shapes[name]:
            mask |= shape.contains(x, y, z)
        return mask
    organ = anatomy.structure(anatomy.eroded_organ_vois[name])
    # Work in the organ's bounding box (plus two voxels of outside) only: the distance transform of the
    # whole grid would cost seconds.
    low, high = organ.shape.bounds()
    ranges = []
    for axis, values in enumerate((x.ravel(), y.ravel(), z.ravel())):
        inside = np.flatnonzero((values >= low[axis]) & (values <= high[axis]))
        ranges.append(slice(max(int(inside[0]) - 2, 0), min(int(inside[-1]) + 3, len(values))))
    box = (ranges[2], ranges[1], ranges[0])
    organ_mask = np.zeros(geometry.shape_kji, bool)
    organ_mask[box] = organ.shape.contains(x[..., ranges[0]], y[:, ranges[1], :], z[ranges[2]])
    # Distance (mm) from each voxel centre to the nearest centre outside the organ; keep a margin plus
    # half the largest voxel size, so the VOI stays UPTAKE_MARGIN_MM inside the analytic organ surface.
    distance = ndimage.distance_transform_edt(organ_mask[box], sampling=geometry.spacing_mm[::-1])
    mask = np.zeros(geometry.shape_kji, bool)
    mask[box] = distance > UPTAKE_MARGIN_MM + geometry.spacing_mm.max() / 2.0
    return mask


def build_segments(anatomy: Anatomy, geometry: Geometry) -> list[SegmentMask]:
    """Segments named as the protocol expects, rasterised at the voxel centres of ``geometry``."""
    x, y, z = _broadcast_axes(geometry)
    segments = []
    for lesion in anatomy.lesions:
        mask = anatomy.structure(lesion.name).shape.contains(x, y, z)
        segments.append(_segment(lesion.name, mask, geometry))
    for name in ("Healthy liver", "Kidney left", "Kidney right", "Spleen", "Bone marrow"):
        segments.append(_segment(name, _rasterise_voi(anatomy, name, geometry), geometry))
    order = ["Lesion 1", "Lesion 2", "Lesion 3", "Lesion 4", "Lesion 5", "Healthy liver", "Kidney left",
             "Kidney right", "Spleen", "Bone marrow", "Extrahepatic 1"]
    return sorted(segments, key=lambda segment: order.index(segment.name))


def _segment(name: str, mask: np.ndarray, geometry: Geometry) -> SegmentMask:
    segment_id = name.replace(" ", "_")
    color = SEGMENT_COLORS.get(role_of(name), (0.6, 0.6, 0.6))
    return SegmentMask.from_full_mask(name, mask, geometry, segment_id=segment_id, color_rgb=color)


def voi_tissue(anatomy: Anatomy, segment_name: str) -> str:
    """The tissue whose activity fills a VOI (by construction every VOI lies in one tissue)."""
    for lesion in anatomy.lesions:
        if lesion.name == segment_name:
            return lesion.tissue
    return {"Healthy liver": "liver", "Kidney left": "kidney", "Kidney right": "kidney", "Spleen": "spleen",
            "Bone marrow": "bone marrow"}[segment_name]


def _patient_variation(seed: int) -> dict[str, Any]:
    if seed == 0:
        return {"weight_kg": 78.0, "height_cm": 176.0, "sex": "M", "ia_mbq": 148.0, "iv_mbq": 162.0,
                "jitter": np.zeros((5, 3)), "lesion_ratios": None, "ia_uptake_min": 53.5,
                "iv_uptake_min": 61.0}
    rng = np.random.default_rng(seed)
    sex = "M" if rng.random() < 0.5 else "F"
    height = float(np.round(rng.normal(176 if sex == "M" else 164, 7), 1))
    weight = float(np.round(rng.normal(80 if sex == "M" else 67, 10), 1))
    patient_mean = float(rng.uniform(2.0, 4.6))
    ratios = np.round(patient_mean * np.exp(rng.normal(0.0, 0.18, 5)), 2)
    return {"weight_kg": weight, "height_cm": height, "sex": sex,
            "ia_mbq": float(np.round(rng.uniform(120, 180), 1)), "iv_mbq": float(np.round(rng.uniform(130, 190), 1)),
            "jitter": rng.uniform(-3.0, 3.0, (5, 3)), "lesion_ratios": ratios.tolist(),
            "ia_uptake_min": float(np.round(rng.uniform(45, 70), 1)),
            "iv_uptake_min": float(np.round(rng.uniform(50, 75), 1))}


def build_patient(
    seed: int = 0,
    blur_fwhm_mm: float = 0.0,
    noise: bool = False,
    spect_shift_mm: Optional[Sequence[float]] = None,
) -> SyntheticPatient:
    """Build the patient in memory (no files). Deterministic for a given seed and options."""
    variation = _patient_variation(seed)
    anatomy = build_anatomy(variation["jitter"])
    names = tissue_names(anatomy)
    rng = np.random.default_rng(10_000 + seed)

    ia_ratio = {name: ia_iv_ratio(name) for name in names}
    if variation["lesion_ratios"] is not None:
        for index, ratio in enumerate(variation["lesion_ratios"]):
            ia_ratio[f"lesion {index + 1}"] = ratio

    # --- MRI (T1-like) with a smooth coil-sensitivity field and Rician-like noise. -------------------------
    mri_labels = label_map(anatomy, MRI_GRID, uptake=False)
    mri = np.array([MRI_SIGNAL[name] for name in names])[mri_labels]
    mri = ndimage.gaussian_filter(mri, 0.6)
    x, y, z = MRI_GRID.voxel_centres_lps()
    bias = 1.0 + 0.12 * np.cos(x / 260.0) * np.cos((y + 40.0) / 300.0) - 0.05 * (z / 150.0) ** 2
    mri = mri * bias
    noise_level = 12.0
    mri = np.sqrt((mri + rng.normal(0, noise_level, mri.shape)) ** 2 + rng.normal(0, noise_level, mri.shape) ** 2)
    mri_volume = Volume(np.clip(mri, 0, 4000).astype(np.float32), MRI_GRID, "a.u.")
    del x, y, z

    segments = build_segments(anatomy, MRI_GRID)

    weight_kg = variation["weight_kg"]
    day_one = datetime.datetime(2026, 3, 10, 9, 12, 0)
    scans = {}
    for role, grid, injected, injection_time, uptake_min in (
        ("IA", IA_PET_GRID, variation["ia_mbq"], day_one, variation["ia_uptake_min"]),
        ("IV", IV_PET_GRID, variation["iv_mbq"], day_one + datetime.timedelta(days=2, minutes=-25),
         variation["iv_uptake_min"]),
    ):
        scan_time = injection_time + datetime.timedelta(minutes=uptake_min)
        decay_s = (scan_time - injection_time).total_seconds()
        decayed_bq = injected * 1e6 * 2.0 ** (-decay_s / GA68_HALF_LIFE_S)
        suv_per_bqml = weight_kg * 1000.0 / decayed_bq
        tissue_suv = {name: PET_SUV_IV[name] * (ia_ratio[name] if role == "IA" else 1.0) for name in names}
        labels = label_map(anatomy, grid, uptake=True)
        suv_lut = np.array([tissue_suv[name] for name in names])
        activity = Volume(suv_lut[labels] / suv_per_bqml, grid, "Bq/mL")
        activity = _gaussian_blur(activity, blur_fwhm_mm)
        if noise:
            activity.array = activity.array * (1.0 + rng.normal(0.0, 0.08, activity.array.shape))
        scans[role] = PetScan(role, activity, injected, injection_time, scan_time, GA68_HALF_LIFE_S,
                              suv_per_bqml, tissue_suv)

    # --- 177Lu SPECT/CT after the intra-arterial fifth cycle. ---------------------------------------------
    spect_injection = datetime.datetime(2026, 4, 21, 10, 0, 0)
    spect_labels = label_map(anatomy, SPECT_GRID, uptake=True)
    ct_labels = label_map(anatomy, CT_GRID, uptake=False)
    hu_lut = np.array([CT_HU[name] for name in names])
    timepoints = []
    for index, time_h in enumerate(SPECT_TIMEPOINTS_H):
        lut = np.array([concentration_mbq_per_ml(SPECT_KINETICS[name], time_h) * 1e6 for name in names])
        spect_geometry, ct_geometry = SPECT_GRID, CT_GRID
        if spect_shift_mm is not None and index > 0:
            shift = np.asarray(spect_shift_mm, float) * index / (len(SPECT_TIMEPOINTS_H) - 1)
            spect_geometry = _shifted(SPECT_GRID, shift)
            ct_geometry = _shifted(CT_GRID, shift)
        activity = Volume(lut[spect_labels], spect_geometry, "Bq/mL")
        activity = _gaussian_blur(activity, blur_fwhm_mm)
        if noise:
            activity.array = np.clip(activity.array * (1.0 + rng.normal(0.0, 0.10, activity.array.shape)), 0, None)
        ct = hu_lut[ct_labels] + (rng.normal(0.0, 8.0, ct_labels.shape) if noise else 0.0)
        timepoints.append(SpectTimepoint(time_h, spect_injection + datetime.timedelta(hours=time_h), activity,
                                         Volume(ct.astype(np.float32), ct_geometry, "HU")))
    spect_segments = build_segments(anatomy, CT_GRID)

    patient = SyntheticPatient(
        seed=seed,
        patient_name=f"RAGALIV^SYNTHETIC{seed:03d}",
        patient_id=f"RGL-SYN-{seed:03d}",
        birth_date="19580614",
        weight_kg=weight_kg,
        height_cm=variation["height_cm"],
        sex=variation["sex"],
        anatomy=anatomy,
        mri=mri_volume,
        segments=segments,
        ia=scans["IA"],
        iv=scans["IV"],
        spect_injection_time=spect_injection,
        administered_mbq=SPECT_ADMINISTERED_MBQ,
        spect=timepoints,
        spect_segments=spect_segments,
        blur_fwhm_mm=blur_fwhm_mm,
        noise=noise,
        spect_shift_mm=spect_shift_mm,
    )
    patient.truth = build_truth(patient)
    return patient


def _shifted(geometry: Geometry, shift_mm: np.ndarray) -> Geometry:
    matrix = np.array(geometry.ijk_to_lps)
    matrix[:3, 3] += shift_mm
    return Geometry(geometry.shape_kji, matrix)


def build_truth(patient: SyntheticPatient) -> dict[str, Any]:
    """Everything the tests compare to, computed from the same tables that drew the images."""
    anatomy = patient.anatomy
    segments = {}
    lesion_ratios = []
    for segment in patient.segments:
        tissue = voi_tissue(anatomy, segment.name)
        entry: dict[str, Any] = {"role": role_of(segment.name), "tissue": tissue, "volume_ml": segment.volume_ml}
        for scan in (patient.ia, patient.iv):
            suv = scan.tissue_suv[tissue]
            entry[scan.role.lower()] = {
                "concentration_bq_per_ml": suv / scan.suv_per_bq_per_ml,
                "suvbw": suv, "suvmax": suv, "suvmean": suv, "suvpeak": suv,
            }
        entry["ratio"] = entry["ia"]["suvbw"] / entry["iv"]["suvbw"]
        for lesion in anatomy.lesions:
            if lesion.name == segment.name:
                entry["diameter_mm"] = lesion.diameter_mm
                entry["centre_lps_mm"] = list(lesion.centre_mm)
        if entry["role"] == "lesion":
            lesion_ratios.append(entry["ratio"])
        segments[segment.name] = entry
    liver_suv = {scan.role: scan.tissue_suv["liver"] for scan in (patient.ia, patient.iv)}
    for entry in segments.values():
        if entry["role"] in ("lesion", "extrahepatic"):
            entry["tumour_to_liver_ia"] = entry["ia"]["suvbw"] / liver_suv["IA"]
            entry["tumour_to_liver_iv"] = entry["iv"]["suvbw"] / liver_suv["IV"]
    lesion_ratio = float(np.mean(lesion_ratios))

    spect_regions = {}
    for segment in patient.spect_segments:
        tissue = voi_tissue(anatomy, segment.name)
        kinetics = SPECT_KINETICS[tissue]
        scale, clearance, uptake = _kinetic_rates(kinetics)
        density = float(hounsfield_to_density_g_per_ml(CT_HU[tissue]))
        volume_ml = segment.volume_ml
        tia = integral_mbq_h_per_ml(kinetics) * volume_ml
        spect_regions[segment.name] = {
            "tissue": tissue,
            "volume_ml": volume_ml,
            "density_g_per_ml": density,
            "mass_g": density * volume_ml,
            "model": "biexp-uptake",
            "concentration_scale_mbq_per_ml": scale,
            "clearance_lambda_per_h": clearance,
            "uptake_lambda_per_h": uptake,
            "effective_half_life_h": kinetics.effective_half_life_h,
            "tac_mbq": [concentration_mbq_per_ml(kinetics, t) * volume_ml for t in SPECT_TIMEPOINTS_H],
            "tia_mbq_h": tia,
            "tiac_h": tia / patient.administered_mbq,
        }
    return {
        "description": "Synthetic RAGALIV patient; values exact by construction (see ragaliv.phantom).",
        "seed": patient.seed,
        "blur_fwhm_mm": patient.blur_fwhm_mm,
        "noise": patient.noise,
        "uptake_margin_mm": UPTAKE_MARGIN_MM,
        "patient": {"name": patient.patient_name, "id": patient.patient_id, "weight_kg": patient.weight_kg,
                    "height_cm": patient.height_cm, "sex": patient.sex},
        "pet": {
            scan.role.lower(): {
                "injected_mbq": scan.injected_mbq,
                "injection_time": scan.injection_time.isoformat(),
                "scan_time": scan.scan_time.isoformat(),
                "half_life_s": scan.half_life_s,
                "decay_time_s": (scan.scan_time - scan.injection_time).total_seconds(),
                "suvbw_per_bq_per_ml": scan.suv_per_bq_per_ml,
            }
            for scan in (patient.ia, patient.iv)
        },
        "segments": segments,
        "ratio": {
            "metric": "suvmax", "aggregate": "mean", "threshold": 3.0,
            "lesion_ratios": lesion_ratios, "lesion_ratio": lesion_ratio, "eligible": lesion_ratio >= 3.0,
        },
        "spect": {
            "radiopharmaceutical": "177Lu-DOTATATE",
            "administered_mbq": patient.administered_mbq,
            "injection_time": patient.spect_injection_time.isoformat(),
            "timepoints_h": list(SPECT_TIMEPOINTS_H),
            "half_life_h": LU177_HALF_LIFE_H,
            "regions": spect_regions,
            "default_density_g_per_ml": SOFT_TISSUE_DENSITY_G_PER_ML,
        },
    }
