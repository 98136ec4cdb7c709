"""`ragaliv ratio` and `ragaliv suv` end to end on the synthetic patient, and on bad input."""

import csv
import json
import shutil

import independent  # Testing/independent.py
import numpy as np
import pydicom
import pytest
from ragaliv.cli import main

CONTRACT_COLUMNS = ("segment,role,volume_ml,ia_suvmax,ia_suvmean,ia_suvpeak,iv_suvmax,iv_suvmean,iv_suvpeak,"
                    "ratio_suvmax,ratio_suvmean,ratio_suvpeak").split(",")


def run_ratio(patient, output, *extra, segmentation=None):
    args = ["ratio", "--ia", str(patient / "pet_ia"), "--iv", str(patient / "pet_iv"),
            "--segmentation", str(segmentation or patient / "segmentation.seg.nrrd"), "-o", str(output), *extra]
    return main(args)


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        return reader.fieldnames, {row["segment"]: row for row in reader}


def test_ratio_reproduces_truth_and_contract(synthetic_patient_dir, tmp_path):
    """Acceptance: within 1 % of truth; asserted at 0.1 % (the truth is exact up to int16 DICOM storage)."""
    truth = json.loads((synthetic_patient_dir / "truth.json").read_text())
    assert run_ratio(synthetic_patient_dir, tmp_path / "out", "--reference", str(synthetic_patient_dir / "mri")) == 0
    columns, rows = read_rows(tmp_path / "out" / "ratios.csv")
    assert columns[: len(CONTRACT_COLUMNS)] == CONTRACT_COLUMNS
    assert set(rows) == set(truth["segments"])
    for name, expected in truth["segments"].items():
        row = rows[name]
        assert row["role"] == expected["role"]
        assert float(row["volume_ml"]) == pytest.approx(expected["volume_ml"], rel=1e-5)
        for scan in ("ia", "iv"):
            for metric in ("suvmax", "suvmean", "suvpeak"):
                assert float(row[f"{scan}_{metric}"]) == pytest.approx(expected[scan][metric], rel=1e-3), (name, metric)
        for metric in ("suvmax", "suvmean", "suvpeak"):
            assert float(row[f"ratio_{metric}"]) == pytest.approx(expected["ratio"], rel=1e-3)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    for key in ("metric", "aggregate", "threshold", "lesion_count", "lesion_ratio", "eligible", "warnings"):
        assert key in summary
    assert summary["lesion_count"] == 5
    assert summary["lesion_ratio"] == pytest.approx(truth["ratio"]["lesion_ratio"], rel=1e-3)
    assert summary["eligible"] is truth["ratio"]["eligible"]
    assert (summary["metric"], summary["aggregate"], summary["threshold"]) == ("suvmax", "mean", 3.0)
    for scan in ("ia", "iv"):
        used = summary["suv_parameters"][scan]
        assert used["weight_kg"] == truth["patient"]["weight_kg"]
        assert used["injected_dose_bq"] == pytest.approx(truth["pet"][scan]["injected_mbq"] * 1e6)
        assert used["decay_time_s"] == pytest.approx(truth["pet"][scan]["decay_time_s"])
        assert used["series_instance_uid"]
    provenance = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert provenance["inputs"]["ia"]["series_instance_uid"] == summary["suv_parameters"]["ia"]["series_instance_uid"]
    assert set(provenance["outputs"]) == {"ratios.csv", "summary.json"}


def test_same_inputs_give_byte_identical_results(synthetic_patient_dir, tmp_path):
    assert run_ratio(synthetic_patient_dir, tmp_path / "a") == 0
    assert run_ratio(synthetic_patient_dir, tmp_path / "b") == 0
    for name in ("ratios.csv", "summary.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_settings_change_the_decision_and_are_reported(synthetic_patient_dir, tmp_path, capsys):
    assert run_ratio(synthetic_patient_dir, tmp_path / "o", "--metric", "suvpeak", "--aggregate", "median",
                     "--threshold", "3.5") == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    truth = json.loads((synthetic_patient_dir / "truth.json").read_text())
    median = float(np.median(truth["ratio"]["lesion_ratios"]))  # 3.3 for the canonical patient
    assert summary["lesion_ratio"] == pytest.approx(median, rel=1e-3)
    assert summary["eligible"] is (median >= 3.5)
    output = capsys.readouterr().out
    assert "median of lesion SUVpeak ratios (IA/IV) >= 3.5" in output


def test_labelmap_with_labels_gives_the_same_numbers(synthetic_patient_dir, tmp_path):
    assert run_ratio(synthetic_patient_dir, tmp_path / "seg") == 0
    assert run_ratio(synthetic_patient_dir, tmp_path / "lab", "--labels", str(synthetic_patient_dir / "labels.csv"),
                     segmentation=synthetic_patient_dir / "labels.nrrd") == 0
    assert (tmp_path / "seg" / "ratios.csv").read_text() == (tmp_path / "lab" / "ratios.csv").read_text()


def test_blurred_patient_matches_an_independent_computation(tmp_path):
    """With scanner blur the truth no longer holds; the CLI must equal a brute-force computation on the
    same PET voxels: SimpleITK-read images, a hand-computed SUV factor, weights from 16x super-sampling and a
    1 mL sphere from 12x super-sampling (Testing/independent.py)."""
    import SimpleITK as sitk
    from ragaliv.io.segmentation import write_seg_nrrd
    from ragaliv.phantom import build_patient
    from ragaliv.phantom.dicom_writer import write_slices

    patient = build_patient(0, blur_fwhm_mm=16.0)  # strong: SUVs then vary across the lesions
    info = {"name": "BLUR", "id": "B", "birth_date": "", "sex": patient.sex, "weight_kg": patient.weight_kg,
            "height_cm": patient.height_cm}
    for number, scan in enumerate((patient.ia, patient.iv), start=1):
        study = {"uid": f"1.2.826.0.1.{number}", "id": "1", "time": scan.scan_time, "description": "", "accession": ""}
        series = {"uid": f"1.2.826.0.2.{number}", "number": 1, "time": scan.scan_time, "modality": "PT",
                  "description": scan.role, "frame_of_reference": "1.2.826.0.3"}
        pet = {"radiopharmaceutical": "68Ga-DOTATATE", "injection_time": scan.injection_time,
               "injected_bq": scan.injected_mbq * 1e6, "half_life_s": scan.half_life_s}
        write_slices(scan.activity, str(tmp_path / scan.role), "PT", info, study, series, pet)
    lesions = [segment for segment in patient.segments if segment.name.startswith("Lesion")]
    write_seg_nrrd(str(tmp_path / "lesions.seg.nrrd"), lesions, patient.mri.geometry)
    args = ["ratio", "--ia", str(tmp_path / "IA"), "--iv", str(tmp_path / "IV"), "--segmentation",
            str(tmp_path / "lesions.seg.nrrd"), "-o", str(tmp_path / "out")]
    assert main(args) == 0
    _, rows = read_rows(tmp_path / "out" / "ratios.csv")

    for scan in (patient.ia, patient.iv):
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path / scan.role)))
        image = reader.Execute()
        header = pydicom.dcmread(reader.GetFileNames()[0], stop_before_pixels=True)
        info = header.RadiopharmaceuticalInformationSequence[0]
        decay_s = (scan.scan_time - scan.injection_time).total_seconds()
        decayed_bq = float(info.RadionuclideTotalDose) * 2 ** (-decay_s / float(info.RadionuclideHalfLife))
        factor = float(header.PatientWeight) * 1000 / decayed_bq
        suv = sitk.GetArrayFromImage(image) * factor
        spacing, origin = np.array(image.GetSpacing()), np.array(image.GetOrigin())
        for segment in lesions:
            expected = independent.uptake(suv, spacing, origin, segment)
            row, prefix = rows[segment.name], scan.role.lower()
            assert float(row[f"{prefix}_suvmean"]) == pytest.approx(expected["suvmean"], rel=2e-3), segment.name
            assert float(row[f"{prefix}_suvmax"]) == pytest.approx(expected["suvmax"], rel=1e-4), segment.name
            assert float(row[f"{prefix}_suvpeak"]) == pytest.approx(expected["suvpeak"], rel=2e-3), segment.name


@pytest.fixture
def pet_copy(synthetic_patient_dir, tmp_path):
    target = tmp_path / "ia_copy"
    shutil.copytree(synthetic_patient_dir / "pet_ia", target)
    return target


def test_missing_weight_names_the_tag_and_the_flag_then_the_flag_fixes_it(synthetic_patient_dir, pet_copy, tmp_path,
                                                                         capsys):
    for path in pet_copy.glob("*.dcm"):
        dataset = pydicom.dcmread(path)
        del dataset.PatientWeight
        dataset.save_as(path)
    args = ["ratio", "--ia", str(pet_copy), "--iv", str(synthetic_patient_dir / "pet_iv"), "--segmentation",
            str(synthetic_patient_dir / "segmentation.seg.nrrd"), "-o", str(tmp_path / "o")]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert "PatientWeight" in error and "(0010,1030)" in error and "--weight-kg" in error
    assert "Traceback" not in error
    assert not (tmp_path / "o" / "ratios.csv").exists()
    truth = json.loads((synthetic_patient_dir / "truth.json").read_text())
    assert main([*args, "--weight-kg", str(truth["patient"]["weight_kg"])]) == 0


def test_wrong_series_and_mixed_folders_are_refused(synthetic_patient_dir, tmp_path, capsys):
    args = ["ratio", "--ia", str(synthetic_patient_dir / "mri"), "--iv", str(synthetic_patient_dir / "pet_iv"),
            "--segmentation", str(synthetic_patient_dir / "segmentation.seg.nrrd"), "-o", str(tmp_path / "o")]
    assert main(args) == 2
    assert "MR" in capsys.readouterr().err

    mixed = tmp_path / "mixed"
    shutil.copytree(synthetic_patient_dir / "pet_ia", mixed / "a")
    shutil.copytree(synthetic_patient_dir / "pet_iv", mixed / "b")
    args[2] = str(mixed)
    assert main(args) == 2
    error = capsys.readouterr().err
    assert "series" in error.lower() and "Traceback" not in error


def test_segmentation_not_overlapping_the_pets_is_refused(synthetic_patient_dir, tmp_path, capsys):
    from ragaliv.geometry import Geometry, SegmentMask
    from ragaliv.io.segmentation import write_seg_nrrd

    far = Geometry.from_spacing((10, 10, 10), (1.5, 1.5, 1.5), (5000.0, 5000.0, 5000.0))
    write_seg_nrrd(str(tmp_path / "far.seg.nrrd"), [SegmentMask("Lesion 1", np.ones((10, 10, 10), bool), far)], far)
    assert run_ratio(synthetic_patient_dir, tmp_path / "o", segmentation=tmp_path / "far.seg.nrrd") == 2
    assert "same patient coordinates" in capsys.readouterr().err


def test_empty_and_out_of_view_segments_are_flagged_rows(synthetic_patient_dir, tmp_path):
    from ragaliv.geometry import Geometry, SegmentMask
    from ragaliv.io.segmentation import read_segments, write_seg_nrrd
    from ragaliv.phantom.patient import MRI_GRID

    segments = read_segments(str(synthetic_patient_dir / "segmentation.seg.nrrd"))
    # The MRI grid extended upwards to z = 208.5 mm, beyond both PETs' axial fields of view (< 151 mm).
    extended = Geometry.from_spacing((120, 256, 256), MRI_GRID.spacing_mm, MRI_GRID.origin_lps_mm)
    empty = SegmentMask.from_full_mask("Lesion 6", np.zeros(extended.shape_kji, bool), extended)
    outside = np.zeros(extended.shape_kji, bool)
    outside[115:118, 120:130, 120:130] = True
    segments += [empty, SegmentMask.from_full_mask("Extrahepatic 2", outside, extended)]
    write_seg_nrrd(str(tmp_path / "seg.seg.nrrd"), segments, extended)
    assert run_ratio(synthetic_patient_dir, tmp_path / "o", segmentation=tmp_path / "seg.seg.nrrd") == 0
    _, rows = read_rows(tmp_path / "o" / "ratios.csv")
    assert rows["Lesion 6"]["ia_suvmax"] == "" and "empty segment" in rows["Lesion 6"]["flags"]
    assert "field of view" in rows["Extrahepatic 2"]["flags"]
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert any("6 lesion segment(s)" in warning for warning in summary["warnings"])
    assert any("Lesion 6" in warning and "left out" in warning for warning in summary["warnings"])


def test_suv_command_writes_the_suv_image(synthetic_patient_dir, tmp_path):
    import SimpleITK as sitk

    truth = json.loads((synthetic_patient_dir / "truth.json").read_text())
    assert main(["suv", str(synthetic_patient_dir / "pet_iv"), "-o", str(tmp_path / "suv.nrrd")]) == 0
    image = sitk.ReadImage(str(tmp_path / "suv.nrrd"))
    assert image.GetPixelID() == sitk.sitkFloat32
    array = sitk.GetArrayFromImage(image)
    assert array.max() == pytest.approx(max(entry["iv"]["suvbw"] for entry in truth["segments"].values()), rel=1e-3)
    assert main(["suv", str(synthetic_patient_dir / "pet_iv"), "-o", str(tmp_path / "suv.txt")]) == 2


def test_pets_of_two_patients_are_not_decided_and_frames_are_checked(synthetic_patient_dir, tmp_path, capsys):
    """Two patient IDs: no decision (exit 3, issue 8: a failed consistency check) until confirmed."""
    other = tmp_path / "iv_other"
    shutil.copytree(synthetic_patient_dir / "pet_iv", other)
    for path in other.glob("*.dcm"):
        dataset = pydicom.dcmread(path)
        dataset.PatientID = "SOMEONE-ELSE"
        dataset.save_as(path)
    args = ["ratio", "--ia", str(synthetic_patient_dir / "pet_ia"), "--iv", str(other), "--segmentation",
            str(synthetic_patient_dir / "segmentation.seg.nrrd"), "-o", str(tmp_path / "o")]
    assert main(args) == 3
    assert "SOMEONE-ELSE" in capsys.readouterr().out
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["eligible"] is None and summary["consistency"][0]["check"] == "patient"

    moved = tmp_path / "iv_moved"
    shutil.copytree(synthetic_patient_dir / "pet_iv", moved)
    for path in moved.glob("*.dcm"):
        dataset = pydicom.dcmread(path)
        dataset.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.1"
        dataset.save_as(path)
    args = ["ratio", "--ia", str(synthetic_patient_dir / "pet_ia"), "--iv", str(moved), "--segmentation",
            str(synthetic_patient_dir / "segmentation.seg.nrrd"), "--reference", str(synthetic_patient_dir / "mri"),
            "-o", str(tmp_path / "m")]
    assert main(args) == 0
    summary = json.loads((tmp_path / "m" / "summary.json").read_text())
    assert "frame of reference" in summary["warnings"][0] and "CHECK REGISTRATION" in summary["decision"]
    # the canonical inputs share one frame: no such warning
    assert main(["ratio", "--ia", str(synthetic_patient_dir / "pet_ia"), "--iv", str(synthetic_patient_dir / "pet_iv"),
                 "--segmentation", str(synthetic_patient_dir / "segmentation.seg.nrrd"), "--reference",
                 str(synthetic_patient_dir / "mri"), "-o", str(tmp_path / "c")]) == 0
    summary = json.loads((tmp_path / "c" / "summary.json").read_text())
    assert not any("frame of reference" in warning for warning in summary["warnings"])
