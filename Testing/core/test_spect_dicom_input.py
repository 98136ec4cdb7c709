"""SPECT/CT study input from DICOM NM headers: injection moment, administered activity, decay correction,
patient and frame-of-reference identity (review findings 1a-1d). Every case is a header a scanner or a user
can produce; each must give either the right number or a clear error naming the tag and the STUDY.json key.

The NM files are written by :func:`ragaliv.phantom.dicom_writer.write_nm_tomo` and edited with pydicom.
The activity is an exact mono-exponential (T_eff 60 h) in a uniform box, so the truth is known in closed form.
"""

import datetime
import json
import math

import numpy as np
import pydicom
import pytest
from ragaliv.errors import RagalivInputError
from ragaliv.geometry import Geometry, Volume
from ragaliv.io.images import write_image
from ragaliv.phantom.dicom_writer import deterministic_uid, write_nm_tomo
from ragaliv.spect import analyse_study, load_study

HALF_LIFE_H = 6.647 * 24.0  # ICRP-107 177Lu, written out independently of ragaliv.constants
T_EFF_H = 60.0
C0_BQ_PER_ML = 2.0e6
INJECTION = datetime.datetime(2026, 4, 21, 10, 0, 0)
# First scan on the day after the injection: a StartTime (0018,1072) combined with the date of the first SPECT
# would put the injection 24 h late (25/73/169 h read as 1/49/145 h).
TIMES_H = (25.0, 73.0, 169.0)
GRID = Geometry.from_spacing((12, 14, 14), (4.0, 4.0, 4.0), (-26.0, -26.0, -22.0))
PATIENT = {"name": "TEST^SPECT", "id": "RGL-TEST-1", "birth_date": "19600101", "sex": "F", "weight_kg": 70.0,
           "height_cm": 170.0}


def _box():
    x, y, z = GRID.voxel_centres_lps()
    return (np.abs(x) < 14) & (np.abs(y) < 14) & (np.abs(z) < 10)


def _concentration(time_h):
    return C0_BQ_PER_ML * 2.0 ** (-time_h / T_EFF_H)


@pytest.fixture
def nm_study(tmp_path):
    """``make(edit=None, **study_changes)`` → STUDY.json path; ``edit(index, dataset)`` changes NM headers."""
    label = np.zeros(GRID.shape_kji, np.uint8)
    x, y, z = GRID.voxel_centres_lps()
    label[(np.abs(x) < 9) & (np.abs(y) < 9) & (np.abs(z) < 5)] = 1  # 5 mm inside the hot box
    write_image(Volume(label, GRID), str(tmp_path / "labels.nrrd"))
    (tmp_path / "labels.csv").write_text("label,name\n1,Kidney left\n", encoding="utf-8")
    paths = []
    for index, time_h in enumerate(TIMES_H):
        moment = INJECTION + datetime.timedelta(hours=time_h)
        activity = Volume(np.where(_box(), _concentration(time_h), 0.0), GRID, "Bq/mL")
        study = {"uid": deterministic_uid("test-study", index), "id": f"NM{index}", "time": moment,
                 "description": "177Lu SPECT", "accession": f"T{index}"}
        series = {"uid": deterministic_uid("test-series", index), "number": 3, "time": moment, "modality": "NM",
                  "description": "SPECT Bq/mL", "frame_of_reference": deterministic_uid("test-for")}
        nm = {"radiopharmaceutical": "177Lu-DOTATATE", "injection_time": INJECTION, "injected_bq": 7.4e9,
              "half_life_s": 574300.8}
        path = tmp_path / f"tp{index}" / "NM_0001.dcm"
        write_nm_tomo(activity, str(path), PATIENT, study, series, nm)
        paths.append(path)

    def make(edit=None, **changes):
        if edit is not None:
            for index, path in enumerate(paths):
                dataset = pydicom.dcmread(str(path))
                edit(index, dataset)
                dataset.save_as(str(path))
        document = {
            "timepoints": [{"image": f"tp{index}"} for index in range(len(TIMES_H))],
            "segmentation": "labels.nrrd",
            "labels": "labels.csv",
            "voxel_dosimetry": False,
        }
        document.update(changes)
        study_path = tmp_path / "study.json"
        study_path.write_text(json.dumps(document), encoding="utf-8")
        return str(study_path)

    return make


def _item(dataset):
    return dataset.RadiopharmaceuticalInformationSequence[0]


def _drop_start_datetime(index, dataset):
    del _item(dataset).RadiopharmaceuticalStartDateTime


def _tia_truth_mbq_h(volume_ml):
    return C0_BQ_PER_ML / 1e6 * volume_ml * T_EFF_H / math.log(2.0)


# --- 1a: injection moment ------------------------------------------------------------------------------------
def test_start_datetime_gives_the_times_and_is_named_as_source(nm_study):
    study = load_study(nm_study())
    assert study.time_h == pytest.approx(list(TIMES_H), abs=1e-6)
    assert study.injection_time == INJECTION
    assert "(0018,1078)" in study.injection_time_source
    assert study.settings()["injection_time_source"] == study.injection_time_source
    assert any("injection time" in w and "(0018,1078)" in w for w in study.warnings)
    assert study.administered_mbq == pytest.approx(7400.0)


def test_start_time_only_with_the_first_scan_on_a_later_day_is_refused(nm_study):
    with pytest.raises(RagalivInputError) as info:
        load_study(nm_study(edit=_drop_start_datetime))
    text = str(info.value)
    assert "(0018,1072)" in text and "injection_time" in text
    assert "10:00:00" in text  # the clock time the header did give


def test_start_time_only_with_an_explicit_injection_time_gives_the_right_times(nm_study):
    study = load_study(nm_study(edit=_drop_start_datetime, injection_time=INJECTION.isoformat()))
    assert study.time_h == pytest.approx(list(TIMES_H), abs=1e-6)
    assert study.injection_time_source == "STUDY.json 'injection_time'"
    assert not any("(0018,1078)" in w for w in study.warnings)
    result = analyse_study(study)
    region = result.region("Kidney left")
    assert region.fit.tia_mbq_h == pytest.approx(_tia_truth_mbq_h(region.tac.volume_ml), rel=1e-3)


def test_start_time_only_is_not_needed_when_every_time_point_gives_hours(nm_study):
    timepoints = [{"image": f"tp{index}", "hours": hours} for index, hours in enumerate(TIMES_H)]
    study = load_study(nm_study(edit=_drop_start_datetime, timepoints=timepoints))
    assert study.time_h == list(TIMES_H) and study.injection_time is None


def test_study_injection_time_disagreeing_with_the_header_is_refused_unless_accepted(nm_study):
    """Beyond 1 h (start and end of a 30-40 min infusion) the disagreement is refused (adversarial test W7);
    accepted, the STUDY.json value is used and the warning says so."""
    path = nm_study(injection_time="2026-04-21T08:00:00")
    with pytest.raises(RagalivInputError, match=r"differs by 2 h from the DICOM .*\(0018,1078\).*more than 1 h"):
        load_study(path)
    study = load_study(path, accept=("injection-time",))
    assert study.time_h[0] == pytest.approx(27.0)
    assert any("ACCEPTED BY THE USER" in w and "differs by 2 h" in w and "(0018,1078)" in w for w in study.warnings)


def test_time_points_from_different_injections_are_refused(nm_study):
    def edit(index, dataset):
        if index == 2:
            _item(dataset).RadiopharmaceuticalStartDateTime = "20260428100000"

    with pytest.raises(RagalivInputError, match=r"different injection times.*\(0018,1078\)") as info:
        load_study(nm_study(edit=edit))
    assert "tp2" in str(info.value) and "injection_time" in str(info.value)


def test_a_utc_offset_on_one_side_only_is_read_as_local_clock_with_a_warning(nm_study):
    def edit(index, dataset):
        dataset.TimezoneOffsetFromUTC = "+0200"

    study = load_study(nm_study(edit=edit, injection_time=INJECTION.isoformat()))
    assert study.time_h == pytest.approx(list(TIMES_H), abs=1e-6)
    assert any("local clock times" in w for w in study.warnings)


# --- 1b: administered activity ------------------------------------------------------------------------------
def test_total_dose_entered_in_mbq_is_read_as_mbq_with_a_warning(nm_study):
    def edit(index, dataset):
        _item(dataset).RadionuclideTotalDose = "7400"

    study = load_study(nm_study(edit=edit))
    assert study.administered_mbq == pytest.approx(7400.0)
    assert study.administered_source.startswith("DICOM RadionuclideTotalDose (0018,1074)")
    assert any("read as 7400 MBq" in w and "(0018,1074)" in w for w in study.warnings)
    result = analyse_study(study)
    dose = result.region("Kidney left").dose
    assert dose.primary.dose_gy_per_gbq == pytest.approx(dose.primary.dose_gy / 7.4, rel=1e-9)


@pytest.mark.parametrize("header_value", ["7.4", "7.4e12", "50000"])  # GBq, 1000x too many Bq, 0.05 MBq
def test_implausible_total_dose_is_refused_naming_the_key_and_tag(nm_study, header_value):
    def edit(index, dataset):
        _item(dataset).RadionuclideTotalDose = header_value

    with pytest.raises(RagalivInputError) as info:
        load_study(nm_study(edit=edit))
    text = str(info.value)
    assert "administered_mbq" in text and "(0018,1074)" in text and "plausible" in text


def test_explicit_implausible_activity_is_refused_unless_accepted(nm_study):
    """7.4 'MBq' of 177Lu is GBq typed as MBq: refused (issue 8); accepted, it gets a loud warning."""
    path = nm_study(administered_mbq=7.4)
    with pytest.raises(RagalivInputError) as info:
        load_study(path)
    assert "7.4 MBq" in info.value.message and "--accept administered-activity" in info.value.hint
    study = load_study(path, accept=("administered-activity",))
    assert study.administered_mbq == 7.4
    assert any(w.startswith("CHECK THE ADMINISTERED ACTIVITY") and "administered_mbq" in w for w in study.warnings)
    assert any(w.startswith("ACCEPTED BY THE USER (--accept administered-activity)") for w in study.warnings)


# --- 1c: decay correction -----------------------------------------------------------------------------------
def _decay_corrected_to_injection(index, dataset):
    """Pixel values × 2^(t/T1/2): the activity decay corrected to the injection, CorrectedImage DECY."""
    factor = 2.0 ** (TIMES_H[index] / HALF_LIFE_H)
    dataset.RescaleSlope = f"{float(dataset.RescaleSlope) * factor:.10g}"
    dataset.CorrectedImage = ["ATTN", "SCAT", "DECY"]


def test_decy_without_a_reference_time_is_refused(nm_study):
    with pytest.raises(RagalivInputError) as info:
        load_study(nm_study(edit=_decay_corrected_to_injection))
    text = str(info.value)
    assert "(0028,0051)" in text and "DECY" in text and "decay_correction" in text


def test_decy_with_the_study_key_is_undone(nm_study):
    timepoints = [{"image": f"tp{index}", "decay_correction": "injection"} for index in range(len(TIMES_H))]
    study = load_study(nm_study(edit=_decay_corrected_to_injection, timepoints=timepoints))
    assert [tp.decay_correction for tp in study.timepoints] == ["injection"] * 3
    assert "STUDY.json" in study.timepoints[0].decay_correction_source
    region = analyse_study(study).region("Kidney left")
    assert region.fit.effective_half_life_h == pytest.approx(T_EFF_H, rel=1e-3)
    assert region.fit.tia_mbq_h == pytest.approx(_tia_truth_mbq_h(region.tac.volume_ml), rel=1e-3)


def test_decy_with_decay_correction_admin_in_the_header_is_undone(nm_study):
    def edit(index, dataset):
        _decay_corrected_to_injection(index, dataset)
        dataset.DecayCorrection = "ADMIN"

    study = load_study(nm_study(edit=edit))
    assert study.timepoints[1].decay_correction == "injection"
    assert study.timepoints[1].summary()["decay_correction_source"] == "DICOM DecayCorrection (0054,1102) ADMIN"
    region = analyse_study(study).region("Kidney left")
    assert region.fit.effective_half_life_h == pytest.approx(T_EFF_H, rel=1e-3)


def test_decy_contradicting_decay_correction_none_is_refused(nm_study):
    def edit(index, dataset):
        dataset.CorrectedImage = ["ATTN", "DECY"]
        dataset.DecayCorrection = "NONE"

    with pytest.raises(RagalivInputError, match=r"contradicts.*\(0054,1102\).*\(0028,0051\)"):
        load_study(nm_study(edit=edit))


def test_no_decy_is_activity_as_measured_and_says_so(nm_study):
    study = load_study(nm_study())
    point = study.timepoints[0]
    assert point.decay_correction == "none" and "no DECY" in point.decay_correction_source


# --- 1d: identity ---------------------------------------------------------------------------------------------
def test_another_patient_at_one_time_point_is_refused(nm_study):
    def edit(index, dataset):
        if index == 1:
            dataset.PatientID = "SOMEONE-ELSE"

    with pytest.raises(RagalivInputError, match=r"different patients.*\(0010,0020\)") as info:
        load_study(nm_study(edit=edit))
    assert "tp1" in str(info.value) and "tp0" in str(info.value)


def test_different_frames_of_reference_without_registration_are_warned(nm_study):
    def edit(index, dataset):
        dataset.FrameOfReferenceUID = deterministic_uid("another-session", index)

    study = load_study(nm_study(edit=edit))
    result = analyse_study(study)
    message = "time points are in different frames of reference and were not registered; set 'register': true"
    assert any(message in w for w in result.warnings)


def test_one_frame_of_reference_gives_no_registration_warning(nm_study):
    study = load_study(nm_study())
    assert not any("frames of reference" in w for w in study.warnings)


def test_a_ct_of_another_patient_is_refused(nm_study, tmp_path):
    from ragaliv.phantom.dicom_writer import write_slices

    ct = Volume(np.zeros(GRID.shape_kji, np.float32), GRID, "HU")
    moment = INJECTION + datetime.timedelta(hours=TIMES_H[0])
    study = {"uid": deterministic_uid("ct-study"), "id": "CT0", "time": moment, "description": "CT",
             "accession": "C0"}
    series = {"uid": deterministic_uid("ct-series"), "number": 2, "time": moment, "modality": "CT",
              "description": "CT AC", "frame_of_reference": deterministic_uid("test-for")}
    write_slices(ct, str(tmp_path / "ct0"), "CT", dict(PATIENT, id="SOMEONE-ELSE"), study, series)
    timepoints = [{"image": f"tp{index}"} for index in range(len(TIMES_H))]
    timepoints[0]["ct"] = "ct0"
    with pytest.raises(RagalivInputError, match=r"timepoints\[0\]: the CT .* different PatientID \(0010,0020\)"):
        load_study(nm_study(timepoints=timepoints))
