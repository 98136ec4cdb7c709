"""Issue 8, class 1: implausible single values of a PET - weight, height, injected activity, half-life and nuclide,
uptake time, voxel values - refused (exit 2, tag + value + range + fix, nothing written) or, when unusual but
possible, warned into summary.json and report.html. Built from the synthetic patient (78 kg, 176 cm, IA 148 MBq
and IV 162 MBq of 68Ga, half-life 4062.6 s, uptake 53.5 / 61 min), one header or file changed with pydicom."""

import numpy as np
import pytest
from bad_input import (
    all_warnings,
    assert_refused,
    assert_warned,
    edit_series,
    no_pdf,
    radiopharmaceutical,
    read_summary,
    run,
)
from ragaliv.io.images import write_image
from ragaliv.pet.suv import load_pet


def ratio_args(patient, ia, iv, output, *extra):
    return ("ratio", "--ia", ia, "--iv", iv, "--segmentation", patient / "segmentation.seg.nrrd", "-o", output, *extra)


def set_weight(value):
    def change(dataset):
        dataset.PatientWeight = value
    return change


def set_size(value):
    def change(dataset):
        dataset.PatientSize = value
    return change


def set_dose(value):
    def change(dataset):
        radiopharmaceutical(dataset).RadionuclideTotalDose = value
    return change


def set_half_life(value):
    def change(dataset):
        radiopharmaceutical(dataset).RadionuclideHalfLife = value
    return change


def as_nuclide(code, meaning, name, half_life):
    def change(dataset):
        item = radiopharmaceutical(dataset)
        item.RadionuclideHalfLife = half_life
        item.Radiopharmaceutical = name
        if code is None:
            del item.RadionuclideCodeSequence
        else:
            item.RadionuclideCodeSequence[0].CodeValue = code
            item.RadionuclideCodeSequence[0].CodeMeaning = meaning
    return change


def set_injection(stamp):
    def change(dataset):
        item = radiopharmaceutical(dataset)
        item.RadiopharmaceuticalStartDateTime = stamp
        item.RadiopharmaceuticalStartTime = stamp[8:]
    return change


# --- refused header values (the IA PET changed; the run stops before anything is written) -------------------
REFUSED_IA = [
    pytest.param(set_weight(780), ("PatientWeight (0010,1030)", "780 kg", "10x too large", "--weight-kg",
                                   "--accept weight"), id="weight-10x-large"),
    pytest.param(set_weight(7.8), ("PatientWeight", "7.8 kg", "10x too small", "--weight-kg"), id="weight-10x-small"),
    pytest.param(set_weight(500), ("500 kg", "--accept weight"), id="weight-500"),
    pytest.param(set_dose(148000), ("RadionuclideTotalDose (0018,1074)", "0.148 MBq", "1000x too small",
                                    "--ia-dose-mbq", "--accept injected-activity"), id="dose-in-kBq"),
    pytest.param(set_dose(0.148), ("0.148 MBq", "--ia-dose-mbq"), id="dose-in-GBq"),
    pytest.param(set_dose(4.0), ("Injected 68Ga activity 4 MBq", "read as MBq"), id="dose-in-mCi"),
    pytest.param(set_dose(1.48e11), ("1.48e+05 MBq", "1000x too large", "148 MBq"), id="dose-1000x-large"),
    pytest.param(set_half_life(67.71), ("RadionuclideHalfLife (0018,1075)", "67.71", "68Ga half-life in minutes",
                                        "--half-life-s", "--accept half-life"), id="half-life-in-minutes"),
    pytest.param(set_half_life(1.1285), ("1.1285", "in hours"), id="half-life-in-hours"),
    pytest.param(set_half_life(6586.2), ("6586.2", "half-life of 18F, not of 68Ga"), id="half-life-of-18F"),
    pytest.param(set_half_life(900.0), ("900 s", "68Ga has 4062.6 s"), id="half-life-unknown"),
    pytest.param(set_half_life(600.0), ("600 s", "half-life of 13N, not of 68Ga"), id="half-life-of-13N"),
    pytest.param(as_nuclide("C-111A1", "^18^Fluorine", "18F-FDG", 6586.2),
                 ("IA PET is 18F", "expects 68Ga", "--accept nuclide"), id="an-18F-PET"),
    pytest.param(as_nuclide(None, "", "18F-FDG", 6586.2), ("IA PET is 18F", "name '18F-FDG'"), id="18F-by-name"),
    pytest.param(as_nuclide(None, "", "", 6586.2), ("IA PET is 18F", "inferred from the half-life"),
                 id="18F-by-half-life"),
    pytest.param(set_injection("20260309091200"), ("uptake time 24.89 h", "half-lives", "--ia-injection-time",
                                                   "--accept uptake-time"), id="injection-a-day-early"),
    pytest.param(set_dose(29.6e6), ("holds 3.", "times the injected activity", "--accept pet-activity"),
                 id="dose-5x-too-small"),
]


@pytest.mark.parametrize(("change", "texts"), REFUSED_IA)
def test_implausible_ia_header_value_is_refused(synthetic_patient_dir, tmp_path, capsys, change, texts):
    ia = edit_series(synthetic_patient_dir / "pet_ia", tmp_path / "ia", change)
    output = tmp_path / "out"
    result = run(capsys, *ratio_args(synthetic_patient_dir, ia, synthetic_patient_dir / "pet_iv", output))
    err = assert_refused(result, "IA PET", *texts, output=output)
    assert "implausible" in err or "impossible" in err or "contradicts" in err or "expects" in err


@pytest.mark.parametrize(("flags", "texts"), [
    pytest.param(("--weight-kg", "780"), ("780 kg", "override (--weight-kg"), id="flag-weight-10x"),
    pytest.param(("--ia-dose-mbq", "0.148"), ("0.148 MBq", "--ia-dose-mbq"), id="flag-dose-in-GBq"),
    pytest.param(("--half-life-s", "67.71"), ("67.71 s", "68Ga half-life in minutes"), id="flag-half-life-minutes"),
    pytest.param(("--height-cm", "1.76", "--normalization", "lbm"), ("1.76 cm", "--height-cm"),
                 id="flag-height-in-m"),
])
def test_implausible_override_is_refused_too(synthetic_patient_dir, tmp_path, capsys, flags, texts):
    output = tmp_path / "out"
    result = run(capsys, *ratio_args(synthetic_patient_dir, synthetic_patient_dir / "pet_ia",
                                     synthetic_patient_dir / "pet_iv", output, *flags))
    assert_refused(result, *texts, output=output)


def test_height_in_the_wrong_unit_is_refused_only_where_it_is_used(synthetic_patient_dir, tmp_path, capsys):
    """PatientSize 17.6 (dm?) reads 17.6 cm: refused for SUL (height used), a loud warning for SUVbw."""
    change = set_size(17.6)
    ia = edit_series(synthetic_patient_dir / "pet_ia", tmp_path / "ia", change)
    iv = edit_series(synthetic_patient_dir / "pet_iv", tmp_path / "iv", change)
    output = tmp_path / "lbm"
    result = run(capsys, *ratio_args(synthetic_patient_dir, ia, iv, output, "--normalization", "lbm"))
    assert_refused(result, "PatientSize (0010,1020)", "17.6 cm", "--accept height", output=output)
    code, _, err = run(capsys, *ratio_args(synthetic_patient_dir, ia, iv, tmp_path / "bw"))
    assert code == 0, err
    assert_warned(tmp_path / "bw", ["Patient height 17.6 cm"], report=False)


def test_accepted_refusal_runs_and_is_recorded(synthetic_patient_dir, tmp_path, capsys, monkeypatch):
    """--accept weight: the run goes on, the acceptance is a warning in summary.json and the report, and the
    IA/IV weight comparison still keeps the decision open (780 vs 78 kg)."""
    no_pdf(monkeypatch)
    ia = edit_series(synthetic_patient_dir / "pet_ia", tmp_path / "ia", set_weight(780))
    output = tmp_path / "out"
    code, out, err = run(capsys, *ratio_args(synthetic_patient_dir, ia, synthetic_patient_dir / "pet_iv", output,
                                             "--accept", "weight", "--report"))
    assert code == 3, err
    assert "NOT DETERMINED" in out
    summary = assert_warned(output, ["ACCEPTED BY THE USER (--accept weight)", "The weight differs between the scans"])
    assert summary["eligible"] is None and summary["accepted_checks"] == ["weight"]
    assert "NOT DETERMINED" in (output / "report.html").read_text(encoding="utf-8")


def test_unknown_check_to_accept_is_refused(synthetic_patient_dir, tmp_path, capsys):
    output = tmp_path / "out"
    result = run(capsys, *ratio_args(synthetic_patient_dir, synthetic_patient_dir / "pet_ia",
                                     synthetic_patient_dir / "pet_iv", output, "--accept", "wieght"))
    assert_refused(result, "Unknown check(s) to accept: wieght", "weight", output=output)


# --- unusual but possible: a decision with a loud warning in summary.json and report.html ---------------------
def _both(change):
    return change, change


WARNED = [
    pytest.param(_both(set_weight(172)), "Body-mass index 55.5", 0, id="weight-in-pounds-both-scans"),
    pytest.param((set_dose(148.0), None), "too small to be Bq: read as MBq", 0, id="dose-entered-in-MBq"),
    pytest.param((set_dose(400e6), None), "Injected 68Ga activity 400 MBq", 0, id="dose-unusually-high"),
    pytest.param((set_dose(74e6), None), "more than was injected", 0, id="dose-half-the-truth"),
    pytest.param((None, set_injection("20260312093500")), "68Ga uptake time 13 min", 0, id="uptake-13-min"),
    pytest.param(_both(set_size(2.15)), "Patient height 215 cm", 0, id="height-215-cm"),
]


@pytest.mark.parametrize(("changes", "text", "expected_code"), WARNED)
def test_unusual_value_is_warned_into_summary_and_report(synthetic_patient_dir, tmp_path, capsys, monkeypatch,
                                                         changes, text, expected_code):
    no_pdf(monkeypatch)
    paths = []
    for scan, change in zip(("ia", "iv"), changes):
        source = synthetic_patient_dir / f"pet_{scan}"
        paths.append(source if change is None else edit_series(source, tmp_path / scan, change))
    output = tmp_path / "out"
    code, _, err = run(capsys, *ratio_args(synthetic_patient_dir, *paths, output, "--report"))
    assert code == expected_code, err
    assert text in err  # printed on the console
    summary = assert_warned(output, [text])
    assert summary["eligible"] is not None and summary["decision_status"] == "determined"


def test_header_half_life_of_another_68ga_evaluation_is_accepted(synthetic_patient_dir, tmp_path, capsys):
    """4057.7 s (the IBSI Ga-68 DRO value) is 68Ga within 0.2 %: no finding, the decision is written."""
    ia = edit_series(synthetic_patient_dir / "pet_ia", tmp_path / "ia", set_half_life(4057.7))
    code, _, err = run(capsys, *ratio_args(synthetic_patient_dir, ia, synthetic_patient_dir / "pet_iv",
                                           tmp_path / "out"))
    assert code == 0, err
    assert not any("half-life" in text for text in all_warnings(read_summary(tmp_path / "out")))


# --- voxel values: one absurd voxel inside a lesion -----------------------------------------------------------
@pytest.fixture(scope="module")
def ia_image(synthetic_patient_dir, tmp_path_factory):
    """The IA PET as a float NRRD (Bq/mL) with one voxel of 1e30 Bq/mL at its hottest lesion voxel, and the
    flags that give it its SUV parameters."""
    pet = load_pet(str(synthetic_patient_dir / "pet_ia"))
    activity = pet.activity
    array = np.array(activity.array, dtype=np.float32)
    hottest = np.argwhere(array == array.max())  # the uniform hottest lesion: its central voxel
    array[tuple(np.round(hottest.mean(axis=0)).astype(int))] = 1e30
    path = tmp_path_factory.mktemp("voxel") / "ia_absurd.nrrd"
    write_image(type(activity)(array, activity.geometry, "Bq/mL"), str(path), dtype="float32")
    flags = ("--weight-kg", "78", "--height-cm", "176", "--ia-dose-mbq", "148", "--ia-injection-time",
             "2026-03-10T09:12:00", "--ia-scan-time", "2026-03-10T10:05:30")
    return path, flags


def test_absurd_voxel_in_a_lesion_is_refused_not_eligible(synthetic_patient_dir, ia_image, tmp_path, capsys):
    path, flags = ia_image
    output = tmp_path / "out"
    result = run(capsys, *ratio_args(synthetic_patient_dir, path, synthetic_patient_dir / "pet_iv", output, *flags))
    assert_refused(result, "IA PET holds", "one voxel alone has SUV", "corrupt voxel", "--accept pet-activity",
                   output=output)
    # accepted, the voxel is still no uptake: SUVmax 9e26 is 20x its SUVpeak, so no ELIGIBLE either
    code, out, err = run(capsys, *ratio_args(synthetic_patient_dir, path, synthetic_patient_dir / "pet_iv", output,
                                             *flags, "--accept", "pet-activity"))
    assert code == 3 and out.startswith("NOT DETERMINED: Lesion 3: the IA SUVmax 9.1"), out + err


def test_suv_command_refuses_the_absurd_voxel_and_the_implausible_header(synthetic_patient_dir, ia_image, tmp_path,
                                                                         capsys):
    path, flags = ia_image
    output = tmp_path / "suv.nrrd"
    suv_flags = [flag.replace("--ia-", "--") for flag in flags]
    assert_refused(run(capsys, "suv", path, "-o", output, *suv_flags), "one voxel alone", "--accept pet-activity")
    assert not output.exists()
    ia = edit_series(synthetic_patient_dir / "pet_ia", tmp_path / "ia", set_weight(780))
    assert_refused(run(capsys, "suv", ia, "-o", output), "780 kg", "--weight-kg")
    assert not output.exists()
    code, _, err = run(capsys, "suv", ia, "-o", output, "--accept", "weight")
    assert code == 0 and "ACCEPTED BY THE USER (--accept weight)" in err and output.exists()
