"""Dose methods against independent arithmetic: LED, organ S, sphere S, BED, uncertainty, DVH.

Truth values come from the dosimetry notes (§2 ICRP-107 lines, §6.1 PyTheranostics S table, §6.3 sphere table)
or from hand arithmetic written out in the test, never from the module under test.
"""

import math

import numpy as np
import pytest
from ragaliv.constants import LU177_LED_GY_G_PER_MBQ_H
from ragaliv.dosimetry import (
    combine_relative_uncertainties,
    dose_volume_histogram,
    kidney_bed_gy,
    kidney_bed_result,
    led_dose_gy,
    led_dose_result,
    make_dose_result,
    organ_dose_gy,
    organ_dose_result,
    organ_self_s_mgy_per_mbq_h,
    sphere_dose_gy,
    sphere_dose_result,
    sphere_model,
    sphere_s_value_mgy_per_mbq_h,
)
from ragaliv.errors import RagalivInputError

# ICRP-107 177Lu electrons (dosimetry notes §2): beta- mean energies and yields, plus IC and Auger sums (MeV).
BETA_LINES = [(0.0475267, 0.122057), (0.0784451, 0.000530249), (0.111507, 0.0910428), (0.149135, 0.78637)]
IC_MEV, AUGER_MEV = 0.013522, 0.001132
J_PER_MEV = 1.602176634e-13
ELECTRON_MEV = sum(e * y for e, y in BETA_LINES) + IC_MEV + AUGER_MEV
# Gy·g/(MBq·h) = J/decay * 1e6 Bq/MBq * 3600 s/h / 1e-3 kg/g
LED_FROM_LINES = ELECTRON_MEV * J_PER_MEV * 1e6 * 3600 / 1e-3
E_ELECTRON_MGY_G_PER_MBQ_H = LED_FROM_LINES * 1000.0


# --- local energy deposition ------------------------------------------------------------------------------
def test_led_constant_equals_icrp107_electron_energy():
    assert ELECTRON_MEV == pytest.approx(0.147923, abs=2e-6)
    assert LED_FROM_LINES == pytest.approx(0.085320, abs=2e-6)
    assert LU177_LED_GY_G_PER_MBQ_H == pytest.approx(LED_FROM_LINES, rel=2e-5)


def test_led_dose_hand_value():
    # 1000 MBq·h in 100 g: 0.08532 * 1000 / 100 = 0.8532 Gy
    assert led_dose_gy(1000.0, 100.0) == pytest.approx(0.8532, rel=1e-4)
    assert led_dose_gy(0.0, 100.0) == 0.0


@pytest.mark.parametrize("tia, mass", [(1.0, 0.0), (1.0, -5.0), (float("nan"), 1.0), (-1.0, 1.0), (1.0, "x")])
def test_led_rejects_bad_input(tia, mass):
    with pytest.raises(RagalivInputError):
        led_dose_gy(tia, mass)


# --- organ S ---------------------------------------------------------------------------------------------
# Notes §6.1: S (mGy/(MBq·s)) and reference masses (g).
ORGAN_TABLE = {
    "kidney": (7.76e-5, 310.0),
    "liver": (1.37e-5, 1800.0),
    "spleen": (1.60e-4, 150.0),
    "red_marrow": (1.15e-5, 1170.0),
}


@pytest.mark.parametrize("organ", sorted(ORGAN_TABLE))
def test_organ_s_values_at_reference_mass(organ):
    s, mass = ORGAN_TABLE[organ]
    assert organ_self_s_mgy_per_mbq_h(organ) == pytest.approx(s * 3600, rel=1e-12)
    # 1000 MBq·h at the reference mass
    assert organ_dose_gy(organ, 1000.0, mass) == pytest.approx(1000 * s * 3600 / 1000, rel=1e-12)


def test_organ_s_times_reference_mass_is_the_electron_energy_plus_photons():
    """S·m_ref ≈ 85.3 mGy·g/(MBq·h) (electrons) + the self-absorbed photon share.

    Kidneys 86.6, spleen 86.4 (photons ~1.5 %); liver 88.8 (a 1.8 kg organ absorbs more photons, ~4 %).
    The notes' "85.3–87 for each organ" does not hold for the red marrow: 48.4 = 0.567 × E_e, because the
    OLINDA skeletal model deposits only part of the marrow-source electron energy in the marrow itself.
    """
    s_m = {organ: s * 3600 * m for organ, (s, m) in ORGAN_TABLE.items()}
    assert s_m["kidney"] == pytest.approx(86.60, abs=0.01)
    assert E_ELECTRON_MGY_G_PER_MBQ_H == pytest.approx(85.32, abs=0.01)
    for organ in ("kidney", "spleen"):
        value = organ_self_s_mgy_per_mbq_h(organ) * ORGAN_TABLE[organ][1]
        assert E_ELECTRON_MGY_G_PER_MBQ_H < value < 87.5
    liver = organ_self_s_mgy_per_mbq_h("liver") * 1800.0
    assert E_ELECTRON_MGY_G_PER_MBQ_H < liver < 90.0
    red_marrow = organ_self_s_mgy_per_mbq_h("red_marrow") * 1170.0
    assert red_marrow / E_ELECTRON_MGY_G_PER_MBQ_H == pytest.approx(0.567, abs=0.005)


def test_organ_mass_scaling_halves_dose_when_mass_doubles():
    reference = organ_dose_gy("kidney", 5000.0, 310.0)
    assert organ_dose_gy("kidney", 5000.0, 620.0) == pytest.approx(reference / 2, rel=1e-12)
    # Single kidney: kidneys S with its own mass -> S_ref·310/155 = 2·S_ref
    assert organ_dose_gy("kidney", 5000.0, 155.0) == pytest.approx(2 * reference, rel=1e-12)
    assert organ_dose_gy("kidney", 5000.0) == pytest.approx(reference, rel=1e-12)


def test_organ_dose_result_and_errors():
    result = organ_dose_result("Kidney left", "kidney", 1000.0, 150.0, administered_activity_mbq=7400.0)
    assert result.dose_gy == pytest.approx(1000 * 7.76e-5 * 3.6 * 310 / 150, rel=1e-12)
    assert result.dose_gy_per_gbq == pytest.approx(result.dose_gy / 7.4, rel=1e-12)
    assert "mass scaling" in result.method and "Lu177-Male-Svalues" in result.source
    assert organ_dose_result("x", "liver", 1.0, 100.0).warnings  # 0.06 × reference mass
    with pytest.raises(RagalivInputError, match="kidney"):
        organ_dose_gy("Kidney left", 1.0, 100.0)
    with pytest.raises(RagalivInputError):
        organ_dose_gy("kidney", 1.0, 0.0)


# --- sphere model ----------------------------------------------------------------------------------------
# Notes §6.3, "100%/0%" column: mass (g), S (Gy/(Bq·s)).
NOTES_SPHERES = [
    (4.31e-03, 4.54e-09), (1.46e-02, 1.44e-09), (3.45e-02, 6.29e-10), (1.16e-01, 1.93e-10),
    (2.76e-01, 8.26e-11), (5.39e-01, 4.27e-11), (9.32e-01, 2.49e-11), (2.21e00, 1.06e-11),
    (4.31e00, 5.46e-12), (1.46e01, 1.63e-12), (3.45e01, 6.93e-13), (1.16e02, 2.07e-13),
    (2.76e02, 8.81e-14), (5.39e02, 4.54e-14), (9.32e02, 2.65e-14),
]  # fmt: skip


def test_embedded_sphere_table_matches_notes():
    assert list(zip(sphere_model.SPHERE_MASS_G, sphere_model.SPHERE_S_GY_PER_BQ_S)) == NOTES_SPHERES
    # masses are spheres of 0.2 ... 12 cm diameter at 1.03 g/cm3 (3 significant digits)
    diameters_cm = [0.2, 0.3, 0.4, 0.6, 0.8, 1.0, 1.2, 1.6, 2, 3, 4, 6, 8, 10, 12]
    for (mass, _s), d in zip(NOTES_SPHERES, diameters_cm):
        assert mass == pytest.approx(1.03 * math.pi / 6 * d**3, rel=6e-3)


@pytest.mark.parametrize("mass, s", NOTES_SPHERES)
def test_sphere_reproduces_table_at_nodes(mass, s):
    assert sphere_s_value_mgy_per_mbq_h(mass) == pytest.approx(s * 3.6e12, rel=1e-12)


def test_sphere_energy_ratio_and_example():
    def ratio(mass_g):
        # S[mGy/(MBq h)] · m[g] / (E_e [mGy g/(MBq h)])
        return sphere_s_value_mgy_per_mbq_h(mass_g) * mass_g / E_ELECTRON_MGY_G_PER_MBQ_H

    assert ratio(4.31) == pytest.approx(0.99, abs=0.005)
    assert ratio(4.31e-3) == pytest.approx(0.83, abs=0.005)
    assert sphere_s_value_mgy_per_mbq_h(14.6) == pytest.approx(5.87, abs=0.005)  # notes example
    # between nodes: monotone, between the neighbours, close to S ∝ 1/m locally
    mid = math.sqrt(4.31 * 14.6)
    value = sphere_s_value_mgy_per_mbq_h(mid)
    assert 1.63e-12 * 3.6e12 < value < 5.46e-12 * 3.6e12
    assert value * mid / E_ELECTRON_MGY_G_PER_MBQ_H == pytest.approx(1.0, abs=0.02)
    assert sphere_dose_gy(100.0, 14.6) == pytest.approx(100 * 5.868 / 1000, rel=1e-3)


def test_sphere_outside_table():
    with pytest.raises(RagalivInputError, match="below the smallest sphere"):
        sphere_dose_gy(1.0, 1e-3)
    with pytest.warns(UserWarning, match="local energy"):
        dose = sphere_dose_gy(1000.0, 2000.0)
    assert dose == pytest.approx(led_dose_gy(1000.0, 2000.0), rel=1e-12)
    result = sphere_dose_result("Lesion 1", 1000.0, 2000.0)
    assert "fallback" in result.method and result.warnings
    result = sphere_dose_result("Lesion 1", 1000.0, 14.6)
    assert (
        result.method.startswith("sphere model") and "spheres.json" in result.source and not result.warnings
    )


# --- BED -------------------------------------------------------------------------------------------------
def test_kidney_bed_hand_checked():
    # 20 Gy, T_eff 50 h: 20 + 400/2.6 × 2.8/52.8 = 20 + 153.846 × 0.0530303 = 28.15851
    assert kidney_bed_gy(20.0, 50.0) == pytest.approx(28.15851, abs=1e-4)
    # 4 Gy, T_eff 100 h, α/β 3 Gy, T_rep 1.5 h: 4 + 16/3 × 1.5/101.5 = 4.078818
    assert kidney_bed_gy(4.0, 100.0, 3.0, 1.5) == pytest.approx(4.078818, abs=1e-6)
    assert kidney_bed_gy(0.0, 50.0) == 0.0
    result = kidney_bed_result("Kidneys", 20.0, 50.0)
    assert result.bed_gy == pytest.approx(28.15851, abs=1e-4)
    assert result.alpha_beta_gy == 2.6 and result.repair_half_time_h == 2.8 and "Bodei" in result.source


def test_bed_rejects_effective_half_life_longer_than_physical():
    with pytest.raises(RagalivInputError, match="physical half-life"):
        kidney_bed_gy(10.0, 200.0)
    with pytest.raises(RagalivInputError):
        kidney_bed_gy(10.0, 0.0)


# --- uncertainty -----------------------------------------------------------------------------------------
def test_combine_relative_uncertainties_gum_quadrature():
    assert combine_relative_uncertainties(0.1, 0.05) == pytest.approx(math.sqrt(0.0125), rel=1e-12)
    assert combine_relative_uncertainties(0.03, 0.04) == pytest.approx(0.05, rel=1e-12)
    assert combine_relative_uncertainties() == 0.0
    with pytest.raises(RagalivInputError):
        combine_relative_uncertainties(0.1, -0.01)
    with pytest.raises(RagalivInputError):
        combine_relative_uncertainties(float("nan"))


@pytest.mark.parametrize(
    "dose", [lambda m: led_dose_gy(500.0, m), lambda m: organ_dose_gy("spleen", 500.0, m)]
)
def test_self_dose_sensitivity_to_mass_is_minus_one(dose):
    """S ∝ 1/m: the relative sensitivity coefficient dD/D / (dm/m) is -1, so u(m)/m enters with weight 1."""
    m, h = 150.0, 1e-6
    sensitivity = (dose(m * (1 + h)) / dose(m) - 1) / h
    assert sensitivity == pytest.approx(-1.0, abs=1e-5)


def test_dose_result_uncertainty_and_dict():
    result = led_dose_result(
        "Kidneys", 1000.0, 300.0, administered_activity_mbq=7400.0, tia_rel_uncertainty=0.12,
        mass_rel_uncertainty=0.05,
    )  # fmt: skip
    assert result.dose_rel_uncertainty == pytest.approx(0.13, rel=1e-12)
    assert result.dose_gy_per_gbq == pytest.approx(0.08532 * 1000 / 300 / 7.4, rel=1e-4)
    data = result.to_dict()
    assert set(data) == {
        "region", "mass_g", "method", "dose_gy", "dose_gy_per_gbq", "dose_rel_uncertainty", "source",
        "warnings",
    }  # fmt: skip
    assert "local energy deposition" in data["method"] and "ICRP" in data["source"]
    unknown = make_dose_result("x", "m", "s", 1.0)
    assert unknown.dose_rel_uncertainty is None and unknown.dose_gy_per_gbq is None
    assert make_dose_result("x", "m", "s", 1.0, tia_rel_uncertainty=0.2).dose_rel_uncertainty == 0.2


# --- DVH -------------------------------------------------------------------------------------------------
def test_dvh_uniform_dose():
    dose = np.full((4, 5, 6), 2.0)
    dvh = dose_volume_histogram(dose, np.ones_like(dose, dtype=bool))
    assert dvh.d2_gy == dvh.d50_gy == dvh.d98_gy == dvh.mean_gy == 2.0
    assert dvh.v_gy(2.0) == 1.0 and dvh.v_gy(2.0 + 1e-9) == 0.0 and dvh.v_gy(0.0) == 1.0
    assert dvh.volume_fraction[0] == 1.0 and dvh.dose_gy[0] == 0.0


def test_dvh_linear_ramp_exact():
    """Voxel doses 1, 2, ..., 100 Gy (equal volumes): V(d) = (101 - d)/100 for integer d."""
    dose = np.arange(1.0, 101.0).reshape(4, 5, 5)
    mask = np.ones(dose.shape, bool)
    dvh = dose_volume_histogram(dose, mask, bin_width_gy=1.0)
    assert (dvh.d2_gy, dvh.d50_gy, dvh.d98_gy) == (99.0, 51.0, 3.0)
    assert dvh.mean_gy == pytest.approx(50.5)
    assert dvh.d_gy(100.0) == 1.0 and dvh.d_gy(1.0) == 100.0
    assert dvh.v_gy(50.5) == pytest.approx(0.5) and dvh.v_gy(100.0) == pytest.approx(0.01)
    np.testing.assert_array_equal(dvh.dose_gy, np.arange(0.0, 101.0))
    expected = np.concatenate([[1.0], (101.0 - np.arange(1.0, 101.0)) / 100.0])
    np.testing.assert_allclose(dvh.volume_fraction, expected, rtol=0, atol=1e-12)


def test_dvh_weights_and_mask_selection():
    dose = np.array([[[1.0, 3.0, 50.0]]])
    weights = np.array([[[3.0, 1.0, 0.0]]])  # the 50 Gy voxel is outside
    dvh = dose_volume_histogram(dose, weights)
    assert dvh.mean_gy == pytest.approx(1.5) and dvh.max_gy == 3.0
    assert dvh.d2_gy == 3.0 and dvh.d50_gy == 1.0 and dvh.v_gy(2.0) == pytest.approx(0.25)
    with pytest.raises(RagalivInputError, match="empty"):
        dose_volume_histogram(dose, np.zeros_like(dose, dtype=bool))
    with pytest.raises(RagalivInputError, match="shape"):
        dose_volume_histogram(dose, np.ones((2, 2, 2), bool))
    with pytest.raises(RagalivInputError):
        dose_volume_histogram(np.array([[[-1.0]]]), np.ones((1, 1, 1), bool))
