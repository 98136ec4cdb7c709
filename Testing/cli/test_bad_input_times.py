"""Injection and scan times typed by the user (adversarial CLI test W6, W7, W10, W15): a date without a time of
day is refused wherever a date-time is typed (flags, STUDY.json, COHORT.csv, the SpectDosimetry panel's field)
instead of being read as midnight; a UTC offset typed against local DICOM times is refused, and applied when the
header gives TimezoneOffsetFromUTC. Synthetic patient: IA injection 2026-03-10T09:12:00 local, scan 10:05:30
(decay time 3210 s), IA/IV mean SUVmax ratio 3.36 ELIGIBLE; 177Lu injection 2026-04-21T10:00:00."""

import json

import pytest
from bad_input import assert_refused, edit_series, files_in, run
from ragaliv.cli import main


def ratio_args(patient, output, *extra, ia=None):
    return ("ratio", "--ia", ia or patient / "pet_ia", "--iv", patient / "pet_iv", "--segmentation",
            patient / "segmentation.seg.nrrd", "-o", output, *extra)


def usage_error(capsys, *argv) -> str:
    """An argparse refusal of a flag value: exit 2 and its message (argparse prints no 'fix:' line; the message
    itself says how to write the value)."""
    with pytest.raises(SystemExit) as stopped:
        main([str(item) for item in argv])
    assert stopped.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(("flag", "value"), [
    pytest.param("--ia-injection-time", "2026-03-10", id="ia-injection-date-only"),
    pytest.param("--iv-injection-time", "2026-03-12", id="iv-injection-date-only"),
    pytest.param("--ia-scan-time", "20260310", id="ia-scan-date-only-basic"),
])
def test_ratio_refuses_a_date_without_time_of_day(synthetic_patient_dir, tmp_path, capsys, flag, value):
    """W10: a date alone was read as midnight (10 h before the 68Ga scan); the refusal then blamed the injected
    activity and suggested --accept pet-activity, which would have made the SUVs ~180x wrong."""
    output = tmp_path / "out"
    err = usage_error(capsys, *ratio_args(synthetic_patient_dir, output, flag, value))
    assert f"argument {flag}: '{value}' has no time of day" in err, err
    assert "read as midnight" in err and "T10:30:00" in err, err
    assert "pet-activity" not in err
    assert files_in(output) == []


def test_suv_refuses_a_date_without_time_of_day(synthetic_patient_dir, tmp_path, capsys):
    err = usage_error(capsys, "suv", synthetic_patient_dir / "pet_ia", "-o", tmp_path / "out",
                      "--injection-time", "2026-03-10")
    assert "argument --injection-time: '2026-03-10' has no time of day" in err, err


def _set(key, value, index=None):
    def change(document):
        (document if index is None else document["timepoints"][index])[key] = value
    return change


@pytest.mark.parametrize(("change", "texts"), [
    pytest.param(_set("injection_time", "2026-04-21"),
                 ("STUDY.json: injection_time '2026-04-21' has no time of day", "2026-04-21T10:30:00",
                  "\"injection_time\""), id="injection-date-only"),
    pytest.param(_set("time", "2026-04-22", index=1),
                 ("STUDY.json: timepoints[1].time '2026-04-22' has no time of day", "\"time\""),
                 id="timepoint-date-only"),
])
def test_dosimetry_refuses_a_date_without_time_of_day(study_writer, tmp_path, capsys, change, texts):
    """W6: STUDY.json injection_time "2026-04-21" was read as midnight (10 h early): doses +7-12 %, exit 0."""
    study = study_writer(tmp_path / "in", change)
    output = tmp_path / "out"
    assert_refused(run(capsys, "dosimetry", study, "-o", output), *texts, output=output)


def test_cohort_refuses_a_date_without_time_of_day(tmp_path):
    from ragaliv.cohort.table import read_cohort

    (tmp_path / "pet").mkdir()
    (tmp_path / "seg.nrrd").write_text("x")
    path = tmp_path / "c.csv"
    path.write_text("patient_id,ia,iv,segmentation,ia_injection_time,iv_scan_time\n"
                    "P1,pet,pet,seg.nrrd,2026-03-10,2026-03-12T09:48:00\n"
                    "P2,pet,pet,seg.nrrd,2026-03-10 09:12,2026-03-12\n", encoding="utf-8")
    rows = {row.patient_id: row for row in read_cohort(str(path)).rows}
    assert "column 'ia_injection_time': '2026-03-10' has no time of day" in " ".join(rows["P1"].problems)
    assert rows["P2"].values["ia_injection_time"].isoformat() == "2026-03-10T09:12:00"
    assert "column 'iv_scan_time': '2026-03-12' has no time of day" in " ".join(rows["P2"].problems)


def test_ratio_refuses_a_utc_offset_against_local_dicom_times(synthetic_patient_dir, tmp_path, capsys):
    """W15: 08:12Z (= 09:12 CET) had its offset dropped: decay time 6810 s instead of 3210 s, ratio 6.21
    ELIGIBLE (truth 3.36). The DICOM times have no TimezoneOffsetFromUTC: refused, as STUDY.json is."""
    output = tmp_path / "out"
    result = run(capsys, *ratio_args(synthetic_patient_dir, output, "--ia-injection-time", "2026-03-10T08:12:00Z"))
    assert_refused(result, "IA PET: --ia-injection-time 2026-03-10T08:12:00+00:00 carries a UTC offset",
                   "TimezoneOffsetFromUTC (0008,0201)", "without an offset", output=output)


def test_ratio_applies_a_utc_offset_when_the_header_gives_the_zone(synthetic_patient_dir, tmp_path, capsys):
    """With TimezoneOffsetFromUTC +0100 in the IA header, 08:12Z is 09:12 local: the true decay time and ratio."""
    def zone(dataset):
        dataset.TimezoneOffsetFromUTC = "+0100"

    ia = edit_series(synthetic_patient_dir / "pet_ia", tmp_path / "ia", zone)
    output = tmp_path / "out"
    code, _, err = run(capsys, *ratio_args(synthetic_patient_dir, output, "--ia-injection-time",
                                           "2026-03-10T08:12:00Z", ia=ia))
    assert code == 0, err
    summary = json.loads((output / "summary.json").read_text(encoding="utf-8"))
    assert summary["suv_parameters"]["ia"]["decay_time_s"] == pytest.approx(3210.0)
    truth = json.loads((synthetic_patient_dir / "truth.json").read_text(encoding="utf-8"))["ratio"]
    assert summary["lesion_ratio"] == pytest.approx(truth["lesion_ratio"], rel=1e-3)
    assert summary["eligible"] is True


def test_dosimetry_refuses_an_injection_time_hours_off_the_header(study_writer, tmp_path, capsys, monkeypatch):
    """W7: STUDY.json injection_time 10 h off the SPECT RadiopharmaceuticalStartDateTime (10:00) was only warned and
    used (doses +7-12 %): refused beyond 1 h (a 30-40 min infusion: start and end differ by up to ~0.7 h), accepted
    with --accept injection-time; 40 min off (the end of the infusion) warned."""
    from bad_input import assert_warned, no_pdf, read_summary

    study = study_writer(tmp_path / "in", _set("injection_time", "2026-04-21T00:00:00"))
    output = tmp_path / "out"
    assert_refused(run(capsys, "dosimetry", study, "-o", output),
                   "STUDY.json injection_time 2026-04-21T00:00:00 differs by 10 h from the DICOM "
                   "RadiopharmaceuticalStartDateTime (0018,1078) 2026-04-21T10:00:00 of timepoints[0]",
                   "more than 1 h", "--accept injection-time", output=output)
    no_pdf(monkeypatch)
    code, _, err = run(capsys, "dosimetry", study, "-o", output, "--accept", "injection-time", "--report")
    assert code == 0, err
    summary = assert_warned(output, ["ACCEPTED BY THE USER (--accept injection-time): STUDY.json injection_time"])
    assert summary["settings"]["accepted_checks"] == ["injection-time"]
    assert summary["timepoints"][0]["time_h"] == pytest.approx(14.0)  # the accepted value is the one used
    # Within 1 h (the end of a 40 min infusion): warned, the STUDY.json value used, no refusal.
    study = study_writer(tmp_path / "near", _set("injection_time", "2026-04-21T10:40:00"))
    code, _, err = run(capsys, "dosimetry", study, "-o", tmp_path / "near_out")
    assert code == 0, err
    warnings = read_summary(tmp_path / "near_out")["warnings"]
    assert any("differs by 0.667 h from the DICOM RadiopharmaceuticalStartDateTime" in text for text in warnings)


def test_a_wrong_injection_clock_time_is_named_before_the_dose(synthetic_patient_dir, tmp_path, capsys):
    """W10, second part: --ia-injection-time at midnight (the injection was 09:12, a time of day given, so not
    refused as a date alone): the image then holds far more than the injected activity. The refusal says that the
    uptake time is unusual and its decay correction inflates the activity, and asks to check the times first,
    instead of only blaming the dose (accepting pet-activity would give SUVs ~180x off)."""
    output = tmp_path / "out"
    assert_refused(run(capsys, *ratio_args(synthetic_patient_dir, output, "--ia-injection-time",
                                           "2026-03-10T00:00:00")),
                   "or the injection or scan time is wrong: the uptake time is", "(usual 20-180 min)",
                   "Check the injection and scan times first", output=output)
