"""`ragaliv ratio --dicom`: SEG and SR from the command line, read back with the same numbers."""

import csv

import pytest
from ragaliv.cli import main
from ragaliv.report.dicom_export import read_dicom_seg, read_dicom_sr


def test_ratio_writes_seg_and_sr_with_doses(synthetic_patient_dir, tmp_path):
    patient = synthetic_patient_dir
    assert main(["dosimetry", str(patient / "spect" / "study.json"), "-o", str(tmp_path / "dose")]) == 0
    args = ["ratio", "--ia", str(patient / "pet_ia"), "--iv", str(patient / "pet_iv"), "--segmentation",
            str(patient / "segmentation.seg.nrrd"), "--reference", str(patient / "mri"), "--dicom",
            "--dosimetry", str(tmp_path / "dose"), "-o", str(tmp_path / "out")]
    assert main(args) == 0
    with open(tmp_path / "out" / "ratios.csv", newline="", encoding="utf-8") as stream:
        rows = {row["segment"]: row for row in csv.DictReader(stream)}
    report = read_dicom_sr(str(tmp_path / "out" / "measurements.sr.dcm"))
    for name, row in rows.items():
        for key in ("ia_suvmax", "iv_suvmean", "ratio_suvpeak", "volume_ml"):
            assert report["segments"][name][key] == pytest.approx(float(row[key]), rel=1e-5), (name, key)
    assert "ELIGIBLE" in str(report["decision"])
    assert report["dosimetry"], "the doses of --dosimetry are in the SR"
    masks = {segment.name: segment for segment in read_dicom_seg(str(tmp_path / "out" / "segmentation.seg.dcm"))}
    assert set(masks) == set(rows)


def test_dicom_export_needs_the_dicom_reference(synthetic_patient_dir, tmp_path, capsys):
    patient = synthetic_patient_dir
    args = ["ratio", "--ia", str(patient / "pet_ia"), "--iv", str(patient / "pet_iv"), "--segmentation",
            str(patient / "segmentation.seg.nrrd"), "--dicom", "-o", str(tmp_path / "out")]
    assert main(args) == 2
    assert "--reference" in capsys.readouterr().err


def test_provenance_covers_the_dicom_objects(synthetic_patient_dir, tmp_path):
    import json

    patient = synthetic_patient_dir
    args = ["ratio", "--ia", str(patient / "pet_ia"), "--iv", str(patient / "pet_iv"), "--segmentation",
            str(patient / "segmentation.seg.nrrd"), "--reference", str(patient / "mri"), "--dicom",
            "-o", str(tmp_path / "out")]
    assert main(args) == 0
    provenance = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert {"ratios.csv", "summary.json", "segmentation.seg.dcm", "measurements.sr.dcm"} <= set(provenance["outputs"])
