"""DICOM SEG + TID 1500 SR export of the lesion-ratio results, on the synthetic patient.

Checks: the files pass highdicom's and pydicom's (strict) readers, the SEG masks round-trip voxel for voxel onto
the MRI grid, the SR gives back the analysis numbers exactly (FloatingPointValue) with the right references,
de-identified files hold no original identity or date, and re-runs are byte-identical.
"""

import copy
import dataclasses
import io
import sys

import numpy as np
import pydicom
import pytest
from pydicom.sr.coding import Code
from ragaliv.errors import RagalivInputError
from ragaliv.geometry import Geometry, SegmentMask
from ragaliv.io.dicom_series import list_series
from ragaliv.io.segmentation import read_segments
from ragaliv.pet.suv import load_pet
from ragaliv.ratio.analysis import analyse, row_values
from ragaliv.report import dicom_codes
from ragaliv.report.dicom_export import (
    dose_measurements_from_rows,
    read_dicom_seg,
    read_dicom_sr,
    write_dicom_outputs,
    write_dicom_seg,
    write_dicom_sr,
)
from ragaliv.report.phi import Deidentifier

highdicom = pytest.importorskip("highdicom")

NUMERIC_KEYS = ("volume_ml", "ia_suvmax", "ia_suvmean", "ia_suvpeak", "iv_suvmax", "iv_suvmean", "iv_suvpeak",
                "ratio_suvmax", "ratio_suvmean", "ratio_suvpeak", "tumour_to_liver_ia", "tumour_to_liver_iv")
DOSE_ROWS = [
    {"region": "Kidney left", "mass_g": 160.0, "tia_mbq_h": 5234.5, "dose_gy": 3.21, "bed_gy": 3.4,
     "method_description": "organ S-values (OLINDA-like), mass scaled"},
    {"region": "Lesion 1", "tia_mbq_h": 812.25, "dose_gy": 12.5, "voxel_mean_dose_gy": 11.9, "tiac_h": 0.1123},
]


@pytest.fixture(scope="module")
def export(synthetic_patient_dir, tmp_path_factory):
    """Analysis of the synthetic patient, exported twice as is and once de-identified."""
    patient = synthetic_patient_dir
    segments = read_segments(str(patient / "segmentation.seg.nrrd"))
    ia, iv = load_pet(str(patient / "pet_ia")), load_pet(str(patient / "pet_iv"))
    parameters = {"ia": ia.parameters.to_dict(), "iv": iv.parameters.to_dict()}
    analysis = analyse(segments, ia.suv, iv.suv, scan_parameters=parameters)
    dose = dose_measurements_from_rows(DOSE_ROWS)
    # the de-identified run also carries a warning quoting the patient ID (free text must be scrubbed)
    patient_id = str(list_series(str(patient / "mri"))[0].headers[0].PatientID)
    quoting = copy.deepcopy(analysis)
    quoting.summary.warnings.append(f"Inputs read from /archive/{patient_id}/pet_ia")
    runs = {}
    for name, deidentifier, result in (("plain", None, analysis), ("again", None, analysis),
                                       ("deid", Deidentifier(), quoting)):
        outdir = tmp_path_factory.mktemp(f"dicom_export_{name}")
        runs[name] = write_dicom_outputs(str(outdir), segments, result, str(patient / "mri"),
                                         str(patient / "pet_ia"), str(patient / "pet_iv"), deidentifier, dose)
    return dataclasses.make_dataclass("Export", ["patient", "segments", "analysis", "ia", "iv", "dose", "runs"])(
        patient, segments, analysis, ia, iv, dose, runs)


def strict_read(path):
    """Read with pydicom's strict validation and touch every element (values are decoded lazily)."""
    with pydicom.config.strict_reading():
        dataset = pydicom.dcmread(path)
        for element in dataset.iterall():
            _ = element.value
    return dataset


def strict_rewrite(dataset):
    """Re-encode with value validation raising (VR lengths, characters, VM)."""
    previous = pydicom.config.settings.writing_validation_mode
    pydicom.config.settings.writing_validation_mode = pydicom.config.RAISE
    try:
        for element in dataset.iterall():
            if element.VR != "SQ":
                pydicom.dataelem.DataElement(element.tag, element.VR, element.value)
        try:
            dataset.save_as(io.BytesIO(), enforce_file_format=True)  # pydicom 3
        except TypeError:
            dataset.save_as(io.BytesIO(), write_like_original=False)  # pydicom 2.4 (Slicer 5.8)
    finally:
        pydicom.config.settings.writing_validation_mode = previous


def series_uids(directory):
    (series,) = list_series(str(directory))
    return series.series_instance_uid, {str(h.SOPInstanceUID) for h in series.headers}, series.headers[0]


# --- DICOM SEG ---------------------------------------------------------------------------------------------
def test_seg_is_valid_and_references_the_mri(export):
    path = export.runs["plain"]["seg"].path
    dataset = strict_read(path)
    strict_rewrite(dataset)
    seg = highdicom.seg.segread(path)
    assert seg.SegmentationType == "BINARY"
    assert seg.number_of_segments == len(export.segments)
    labels = [item.SegmentLabel for item in seg.SegmentSequence]
    assert labels == [segment.name for segment in export.segments]
    mri_uid, mri_instances, mri_header = series_uids(export.patient / "mri")
    (referenced,) = dataset.ReferencedSeriesSequence
    assert referenced.SeriesInstanceUID == mri_uid
    assert {item.ReferencedSOPInstanceUID for item in referenced.ReferencedInstanceSequence} == mri_instances
    assert dataset.FrameOfReferenceUID == mri_header.FrameOfReferenceUID
    assert dataset.StudyInstanceUID == mri_header.StudyInstanceUID
    # highdicom's own decoding agrees with ours on every segment's voxel count
    if hasattr(seg, "get_volume"):  # highdicom >= 0.23
        volume = seg.get_volume(combine_segments=False)
        counts = volume.array.reshape(-1, volume.array.shape[-1]).sum(axis=0)
    else:  # highdicom 0.22 (the last for Python 3.9, i.e. Slicer 5.8)
        source_uids = [uid for _, _, uid in seg.get_source_image_uids()]
        pixels = seg.get_pixels_by_source_instance(source_uids, ignore_spatial_locations=True)
        counts = pixels.reshape(-1, pixels.shape[-1]).sum(axis=0)
    assert [int(c) for c in counts] == [segment.voxel_count for segment in export.segments]
    items = {item.SegmentLabel: item for item in dataset.SegmentSequence}
    lesion = items["Lesion 1"]
    assert lesion.SegmentedPropertyTypeCodeSequence[0].CodeValue == dicom_codes.LESION.value
    category = lesion.SegmentedPropertyCategoryCodeSequence[0].CodeValue
    assert category == dicom_codes.MORPHOLOGICALLY_ABNORMAL_STRUCTURE.value
    assert lesion.SegmentAlgorithmType == "MANUAL" and lesion.TrackingID == "Lesion 1"
    kidney = items["Kidney left"].SegmentedPropertyTypeCodeSequence[0]
    assert (kidney.CodeValue, kidney.SegmentedPropertyTypeModifierCodeSequence[0].CodeValue) == (
        dicom_codes.KIDNEY.value, dicom_codes.LEFT.value)
    assert items["Healthy liver"].SegmentedPropertyTypeCodeSequence[0].CodeValue == dicom_codes.LIVER.value


def test_seg_masks_round_trip_exactly(export):
    back = read_dicom_seg(export.runs["plain"]["seg"].path)
    assert [segment.name for segment in back] == [segment.name for segment in export.segments]
    for original, read in zip(export.segments, back):
        assert read.geometry.is_same_grid(original.geometry, tolerance_mm=1e-3), original.name
        np.testing.assert_array_equal(read.mask, original.mask, err_msg=original.name)
        assert np.allclose(read.color_rgb, original.color_rgb, atol=2e-3)
    assert export.runs["plain"]["seg"].resampled_segments == []


def test_segment_off_the_grid_is_resampled_and_said(export, tmp_path):
    original = next(segment for segment in export.segments if segment.name == "Lesion 3")
    matrix = np.array(original.geometry.ijk_to_lps)
    matrix[:3, :3] *= 0.5  # twice as fine, same extent: nearest-neighbour onto the MRI grid
    matrix[:3, 3] -= 0.25 * np.diag(original.geometry.ijk_to_lps[:3, :3])
    fine = np.repeat(np.repeat(np.repeat(original.mask, 2, axis=0), 2, axis=1), 2, axis=2)
    moved = SegmentMask("Lesion 3", fine, Geometry(fine.shape, matrix), color_rgb=original.color_rgb)
    result = write_dicom_seg([moved], export.patient / "mri", str(tmp_path / "seg.dcm"))
    assert result.resampled_segments == ["Lesion 3"]
    assert any("resampled nearest-neighbour" in warning for warning in result.warnings)
    (back,) = read_dicom_seg(result.path)
    assert back.geometry.is_same_grid(original.geometry, tolerance_mm=1e-3)
    np.testing.assert_array_equal(back.mask, original.mask)
    # the SR refuses an analysis whose segments are not all in the SEG
    with pytest.raises(RagalivInputError, match="not in the DICOM SEG"):
        write_dicom_sr(export.analysis, export.patient / "pet_ia", export.patient / "pet_iv", result,
                       str(tmp_path / "sr.dcm"))


# --- DICOM SR ----------------------------------------------------------------------------------------------
def test_sr_is_valid_tid1500(export):
    path = export.runs["plain"]["sr"].path
    dataset = strict_read(path)
    strict_rewrite(dataset)
    sr = highdicom.sr.srread(path)
    assert isinstance(sr, highdicom.sr.Comprehensive3DSR)
    assert dataset.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    groups = sr.content.get_volumetric_roi_measurement_groups()
    assert len(groups) == 3 * len(export.analysis.rows)
    lesion = sr.content.get_volumetric_roi_measurement_groups(tracking_uid=groups[0].tracking_uid)
    assert {group.tracking_identifier for group in lesion} == {"Lesion 1"}
    suv = [m for m in groups[0].get_measurements() if m.name.value == "126401"]
    assert [m.derivation.value for m in suv] == ["56851009", "373098007", "126031"]
    assert all(m.unit.value == "g/ml{SUVbw}" for m in suv)
    # DS and FD forms of every number agree
    for element in dataset.iterall():
        if element.keyword == "MeasuredValueSequence":
            item = element.value[0]
            assert float(item.NumericValue) == pytest.approx(float(item.FloatingPointValue), rel=1e-10, abs=1e-12)
    assert dataset.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == dicom_codes.PRIVATE_SCHEME


def test_sr_numbers_and_decision_round_trip(export):
    back = read_dicom_sr(export.runs["plain"]["sr"].path)
    analysis = export.analysis
    assert set(back["segments"]) == {row.segment for row in analysis.rows}
    for row in analysis.rows:
        expected = row_values(row)
        got = back["segments"][row.segment]
        for key in NUMERIC_KEYS:
            assert got.get(key) == expected[key], (row.segment, key)
    summary = analysis.summary
    decision = back["decision"]
    assert decision["lesion_ratio"] == summary.lesion_ratio
    assert decision["eligible"] is summary.eligible
    assert (decision["metric"], decision["aggregate"], decision["threshold"], decision["lesion_count"]) == (
        summary.settings.metric, summary.settings.aggregate, summary.settings.threshold, summary.lesion_count)
    assert decision["decision"] == summary.decision_text
    assert decision["rule"] == summary.settings.rule_text()
    assert decision.get("warnings", []) == summary.warnings
    assert back["suv_quantity"] == "SUVbw" and back["units"]["suv"] == "g/ml{SUVbw}"
    assert back["dosimetry"] == {
        "Kidney left": {"mass": 160.0, "tia": 5234.5, "absorbed_dose": 3.21, "bed": 3.4},
        "Lesion 1": {"tia": 812.25, "tiac": 0.1123, "absorbed_dose": 12.5, "mean_absorbed_dose": 11.9},
    }
    assert back["dosimetry_units"]["Kidney left"] == {"mass": "g", "tia": "MBq.h", "absorbed_dose": "Gy",
                                                      "bed": "Gy"}


def test_sr_references(export):
    seg_export, sr_export = export.runs["plain"]["seg"], export.runs["plain"]["sr"]
    back = read_dicom_sr(sr_export.path)
    assert back["seg_sop_instance_uid"] == seg_export.sop_instance_uid
    assert back["segment_numbers"] == seg_export.segment_numbers
    for segment, series in back["referenced_series"].items():
        assert series == {"ia": export.ia.series_instance_uid, "iv": export.iv.series_instance_uid}, segment
    dataset = pydicom.dcmread(sr_export.path)
    _, ia_instances, ia_header = series_uids(export.patient / "pet_ia")
    _, iv_instances, _ = series_uids(export.patient / "pet_iv")
    assert dataset.StudyInstanceUID == ia_header.StudyInstanceUID  # the SR belongs to the IA PET study
    evidence = {}
    for sequence in ("CurrentRequestedProcedureEvidenceSequence", "PertinentOtherEvidenceSequence"):
        for study in dataset.get(sequence, []):
            for series in study.ReferencedSeriesSequence:
                evidence[series.SeriesInstanceUID] = {i.ReferencedSOPInstanceUID for i in series.ReferencedSOPSequence}
    assert evidence[export.ia.series_instance_uid] == ia_instances
    assert evidence[export.iv.series_instance_uid] == iv_instances
    assert evidence[seg_export.series_instance_uid] == {seg_export.sop_instance_uid}
    # the SUVs of a small lesion cite only the PET slices that cover it
    group = highdicom.sr.srread(sr_export.path).content.get_volumetric_roi_measurement_groups()[0]
    cited = {image.referenced_sop_instance_uid for m in group.get_measurements() for image in m.referenced_images}
    assert cited and cited < ia_instances


# --- de-identification and reproducibility ---------------------------------------------------------------------
def test_deidentified_outputs_hold_no_identity_or_original_date(export):
    _, _, mri = series_uids(export.patient / "mri")
    _, _, pet = series_uids(export.patient / "pet_ia")
    _, _, pet_iv = series_uids(export.patient / "pet_iv")
    name, patient_id, birth = str(mri.PatientName), str(mri.PatientID), str(mri.PatientBirthDate)
    originals = {name, patient_id, birth, *(str(h.get(k, "")) for h in (mri, pet, pet_iv)
                                             for k in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"))}
    originals |= {str(h.AccessionNumber) for h in (mri, pet, pet_iv)} | {name.split("^")[-1]}
    originals.discard("")
    deidentifier = Deidentifier()
    for kind in ("seg", "sr"):
        path = export.runs["deid"][kind].path
        dataset = strict_read(path)
        assert dataset.PatientID == deidentifier.patient_id(patient_id)
        assert str(dataset.PatientName) == deidentifier.patient_name(name, patient_id)
        assert dataset.PatientBirthDate == birth[:4] + "0101"
        assert dataset.PatientIdentityRemoved == "YES"
        for element in dataset.iterall():
            if element.VR in ("SQ", "UI", "OB", "OW", "OF", "OD", "UN") or element.value is None:
                continue  # UIDs are kept by design
            text = str(element.value)
            leaked = [value for value in originals if value in text]
            assert not leaked, (kind, element.keyword, leaked)
        raw = open(path, "rb").read()
        assert name.encode() not in raw and patient_id.encode() not in raw
    # same numbers and same references as the identified report
    plain, deid = read_dicom_sr(export.runs["plain"]["sr"].path), read_dicom_sr(export.runs["deid"]["sr"].path)
    assert deid["segments"] == plain["segments"]
    pseudonym = deidentifier.patient_id(patient_id)
    assert deid["decision"].pop("warnings")[-1] == f"Inputs read from /archive/{pseudonym}/pet_ia"
    plain["decision"].pop("warnings", None)
    assert deid["decision"] == plain["decision"]
    assert deid["referenced_series"] == plain["referenced_series"]
    shift = deidentifier.date_shift_days(patient_id)
    sr = pydicom.dcmread(export.runs["deid"]["sr"].path)
    original_date = np.datetime64(f"{pet.StudyDate[:4]}-{pet.StudyDate[4:6]}-{pet.StudyDate[6:8]}")
    assert sr.StudyDate == str(original_date - np.timedelta64(shift, "D")).replace("-", "")


def test_rerun_is_byte_identical(export):
    for kind in ("seg", "sr"):
        first = open(export.runs["plain"][kind].path, "rb").read()
        second = open(export.runs["again"][kind].path, "rb").read()
        assert first == second, kind
    seg = pydicom.dcmread(export.runs["plain"]["seg"].path, stop_before_pixels=True)
    mri = series_uids(export.patient / "mri")[2]
    assert (seg.ContentDate, seg.ContentTime) == (mri.SeriesDate, mri.SeriesTime.split(".")[0])
    assert "InstanceCreationDate" not in seg


# --- codes and dependencies -----------------------------------------------------------------------------------
def test_standard_codes_are_in_the_dicom_dictionary():
    """Every DCM/SCT/LN code we write exists in the DICOM CMR as shipped by pydicom (same value and scheme)."""
    from pydicom.sr import _concepts_dict

    used = [value for value in vars(dicom_codes).values() if isinstance(value, Code)]
    for suv in dicom_codes.SUV_CODES_BY_NORMALIZATION.values():
        used += [suv.quantity, suv.unit, suv.method]
    not_in_pydicom = {("C0034375", "UMLS"), ("C67447", "NCIt")}  # TID 1500 row 12 (DCMTK); highdicom's session
    for code in used:
        if code.scheme_designator in (dicom_codes.PRIVATE_SCHEME,) or (code.value, code.scheme_designator) in (
                not_in_pydicom):
            continue
        if code.scheme_designator == "UCUM" and code.value not in {c for v in _concepts_dict.concepts["UCUM"].values()
                                                                   for c in v}:
            continue  # UCUM is a grammar (ml, g, MBq.h), not a list
        table = _concepts_dict.concepts[code.scheme_designator]
        assert any(code.value in entry for entry in table.values()), code


def test_missing_highdicom_gives_an_actionable_error(monkeypatch, tmp_path, export):
    monkeypatch.setitem(sys.modules, "highdicom", None)
    with pytest.raises(RagalivInputError, match="pip install highdicom"):
        write_dicom_seg(export.segments[:1], export.patient / "mri", str(tmp_path / "seg.dcm"))
    assert read_dicom_seg(export.runs["plain"]["seg"].path)  # reading needs pydicom only
    assert read_dicom_sr(export.runs["plain"]["sr"].path)["segments"]
