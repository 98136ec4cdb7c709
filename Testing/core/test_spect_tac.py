"""SPECT study core: VOI TACs on hand-built volumes, counts calibration, STUDY.json checks, masses, doses."""

import json
import math

import numpy as np
import pytest
from ragaliv.errors import RagalivInputError
from ragaliv.geometry import Geometry, SegmentMask, Volume
from ragaliv.io.images import write_image
from ragaliv.spect import (
    SpectStudy,
    SpectTimepoint,
    analyse_study,
    counts_to_bq_per_ml,
    load_study,
    measure_tacs,
    measure_voi,
    primary_method_for,
    register_rigid,
    transform_segment,
    voi_mass,
)

LAMBDA_PHYS_PER_H = math.log(2.0) / (6.647 * 24.0)  # ICRP-107 177Lu, written out independently
LED_GY_G_PER_MBQ_H = 0.147923 * 1.602176634e-13 * 1e6 * 3600.0 / 1e-3  # electrons, ICRP-107

SPECT_GRID = Geometry.from_spacing((20, 24, 24), (4.0, 4.0, 4.0), (-46.0, -46.0, -38.0))
VOI_GRID = Geometry.from_spacing((40, 48, 48), (2.0, 2.0, 2.0), (-47.0, -47.0, -39.0))


def _box_segment(name, low_mm, high_mm, grid=VOI_GRID):
    x, y, z = grid.voxel_centres_lps()
    mask = (x > low_mm[0]) & (x < high_mm[0]) & (y > low_mm[1]) & (y < high_mm[1]) & (z > low_mm[2]) & (z < high_mm[2])
    return SegmentMask.from_full_mask(name, mask, grid)


def _uniform_spect(concentration_bq_per_ml, low_mm=(-30, -30, -25), high_mm=(30, 30, 25), grid=SPECT_GRID):
    x, y, z = grid.voxel_centres_lps()
    inside = (x > low_mm[0]) & (x < high_mm[0]) & (y > low_mm[1]) & (y < high_mm[1])
    inside &= (z > low_mm[2]) & (z < high_mm[2])
    return Volume(np.where(inside, concentration_bq_per_ml, 0.0), grid, "Bq/mL")


# --- TAC extraction ------------------------------------------------------------------------------------
def test_uniform_voi_activity_is_exact_on_a_coarser_offset_grid():
    # VOI on a 2 mm grid whose voxel faces cut the 4 mm SPECT voxels in half: partial weights everywhere.
    segment = _box_segment("Lesion 1", (-10.0, -6.0, -10.0), (14.0, 10.0, 6.0))
    assert segment.volume_ml == pytest.approx(12 * 8 * 8 * 0.008)
    measured = measure_voi(segment, _uniform_spect(2.5e6))
    assert measured.mean_concentration_bq_per_ml == pytest.approx(2.5e6, rel=1e-12)
    assert measured.activity_mbq == pytest.approx(2.5 * segment.volume_ml, rel=1e-12)
    assert measured.fraction_outside_fov == 0.0
    halved = measure_voi(segment, _uniform_spect(2.5e6), recovery_coefficient=0.5)
    assert halved.activity_mbq == pytest.approx(2.0 * measured.activity_mbq, rel=1e-12)


def test_voi_partly_or_wholly_outside_the_spect_is_flagged():
    small_grid = Geometry.from_spacing((20, 24, 12), (4.0, 4.0, 4.0), (-46.0, -46.0, -38.0))  # x < 0 only
    spect = Volume(np.full(small_grid.shape_kji, 1.0e6), small_grid, "Bq/mL")
    straddling = _box_segment("Spleen", (-10.0, -6.0, -10.0), (14.0, 10.0, 6.0))
    outside = _box_segment("Kidney left", (10.0, -7.0, -9.0), (30.0, 9.0, 7.0))
    study = _study([spect], [straddling, outside], times_h=[24.0])
    straddle_tac, outside_tac = measure_tacs(study)
    assert 0.3 < straddle_tac.fraction_outside_fov[0] < 0.7
    assert straddle_tac.activity_mbq[0] == pytest.approx(1.0 * straddling.volume_ml)  # extrapolated mean
    assert any("outside the SPECT field of view" in flag for flag in straddle_tac.flags)
    assert outside_tac.activity_mbq == [None]
    assert any("point excluded" in flag for flag in outside_tac.flags)
    result = analyse_study(study)
    region = result.region("Kidney left")
    assert region.fit is None and region.dose is None
    assert any("no TIA" in flag for flag in region.flags)
    row = next(r for r in result.dose_rows() if r["region"] == "Kidney left")
    assert row.get("dose_gy") is None and "no TIA" in row["flags"]


def test_rigidly_moved_voi_measures_the_moved_image():
    segment = _box_segment("Lesion 1", (-10.0, -6.0, -10.0), (14.0, 10.0, 6.0))
    # Patient moved by +9 mm in x: the hot region moved too; the VOI follows through the transform.
    moved_image = _uniform_spect(3.0e6, (-21.0, -30.0, -25.0), (39.0, 30.0, 25.0))
    cold = _uniform_spect(3.0e6, (-30.0, -30.0, -25.0), (-12.0, 30.0, 25.0))  # hot only left of the moved VOI
    matrix = np.eye(4)
    matrix[0, 3] = 9.0
    moved = transform_segment(segment, matrix)
    assert measure_voi(moved, moved_image).activity_mbq == pytest.approx(3.0 * segment.volume_ml, rel=1e-12)
    assert measure_voi(moved, cold).activity_mbq == pytest.approx(0.0, abs=1e-12)


# --- counts calibration --------------------------------------------------------------------------------
def test_counts_to_bq_per_ml_arithmetic():
    # 1200 counts in 600 s = 2 cps; 8 cps/MBq -> 0.25 MBq in a 0.064 mL voxel -> 3.90625e6 Bq/mL.
    result = counts_to_bq_per_ml(np.array([1200.0, 0.0]), 600.0, 8.0, 0.064)
    np.testing.assert_allclose(result, [3.90625e6, 0.0], rtol=1e-12)
    with pytest.raises(RagalivInputError, match="duration_s"):
        counts_to_bq_per_ml(np.ones(2), 0.0, 8.0, 0.064)


# --- STUDY.json ----------------------------------------------------------------------------------------
@pytest.fixture
def study_files(tmp_path):
    """Three NRRD time points in counts, a labelmap VOI, and a writer for STUDY.json variants."""
    grid = SPECT_GRID
    label = np.zeros(grid.shape_kji, np.uint8)
    x, y, z = grid.voxel_centres_lps()
    label[(x > -11) & (x < 13) & (y > -7) & (y < 9) & (z > -9) & (z < 7)] = 1
    write_image(Volume(label, grid), str(tmp_path / "labels.nrrd"))
    (tmp_path / "labels.csv").write_text("label,name\n1,Kidney left\n", encoding="utf-8")
    for hours in (4, 24, 72):
        counts = np.full(grid.shape_kji, 1000.0 * math.exp(-0.02 * hours))
        write_image(Volume(counts, grid), str(tmp_path / f"tp{hours}.nrrd"))

    def write(**changes):
        document = {
            "administered_mbq": 7400,
            "injection_time": "2026-04-21T10:00:00",
            "timepoints": [
                {"image": f"tp{h}.nrrd", "hours": h, "units": "counts", "calibration_cps_per_mbq": 8.0,
                 "duration_s": 600.0}
                for h in (4, 24, 72)
            ],
            "segmentation": "labels.nrrd",
            "labels": "labels.csv",
        }
        for key, value in changes.items():
            if key.startswith("tp"):
                index, field = int(key[2]), key[4:]
                if value is None:
                    document["timepoints"][index].pop(field, None)
                else:
                    document["timepoints"][index][field] = value
            else:
                document[key] = value
        path = tmp_path / "study.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        return str(path)

    return write


def test_study_json_counts_are_converted_with_the_calibration(study_files):
    study = load_study(study_files())
    assert study.time_h == [4.0, 24.0, 72.0]
    voxel_ml = SPECT_GRID.voxel_volume_ml
    for hours, point in zip((4, 24, 72), study.timepoints):
        expected = 1000.0 * math.exp(-0.02 * hours) / (600.0 * 8.0) * 1e6 / voxel_ml
        assert point.activity.unit == "Bq/mL"
        assert float(point.activity.array[0, 0, 0]) == pytest.approx(expected, rel=1e-6)
        assert point.calibration["calibration_cps_per_mbq"] == 8.0
    # TAC of the VOI = concentration x volume (uniform image), in MBq.
    tac = measure_tacs(study)[0]
    expected_mbq = 1000.0 * math.exp(-0.02 * 4) / 4800.0 / voxel_ml * study.segments[0].volume_ml
    assert tac.activity_mbq[0] == pytest.approx(expected_mbq, rel=1e-6)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tp1_hours": 80}, "not in increasing time order"),
        ({"tp1_hours": 4}, "duplicate time point"),
        ({"tp0_hours": None, "tp0_time": "2026-04-21T09:00:00"}, "not after the injection"),
        ({"tp1_calibration_cps_per_mbq": None}, "calibration_cps_per_mbq"),
        ({"tp2_duration_s": None}, "duration_s"),
        ({"tp0_units": "kBq/cc"}, "units 'kBq/cc' is not known"),
        ({"tp0_hours": None}, "carries no acquisition time"),
        ({"administered_mbq": -5}, "administered_mbq"),
        ({"register": True}, "have no CT"),
        ({"model": {"Liver": "mono"}}, "not a VOI"),
        ({"recovery_coefficients": {"Kidney left": 0}}, "recovery coefficient"),
        ({"tp0_time": "2026-04-21T14:00:00"}, "both 'time' and 'hours'"),
    ],
)
def test_study_json_errors_name_the_key(study_files, changes, message):
    with pytest.raises(RagalivInputError, match=message) as info:
        load_study(study_files(**changes))
    assert info.value.message  # a sentence for the user, and (mostly) a hint
    assert "Traceback" not in str(info.value)


def test_study_json_not_json(tmp_path):
    path = tmp_path / "study.json"
    path.write_text("{\"administered_mbq\": 7400,,}", encoding="utf-8")
    with pytest.raises(RagalivInputError, match="not valid JSON"):
        load_study(str(path))


# --- mass ----------------------------------------------------------------------------------------------
def test_mass_from_ct_density_and_from_the_default():
    segment = _box_segment("Healthy liver", (-10.0, -6.0, -10.0), (14.0, 10.0, 6.0))
    ct_grid = Geometry.from_spacing((30, 32, 32), (3.0, 3.0, 3.0), (-46.5, -46.5, -43.5))
    for hu, density in ((58.0, 1.0 + 0.0006 * 58.0), (-100.0, 0.9)):
        mass = voi_mass(segment, Volume(np.full(ct_grid.shape_kji, hu, np.float32), ct_grid, "HU"))
        assert mass.source == "CT"
        assert mass.density_g_per_ml == pytest.approx(density, rel=1e-6)
        assert mass.mass_g == pytest.approx(density * segment.volume_ml, rel=1e-6)
    default = voi_mass(segment, None)
    assert default.source == "default density" and default.density_g_per_ml == 1.06
    assert default.mass_g == pytest.approx(1.06 * segment.volume_ml)
    assert voi_mass(segment, None, mass_rel_uncertainty=0.1).mass_rel_uncertainty == 0.1


# --- the pipeline on an exact mono-exponential -----------------------------------------------------------
def _study(volumes, segments, times_h, **kwargs):
    points = [SpectTimepoint(time_h=t, activity=v) for t, v in zip(times_h, volumes)]
    return SpectStudy(administered_mbq=7400.0, timepoints=points, segments=segments, **kwargs)


def test_mono_exponential_study_gives_exact_tia_and_led_dose(tmp_path):
    lambda_bio = 0.01
    times_h = [4.0, 24.0, 72.0, 168.0]
    c0 = 2.0e6
    volumes = [_uniform_spect(c0 * math.exp(-(LAMBDA_PHYS_PER_H + lambda_bio) * t)) for t in times_h]
    segments = [
        _box_segment("Lesion 1", (-10.0, -6.0, -10.0), (14.0, 10.0, 6.0)),
        _box_segment("Kidney left", (-25.0, -25.0, -21.0), (-13.0, -11.0, -11.0)),
        _box_segment("Tumour bed", (15.0, 11.0, 9.0), (27.0, 25.0, 21.0)),
    ]
    study = _study(volumes, segments, times_h, calibration_rel_uncertainty=0.05,
                   kernel_directory=str(tmp_path / "no-kernels"))
    result = analyse_study(study)
    for segment in segments:
        region = result.region(segment.name)
        tia_true = c0 / 1e6 * segment.volume_ml / (LAMBDA_PHYS_PER_H + lambda_bio)
        assert region.fit.tia_mbq_h == pytest.approx(tia_true, rel=1e-4)
        t_eff = math.log(2) / (LAMBDA_PHYS_PER_H + lambda_bio)
        assert region.fit.effective_half_life_h == pytest.approx(t_eff, rel=1e-4)
        assert region.tiac_h(7400.0) == pytest.approx(tia_true / 7400.0, rel=1e-4)
        mass = 1.06 * segment.volume_ml  # no CT: default density
        assert region.mass.mass_g == pytest.approx(mass)
        assert region.dose.led.dose_gy == pytest.approx(LED_GY_G_PER_MBQ_H * tia_true / mass, rel=1e-4)
        # calibration 5 % and default-density 3 % dominate (the exact fit adds ~0): sqrt(5² + 3²) %.
        assert region.dose.primary.dose_rel_uncertainty == pytest.approx(math.hypot(0.05, 0.03), rel=1e-3)
    assert result.region("Lesion 1").dose.method_key == "sphere"
    kidney = result.region("Kidney left").dose
    # A 2 mL box is a sample of a kidney (< 1/4 of 155 g): its concentration gives the dose by LED, said so.
    assert kidney.method_key == "led" and any("samples the kidney" in flag for flag in kidney.flags)
    assert kidney.bed is not None
    assert kidney.bed.bed_gy > kidney.primary.dose_gy
    assert result.region("Tumour bed").dose.method_key == "led"
    # Voxel dosimetry without kernels: skipped, and the result says why.
    assert not result.voxel.performed
    assert "no Lanconelli kernel folder" in result.voxel.reason
    assert any("voxel dosimetry skipped" in warning for warning in result.warnings)


def test_primary_method_by_role():
    assert primary_method_for("Lesion 3") == "sphere"
    assert primary_method_for("Extrahepatic 1") == "sphere"
    assert primary_method_for("Kidney right") == "organ_s"
    assert primary_method_for("Healthy liver") == "organ_s"
    assert primary_method_for("Liver") == "organ_s"
    assert primary_method_for("Bone marrow") == "organ_s"
    assert primary_method_for("Muscle") == "led"


# --- registration ----------------------------------------------------------------------------------------
def test_rigid_registration_recovers_a_translation():
    grid = Geometry.from_spacing((36, 48, 48), (3.0, 3.0, 3.0), (-70.5, -70.5, -52.5))
    x, y, z = grid.voxel_centres_lps()

    def phantom(shift):
        sx, sy, sz = shift
        body = ((x - sx) / 60) ** 2 + ((y - sy) / 45) ** 2 + ((z - sz) / 48) ** 2 < 1
        organ = ((x - sx - 20) / 18) ** 2 + ((y - sy + 10) / 12) ** 2 + ((z - sz) / 15) ** 2 < 1
        bone = (np.hypot(x - sx + 5, y - sy - 25) < 8) & (np.abs(z - sz) < 40)
        return np.where(bone, 700.0, np.where(organ, 60.0, np.where(body, 0.0, -1000.0))).astype(np.float32)

    fixed = Volume(phantom((0.0, 0.0, 0.0)), grid, "HU")
    truth = np.array([5.0, -4.0, 3.0])
    moving = Volume(phantom(truth), grid, "HU")
    result = register_rigid(fixed, moving, 1, "meansquares", 100)
    np.testing.assert_allclose(result.translation_mm, truth, atol=0.6)
    assert result.rotation_deg < 1.0


def test_non_finite_spect_values_exclude_the_point_with_a_flag(tmp_path):
    times_h = [4.0, 24.0, 72.0, 168.0]
    volumes = [_uniform_spect(1.0e6 * math.exp(-0.01 * t)) for t in times_h]
    volumes[2].array[10, 12, 12] = np.nan  # inside the VOI below, at 72 h
    segment = _box_segment("Spleen", (-10.0, -6.0, -10.0), (14.0, 10.0, 6.0))
    result = analyse_study(_study(volumes, [segment], times_h, kernel_directory=str(tmp_path)))
    region = result.region("Spleen")
    assert region.tac.activity_mbq[2] is None
    assert region.fit.n_points == 3 and region.fit.time_h == [4.0, 24.0, 168.0]
    assert any("NaN or infinite at 72 h" in flag for flag in region.flags)
    tac_row = next(row for row in result.tac_rows() if row["time_h"] == 72.0)
    assert tac_row["activity_mbq"] is None


# --- kidney BED only from a fitted clearance ------------------------------------------------------------------
@pytest.mark.parametrize(("model", "reason"), [("trapezoid", "physical half-life"), ("stp", "Hänscheid assumption")])
def test_kidney_bed_is_not_computed_without_a_fitted_clearance(tmp_path, model, reason):
    """trapezoid reports T_eff = 159.5 h (the physical tail) and stp T_eff = t: neither is a measured clearance.
    A BED from them would underestimate the repair term 2-3x (true T_eff here 48 h), so none is given."""
    times_h = [4.0, 24.0, 72.0, 168.0]
    volumes = [_uniform_spect(2.0e6 * math.exp(-(LAMBDA_PHYS_PER_H + 0.01) * t)) for t in times_h]
    kidney = _box_segment("Kidney left", (-25.0, -25.0, -21.0), (-13.0, -11.0, -11.0))
    result = analyse_study(_study(volumes, [kidney], times_h, model=model, kernel_directory=str(tmp_path / "none")))
    region = result.region("Kidney left")
    assert region.fit.model == model
    assert region.dose is not None and region.dose.primary.dose_gy > 0.0
    assert region.dose.bed is None
    flags = [flag for flag in region.dose.flags if flag.startswith("BED not computed")]
    assert len(flags) == 1 and reason in flags[0] and "exponential" in flags[0]
    row = next(r for r in result.dose_rows() if r["region"] == "Kidney left")
    assert row["bed_gy"] is None and "BED not computed" in row["flags"]
    # The same study fitted mono-exponentially gets its BED, with the fitted T_eff (48.0 h here).
    mono = analyse_study(_study(volumes, [kidney], times_h, model="mono", kernel_directory=str(tmp_path / "none")))
    bed = mono.region("Kidney left").dose.bed
    t_eff = math.log(2.0) / (LAMBDA_PHYS_PER_H + 0.01)
    assert bed is not None and bed.effective_half_life_h == pytest.approx(t_eff, rel=1e-4)
    d = bed.dose_gy
    assert bed.bed_gy == pytest.approx(d + d * d / 2.6 * 2.8 / (2.8 + t_eff), rel=1e-9)
