"""The synthetic patient as DICOM: headers read back with plain pydicom reproduce truth.json (issue 2).

Nothing from ragaliv is used to read or convert here: SUV = stored x slope x weight / decayed dose,
computed in the test from the raw header values.
"""

import datetime
import json
import math
import pathlib

import numpy as np
import pydicom
import pytest

PET_STORAGE = "1.2.840.10008.5.1.4.1.1.128"


def read_series(folder: pathlib.Path):
    datasets = [pydicom.dcmread(path) for path in sorted(folder.glob("*.dcm"))]
    datasets.sort(key=lambda ds: float(ds.ImagePositionPatient[2]))
    return datasets


def independent_suv_factor(ds) -> float:
    """QIBA happy path, written out: SUVbw per Bq/mL from this header alone."""
    info = ds.RadiopharmaceuticalInformationSequence[0]
    injection = datetime.datetime.strptime(str(info.RadiopharmaceuticalStartDateTime)[:14], "%Y%m%d%H%M%S")
    scan = datetime.datetime.strptime(ds.SeriesDate + str(ds.SeriesTime)[:6], "%Y%m%d%H%M%S")
    decay_s = (scan - injection).total_seconds()
    decayed_bq = float(info.RadionuclideTotalDose) * 2.0 ** (-decay_s / float(info.RadionuclideHalfLife))
    return float(ds.PatientWeight) * 1000.0 / decayed_bq


def suv_at(datasets, point_lps, factor) -> float:
    """SUV of the voxel containing an LPS point (axial, axis-aligned series)."""
    zs = np.array([float(ds.ImagePositionPatient[2]) for ds in datasets])
    k = int(np.argmin(np.abs(zs - point_lps[2])))
    ds = datasets[k]
    origin = np.array([float(v) for v in ds.ImagePositionPatient])
    row_spacing, column_spacing = (float(v) for v in ds.PixelSpacing)
    i = round((point_lps[0] - origin[0]) / column_spacing)
    j = round((point_lps[1] - origin[1]) / row_spacing)
    stored = ds.pixel_array[j, i] * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    return stored * factor


@pytest.mark.parametrize("scan", ["ia", "iv"])
def test_pet_headers_reproduce_truth_within_half_a_percent(synthetic_patient_dir, scan):
    truth = json.loads((synthetic_patient_dir / "truth.json").read_text())
    datasets = read_series(synthetic_patient_dir / f"pet_{scan}")
    first = datasets[0]
    assert first.SOPClassUID == PET_STORAGE and first.Modality == "PT"
    assert first.Units == "BQML" and first.DecayCorrection == "START"
    assert {"ATTN", "DECY"} <= set(first.CorrectedImage)
    info = first.RadiopharmaceuticalInformationSequence[0]
    for keyword in ("RadiopharmaceuticalStartDateTime", "RadiopharmaceuticalStartTime", "RadionuclideTotalDose",
                    "RadionuclideHalfLife", "RadionuclideCodeSequence"):
        assert keyword in info, keyword
    assert first.PatientWeight and first.PatientSize and first.PatientSex in ("M", "F")
    factor = independent_suv_factor(first)
    assert factor == pytest.approx(truth["pet"][scan]["suvbw_per_bq_per_ml"], rel=1e-6)
    # Every slice has its own rescale slope; sample each segment's tissue at its centre voxel.
    assert len({ds.RescaleSlope for ds in datasets}) > 5
    checked = 0
    for name, entry in truth["segments"].items():
        if "centre_lps_mm" not in entry:
            continue
        suv = suv_at(datasets, entry["centre_lps_mm"], factor)
        assert suv == pytest.approx(entry[scan]["suvbw"], rel=0.005), name
        checked += 1
    assert checked == 6  # five liver lesions and the extra-hepatic lesion


def test_ia_and_iv_scans_differ_as_a_trial_would(synthetic_patient_dir):
    ia = read_series(synthetic_patient_dir / "pet_ia")
    iv = read_series(synthetic_patient_dir / "pet_iv")
    assert ia[0].StudyInstanceUID != iv[0].StudyInstanceUID
    assert ia[0].SeriesDate != iv[0].SeriesDate  # different days
    assert (ia[0].Rows, float(ia[0].PixelSpacing[0])) != (iv[0].Rows, float(iv[0].PixelSpacing[0]))  # grids
    ia_dose = float(ia[0].RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose)
    iv_dose = float(iv[0].RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose)
    assert ia_dose != iv_dose
    truth = json.loads((synthetic_patient_dir / "truth.json").read_text())
    ratios = [entry["ratio"] for entry in truth["segments"].values() if entry["role"] == "lesion"]
    assert min(ratios) < 3.0 < max(ratios)  # lesion ratios spread around the threshold
    organs = [entry["ratio"] for name, entry in truth["segments"].items()
              if entry["role"] in ("kidney", "spleen", "bone_marrow")]
    assert all(ratio < 1.0 for ratio in organs)
    assert truth["ratio"]["eligible"] == (np.mean(ratios) >= 3.0)


def test_mri_is_an_abdominal_t1_series_at_one_and_a_half_millimetres(synthetic_patient_dir):
    datasets = read_series(synthetic_patient_dir / "mri")
    assert datasets[0].Modality == "MR"
    assert [float(v) for v in datasets[0].PixelSpacing] == [1.5, 1.5]
    volume = np.stack([ds.pixel_array for ds in datasets])
    truth = json.loads((synthetic_patient_dir / "truth.json").read_text())
    # Liver metastases are hypointense on T1: darker than the liver around them.
    lesion = truth["segments"]["Lesion 1"]["centre_lps_mm"]
    origin = np.array([float(v) for v in datasets[0].ImagePositionPatient])
    k = round((lesion[2] - origin[2]) / 3.0)
    j, i = round((lesion[1] - origin[1]) / 1.5), round((lesion[0] - origin[0]) / 1.5)
    lesion_signal = volume[k, j - 2 : j + 3, i - 2 : i + 3].mean()
    liver_signal = volume[k, j - 2 : j + 3, i + 24 : i + 29].mean()  # 36-42 mm to the patient's left, in liver
    assert lesion_signal < 0.7 * liver_signal


def test_spect_study_is_dicom_with_acquisition_times(synthetic_patient_dir):
    study = json.loads((synthetic_patient_dir / "spect" / "study.json").read_text())
    truth = json.loads((synthetic_patient_dir / "truth.json").read_text())
    injection = datetime.datetime.fromisoformat(study["injection_time"])
    hours = []
    for entry in study["timepoints"]:
        (path,) = (synthetic_patient_dir / "spect" / entry["image"]).glob("*.dcm")
        nm = pydicom.dcmread(path)
        assert nm.Modality == "NM" and int(nm.NumberOfFrames) > 1
        when = datetime.datetime.strptime(nm.AcquisitionDate + str(nm.AcquisitionTime)[:6], "%Y%m%d%H%M%S")
        hours.append((when - injection).total_seconds() / 3600.0)
    assert hours == pytest.approx(truth["spect"]["timepoints_h"])
    assert truth["spect"]["administered_mbq"] == 7400.0
    kidney = truth["spect"]["regions"]["Kidney left"]
    # TIA truth is the analytic integral of the generating curve.
    lam1, lam2 = kidney["clearance_lambda_per_h"], kidney["uptake_lambda_per_h"]
    expected = kidney["concentration_scale_mbq_per_ml"] * (1 / lam1 - 1 / lam2) * kidney["volume_ml"]
    assert kidney["tia_mbq_h"] == pytest.approx(expected, rel=1e-9)
    assert math.log(2) / lam1 == pytest.approx(kidney["effective_half_life_h"])


def test_phantom_is_deterministic(tmp_path):
    from ragaliv.phantom import build_patient

    first, second = build_patient(3), build_patient(3)
    assert np.array_equal(first.ia.activity.array, second.ia.activity.array)
    assert first.truth == second.truth
    other = build_patient(4)
    assert other.truth["ratio"]["lesion_ratios"] != first.truth["ratio"]["lesion_ratios"]
