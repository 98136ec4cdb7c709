"""Voxel-dosimetry energy budget (issue 9, item 4): in a large uniform region the voxel S-value (DVK) dose and the
local-deposition / organ-S doses agree within 2 %.

Independent truth: charged-particle equilibrium deep inside a uniform region, so the absorbed dose per decay is
the emitted electron energy over the local mass (ICRP-107 0.147923 MeV, D = 0.085320·Ã/m); the organ self-S of a
kidney times its reference mass is 86.6 mGy·g/(MBq·h) against 85.3 for electrons alone (photons, +1.5 %: dosimetry
notes "What matters most"). The tabulated Lanconelli kernels hold 96.4-100.6 % of the electron energy at 1.06 g/mL
(measured here and printed); the pipeline scales them to 100 % (ragaliv.dosimetry.voxel_kernel docstring).
"""

import math

import numpy as np
import pytest
from ragaliv.constants import LU177_LED_GY_G_PER_MBQ_H, SOFT_TISSUE_DENSITY_G_PER_ML
from ragaliv.dosimetry import dose_map_gy, led_dose_gy, load_lanconelli_kernel
from ragaliv.dosimetry.voxel_kernel import lanconelli_files, normalise_kernel_energy, shipped_kernel_directory
from ragaliv.geometry import Geometry, SegmentMask, Volume
from ragaliv.spect import SpectStudy, SpectTimepoint, analyse_study

KIDNEY_SELF_S_TIMES_MASS = 7.76e-5 * 310.0 * 3600.0  # mGy·g/(MBq·h), OLINDA-style adult male (notes §6.1)


def _centre_dose_ratio(kernel, voxel_mm):
    """Dose at the centre of a uniform block (twice the kernel extent) / LED at 1.06 g/mL."""
    half = kernel.s_value_mgy_per_mbq_s.shape[0] // 2
    size = 4 * half + 3
    tia = np.full((size, size, size), 2.0)  # MBq·h per voxel
    centre = dose_map_gy(tia, kernel, dtype=np.float64)[size // 2, size // 2, size // 2]
    voxel_mass_g = SOFT_TISSUE_DENSITY_G_PER_ML * voxel_mm**3 / 1000.0
    return centre / led_dose_gy(2.0, voxel_mass_g)


def test_every_shipped_kernel_deposits_the_led_energy_after_scaling():
    lines = []
    for size_mm in lanconelli_files(shipped_kernel_directory(), "soft"):
        tabulated = load_lanconelli_kernel(shipped_kernel_directory(), size_mm)
        scaled = normalise_kernel_energy(tabulated)
        before, after = _centre_dose_ratio(tabulated, size_mm), _centre_dose_ratio(scaled, size_mm)
        lines.append(f"{size_mm:g} mm: {before:.3f} -> {after:.4f}")
        assert before == pytest.approx(scaled.tabulated_energy_fraction, rel=1e-9)
        assert after == pytest.approx(1.0, abs=1e-9)  # voxel dose = LED in a region larger than the kernel
        organ_s_ratio = LU177_LED_GY_G_PER_MBQ_H * 1000.0 / KIDNEY_SELF_S_TIMES_MASS  # 0.985
        assert after * organ_s_ratio == pytest.approx(1.0, abs=0.02)  # and the organ-S dose within 2 %
        assert "scaled" in scaled.method and "ICRP-107" in scaled.method
    print("\nvoxel/LED dose deep in a uniform region, tabulated -> scaled kernel: " + "; ".join(lines))
    fractions = [float(line.split(": ")[1].split(" ")[0]) for line in lines]
    assert min(fractions) < 0.98  # the tables alone miss the 2 % acceptance at small voxels


def test_pipeline_voxel_dose_equals_led_and_organ_s_in_a_large_uniform_kidney():
    """analyse_study on a synthetic study: a 10 cm uniform block named 'Kidney left' (organ S applies), VOI 4
    voxels inside its edge, mono-exponential kinetics (the voxel-wise and the VOI fits are both exact), no CT
    (mass at 1.06 g/mL, the kernel's reference density)."""
    voxel_mm = 4.7952
    geometry = Geometry.from_spacing((40, 40, 40), (voxel_mm,) * 3)
    block = np.zeros(geometry.shape_kji, bool)
    block[8:32, 8:32, 8:32] = True
    voi = np.zeros_like(block)
    voi[12:28, 12:28, 12:28] = True
    times_h = (4.0, 24.0, 72.0, 168.0)
    rate = math.log(2.0) / 50.0
    concentration = 2.0e5  # Bq/mL at t = 0
    points = [SpectTimepoint(t, Volume(np.where(block, concentration * math.exp(-rate * t), 0.0), geometry, "Bq/mL"))
              for t in times_h]
    segment = SegmentMask.from_full_mask("Kidney left", voi, geometry)
    result = analyse_study(SpectStudy(7400.0, points, [segment]))
    region = result.region("Kidney left")
    true_tia = concentration / 1e6 * segment.volume_ml / rate
    assert region.fit.tia_mbq_h == pytest.approx(true_tia, rel=1e-4)
    led = region.dose.led.dose_gy
    voxel = region.voxel.mean_gy
    organ_s = region.dose.primary.dose_gy
    print(f"\nuniform kidney block: voxel {voxel:.4f} Gy, LED {led:.4f} Gy, organ S {organ_s:.4f} Gy "
          f"(kernel scale {result.voxel.kernel_energy_scale:.4f})")
    assert region.dose.method_key == "organ_s"
    assert voxel == pytest.approx(led, rel=0.005)  # float32 FFT and partial-voxel VOI weights
    assert voxel == pytest.approx(organ_s, rel=0.02)
    assert "scaled" in result.voxel.method
