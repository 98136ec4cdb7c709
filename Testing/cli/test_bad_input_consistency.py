"""Issue 8, class 2: the IA/IV pair is inconsistent - same series, same pixels, two patients, weights or heights
that disagree, overlapping scans, role words that contradict the role given, every lesion ratio below 1, an
isolated hot voxel as SUVmax. The decision is then NOT DETERMINED (exit 3, eligible null, the reason in
summary.json and report.html), never ELIGIBLE / NOT eligible, until the user confirms (``--confirm-consistency``
or ``--accept CHECK``), which is recorded in summary.json and provenance.json."""

import json

import numpy as np
import pydicom
import pytest
from bad_input import assert_warned, edit_series, no_pdf, radiopharmaceutical, read_summary, run
from ragaliv.io.images import write_image
from ragaliv.pet.suv import load_pet


def ratio_args(patient, ia, iv, output, *extra):
    return ("ratio", "--ia", ia, "--iv", iv, "--segmentation", patient / "segmentation.seg.nrrd", "-o", output, *extra)


def assert_not_determined(result, output, checks, report=False):
    """Exit 3, NOT DETERMINED printed and in summary.json (eligible null, the failed checks listed)."""
    code, out, err = result
    assert code == 3, err
    assert "NOT DETERMINED" in out and "--confirm-consistency" in out
    summary = read_summary(output)
    assert summary["eligible"] is None and summary["decision_status"] == "not determined"
    assert summary["decision"].startswith("NOT DETERMINED")
    failed = {item["check"] for item in summary["consistency"] if item["status"] == "not confirmed"}
    assert set(checks) <= failed, (checks, failed)
    if report:
        page = (output / "report.html").read_text(encoding="utf-8")
        assert "NOT DETERMINED" in page and "ELIGIBLE</div>" not in page
    return summary


def same_day(injection, scan):
    """The IV scan moved to the IA scan day (2026-03-10): injection and series/acquisition time (HHMMSS)."""
    def change(dataset):
        for keyword in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
            setattr(dataset, keyword, "20260310")
        for keyword in ("SeriesTime", "AcquisitionTime", "ContentTime"):
            setattr(dataset, keyword, scan)
        item = radiopharmaceutical(dataset)
        item.RadiopharmaceuticalStartDateTime = "20260310" + injection
        item.RadiopharmaceuticalStartTime = injection
    return change


def later_by_days(day):
    def change(dataset):
        for keyword in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
            setattr(dataset, keyword, day)
        item = radiopharmaceutical(dataset)
        item.RadiopharmaceuticalStartDateTime = day + str(item.RadiopharmaceuticalStartDateTime)[8:]
    return change


def setter(**values):
    def change(dataset):
        for keyword, value in values.items():
            setattr(dataset, keyword, value)
    return change


def copy_with_new_uid(dataset):
    dataset.SeriesInstanceUID = "2.25.1234567890"
    dataset.SOPInstanceUID = pydicom.uid.generate_uid()
    radiopharmaceutical(dataset).RadionuclideTotalDose = 150e6  # and another dose: proportional pixels


# (which scan is changed, change, failed checks, texts in the decision)
NOT_DETERMINED = [
    pytest.param("iv", setter(PatientWeight=172), ["weight-mismatch"], ["IV 172 kg", "pounds"], id="iv-weight-pounds"),
    pytest.param("ia", setter(PatientWeight=90), ["weight-mismatch"], ["IA 90 kg", "IV 78 kg"], id="ia-weight-15pc"),
    pytest.param("ia", setter(PatientSize=1.60), ["height-mismatch"], ["IA 160 cm", "IV 176 cm"], id="height-differs"),
    pytest.param("iv", setter(PatientID="SOMEONE-ELSE"), ["patient"], ["'SOMEONE-ELSE'"], id="other-patient"),
    pytest.param("iv", same_day("094000", "104100"), ["scan-order"], ["The scans overlap", "residual tracer"],
                 id="iv-injected-before-ia-scan"),
    pytest.param("iv", same_day("153000", "163100"), ["scan-order"], ["1.9% of the second scan", "6.3 h later"],
                 id="iv-six-hours-after-ia"),
    pytest.param("iv", setter(SeriesDescription="PET AC IA 68Ga-DOTATATE"), ["role-hint"],
                 ["given as IV PET is described as IA"], id="iv-described-as-ia"),
    pytest.param("ia", setter(SeriesDescription="68Ga PET intravenous"), ["role-hint"],
                 ["given as IA PET is described as IV"], id="ia-described-as-iv"),
    pytest.param("iv", copy_with_new_uid, ["same-pixels"], ["same pixel data"], id="ia-copied-as-iv"),
]


@pytest.mark.parametrize(("scan", "change", "checks", "texts"), NOT_DETERMINED)
def test_inconsistent_pair_is_not_determined(synthetic_patient_dir, tmp_path, capsys, scan, change, checks, texts):
    paths = {name: synthetic_patient_dir / f"pet_{name}" for name in ("ia", "iv")}
    source = paths["ia"] if change is copy_with_new_uid else paths[scan]
    paths[scan] = edit_series(source, tmp_path / scan, change)
    output = tmp_path / "out"
    result = run(capsys, *ratio_args(synthetic_patient_dir, paths["ia"], paths["iv"], output))
    summary = assert_not_determined(result, output, checks)
    for text in texts:
        assert text in summary["decision"], (text, summary["decision"])


def test_same_series_twice_is_not_determined_then_confirmed(synthetic_patient_dir, tmp_path, capsys, monkeypatch):
    no_pdf(monkeypatch)
    pet = synthetic_patient_dir / "pet_ia"
    output = tmp_path / "out"
    result = run(capsys, *ratio_args(synthetic_patient_dir, pet, pet, output, "--report"))
    summary = assert_not_determined(result, output, ["same-series"], report=True)
    assert "every ratio is 1" in summary["decision"]
    assert_warned(output, ["NOT DETERMINED: IA and IV are the same series"])
    code, out, err = run(capsys, *ratio_args(synthetic_patient_dir, pet, pet, output, "--confirm-consistency"))
    assert code == 0, err
    assert out.startswith("NOT eligible") and "ratio of 5 lesion(s) = 1.00" in out
    summary = read_summary(output)
    assert summary["consistency"][0]["status"] == "confirmed by the user" and summary["confirm_consistency"] is True
    assert "CONFIRMED BY THE USER (--confirm-consistency)" in " ".join(summary["warnings"])
    provenance = json.loads((output / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["parameters"]["confirm_consistency"] is True
    assert not (output / "report.html").exists()  # the first run's report (old decision) is gone


def test_swapped_ia_and_iv_are_not_determined(synthetic_patient_dir, tmp_path, capsys, monkeypatch):
    no_pdf(monkeypatch)
    output = tmp_path / "out"
    result = run(capsys, *ratio_args(synthetic_patient_dir, synthetic_patient_dir / "pet_iv",
                                     synthetic_patient_dir / "pet_ia", output, "--report"))
    summary = assert_not_determined(result, output, ["ratios-below-one", "role-hint"], report=True)
    assert "probably swapped" in summary["decision"]


def test_swapped_without_role_words_is_caught_by_the_ratios(synthetic_patient_dir, tmp_path, capsys):
    blank = setter(SeriesDescription="PET AC 68Ga-DOTATATE")
    ia = edit_series(synthetic_patient_dir / "pet_iv", tmp_path / "ia", blank)
    iv = edit_series(synthetic_patient_dir / "pet_ia", tmp_path / "iv", blank)
    output = tmp_path / "out"
    summary = assert_not_determined(run(capsys, *ratio_args(synthetic_patient_dir, ia, iv, output)), output,
                                    ["ratios-below-one"])
    assert [item["check"] for item in summary["consistency"]] == ["ratios-below-one"]


def test_one_check_can_be_accepted_alone(synthetic_patient_dir, tmp_path, capsys):
    """--accept weight-mismatch confirms that check only; a second failed check keeps the decision open."""
    ia = edit_series(synthetic_patient_dir / "pet_ia", tmp_path / "ia",
                     setter(PatientWeight=90, SeriesDescription="PET AC IV"))
    output = tmp_path / "out"
    result = run(capsys, *ratio_args(synthetic_patient_dir, ia, synthetic_patient_dir / "pet_iv", output,
                                     "--accept", "weight-mismatch"))
    summary = assert_not_determined(result, output, ["role-hint"])
    statuses = {item["check"]: item["status"] for item in summary["consistency"]}
    assert statuses == {"weight-mismatch": "confirmed by the user", "role-hint": "not confirmed"}
    code, _, err = run(capsys, *ratio_args(synthetic_patient_dir, ia, synthetic_patient_dir / "pet_iv", output,
                                           "--accept", "weight-mismatch", "--accept", "role-hint"))
    assert code == 0, err
    assert read_summary(output)["accepted_checks"] == ["weight-mismatch", "role-hint"]


@pytest.mark.parametrize(("ia_weight", "expected_code"), [(80, 0), (84.5, 0), (86.5, 3)])
def test_weight_tolerance_is_ten_percent(synthetic_patient_dir, tmp_path, capsys, ia_weight, expected_code):
    """78 kg (IV): 80 and 84.5 kg agree (within 10 %), 86.5 kg does not."""
    output = tmp_path / "out"
    code, _, err = run(capsys, *ratio_args(synthetic_patient_dir, synthetic_patient_dir / "pet_ia",
                                           synthetic_patient_dir / "pet_iv", output, "--weight-kg", "78"))
    assert code == 0, err  # one weight for both scans: always consistent
    ia = edit_series(synthetic_patient_dir / "pet_ia", tmp_path / "ia", setter(PatientWeight=ia_weight))
    code, _, err = run(capsys, *ratio_args(synthetic_patient_dir, ia, synthetic_patient_dir / "pet_iv", output))
    assert code == expected_code, err
    assert (read_summary(output)["eligible"] is None) is (expected_code == 3)


def test_scans_far_apart_are_decided_with_a_warning(synthetic_patient_dir, tmp_path, capsys, monkeypatch):
    no_pdf(monkeypatch)
    iv = edit_series(synthetic_patient_dir / "pet_iv", tmp_path / "iv", later_by_days("20260421"))
    output = tmp_path / "out"
    code, _, err = run(capsys, *ratio_args(synthetic_patient_dir, synthetic_patient_dir / "pet_ia", iv, output,
                                           "--report"))
    assert code == 0, err
    summary = assert_warned(output, ["scans are 42 days apart"])
    assert summary["eligible"] is True


# --- an isolated hot voxel as the lesion SUVmax ----------------------------------------------------------------
@pytest.fixture(scope="module")
def ia_with_spike(synthetic_patient_dir, tmp_path_factory):
    """The IA PET as float NRRD with its hottest lesion voxel x50 (physically possible activity, but no uptake)."""
    pet = load_pet(str(synthetic_patient_dir / "pet_ia"))
    array = np.array(pet.activity.array, dtype=np.float32)
    hottest = np.argwhere(array == array.max())  # the uniform hottest lesion: take its central voxel
    array[tuple(np.round(hottest.mean(axis=0)).astype(int))] *= 50.0
    path = tmp_path_factory.mktemp("spike") / "ia_spike.nrrd"
    write_image(type(pet.activity)(array, pet.activity.geometry, "Bq/mL"), str(path), dtype="float32")
    return path, ("--weight-kg", "78", "--height-cm", "176", "--ia-dose-mbq", "148", "--ia-injection-time",
                  "2026-03-10T09:12:00", "--ia-scan-time", "2026-03-10T10:05:30")


def test_isolated_hot_voxel_does_not_decide_on_suvmax(synthetic_patient_dir, ia_with_spike, tmp_path, capsys):
    path, flags = ia_with_spike
    output = tmp_path / "max"
    result = run(capsys, *ratio_args(synthetic_patient_dir, path, synthetic_patient_dir / "pet_iv", output, *flags))
    summary = assert_not_determined(result, output, ["voxel-outlier"])
    assert "isolated hot voxel" in summary["decision"]
    # summary.json names the lesion and scan of a per-lesion finding (what a confirmation in the module binds to)
    item = next(item for item in summary["consistency"] if item["check"] == "voxel-outlier")
    assert item["subject"] == f"{item['message'].split(':')[0]} IA" and item["subject"].startswith("Lesion ")
    output = tmp_path / "peak"
    code, _, err = run(capsys, *ratio_args(synthetic_patient_dir, path, synthetic_patient_dir / "pet_iv", output,
                                           *flags, "--metric", "suvpeak"))
    assert code == 0, err  # SUVpeak is robust to one voxel: decided, with the warning
    summary = assert_warned(output, ["isolated hot voxel"], report=False)
    assert summary["eligible"] is True


def test_batch_row_is_not_determined_and_a_row_can_confirm(synthetic_patient_dir, tmp_path, capsys):
    pet = synthetic_patient_dir / "pet_ia"
    seg = synthetic_patient_dir / "segmentation.seg.nrrd"
    cohort = tmp_path / "COHORT.csv"
    cohort.write_text(f"patient_id,ia,iv,segmentation,confirm_consistency\nP1,{pet},{pet},{seg},\n"
                      f"P2,{pet},{pet},{seg},yes\n", encoding="utf-8")
    code, _, err = run(capsys, "batch", cohort, "-o", tmp_path / "out", "--jobs", "1", "--no-deidentify")
    assert code == 0, err
    document = json.loads((tmp_path / "out" / "cohort_summary.json").read_text(encoding="utf-8"))
    rows = {row["patient"]: row for row in document["patients"]}
    assert rows["P1"]["eligible"] is None and "NOT DETERMINED" in rows["P1"]["warnings"]
    assert rows["P2"]["eligible"] is False and "CONFIRMED BY THE USER" in rows["P2"]["warnings"]
