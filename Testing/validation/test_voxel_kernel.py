"""Lanconelli 177Lu voxel S-value kernels (shared data voxel_s_values_lu177): parsing, physics, resampling,
and FFT convolution.

Kernel energy check (what is asserted, measured on the shared files): Σ over the full 11³ kernel of S × voxel
mass (ρ = 1.04 g/cm³) / ICRP-107 electron energy (0.147923 MeV) lies in 0.945–0.975 for every soft-tissue size
2.21–6.8 mm (measured 0.9459 at 2.4 mm ... 0.9726 at 6.8 mm; the notes' "0.947–0.973" is 0.001 too narrow at
2.4 mm), and in 0.98–0.99 at 9.28 mm (0.9869: the ±5-voxel extent there is ±51 mm and catches more photon
energy). So the kernels hold ~95–97 % of the ICRP-107 electron energy: voxel doses in uniform regions come out
that much lower than LED with ρ = 1.04.
"""

import math
import shutil

import numpy as np
import pytest
from ragaliv.constants import LU177_LED_GY_G_PER_MBQ_H
from ragaliv.dosimetry import (
    dose_map_gy,
    dose_rate_map_gy_per_h,
    dose_volume_histogram,
    led_dose_gy,
    load_lanconelli_kernel,
    read_lanconelli_table,
    resample_kernel,
    voxel_dose_result,
)
from ragaliv.dosimetry.voxel_kernel import expand_octant, lanconelli_files
from ragaliv.errors import RagalivInputError

pytestmark = pytest.mark.validation

FOLDER = "voxel_s_values_lu177"
DENSITY = 1.04
# Notes §6.4, 177Lu soft tissue, mGy/(MBq·s): S(0,0,0), S(0,0,1), S(0,1,1), S(1,1,1), S(0,0,2)
NOTES_TABLE = {
    2.21: (1.660e00, 4.830e-02, 2.520e-03, 2.500e-04, 7.700e-05),
    2.33: (1.430e00, 3.950e-02, 1.970e-03, 2.000e-04, 6.890e-05),
    2.4: (1.310e00, 3.530e-02, 1.720e-03, 1.770e-04, 6.480e-05),
    3.0: (6.930e-01, 1.510e-02, 6.170e-04, 7.980e-05, 4.080e-05),
    3.59: (4.130e-01, 7.550e-03, 2.800e-04, 4.720e-05, 2.830e-05),
    3.9: (3.250e-01, 5.490e-03, 1.970e-04, 3.810e-05, 2.410e-05),
    4.0: (3.020e-01, 4.980e-03, 1.780e-04, 3.580e-05, 2.290e-05),
    4.42: (2.260e-01, 3.390e-03, 1.190e-04, 2.820e-05, 1.880e-05),
    4.8: (1.780e-01, 2.460e-03, 8.650e-05, 2.350e-05, 1.610e-05),
    5.0: (1.580e-01, 2.110e-03, 7.430e-05, 2.150e-05, 1.480e-05),
    6.0: (9.250e-02, 1.040e-03, 3.940e-05, 1.460e-05, 1.040e-05),
    6.8: (6.410e-02, 6.450e-04, 2.660e-05, 1.140e-05, 8.170e-06),
    9.28: (2.560e-02, 1.980e-04, 1.140e-05, 6.190e-06, 4.530e-06),
}
E_ELECTRON_J = 0.147923 * 1.602176634e-13


def energy_fraction(s_sum_mgy_per_mbq_s, size_mm, density=DENSITY):
    """Σ S [mGy/(MBq s)] · m [kg] · 1e-9 (J per decay) / E_e."""
    mass_kg = density * (size_mm / 10.0) ** 3 / 1000.0
    return s_sum_mgy_per_mbq_s * 1e-9 * mass_kg / E_ELECTRON_J


@pytest.fixture
def folder(shared_data):
    return shared_data(FOLDER)


def test_parsing_matches_notes_table(folder):
    files = lanconelli_files(folder, "soft")
    assert sorted(files) == sorted(NOTES_TABLE)
    for size, expected in NOTES_TABLE.items():
        octant = read_lanconelli_table(files[size]).octant_mgy_per_mbq_s  # [k, j, i]
        got = (octant[0, 0, 0], octant[1, 0, 0], octant[1, 1, 0], octant[1, 1, 1], octant[2, 0, 0])
        assert got == pytest.approx(expected, rel=1e-12), size
        assert octant[0, 0, 1] == octant[0, 1, 0] == octant[1, 0, 0]
    bone = read_lanconelli_table(lanconelli_files(folder, "bone")[4.8])
    assert bone.tissue == "bone"
    assert (bone.octant_mgy_per_mbq_s[0, 0, 0], bone.octant_mgy_per_mbq_s[1, 0, 0]) == (1.04e-01, 8.90e-04)


def test_kernel_energy_fraction_and_self_voxel_trend(folder):
    fractions, self_fractions = {}, {}
    for size in NOTES_TABLE:
        kernel = load_lanconelli_kernel(folder, size)
        assert kernel.s_value_mgy_per_mbq_s.shape == (11, 11, 11)
        fractions[size] = kernel.deposited_energy_fraction(DENSITY)
        assert fractions[size] == pytest.approx(energy_fraction(kernel.s_value_mgy_per_mbq_s.sum(), size))
        self_fractions[size] = energy_fraction(kernel.s_value_mgy_per_mbq_s[5, 5, 5], size)
    for size, fraction in fractions.items():
        if size <= 6.8:
            assert 0.945 <= fraction <= 0.975, (size, fraction)
        else:
            assert 0.98 <= fraction <= 0.99, (size, fraction)
    # Self-voxel fraction (notes §6.4): 0.79 (2.21 mm) -> 0.86 (4.8 mm) -> 0.88 (6.8 mm), rising with size
    assert self_fractions[2.21] == pytest.approx(0.79, abs=0.01)
    assert self_fractions[4.8] == pytest.approx(0.86, abs=0.01)
    assert self_fractions[6.8] == pytest.approx(0.88, abs=0.01)
    ordered = [self_fractions[s] for s in sorted(self_fractions)]
    assert all(b > a for a, b in zip(ordered, ordered[1:]))


def test_expanded_kernel_symmetry(folder):
    kernel = load_lanconelli_kernel(folder, 4.8).s_value_mgy_per_mbq_s
    octant = read_lanconelli_table(lanconelli_files(folder)[4.8]).octant_mgy_per_mbq_s
    for axis in range(3):
        np.testing.assert_array_equal(kernel, np.flip(kernel, axis))
    for axes in [(0, 2, 1), (1, 0, 2), (2, 1, 0), (1, 2, 0), (2, 0, 1)]:
        np.testing.assert_array_equal(kernel, kernel.transpose(axes))
    for k, j, i in [(0, 0, 0), (-3, 2, 5), (4, -5, -1), (-5, -5, -5)]:
        assert kernel[5 + k, 5 + j, 5 + i] == octant[abs(k), abs(j), abs(i)]
    assert expand_octant(np.arange(8.0).reshape(2, 2, 2)).shape == (3, 3, 3)


def test_resampling_identity_and_near_tabulated(folder):
    k48 = load_lanconelli_kernel(folder, 4.8)
    assert "resampled" not in k48.method and k48.tabulated_size_mm == 4.8
    np.testing.assert_array_equal(resample_kernel(k48, (4.8, 4.8, 4.8)).s_value_mgy_per_mbq_s,
                                  k48.s_value_mgy_per_mbq_s)  # fmt: skip
    # 4.8 mm table resampled to 5 mm vs the tabulated 5 mm kernel:
    # self voxel within 0.5 %, offsets up to 4 voxels within 2.5 %, total energy within 0.5 %
    resampled = load_lanconelli_kernel(folder, 5.0, tabulated_size_mm=4.8)
    tabulated = load_lanconelli_kernel(folder, 5.0)
    assert "resampled" in resampled.method and tabulated.tabulated_size_mm == 5.0
    r, t = resampled.s_value_mgy_per_mbq_s, tabulated.s_value_mgy_per_mbq_s
    assert r.shape == t.shape == (11, 11, 11)
    assert r[5, 5, 5] == pytest.approx(t[5, 5, 5], rel=0.005)
    np.testing.assert_allclose(r[1:-1, 1:-1, 1:-1], t[1:-1, 1:-1, 1:-1], rtol=0.025)
    assert resampled.deposited_energy_fraction(DENSITY) == pytest.approx(
        tabulated.deposited_energy_fraction(DENSITY), rel=0.005
    )
    # energy conservation: Σ S'·V' equals Σ S·V of the 4.8 mm table
    assert (r.sum() * 125.0) == pytest.approx(k48.s_value_mgy_per_mbq_s.sum() * 4.8**3, rel=1e-12)


def test_anisotropic_resampling_conserves_energy(folder):
    spacing = (3.9063, 3.9063, 4.4196)  # (i, j, k): the Auer phantom grid
    kernel = load_lanconelli_kernel(folder, spacing)
    assert kernel.tabulated_size_mm == 4.0  # nearest to the geometric mean 4.07 mm
    s = kernel.s_value_mgy_per_mbq_s
    assert s.shape == (11, 13, 13)  # ±5 along k (4.42 mm), ±6 along j, i (3.91 mm) to cover ±22 mm
    tab = load_lanconelli_kernel(folder, 4.0)
    assert s.sum() * np.prod(spacing) == pytest.approx(tab.s_value_mgy_per_mbq_s.sum() * 64.0, rel=1e-12)
    for axis in range(3):
        np.testing.assert_allclose(s, np.flip(s, axis), rtol=1e-12)
    np.testing.assert_allclose(s, s.transpose(0, 2, 1), rtol=1e-12)  # i and j spacings are equal
    # Self voxel by hand: along i, j the new 3.9063 mm voxel lies inside the tabulated 4 mm one (weight 1);
    # along k it covers the 4 mm self cube (4/4.4196) and 0.2098 mm of each neighbour (0.2098/4.4196 each).
    w_self, w_next = 4.0 / 4.4196, (4.4196 - 4.0) / 2 / 4.4196
    assert s[5, 6, 6] == pytest.approx(3.02e-1 * w_self + 2 * 4.98e-3 * w_next, rel=1e-9)


def test_kernel_errors_name_the_problem(folder, tmp_path):
    with pytest.raises(RagalivInputError, match="not found"):
        load_lanconelli_kernel(tmp_path / "absent", 4.8)
    with pytest.raises(RagalivInputError, match=r"no 177Lu<size>mmsoft\.txt"):
        load_lanconelli_kernel(tmp_path, 4.8)
    with pytest.raises(RagalivInputError, match=r"no tabulated soft kernel of 4\.7 mm"):
        load_lanconelli_kernel(folder, 4.8, tabulated_size_mm=4.7)
    with pytest.raises(RagalivInputError, match="factor 2"):
        load_lanconelli_kernel(folder, 25.0)
    with pytest.raises(RagalivInputError):
        load_lanconelli_kernel(folder, (4.8, 0.0, 4.8))
    bad = tmp_path / "177Lu4.8mmsoft.txt"
    shutil.copy(lanconelli_files(folder)[4.8], bad)
    lines = bad.read_bytes().split(b"\r\n")
    lines[10] = b"0\t1\t2\tabc"
    bad.write_bytes(b"\r\n".join(lines))
    with pytest.raises(RagalivInputError, match=r"177Lu4\.8mmsoft\.txt is malformed: line 11"):
        load_lanconelli_kernel(tmp_path, 4.8)
    bad.write_bytes(b"\r\n".join(lines[:100]))
    with pytest.raises(RagalivInputError, match=r"177Lu4\.8mmsoft\.txt is malformed: .*data rows"):
        load_lanconelli_kernel(tmp_path, 4.8)


def test_point_source_reproduces_kernel(folder):
    kernel = load_lanconelli_kernel(folder, 4.8)
    tia = np.zeros((21, 23, 25))
    tia[10, 11, 12] = 2.0  # MBq·h
    dose = dose_map_gy(tia, kernel, voxel_size_mm=(4.8, 4.8, 4.8), dtype=np.float64)
    expected = np.zeros_like(tia)
    expected[5:16, 6:17, 7:18] = 2.0 * 3600.0 * kernel.s_value_mgy_per_mbq_s / 1000.0
    np.testing.assert_allclose(dose, expected, rtol=1e-9, atol=1e-12 * expected.max())
    single = dose_map_gy(tia, kernel)  # float32 default
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, expected, rtol=0, atol=2e-6 * expected.max())


def test_uniform_block_gives_kernel_fraction_of_led(folder):
    """Centre of a uniform block larger than the kernel: D = TIA·ΣS = κ·LED(ρ 1.04), κ = 0.961 at 4.8 mm."""
    kernel = load_lanconelli_kernel(folder, 4.8)
    tia_per_voxel = 3.0  # MBq·h
    tia = np.zeros((31, 31, 31))
    tia[3:28, 3:28, 3:28] = tia_per_voxel  # 25³ block, kernel half-width 5
    dose = dose_map_gy(tia, kernel, dtype=np.float64)
    centre = dose[15, 15, 15]
    assert centre == pytest.approx(tia_per_voxel * 3.6 * kernel.s_value_mgy_per_mbq_s.sum(), rel=1e-9)
    voxel_mass_g = DENSITY * 4.8**3 / 1000.0
    ratio = centre / led_dose_gy(tia_per_voxel, voxel_mass_g)
    assert ratio == pytest.approx(kernel.deposited_energy_fraction(DENSITY), rel=1e-9)
    assert 0.955 < ratio < 0.965
    # a face-centre voxel of the block gets roughly half of the out-of-voxel cross-fire less
    assert dose[3, 15, 15] < centre


def test_dose_rate_map_and_energy_conservation_128(folder):
    """128³ map: runs quickly, Σ D·m equals κ·Σ TIA·E_e when activity stays 5 voxels from the edge."""
    kernel = load_lanconelli_kernel(folder, 4.42)
    rng = np.random.default_rng(7)
    activity = np.zeros((128, 128, 128))
    activity[10:118, 10:118, 10:118] = rng.gamma(2.0, 0.05, size=(108, 108, 108))
    effective_half_life_h = 60.0
    tia = activity * effective_half_life_h / math.log(2.0)
    dose = dose_map_gy(tia, kernel, dtype=np.float64)
    rate = dose_rate_map_gy_per_h(activity, kernel, dtype=np.float64)
    np.testing.assert_allclose(dose, rate * effective_half_life_h / math.log(2.0), rtol=1e-9, atol=1e-12)
    voxel_mass_g = DENSITY * 4.42**3 / 1000.0
    deposited = dose.sum() * voxel_mass_g  # Gy·g
    emitted = tia.sum() * LU177_LED_GY_G_PER_MBQ_H  # Gy·g if all electron energy were absorbed
    assert deposited / emitted == pytest.approx(kernel.deposited_energy_fraction(DENSITY), rel=1e-6)
    mask = activity > 0
    result = voxel_dose_result("block", dose, mask, kernel, administered_activity_mbq=1000.0)
    assert result.dose_gy == pytest.approx(dose[mask].mean(), rel=1e-12)
    assert "voxel S-value convolution" in result.method and "Lanconelli" in result.source
    dvh = dose_volume_histogram(dose, mask)
    assert dvh.d98_gy < dvh.d50_gy < dvh.d2_gy and dvh.mean_gy == pytest.approx(result.dose_gy)


def test_convolution_input_errors(folder):
    kernel = load_lanconelli_kernel(folder, 4.8)
    with pytest.raises(RagalivInputError, match="negative"):
        dose_map_gy(-np.ones((5, 5, 5)), kernel)
    with pytest.raises(RagalivInputError, match="NaN"):
        dose_map_gy(np.full((5, 5, 5), np.nan), kernel)
    with pytest.raises(RagalivInputError, match="3D"):
        dose_map_gy(np.ones((5, 5)), kernel)
    with pytest.raises(RagalivInputError, match="differs from the kernel voxel size"):
        dose_map_gy(np.ones((5, 5, 5)), kernel, voxel_size_mm=(4.0, 4.0, 4.0))


def test_shipped_tables_are_the_published_files(shared_data):
    """The tables shipped inside the package are byte-identical to the shared reference copy, all 26 of them,
    with the upstream MIT licence beside them; the default kernel folder is the shipped one."""
    import pathlib

    from ragaliv.dosimetry import shipped_kernel_directory
    from ragaliv.spect import default_kernel_directory

    reference = shared_data(FOLDER)
    shipped = pathlib.Path(shipped_kernel_directory())
    reference_tables = sorted(path.name for path in reference.glob("177Lu*.txt"))
    assert len(reference_tables) == 26
    assert sorted(path.name for path in shipped.glob("177Lu*.txt")) == reference_tables
    for name in reference_tables:
        assert (shipped / name).read_bytes() == (reference / name).read_bytes(), name
    assert (shipped / "LICENSE").read_bytes() == (reference / "LICENSE.upstream").read_bytes()
    assert "Lanconelli" in (shipped / "README.md").read_text(encoding="utf-8")
    assert pathlib.Path(default_kernel_directory()) == shipped
