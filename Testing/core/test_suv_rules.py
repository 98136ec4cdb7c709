"""SUV rules of the PET notes §3 and §7, one synthetic PET series per rule (written with pydicom).

Expected factors are computed here by hand from the header values, not with ragaliv code:
SUVbw = C x W[g] / (D x 2^(-t/T½)) (PET notes §3.1), per-frame NONE formula (§3.3), QIBA Tave (§3.3).
"""

import json
import math
import os
from datetime import datetime, timedelta, timezone

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from ragaliv.errors import MissingDicomValueError, RagalivInputError
from ragaliv.pet.suv import (
    SuvOverrides,
    compute_suv_parameters,
    load_pet,
    suv_from_activity,
)

PET_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
STORED = np.array([[0, 100, 200], [1000, 2000, 3000]], dtype=np.int16)

# Header values shared by the IBSI DROs (PET notes §4.2A): 70 kg, 1.75 m, 368.08 MBq at 10:00, scan 11:00.
WEIGHT_G = 70000.0
DOSE_BQ = 368.08e6
HALF_LIFE_S = 6586.2
LAMBDA_PER_S = math.log(2.0) / HALF_LIFE_S
BASELINE_FACTOR = WEIGHT_G / (DOSE_BQ * 2.0 ** (-3600.0 / HALF_LIFE_S))


def save(dataset: Dataset, path) -> str:
    path = os.fspath(path)
    if int(pydicom.__version__.split(".")[0]) >= 3:
        dataset.save_as(path, enforce_file_format=True)
    else:  # pragma: no cover - exercised on the pydicom 2.4 environment
        dataset.is_little_endian = True
        dataset.is_implicit_VR = False
        dataset.save_as(path, write_like_original=False)
    return path


def pet_slice(k: int, series_uid: str = "1.2.826.0.1.99.1", **changes) -> FileDataset:
    """Slice ``k`` of a BQML/START PET like IBSI DRO_0_0; ``changes`` set (value) or delete (None) keywords.

    ``rp_<Keyword>`` changes the RadiopharmaceuticalInformationSequence item.
    """
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = PET_STORAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = PET_STORAGE, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.826.0.1.99", series_uid
    ds.Modality, ds.SeriesDescription = "PT", "PET AC"
    ds.PatientWeight, ds.PatientSize, ds.PatientSex = "70.0", "1.75", "O"
    ds.SeriesDate = ds.AcquisitionDate = ds.StudyDate = "20250101"
    ds.SeriesTime = ds.AcquisitionTime = "110000.000000"
    ds.FrameReferenceTime, ds.ActualFrameDuration = "150000.0", "300000"
    ds.Units, ds.DecayCorrection = "BQML", "START"
    ds.CorrectedImage = ["NORM", "ATTN", "SCAT", "DECY"]
    ds.ImagePositionPatient = [0.0, 0.0, 4.0 * k]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing, ds.SliceThickness = [4.0, 4.0], "4.0"
    ds.RescaleSlope, ds.RescaleIntercept = "1.0", "0.0"
    ds.InstanceNumber = k + 1
    item = Dataset()
    item.Radiopharmaceutical = "FDG"
    item.RadiopharmaceuticalStartTime = "100000.000000"
    item.RadiopharmaceuticalStartDateTime = "20250101100000.000000"
    item.RadionuclideTotalDose = "368080000.0"
    item.RadionuclideHalfLife = "6586.2"
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "C-111A1", "SRT", "^18^Fluorine"
    item.RadionuclideCodeSequence = Sequence([code])
    ds.RadiopharmaceuticalInformationSequence = Sequence([item])
    pixels = STORED + np.int16(k)
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.PixelData = pixels.tobytes()
    for keyword, value in changes.items():
        target = item if keyword.startswith("rp_") else ds
        keyword = keyword[3:] if keyword.startswith("rp_") else keyword
        if value is None:
            if keyword in target:
                delattr(target, keyword)
        elif keyword == "PixelArray":
            target.PixelData = np.asarray(value, dtype=np.int16).tobytes()
        else:
            setattr(target, keyword, value)
    return ds


def write_series(folder, n: int = 3, per_slice=None, **changes) -> str:
    """Write ``n`` slices (in reverse file order, to exercise sorting); ``per_slice(k)`` adds changes."""
    os.makedirs(folder, exist_ok=True)
    for k in reversed(range(n)):
        slice_changes = dict(changes)
        if per_slice is not None:
            slice_changes.update(per_slice(k))
        save(pet_slice(k, **slice_changes), os.path.join(folder, f"pet_{n - k:03d}.dcm"))
    return os.fspath(folder)


def stored(k: int) -> np.ndarray:
    return (STORED + k).astype(float)


def assert_suv(pet, factor_per_slice, slopes=None):
    for k, factor in enumerate(factor_per_slice):
        slope = 1.0 if slopes is None else slopes[k]
        np.testing.assert_allclose(pet.suv.array[k], stored(k) * slope * factor, rtol=2e-6, atol=1e-9)


# --- BQML / START ------------------------------------------------------------------------------------------
def test_bqml_start_baseline_factor_by_hand(tmp_path):
    pet = load_pet(write_series(tmp_path))
    p = pet.parameters
    assert p.decayed_dose_bq == pytest.approx(DOSE_BQ * 2.0 ** (-3600.0 / HALF_LIFE_S), rel=1e-12)
    assert p.suv_per_bq_per_ml == pytest.approx(BASELINE_FACTOR, rel=1e-12)
    # IBSI DRO design (PET notes §4.2A): 3600 Bq/mL is SUVbw 1.00 with these headers.
    assert 3600.0 * p.suv_per_bq_per_ml == pytest.approx(1.0, abs=1e-4)
    assert p.decay_time_s == pytest.approx(3600.0)
    assert (p.units, p.decay_correction, p.suv_unit, p.normalizer) == ("BQML", "START", "g/mL", 70000.0)
    assert p.scan_reference_time == datetime(2025, 1, 1, 11, 0)
    assert "SeriesTime" in p.sources["scan_reference_time"]
    assert "RadiopharmaceuticalStartDateTime" in p.sources["injection_time"]
    assert p.sources["weight_kg"] == "DICOM PatientWeight (0010,1030)"
    assert p.nuclide == "F18" and p.warnings == []
    assert_suv(pet, [BASELINE_FACTOR] * 3)
    np.testing.assert_allclose(pet.activity.array[2], stored(2), rtol=1e-7)
    assert pet.suv.array.dtype == np.float32 and pet.suv.unit == "g/mL"
    assert pet.series_instance_uid == "1.2.826.0.1.99.1" and pet.description == "PET AC"
    json.dumps(p.to_dict())  # JSON-friendly
    assert p.to_dict()["injection_time"] == "2025-01-01T10:00:00"


def test_per_slice_rescale_slopes(tmp_path):
    slopes = [3.0, 4.0, 0.25]
    pet = load_pet(write_series(tmp_path, per_slice=lambda k: {"RescaleSlope": str(slopes[k])}))
    assert_suv(pet, [BASELINE_FACTOR] * 3, slopes)


def test_dose_in_mbq_is_detected_with_a_warning(tmp_path):
    pet = load_pet(write_series(tmp_path, rp_RadionuclideTotalDose="368.08"))
    assert pet.parameters.injected_dose_bq == pytest.approx(DOSE_BQ)
    assert pet.parameters.suv_per_bq_per_ml == pytest.approx(BASELINE_FACTOR)
    assert any("MBq" in w for w in pet.parameters.warnings)
    assert "MBq" in pet.parameters.sources["injected_dose_bq"]


def test_weight_in_grams_is_detected_with_a_warning(tmp_path):
    pet = load_pet(write_series(tmp_path, PatientWeight="70000"))
    assert pet.parameters.weight_kg == pytest.approx(70.0)
    assert any("grams" in w for w in pet.parameters.warnings)


def test_admin_uses_the_undecayed_dose(tmp_path):
    pet = load_pet(write_series(tmp_path, DecayCorrection="ADMIN"))
    p = pet.parameters
    assert p.suv_per_bq_per_ml == pytest.approx(WEIGHT_G / DOSE_BQ)
    assert p.decay_time_s == 0.0 and p.scan_reference_time == p.injection_time == datetime(2025, 1, 1, 10, 0)
    assert_suv(pet, [WEIGHT_G / DOSE_BQ] * 3)


def test_none_uses_the_per_frame_formula(tmp_path):
    """SUV = P W / D_adm x lambda T / (1 - e^-lambda T) x e^(lambda (t_acq - t_adm)) (PET notes §3.3)."""
    starts = ["110000.000000", "110500.000000", "111000.000000"]
    pet = load_pet(
        write_series(
            tmp_path, DecayCorrection="NONE", CorrectedImage=["NORM", "ATTN"], ActualFrameDuration="603000",
            per_slice=lambda k: {"AcquisitionTime": starts[k]},
        )
    )  # fmt: skip
    duration_s = 603.0
    frame = LAMBDA_PER_S * duration_s / (1.0 - math.exp(-LAMBDA_PER_S * duration_s))
    expected = [WEIGHT_G / DOSE_BQ * frame * math.exp(LAMBDA_PER_S * (3600.0 + 300.0 * k)) for k in range(3)]
    assert_suv(pet, expected)
    assert pet.parameters.decay_correction == "NONE"
    # The activity image is decay-corrected to the reference time; one factor turns it into SUV.
    np.testing.assert_allclose(
        pet.activity.array * pet.parameters.suv_per_bq_per_ml, pet.suv.array, rtol=2e-6
    )


def test_none_without_frame_duration_is_an_error(tmp_path):
    folder = write_series(tmp_path, DecayCorrection="NONE", CorrectedImage=["ATTN"], ActualFrameDuration=None)
    with pytest.raises(RagalivInputError, match=r"ActualFrameDuration \(0018,1242\)"):
        load_pet(folder)


# --- reference time ----------------------------------------------------------------------------------------
def tave_s(duration_s: float) -> float:
    x = LAMBDA_PER_S * duration_s
    return math.log(x / (1.0 - math.exp(-x))) / LAMBDA_PER_S


def test_series_time_after_acquisition_back_computes(tmp_path):
    # IBSI DRO_3_2 layout: SeriesTime 11:30, acquisitions 11:02:30 (FRT 450 s) and 11:05:00 (FRT 600 s).
    timing = [("110230.000000", "450000"), ("110500.000000", "600000"), ("110500.000000", "600000")]
    folder = write_series(
        tmp_path, SeriesTime="113000.000000", ActualFrameDuration="603000",
        per_slice=lambda k: {"AcquisitionTime": timing[k][0], "FrameReferenceTime": timing[k][1]},
    )  # fmt: skip
    p = load_pet(folder).parameters
    expected = datetime(2025, 1, 1, 11, 2, 30) + timedelta(seconds=-450.0 + tave_s(603.0))
    assert abs((p.scan_reference_time - expected).total_seconds()) < 1e-3
    assert abs((p.scan_reference_time - datetime(2025, 1, 1, 11, 0)).total_seconds()) < 0.2
    assert "back-computed" in p.sources["scan_reference_time"]
    assert p.suv_per_bq_per_ml == pytest.approx(BASELINE_FACTOR, rel=2e-5)


@pytest.mark.parametrize("creator", ["GEMS_PETD_01", None])
def test_ge_private_decay_datetime(tmp_path, creator):
    # SeriesTime after AcquisitionTime, so QIBA turns to GE (0009,100D); it says 10:40 (a 40 min decay).
    ds_changes = {"SeriesTime": "113000.000000", "AcquisitionTime": "112000.000000"}
    folder = write_series(tmp_path, **ds_changes)
    for name in os.listdir(folder):
        ds = pydicom.dcmread(os.path.join(folder, name))
        if creator:
            ds.add_new((0x0009, 0x0010), "LO", creator)
        ds.add_new((0x0009, 0x100D), "DT", "20250101104000.000000")
        save(ds, os.path.join(folder, name))
    p = load_pet(folder).parameters
    assert p.scan_reference_time == datetime(2025, 1, 1, 10, 40)
    assert "(0009,100D)" in p.sources["scan_reference_time"]
    assert p.suv_per_bq_per_ml == pytest.approx(WEIGHT_G / (DOSE_BQ * 2.0 ** (-2400.0 / HALF_LIFE_S)))


def test_ge_tag_of_another_private_creator_is_ignored(tmp_path):
    folder = write_series(tmp_path, SeriesTime="113000.000000", AcquisitionTime="112000.000000")
    for name in os.listdir(folder):
        ds = pydicom.dcmread(os.path.join(folder, name))
        ds.add_new((0x0009, 0x0010), "LO", "SOME OTHER VENDOR")
        ds.add_new((0x0009, 0x100D), "LO", "20250101104000")
        save(ds, os.path.join(folder, name))
    p = load_pet(folder).parameters
    assert "back-computed" in p.sources["scan_reference_time"]


def test_earliest_acquisition_is_the_last_resort(tmp_path):
    folder = write_series(
        tmp_path, SeriesTime="113000.000000", FrameReferenceTime=None,
        per_slice=lambda k: {"AcquisitionTime": f"11{k}500.000000"},
    )  # fmt: skip
    p = load_pet(folder).parameters
    assert p.scan_reference_time == datetime(2025, 1, 1, 11, 5)
    assert any("earliest acquisition" in w for w in p.warnings)


# --- injection time ----------------------------------------------------------------------------------------
def test_start_datetime_only(tmp_path):
    pet = load_pet(write_series(tmp_path, rp_RadiopharmaceuticalStartTime=None))
    assert pet.parameters.injection_time == datetime(2025, 1, 1, 10, 0)
    assert "(0018,1078)" in pet.parameters.sources["injection_time"]
    assert pet.parameters.suv_per_bq_per_ml == pytest.approx(BASELINE_FACTOR)


def test_start_time_only_uses_the_series_date(tmp_path):
    pet = load_pet(write_series(tmp_path, rp_RadiopharmaceuticalStartDateTime=None))
    assert pet.parameters.injection_time == datetime(2025, 1, 1, 10, 0)
    assert "(0018,1072)" in pet.parameters.sources["injection_time"]
    assert pet.parameters.suv_per_bq_per_ml == pytest.approx(BASELINE_FACTOR)


def test_midnight_crossing_rolls_the_injection_back_one_day(tmp_path):
    folder = write_series(
        tmp_path, SeriesDate="20250102", AcquisitionDate="20250102", StudyDate="20250102",
        SeriesTime="003000.000000", AcquisitionTime="003000.000000",
        rp_RadiopharmaceuticalStartDateTime=None, rp_RadiopharmaceuticalStartTime="233000.000000",
    )  # fmt: skip
    p = load_pet(folder).parameters
    assert p.injection_time == datetime(2025, 1, 1, 23, 30)
    assert p.decay_time_s == pytest.approx(3600.0)
    assert p.suv_per_bq_per_ml == pytest.approx(BASELINE_FACTOR)
    assert any("midnight" in w for w in p.warnings)


def test_utc_offsets_are_applied_consistently(tmp_path):
    # Local 11:00 at UTC+01:00; injection 09:00 UTC = 10:00 local -> 3600 s.
    folder = write_series(
        tmp_path, TimezoneOffsetFromUTC="+0100", rp_RadiopharmaceuticalStartDateTime="20250101090000+0000"
    )
    p = load_pet(folder).parameters
    assert p.decay_time_s == pytest.approx(3600.0)
    assert p.scan_reference_time.utcoffset() == timedelta(hours=1)
    # Only one side with an offset: both are taken in the same zone (PET notes §3.3).
    folder = write_series(tmp_path / "b", rp_RadiopharmaceuticalStartDateTime="20250101100000+0500")
    one_sided = load_pet(folder).parameters
    assert one_sided.decay_time_s == pytest.approx(3600.0)
    # ... and the user is told, since a real offset would change the decay time by hours.
    assert any("UTC offset" in warning and "--injection-time" in warning for warning in one_sided.warnings)
    assert not any("UTC offset" in warning for warning in p.warnings)


# --- units -------------------------------------------------------------------------------------------------
def add_private(folder, tag, value, creator=None):
    for name in os.listdir(folder):
        ds = pydicom.dcmread(os.path.join(folder, name))
        if creator:
            ds.add_new((tag[0], 0x0010), "LO", creator)
        ds.add_new(tag, "DS", value)
        save(ds, os.path.join(folder, name))
    return folder


@pytest.mark.parametrize("creator", ["Philips PET Private Group", None])
def test_cnts_with_philips_suv_factor(tmp_path, creator):
    folder = add_private(write_series(tmp_path, Units="CNTS"), (0x7053, 0x1000), "0.0005", creator)
    pet = load_pet(folder)
    assert pet.activity is None and pet.parameters.stored_quantity == "suv"
    assert_suv(pet, [0.0005] * 3)


def test_cnts_with_philips_activity_factor_proceeds_as_bqml(tmp_path):
    folder = add_private(write_series(tmp_path, Units="CNTS"), (0x7053, 0x1009), "0.5")
    pet = load_pet(folder)
    np.testing.assert_allclose(pet.activity.array[1], stored(1) * 0.5, rtol=1e-7)
    assert_suv(pet, [0.5 * BASELINE_FACTOR] * 3)


def test_cnts_without_factors_is_an_error(tmp_path):
    with pytest.raises(RagalivInputError, match=r"\(7053,1000\).*\(7053,1009\)"):
        load_pet(write_series(tmp_path, Units="CNTS"))


def test_gml_bw_needs_no_dose_or_weight(tmp_path):
    folder = write_series(
        tmp_path, Units="GML", SUVType="BW", RescaleSlope="0.001", PatientWeight=None,
        rp_RadionuclideTotalDose=None,
    )  # fmt: skip
    pet = load_pet(folder)
    assert pet.activity is None
    assert_suv(pet, [0.001] * 3)


def test_gml_with_empty_suv_type_is_bw(tmp_path):
    pet = load_pet(write_series(tmp_path, Units="GML", RescaleSlope="0.01"))
    assert pet.parameters.stored_suv_type == "BW"
    assert "empty" in pet.parameters.sources["stored_suv_type"]
    assert_suv(pet, [0.01] * 3)


def test_gml_lbm_james_is_converted_to_the_requested_normalisation(tmp_path):
    folder = write_series(tmp_path, Units="GML", SUVType="LBMJAMES128", PatientSex="M", RescaleSlope="0.001")
    lbm_kg = 1.10 * 70.0 - 128.0 * (70.0 / 175.0) ** 2  # 56.52 kg (PET notes §3.1)
    assert_suv(load_pet(folder), [0.001 * 70.0 / lbm_kg] * 3)  # default SUVbw
    assert_suv(load_pet(folder, normalization="lbm-james"), [0.001] * 3)  # as stored


def test_gml_lbm_conversion_needs_the_height(tmp_path):
    folder = write_series(tmp_path, Units="GML", SUVType="LBMJAMES128", PatientSize=None)
    with pytest.raises(MissingDicomValueError, match=r"PatientSize \(0010,1020\).*--height-cm"):
        load_pet(folder)
    pet = load_pet(folder, SuvOverrides(height_cm=175.0, sex="M"))
    assert pet.parameters.sources["height_cm"].startswith("override (--height-cm")


def test_cm2ml_is_converted_back_to_suvbw_with_du_bois(tmp_path):
    folder = write_series(tmp_path, Units="CM2ML", SUVType="BSA", RescaleSlope="0.01")
    bsa_cm2 = 0.007184 * 175.0**0.725 * 70.0**0.425 * 1.0e4
    pet = load_pet(folder)
    assert_suv(pet, [0.01 * WEIGHT_G / bsa_cm2] * 3)
    bsa = load_pet(folder, normalization="bsa")
    assert bsa.suv.unit == "cm2/mL"
    assert_suv(bsa, [0.01] * 3)


def test_bqml_to_other_normalisations(tmp_path):
    folder = write_series(tmp_path, PatientSex="F")
    decayed = DOSE_BQ * 2.0 ** (-3600.0 / HALF_LIFE_S)
    bmi = 70.0 / 1.75**2
    expected = {
        "lbm": 9270.0 * 70.0 / (8780.0 + 244.0 * bmi) * 1000.0 / decayed,
        "lbm-james": (1.07 * 70.0 - 148.0 * (70.0 / 175.0) ** 2) * 1000.0 / decayed,
        "ibw": (45.5 + 0.91 * (175.0 - 152.0)) * 1000.0 / decayed,
        "bsa": 0.007184 * 175.0**0.725 * 70.0**0.425 * 1.0e4 / decayed,
    }
    for normalization, factor in expected.items():
        p = load_pet(folder, normalization=normalization).parameters
        assert p.suv_per_bq_per_ml == pytest.approx(factor, rel=1e-12), normalization
        assert p.suv_unit == ("cm2/mL" if normalization == "bsa" else "g/mL")


@pytest.mark.parametrize("units", ["CPS", "PROPCNTS"])
def test_unsupported_units_are_refused(tmp_path, units):
    with pytest.raises(RagalivInputError, match=rf"Units \(0054,1001\) = '{units}'"):
        load_pet(write_series(tmp_path, Units=units))


def test_missing_decy_with_start_is_an_error_and_missing_attn_a_warning(tmp_path):
    with pytest.raises(RagalivInputError, match=r"CorrectedImage \(0028,0051\).*lacks DECY"):
        load_pet(write_series(tmp_path / "a", CorrectedImage=["ATTN", "SCAT"]))
    p = load_pet(write_series(tmp_path / "b", CorrectedImage=["DECY"])).parameters
    assert any("not attenuation corrected" in w for w in p.warnings)
    assert p.suv_per_bq_per_ml == pytest.approx(BASELINE_FACTOR)


# --- half-life ---------------------------------------------------------------------------------------------
def test_half_life_falls_back_to_the_nuclide_table(tmp_path):
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "C-131A1", "SRT", "^68^Gallium"
    folder = write_series(
        tmp_path, rp_RadionuclideHalfLife=None, rp_RadionuclideCodeSequence=Sequence([code])
    )
    p = load_pet(folder).parameters
    assert p.half_life_s == 4062.6 and p.nuclide == "Ga68"
    assert p.sources["half_life_s"].startswith("default: Ga68 half-life 4062.6 s")
    assert p.suv_per_bq_per_ml == pytest.approx(WEIGHT_G / (DOSE_BQ * 2.0 ** (-3600.0 / 4062.6)))


def test_half_life_from_the_code_meaning_of_lutetium(tmp_path):
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "X-0", "99LOCAL", "^177^Lutetium"
    folder = write_series(
        tmp_path, rp_RadionuclideHalfLife=None, rp_RadionuclideCodeSequence=Sequence([code])
    )
    p = load_pet(folder).parameters
    assert p.nuclide == "Lu177" and p.half_life_s == pytest.approx(6.647 * 86400.0)


# --- overrides and missing values --------------------------------------------------------------------------
def test_overrides_win_over_the_header_and_are_recorded(tmp_path):
    overrides = SuvOverrides(
        weight_kg=80.0, injected_dose_mbq=400.0, injection_time=datetime(2025, 1, 1, 10, 10),
        scan_time=datetime(2025, 1, 1, 11, 10), half_life_s=4062.6, height_cm=180.0, sex="M",
    )  # fmt: skip
    p = load_pet(write_series(tmp_path), overrides).parameters
    assert p.suv_per_bq_per_ml == pytest.approx(80000.0 / (400e6 * 2.0 ** (-3600.0 / 4062.6)))
    for key in (
        "weight_kg",
        "injected_dose_bq",
        "injection_time",
        "scan_reference_time",
        "half_life_s",
        "sex",
    ):
        assert p.sources[key].startswith("override (--"), key
    assert "PatientWeight (0010,1030) was 70" in p.sources["weight_kg"]
    assert (p.weight_kg, p.height_cm, p.sex, p.injected_dose_bq) == (80.0, 180.0, "M", 400e6)


NO_WEIGHT = {"PatientWeight": None}
MISSING_CASES = [
    (NO_WEIGHT, "bw", "PatientWeight", "(0010,1030)", "--weight-kg", SuvOverrides(weight_kg=70)),
    ({"PatientWeight": "0"}, "bw", "PatientWeight", "(0010,1030)", "--weight-kg", SuvOverrides(weight_kg=70)),
    ({"PatientSize": None}, "lbm", "PatientSize", "(0010,1020)", "--height-cm", SuvOverrides(height_cm=175)),
    (
        {"rp_RadionuclideTotalDose": None}, "bw", "RadionuclideTotalDose", "(0018,1074)", "--dose-mbq",
        SuvOverrides(injected_dose_mbq=368.08),
    ),
    (
        {"rp_RadiopharmaceuticalStartDateTime": None, "rp_RadiopharmaceuticalStartTime": None}, "bw",
        "RadiopharmaceuticalStartDateTime", "(0018,1078)", "--injection-time",
        SuvOverrides(injection_time=datetime(2025, 1, 1, 10, 0)),
    ),
    (
        {"rp_RadionuclideHalfLife": None, "rp_RadionuclideCodeSequence": None},
        "bw", "RadionuclideHalfLife", "(0018,1075)", "--half-life-s", SuvOverrides(half_life_s=6586.2),
    ),
    (
        {"SeriesTime": None, "AcquisitionTime": None}, "bw", "SeriesTime", "(0008,0031)", "--scan-time",
        SuvOverrides(scan_time=datetime(2025, 1, 1, 11, 0)),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "normalization", "keyword", "tag", "flag", "fix"), MISSING_CASES)
def test_missing_values_name_tag_flag_and_panel_and_the_override_fixes_it(
    tmp_path, changes, normalization, keyword, tag, flag, fix
):
    folder = write_series(tmp_path, PatientSex="F", **changes)
    with pytest.raises(MissingDicomValueError) as caught:
        load_pet(folder, normalization=normalization)
    message = str(caught.value)
    assert keyword in message and tag in message and flag in message and '"SUV parameters" panel' in message
    assert caught.value.keyword == keyword
    p = load_pet(folder, fix, normalization=normalization).parameters
    assert p.suv_per_bq_per_ml > 0


def test_missing_units_and_bad_normalisation_are_errors(tmp_path):
    with pytest.raises(RagalivInputError, match=r"Units \(0054,1001\) is missing"):
        load_pet(write_series(tmp_path, Units=None))
    with pytest.raises(RagalivInputError, match="bw, lbm, lbm-james, bsa, ibw"):
        compute_suv_parameters([pet_slice(0)], normalization="lean")


def test_injection_after_scan_is_an_error(tmp_path):
    folder = write_series(tmp_path, rp_RadiopharmaceuticalStartDateTime="20250101120000")
    with pytest.raises(RagalivInputError, match="--injection-time"):
        load_pet(folder)


# --- series selection --------------------------------------------------------------------------------------
def test_mixed_series_in_one_folder(tmp_path):
    write_series(tmp_path, n=2)
    ct = pet_slice(0, series_uid="1.2.826.0.1.99.2", Modality="CT", SeriesDescription="Abdomen")
    save(ct, tmp_path / "ct.dcm")
    pet = load_pet(str(tmp_path))  # the single PT series is picked
    assert pet.suv.array.shape == (2, 2, 3)
    write_series(tmp_path / "second", n=2, series_uid="1.2.826.0.1.99.3", SeriesDescription="PET NAC")
    with pytest.raises(RagalivInputError) as caught:
        load_pet(str(tmp_path))
    message = str(caught.value)
    assert "1.2.826.0.1.99.1" in message and "1.2.826.0.1.99.3" in message and "'PET NAC'" in message
    assert "one series" in message


def test_a_non_pet_series_is_refused(tmp_path):
    write_series(
        tmp_path / "ct", n=2, Modality="CT", SeriesDescription="Abdomen", series_uid="1.2.826.0.1.99.8"
    )
    with pytest.raises(RagalivInputError, match=r"CT 'Abdomen' \(2 files\).*not PT"):
        load_pet(str(tmp_path / "ct"))
    write_series(tmp_path / "mr", n=1, Modality="MR", SeriesDescription="T1")
    with pytest.raises(RagalivInputError, match=r"MR 'T1' \(1 file\)"):
        load_pet(str(tmp_path / "mr"))
    with pytest.raises(RagalivInputError, match=r"found CT 'Abdomen' .* MR 'T1'"):
        load_pet(str(tmp_path))


def test_missing_slice_is_an_error(tmp_path):
    folder = write_series(tmp_path, n=4)
    os.remove(os.path.join(folder, "pet_002.dcm"))  # slice k = 2
    with pytest.raises(RagalivInputError, match=r"1 slice is missing between 4\.00 mm and 12\.00 mm"):
        load_pet(folder)


# --- voxel checks and image input --------------------------------------------------------------------------
def test_negative_voxels_are_counted_not_fatal(tmp_path):
    negative = np.array([[-30, 100, 200], [-10, 2000, 3000]])
    pet = load_pet(write_series(tmp_path, n=2, PixelArray=negative))
    expected_min = -30 * BASELINE_FACTOR
    assert f"4 voxels are negative (min {expected_min:.4g} g/mL)" in " ".join(pet.parameters.warnings)


def test_nrrd_input_needs_overrides_and_counts_nan(tmp_path):
    array = np.full((2, 3, 4), 3600.0, dtype=np.float32)
    array[0, 0, 0] = np.nan
    path = str(tmp_path / "pet.nrrd")
    sitk.WriteImage(sitk.GetImageFromArray(array), path)
    with pytest.raises(RagalivInputError) as caught:
        load_pet(path)
    for flag in ("--weight-kg", "--dose-mbq", "--injection-time", "--scan-time"):
        assert flag in str(caught.value)
    overrides = SuvOverrides(
        weight_kg=70.0, injected_dose_mbq=368.08, injection_time=datetime(2025, 1, 1, 10, 0),
        scan_time=datetime(2025, 1, 1, 11, 0),
    )  # fmt: skip
    pet = load_pet(path, overrides)
    p = pet.parameters
    assert p.half_life_s == 4062.6 and p.sources["half_life_s"].startswith("default: 68Ga half-life 4062.6 s")
    factor = WEIGHT_G / (DOSE_BQ * 2.0 ** (-3600.0 / 4062.6))
    assert p.suv_per_bq_per_ml == pytest.approx(factor)
    assert pet.suv.array[1, 1, 1] == pytest.approx(3600.0 * factor, rel=1e-6)
    assert "1 voxels are NaN" in " ".join(p.warnings)
    assert p.to_dict()["scan_reference_time"] == "2025-01-01T11:00:00"


def test_suv_from_activity_matches_the_factor(tmp_path):
    pet = load_pet(write_series(tmp_path))
    again = suv_from_activity(pet.activity, pet.parameters)
    np.testing.assert_array_equal(again.array, pet.suv.array)
    gml = load_pet(write_series(tmp_path / "g", Units="GML"))
    with pytest.raises(RagalivInputError, match="already SUV"):
        suv_from_activity(pet.activity, gml.parameters)


def test_timezone_aware_overrides(tmp_path):
    overrides = SuvOverrides(
        injection_time=datetime(2025, 1, 1, 9, 0, tzinfo=timezone.utc),
        scan_time=datetime(2025, 1, 1, 11, 0, tzinfo=timezone(timedelta(hours=1))),
    )
    assert load_pet(write_series(tmp_path), overrides).parameters.decay_time_s == pytest.approx(3600.0)
