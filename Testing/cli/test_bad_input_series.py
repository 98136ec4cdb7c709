"""Bad DICOM series and rescale attributes (issue 8, class "series/rescale"): refused with exit 2 before any result.

Every case starts from the synthetic patient, copies one series (IA or IV PET, a SPECT time point or its CT) into
``tmp_path`` and damages it the way a real transfer, anonymiser or export does. Each refusal asserts the exit code
2, the message (the tag or the file, what is wrong and the fix) and that nothing was written. The two warning cases
assert that the warning reaches summary.json.

Truths: what the series must hold is known by construction (100 IA slices, 95 IV slices, RescaleSlope and
RescaleIntercept in every PET/CT slice and in the NM files, Units BQML), so each damage has one correct diagnosis.
"""

import json
import os
import shutil

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid
from ragaliv.cli import main

SLOPE = "(0028,1053)"
INTERCEPT = "(0028,1052)"


# --- helpers -----------------------------------------------------------------------------------------------
def copy_series(source, target):
    shutil.copytree(source, target)
    return target


def slices(folder):
    return sorted(os.path.join(folder, name) for name in os.listdir(folder) if name.endswith(".dcm"))


def edit(path, **changes):
    """Set (value) or delete (None) attributes of one file, keeping its encoding."""
    dataset = pydicom.dcmread(path)
    for keyword, value in changes.items():
        if value is None:
            if keyword in dataset:
                delattr(dataset, keyword)
        else:
            setattr(dataset, keyword, value)
    dataset.save_as(path)


def edit_raw(path, keyword, text: bytes):
    """Overwrite the value of a DS element in place with ``text`` (space padded to its length), as a broken
    export writes it: values such as NaN or "abc" that pydicom refuses to write. Explicit VR little endian."""
    tag = {"RescaleSlope": b"\x28\x00\x53\x10DS", "RescaleIntercept": b"\x28\x00\x52\x10DS"}[keyword]
    value = pydicom.dcmread(path, stop_before_pixels=True)[keyword].value
    edit(path, **{keyword: f"{float(value):.12f}"[:16]})  # room for the text (the same number)
    with open(path, "rb") as stream:
        data = bytearray(stream.read())
    at = data.index(tag)
    length = int.from_bytes(data[at + 6:at + 8], "little")
    assert len(text) <= length, (text, length)
    data[at + 8:at + 8 + length] = text.ljust(length, b" ")
    with open(path, "wb") as stream:
        stream.write(bytes(data))


def truncate(path, keep_bytes):
    with open(path, "rb") as stream:
        data = stream.read(keep_bytes)
    with open(path, "wb") as stream:
        stream.write(data)


def nothing_written(path):
    return not os.path.exists(path) or (os.path.isdir(path) and not os.listdir(path))


@pytest.fixture
def pets(synthetic_patient_dir, tmp_path):
    """Copies of the IA and IV PET series (100 and 95 slices)."""
    return (copy_series(synthetic_patient_dir / "pet_ia", tmp_path / "pet_ia"),
            copy_series(synthetic_patient_dir / "pet_iv", tmp_path / "pet_iv"))


def ratio(patient, ia, iv, output):
    return main(["ratio", "--ia", str(ia), "--iv", str(iv), "--segmentation",
                 str(patient / "segmentation.seg.nrrd"), "-o", str(output)])


def refused_ratio(patient, pets, tmp_path, capsys, *fragments):
    output = tmp_path / "out"
    code = ratio(patient, pets[0], pets[1], output)
    err = capsys.readouterr().err
    assert code == 2, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert "  fix: " in err and "Traceback" not in err
    assert nothing_written(output), os.listdir(output)
    return err


# --- PET rescale: ratio -------------------------------------------------------------------------------------
def test_slope_missing_in_every_ia_slice(synthetic_patient_dir, pets, tmp_path, capsys):
    for path in slices(pets[0]):
        edit(path, RescaleSlope=None)
    err = refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys,
                        f"IA PET: RescaleSlope {SLOPE} is missing in 100 of 100 slices of the PET series in", "pet_ia",
                        "Type 1 for Modality PT", "never taken as 1.0", "Re-export")
    assert "PT_0001.dcm" in err


def test_slope_missing_in_one_iv_slice_names_it(synthetic_patient_dir, pets, tmp_path, capsys):
    edit(slices(pets[1])[49], RescaleSlope=None)
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys,
                  f"IV PET: RescaleSlope {SLOPE} is missing in 1 of 95 slices", "PT_0050.dcm",
                  "present in the other slices")


def test_slope_nan_in_every_slice(synthetic_patient_dir, pets, tmp_path, capsys):
    for path in slices(pets[0]):
        edit_raw(path, "RescaleSlope", b"NaN")
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, f"RescaleSlope {SLOPE} is NaN in 100 of 100 slices")


def test_slope_infinite_in_one_slice(synthetic_patient_dir, pets, tmp_path, capsys):
    edit_raw(slices(pets[1])[10], "RescaleSlope", b"inf")
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, f"{SLOPE} is +infinite in 1 of 95", "PT_0011.dcm")


def test_slope_zero_would_give_an_all_zero_image(synthetic_patient_dir, pets, tmp_path, capsys):
    for path in slices(pets[0]):
        edit(path, RescaleSlope="0")
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, f"{SLOPE} is 0 in 100 of 100",
                  "every voxel would be 0", "must be above 0")


def test_negative_slope_in_one_slice(synthetic_patient_dir, pets, tmp_path, capsys):
    edit(slices(pets[1])[0], RescaleSlope="-0.05")
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, f"{SLOPE} is -0.05 in 1 of 95", "PT_0001.dcm",
                  "change sign")


def test_empty_slope_is_missing(synthetic_patient_dir, pets, tmp_path, capsys):
    for path in slices(pets[0]):
        edit(path, RescaleSlope="")
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, f"{SLOPE} is missing in 100 of 100")


def test_slope_that_is_not_a_number(synthetic_patient_dir, pets, tmp_path, capsys):
    edit_raw(slices(pets[0])[3], "RescaleSlope", b"abc")
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, f"{SLOPE} is not a number ('abc')", "PT_0004.dcm")


def test_slope_with_two_values(synthetic_patient_dir, pets, tmp_path, capsys):
    edit(slices(pets[0])[7], RescaleSlope=["0.5", "2"])
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, f"{SLOPE} has 2 values", "PT_0008.dcm")


def test_intercept_missing_in_every_slice(synthetic_patient_dir, pets, tmp_path, capsys):
    for path in slices(pets[1]):
        edit(path, RescaleIntercept=None)
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, f"RescaleIntercept {INTERCEPT} is missing in 95 of 95",
                  "Type 1 for Modality PT")


def test_intercept_nan_in_one_slice(synthetic_patient_dir, pets, tmp_path, capsys):
    edit_raw(slices(pets[0])[99], "RescaleIntercept", b"NaN")
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, f"{INTERCEPT} is NaN in 1 of 100", "PT_0100.dcm")


# --- PET rescale: suv ---------------------------------------------------------------------------------------
def test_suv_refuses_a_missing_slope_and_writes_nothing(pets, tmp_path, capsys):
    for path in slices(pets[0]):
        edit(path, RescaleSlope=None)
    output = tmp_path / "suv.nrrd"
    code = main(["suv", str(pets[0]), "-o", str(output)])
    err = capsys.readouterr().err
    assert code == 2 and f"{SLOPE} is missing in 100 of 100" in err and "fix:" in err
    assert not output.exists()


def test_suv_refuses_a_zero_slope_in_the_first_slice(pets, tmp_path, capsys):
    edit(slices(pets[1])[0], RescaleSlope="0.0")
    output = tmp_path / "suv.nrrd"
    code = main(["suv", str(pets[1]), "-o", str(output)])
    err = capsys.readouterr().err
    assert code == 2 and f"{SLOPE} is 0 in 1 of 95" in err and "PT_0001.dcm" in err
    assert not output.exists()


# --- PET completeness ----------------------------------------------------------------------------------------
def test_truncated_pixel_data_of_a_middle_slice(synthetic_patient_dir, pets, tmp_path, capsys):
    path = slices(pets[0])[40]
    truncate(path, os.path.getsize(path) // 2)
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, "PT_0041.dcm is truncated", "pixel data holds",
                  "never skips a slice", "Copy the series again")


def test_first_slice_cut_inside_its_header(synthetic_patient_dir, pets, tmp_path, capsys):
    path = slices(pets[1])[0]
    truncate(path, 600)  # before SeriesInstanceUID: its series cannot be told, the input is refused
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, "PT_0001.dcm is truncated",
                  "inside its DICOM header", str(path))


def test_last_slice_lost_without_a_gap(synthetic_patient_dir, pets, tmp_path, capsys):
    os.remove(slices(pets[0])[-1])
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, "1 of its 100 slices are missing",
                  "ImageIndex (0054,1330) 100 absent", "NumberOfSlices (0054,0081) is 100")


def test_first_slice_lost_without_a_gap(synthetic_patient_dir, pets, tmp_path, capsys):
    os.remove(slices(pets[1])[0])
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, "1 of its 95 slices are missing",
                  "ImageIndex (0054,1330) 1 absent")


def test_middle_slice_lost_leaves_a_gap(synthetic_patient_dir, pets, tmp_path, capsys):
    os.remove(slices(pets[0])[50])
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, "1 slice is missing between",
                  "Give the complete series")


def test_same_file_twice_under_two_names(synthetic_patient_dir, pets, tmp_path, capsys):
    shutil.copy(slices(pets[0])[5], os.path.join(pets[0], "PT_0006_copy.dcm"))
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, "holds the same image twice", "PT_0006.dcm",
                  "PT_0006_copy.dcm", "SOPInstanceUID (0008,0018)", "Remove one of the two copies")


def test_two_slices_at_one_position(synthetic_patient_dir, pets, tmp_path, capsys):
    copy = os.path.join(pets[1], "PT_9999.dcm")
    shutil.copy(slices(pets[1])[5], copy)
    edit(copy, SOPInstanceUID=generate_uid())
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, "Two slices at the same position", "PT_9999.dcm")


def test_empty_dicom_file_in_the_folder(synthetic_patient_dir, pets, tmp_path, capsys):
    open(os.path.join(pets[0], "PT_0101.dcm"), "wb").close()
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, "PT_0101.dcm is empty (0 bytes)")


def test_dcm_file_that_is_not_dicom(synthetic_patient_dir, pets, tmp_path, capsys):
    with open(os.path.join(pets[1], "PT_0000.dcm"), "w", encoding="ascii") as stream:
        stream.write("<html>proxy error</html>\n" * 20)
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, "PT_0000.dcm has no DICM prefix")


def test_slice_without_pixel_data(synthetic_patient_dir, pets, tmp_path, capsys):
    edit(slices(pets[0])[20], PixelData=None)
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, "PT_0021.dcm has no pixel data (7FE0,0010)")


def test_slice_of_another_size(synthetic_patient_dir, pets, tmp_path, capsys):
    path = slices(pets[0])[30]
    dataset = pydicom.dcmread(path)
    small = dataset.pixel_array[:-8, :]
    dataset.PixelData, dataset.Rows = small.tobytes(), small.shape[0]
    dataset.save_as(path)
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, "Slices differ in size", "PT_0031.dcm",
                  "Rows/Columns (0028,0010)/(0028,0011)")


def test_slice_with_another_pixel_spacing(synthetic_patient_dir, pets, tmp_path, capsys):
    edit(slices(pets[1])[60], PixelSpacing=["4.5", "4.5"])
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, "PixelSpacing (0028,0030)", "PT_0061.dcm")


def test_slice_with_another_orientation(synthetic_patient_dir, pets, tmp_path, capsys):
    edit(slices(pets[0])[60], ImageOrientationPatient=["1", "0", "0", "0", "0", "-1"])
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, "ImageOrientationPatient (0020,0037)", "PT_0061.dcm")


def test_slice_shifted_off_the_grid(synthetic_patient_dir, pets, tmp_path, capsys):
    path = slices(pets[1])[40]
    position = [float(v) for v in pydicom.dcmread(path).ImagePositionPatient]
    edit(path, ImagePositionPatient=[f"{v:.4f}" for v in (position[0], position[1], position[2] + 1.3)])
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, "slice spacing", "Give the complete series")


def test_slice_from_another_frame_of_reference(synthetic_patient_dir, pets, tmp_path, capsys):
    edit(slices(pets[0])[12], FrameOfReferenceUID=generate_uid())
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, "FrameOfReferenceUID (0020,0052)", "PT_0013.dcm")


def test_repeated_image_index(synthetic_patient_dir, pets, tmp_path, capsys):
    edit(slices(pets[1])[3], ImageIndex=3)
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, "ImageIndex (0054,1330) 3 appears twice",
                  "PT_0003.dcm", "PT_0004.dcm")


def test_blank_pet_is_refused(synthetic_patient_dir, pets, tmp_path, capsys):
    for path in slices(pets[1]):
        dataset = pydicom.dcmread(path)
        dataset.PixelData = np.zeros_like(dataset.pixel_array).tobytes()
        dataset.save_as(path)
    refused_ratio(synthetic_patient_dir, pets, tmp_path, capsys, "IV PET: Every voxel of the PET series in", "is 0")


# --- PET: unusual but possible -> warning in summary.json -------------------------------------------------------
def test_more_slices_than_declared_is_a_warning_in_the_summary(synthetic_patient_dir, pets, tmp_path, capsys):
    for path in slices(pets[1]):
        edit(path, NumberOfSlices=94)
    output = tmp_path / "out"
    assert ratio(synthetic_patient_dir, pets[0], pets[1], output) == 0
    summary = json.loads((output / "summary.json").read_text())
    warnings = summary["suv_parameters"]["iv"]["warnings"]
    assert any("holds 95 slices but NumberOfSlices (0054,0081) says 94" in w for w in warnings), warnings
    assert "NumberOfSlices (0054,0081) says 94" in capsys.readouterr().err


# --- SPECT / CT time points: dosimetry ---------------------------------------------------------------------------
@pytest.fixture
def study(synthetic_patient_dir, tmp_path):
    """A STUDY.json in tmp_path that points at the synthetic patient's time points; ``damaged(kind, index)``
    copies one time point's SPECT ("spect") or CT ("ct") folder into tmp_path and points the study at it."""
    source = synthetic_patient_dir / "spect"
    document = json.loads((source / "study.json").read_text())
    document["segmentation"] = str(source / document["segmentation"])
    for entry in document["timepoints"]:
        entry["image"], entry["ct"] = str(source / entry["image"]), str(source / entry["ct"])
    path = tmp_path / "study.json"

    def damaged(kind, index):
        entry = document["timepoints"][index]
        copy = copy_series(entry["image" if kind == "spect" else "ct"], tmp_path / f"{kind}{index}")
        entry["image" if kind == "spect" else "ct"] = str(copy)
        path.write_text(json.dumps(document), encoding="utf-8")
        return copy

    path.write_text(json.dumps(document), encoding="utf-8")
    return path, damaged


def refused_dosimetry(study_path, tmp_path, capsys, *fragments):
    output = tmp_path / "dosimetry"
    code = main(["dosimetry", str(study_path), "-o", str(output)])
    err = capsys.readouterr().err
    assert code == 2, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert "  fix: " in err and "Traceback" not in err
    assert nothing_written(output), os.listdir(output)
    return err


def test_spect_slope_missing(study, tmp_path, capsys):
    path, damaged = study
    edit(slices(damaged("spect", 1))[0], RescaleSlope=None)
    refused_dosimetry(path, tmp_path, capsys, f"RescaleSlope {SLOPE} is missing in", "timepoints[1] SPECT",
                      "Units BQML", "NM_0001.dcm", "never taken as 1.0")


def test_spect_slope_nan(study, tmp_path, capsys):
    path, damaged = study
    edit_raw(slices(damaged("spect", 2))[0], "RescaleSlope", b"NaN")
    refused_dosimetry(path, tmp_path, capsys, f"{SLOPE} is NaN", "timepoints[2] SPECT", "NM_0001.dcm frame 1")


def test_spect_slope_zero(study, tmp_path, capsys):
    path, damaged = study
    edit(slices(damaged("spect", 0))[0], RescaleSlope="0")
    refused_dosimetry(path, tmp_path, capsys, f"{SLOPE} is 0", "every voxel would be 0")


def test_spect_intercept_infinite(study, tmp_path, capsys):
    path, damaged = study
    edit_raw(slices(damaged("spect", 3))[0], "RescaleIntercept", b"-inf")
    refused_dosimetry(path, tmp_path, capsys, f"{INTERCEPT} is -infinite", "timepoints[3] SPECT")


def test_spect_file_truncated(study, tmp_path, capsys):
    path, damaged = study
    nm = slices(damaged("spect", 3))[0]
    truncate(nm, os.path.getsize(nm) - 1000)
    refused_dosimetry(path, tmp_path, capsys, "NM_0001.dcm is truncated", "pixel data holds", "timepoints[3] SPECT")


def test_reference_ct_intercept_missing(study, tmp_path, capsys):
    path, damaged = study
    for ct in slices(damaged("ct", 0)):
        edit(ct, RescaleIntercept=None)
    refused_dosimetry(path, tmp_path, capsys, f"RescaleIntercept {INTERCEPT} is missing in 128 of 128",
                      "timepoints[0] CT", "Type 1 for Modality CT")


def test_reference_ct_slice_truncated(study, tmp_path, capsys):
    path, damaged = study
    ct = slices(damaged("ct", 0))[64]
    truncate(ct, os.path.getsize(ct) - 10)
    refused_dosimetry(path, tmp_path, capsys, "CT_0065.dcm is truncated", "timepoints[0] CT")


def test_reference_ct_slope_missing_in_one_slice(study, tmp_path, capsys):
    path, damaged = study
    edit(slices(damaged("ct", 0))[127], RescaleSlope=None)
    refused_dosimetry(path, tmp_path, capsys, f"{SLOPE} is missing in 1 of 128", "CT_0128.dcm")
