"""Issue 8, class 3: SPECT/TAC plausibility against the header times, the administered activity (decay-corrected)
and physics (TIAC <= 1/lambda of 177Lu = 230 h), in ``dosimetry``, ``tac`` and ``batch``. The synthetic study:
7400 MBq 177Lu, SPECTs at 4/24/72/168 h holding 20/18/14/8 % of the decayed administered activity."""

import csv
import json
import math
import shutil

import pydicom
import pytest
from bad_input import assert_refused, assert_warned, files_in, no_pdf, read_summary, run


def administered(value):
    def change(document):
        document["administered_mbq"] = value
    return change


def timepoint(index, **values):
    def change(document):
        document["timepoints"][index].update(values)
    return change


REFUSED = [
    pytest.param(administered(7.4), (), ("Administered 177Lu activity 7.4 MBq", "GBq typed as MBq", "7400 MBq",
                                         "--accept administered-activity"), id="administered-in-GBq"),
    pytest.param(administered(7.4e6), (), ("7.4e+06 MBq", "kBq typed as MBq"), id="administered-in-kBq"),
    pytest.param(administered(7.4), ("--accept", "administered-activity"),
                 ("The SPECT of timepoints[0] (4 h) holds 200 times the administered activity", "impossible",
                  "--accept spect-activity"), id="GBq-accepted-then-the-SPECT-activity"),
    pytest.param(administered(600.0), (), ("holds 2.47 times the administered activity 600 MBq",),
                 id="administered-too-small-for-the-images"),
    pytest.param(timepoint(1, hours=30.0), (), ("timepoints[1]: 'hours' gives 30 h after injection",
                                                "acquisition time gives 24 h", "--accept spect-time"),
                 id="hours-disagree-with-header"),
    pytest.param(timepoint(2, time="2026-04-24T16:00:00"), (), ("timepoints[2]: 'time' gives 78 h", "72 h"),
                 id="time-disagrees-with-header"),
    pytest.param(administered(30.0), ("--accept", "administered-activity", "--accept", "spect-activity"),
                 ("VOI Lesion 1", "times the administered 30 MBq", "--accept tac-activity", "TIAC",
                  "above the physical maximum 1/lambda = 230.2 h", "--accept tiac"), id="voi-activity-and-tiac"),
]


@pytest.mark.parametrize(("change", "flags", "texts"), REFUSED)
def test_implausible_study_is_refused_before_writing(study_writer, tmp_path, capsys, change, flags, texts):
    study = study_writer(tmp_path / "in", change)
    output = tmp_path / "out"
    assert_refused(run(capsys, "dosimetry", study, "-o", output, *flags), *texts, output=output)


def _nm_slope(source, target, factor):
    """A copy of one SPECT time point folder with its RescaleSlope multiplied by ``factor``."""
    shutil.copytree(source, target)
    for path in target.iterdir():
        dataset = pydicom.dcmread(path)
        dataset.RescaleSlope = float(dataset.RescaleSlope) * factor
        dataset.save_as(path)
    return target


@pytest.mark.parametrize(("index", "factor", "text"), [
    pytest.param(3, 1.0 / 60.0, "times less than another time point", id="time-point-60x-low"),
    pytest.param(0, 10.0, "holds 2 times the administered activity", id="time-point-10x-high"),
])
def test_lost_or_wrong_scale_factor_of_one_spect_is_refused(synthetic_patient_dir, study_writer, tmp_path, capsys,
                                                            index, factor, text):
    source = synthetic_patient_dir / "spect" / json.loads(
        (synthetic_patient_dir / "spect" / "study.json").read_text())["timepoints"][index]["image"]
    image = _nm_slope(source, tmp_path / "nm", factor)
    study = study_writer(tmp_path / "in", timepoint(index, image=str(image)))
    output = tmp_path / "out"
    assert_refused(run(capsys, "dosimetry", study, "-o", output), f"timepoints[{index}]", text,
                   "RescaleSlope", output=output)


def test_unusual_administered_activity_is_warned_into_summary_and_report(study_writer, tmp_path, capsys,
                                                                         monkeypatch):
    """2500 MBq is unusual (not a unit slip): the study runs, the warning is in summary.json and report.html;
    fit notes are printed on the console, not only in tia.csv."""
    no_pdf(monkeypatch)
    study = study_writer(tmp_path / "in", administered(2500.0))
    output = tmp_path / "out"
    code, _, err = run(capsys, "dosimetry", study, "-o", output, "--report")
    assert code == 0, err
    assert "Administered 177Lu activity 2500 MBq" in err and "is unusual" in err
    assert "note: fit note: 4 time points" in err and "(all 11 regions)" in err
    assert_warned(output, ["Administered 177Lu activity 2500 MBq (STUDY.json 'administered_mbq') is unusual"])


def test_accepted_time_mismatch_runs_and_is_recorded(study_writer, tmp_path, capsys, monkeypatch):
    no_pdf(monkeypatch)
    study = study_writer(tmp_path / "in", timepoint(1, hours=30.0))
    output = tmp_path / "out"
    code, _, err = run(capsys, "dosimetry", study, "-o", output, "--accept", "spect-time", "--report")
    assert code == 0, err
    summary = assert_warned(output, ["ACCEPTED BY THE USER (--accept spect-time)"])
    assert summary["settings"]["accepted_checks"] == ["spect-time"]
    assert summary["timepoints"][1]["time_h"] == 30.0
    provenance = json.loads((output / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["parameters"]["accept"] == ["spect-time"]


def test_hours_within_the_tolerance_pass(study_writer, tmp_path, capsys):
    """'hours' 24.5 for an acquisition at 24 h: within max(0.5 h, 5 %), no finding."""
    study = study_writer(tmp_path / "in", timepoint(1, hours=24.5))
    code, _, err = run(capsys, "dosimetry", study, "-o", tmp_path / "out")
    assert code == 0, err
    warnings = read_summary(tmp_path / "out")["warnings"]
    assert not any("spect-time" in text or "'hours' gives" in text for text in warnings)


# --- ragaliv tac ---------------------------------------------------------------------------------------------
KIDNEY = "region,time_h,activity_mbq\nKidney,4,30\nKidney,24,35\nKidney,72,12\nKidney,168,9\n"


def _tacs(tmp_path, text=KIDNEY, scale=1.0):
    lines = text.strip().split("\n")
    rows = [lines[0]] + [",".join([*row.split(",")[:2], f"{float(row.split(',')[2]) * scale:g}"]) for row in lines[1:]]
    path = tmp_path / "tacs.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("administered_mbq", "scale", "flags", "texts"), [
    pytest.param("7.4", 1.0, (), ("Administered 177Lu activity 7.4 MBq (--administered-mbq 7.4)", "GBq typed as MBq",
                                  "--administered-mbq in MBq", "--accept administered-activity"),
                 id="administered-in-GBq"),
    pytest.param("7400", 1000.0, (), ("region Kidney: 3.5e+04 MBq at 24 h", "in kBq?", "--accept tac-activity"),
                 id="activities-in-kBq"),
    pytest.param("150", 12.0, ("--accept", "tac-activity"), ("region Kidney: TIAC", "--accept tiac"),
                 id="tiac-above-1-over-lambda"),
])
def test_tac_refuses_unit_slips_and_impossible_tiac(tmp_path, capsys, administered_mbq, scale, flags, texts):
    output = tmp_path / "out"
    result = run(capsys, "tac", _tacs(tmp_path, scale=scale), "--administered-mbq", administered_mbq, "-o", output,
                 *flags)
    assert_refused(result, *texts, output=output)


def test_tac_times_typed_in_days_are_refused_and_can_be_accepted(tmp_path, capsys):
    """4, 24, 72, 168 h typed as days (0.17, 1, 3, 7): the TIA would be ~24x small; refused before any fit."""
    days = "region,time_h,activity_mbq\nKidney,0.17,30\nKidney,1,35\nKidney,3,12\nKidney,7,9\n"
    output = tmp_path / "out"
    result = run(capsys, "tac", _tacs(tmp_path, text=days), "--administered-mbq", "7400", "-o", output)
    assert_refused(result, "region Kidney: the last time point is at 7 h", "typed in days", "--accept tac-time",
                   output=output)
    code, _, err = run(capsys, "tac", _tacs(tmp_path, text=days), "--administered-mbq", "7400", "-o", output,
                       "--accept", "tac-time")
    assert code == 0, err
    document = json.loads((output / "tac_fits.json").read_text(encoding="utf-8"))
    assert document["accepted_checks"] == ["tac-time"] and any("7 h" in text for text in document["warnings"])


def test_study_hours_typed_in_days_are_refused(study_writer, tmp_path, capsys):
    def in_days(document):  # the protocol's 4, 24, 72, 168 h typed as days
        for point, days in zip(document["timepoints"], (0.17, 1.0, 3.0, 7.0)):
            point.pop("time", None)
            point["hours"] = days
    study = study_writer(tmp_path / "in", in_days)
    output = tmp_path / "out"
    result = run(capsys, "dosimetry", study, "-o", output)
    code, _, err = result
    assert code == 2 and "Traceback" not in err, err
    assert "7 h" in err or "'hours' gives" in err, err  # the days, or their disagreement with the header
    assert files_in(output) == []


def test_tac_warns_and_prints_fit_flags_on_the_console(tmp_path, capsys):
    output = tmp_path / "out"
    code, _, err = run(capsys, "tac", _tacs(tmp_path), "--administered-mbq", "2000", "-o", output)
    assert code == 0, err
    # This irregular curve (a rise, then a drop by 3x) fits no exponential model with relative weights: the
    # fallback to the trapezoid and its flags must reach the console, not only tac_fits.json.
    assert "warning: Kidney: fit flag: no TIA uncertainty" in err
    assert "note: Kidney: no exponential model usable" in err and "fell back to 'trapezoid'" in err
    assert "Administered 177Lu activity 2000 MBq" in err
    document = json.loads((output / "tac_fits.json").read_text(encoding="utf-8"))
    assert any("2000 MBq" in text for text in document["warnings"])


def test_batch_patient_with_a_unit_slip_fails_alone(study_writer, tmp_path, capsys):
    study = study_writer(tmp_path / "in", administered(7.4))
    cohort = tmp_path / "COHORT.csv"
    cohort.write_text(f"patient_id,study\nP1,{study}\n", encoding="utf-8")
    output = tmp_path / "out"
    code, _, err = run(capsys, "batch", cohort, "-o", output, "--jobs", "1", "--no-deidentify")
    assert code == 2 and "P1 (line 2)" in err and "7.4 MBq" in err, err
    assert "administered-activity in the COHORT.csv column 'accept'" in err
    assert files_in(output / "P1") == ["error.txt"]


def test_physical_limits_of_the_checks():
    """1/lambda of 177Lu = 6.647 d x 24 / ln 2 = 230.15 h: a TIAC up to it passes, up to +10 % is warned, beyond
    refused; a study whose SPECTs all hold < 5 % of the decayed administered activity is warned."""
    import math

    from ragaliv.checks.ranges import LU177_MEAN_LIFE_H
    from ragaliv.checks.spect import fraction_findings, tiac_finding

    assert LU177_MEAN_LIFE_H == pytest.approx(6.647 * 24.0 / math.log(2.0), rel=1e-12)
    assert LU177_MEAN_LIFE_H == pytest.approx(230.15, abs=0.01)
    assert tiac_finding("Liver", 229.0) is None
    assert tiac_finding("Liver", 240.0).severity == "warn"
    assert tiac_finding("Liver", 260.0).severity == "refuse"
    decayed_4h = 7400.0 * 2.0 ** (-4.0 / (6.647 * 24.0))
    assert fraction_findings([("tp0", 4.0, 0.2 * decayed_4h)], 7400.0) == []
    low = fraction_findings([("tp0", 4.0, 0.01 * decayed_4h)], 7400.0)
    assert [f.severity for f in low] == ["warn"] and "at most 1.00%" in low[0].message
    high = fraction_findings([("tp0", 4.0, 1.6 * decayed_4h)], 7400.0)
    assert [f.severity for f in high] == ["refuse"] and "holds 1.6 times" in high[0].message


# --- a single time point (Hänscheid): refused before 48 h, warned outside 72-96 h ---------------------------
def _only_timepoint(index, hours=None):
    def change(document):
        point = document["timepoints"][index]
        if hours is not None:
            point.pop("time", None)
            point["hours"] = hours
        document["timepoints"] = [point]
        document["reference_timepoint"] = 0
    return change


@pytest.mark.parametrize(("time_h", "days"), [pytest.param(4, True, id="4h"), pytest.param(24, False, id="24h")])
def test_tac_single_point_before_48_h_is_refused(tmp_path, capsys, time_h, days):
    """One point at 4 h: the Hänscheid TIA A(t)·2t/ln2 assumes T_eff = 4 h and is 85-92 % low for T_eff 50-100 h
    (the adversarial case: 354 MBq·h against 2895 from four points); at 24 h 31-59 % low. Refused, nothing
    written; accepted, the run goes on and says so."""
    text = f"region,time_h,activity_mbq\nKidney left,{time_h},30.7\n"
    output = tmp_path / "out"
    err = assert_refused(run(capsys, "tac", _tacs(tmp_path, text=text), "--administered-mbq", "7400", "-o", output),
                         f"region Kidney left: the TIA comes from a single time point at {time_h} h",
                         "Hänscheid", "48 h or later", "Add later time points", "--accept stp-time", output=output)
    assert ("typed in days" in err) == days, err
    expected = {4: "85%-92% too low", 24: "31%-59% too low"}[time_h]  # (2x/ln2)e^-x - 1, x = ln2 t/T_eff
    assert expected in err, err
    code, _, err = run(capsys, "tac", _tacs(tmp_path, text=text), "--administered-mbq", "7400", "-o", output,
                       "--accept", "stp-time")
    assert code == 0, err
    document = json.loads((output / "tac_fits.json").read_text(encoding="utf-8"))
    assert document["accepted_checks"] == ["stp-time"]
    assert any(text.startswith("ACCEPTED BY THE USER (--accept stp-time)") and f"{time_h} h" in text
               for text in document["warnings"]), document["warnings"]


def test_tac_stp_model_on_an_early_point_is_refused(tmp_path, capsys):
    """--model stp takes the point nearest 96 h; when that is at 24 h, the same rule applies."""
    text = "region,time_h,activity_mbq\nSpleen,4,30\nSpleen,24,28\n"
    output = tmp_path / "out"
    assert_refused(run(capsys, "tac", _tacs(tmp_path, text=text), "--administered-mbq", "7400", "--model", "stp",
                       "-o", output), "region Spleen: the TIA comes from a single time point at 24 h", output=output)


@pytest.mark.parametrize(("time_h", "warned"), [(48, True), (72, False), (96, False), (168, True)])
def test_tac_single_point_from_48_h_runs_and_is_warned_outside_72_to_96_h(tmp_path, capsys, time_h, warned):
    text = f"region,time_h,activity_mbq\nKidney left,{time_h},12\n"
    output = tmp_path / "out"
    code, _, err = run(capsys, "tac", _tacs(tmp_path, text=text), "--administered-mbq", "7400", "-o", output)
    assert code == 0, err
    document = json.loads((output / "tac_fits.json").read_text(encoding="utf-8"))
    stp = [text for text in document["warnings"] if "single time point" in text]
    assert bool(stp) == warned, document["warnings"]
    if warned:
        assert f"single time point at {time_h} h, outside the 72-96 h" in stp[0] and stp[0] in err
    assert document["regions"]["Kidney left"]["model"] == "stp"
    with open(output / "tia.csv", encoding="utf-8") as stream:
        row = next(csv.DictReader(stream))
    assert float(row["tia_mbq_h"]) == pytest.approx(12.0 * 2.0 * time_h / math.log(2.0), rel=1e-5)


def test_dosimetry_with_only_the_4_h_spect_is_refused(study_writer, tmp_path, capsys):
    """The adversarial case: the 4 h SPECT alone gave Kidney left 0.71 Gy, Lesion 1 2.27 Gy (truth 4.66, 24.9)."""
    study = study_writer(tmp_path / "in", _only_timepoint(0))
    output = tmp_path / "out"
    err = assert_refused(run(capsys, "dosimetry", study, "-o", output),
                         "VOIs (all 11): the TIA comes from a single time point at 4 h", "85%-92% too low",
                         "Add later time points", "--accept stp-time", output=output)
    assert "typed in days" not in err  # the times come from the SPECT headers


def test_dosimetry_with_only_the_168_h_spect_is_warned_into_summary_and_report(study_writer, tmp_path, capsys,
                                                                               monkeypatch):
    no_pdf(monkeypatch)
    study = study_writer(tmp_path / "in", _only_timepoint(3))
    output = tmp_path / "out"
    code, _, err = run(capsys, "dosimetry", study, "-o", output, "--report")
    assert code == 0, err
    summary = assert_warned(output, ["VOIs (all 11): the TIA comes from a single time point at 168 h, outside the "
                                     "72-96 h"])
    assert {region["fit"]["model"] for region in summary["regions"].values()} == {"stp"}


def test_tac_times_typed_in_minutes_are_refused_naming_the_time_unit(tmp_path, capsys):
    """4, 24, 72, 168 h typed in minutes (240 ... 10080): the message was about the activity unit (the activities
    exceed the administered activity decayed over 10080 h); now it names the time unit, and only it."""
    minutes = "region,time_h,activity_mbq\nKidney left,240,30.7\nKidney left,1440,29.2\nKidney left,4320,16.3\n" \
              "Kidney left,10080,3.9\n"
    output = tmp_path / "out"
    err = assert_refused(run(capsys, "tac", _tacs(tmp_path, text=minutes), "--administered-mbq", "7400", "-o", output),
                         "region Kidney left: the last time point is at 10080 h (420 days)",
                         "typed in minutes (10080 min = 168 h)?", "minutes / 60", "--accept tac-time", output=output)
    assert "kBq" not in err and "GBq" not in err and "tac-activity" not in err, err
    # The protocol's 168 h, or a late scan at 14 days (336 h), is not minutes.
    late = "region,time_h,activity_mbq\nKidney left,24,29.2\nKidney left,336,1.5\n"
    code, _, err = run(capsys, "tac", _tacs(tmp_path, text=late), "--administered-mbq", "7400", "-o", output)
    assert code == 0, err


def test_study_hours_typed_in_minutes_are_refused(study_writer, tmp_path, capsys):
    def in_minutes(document):
        for point, minutes in zip(document["timepoints"], (240.0, 1440.0, 4320.0, 10080.0)):
            point.pop("time", None)
            point["hours"] = minutes
    """Against the header times they are refused as spect-time; accepted, the time unit is named first (before
    the activities, which the decay over 10080 h makes look impossible)."""
    study = study_writer(tmp_path / "in", in_minutes)
    output = tmp_path / "out"
    assert_refused(run(capsys, "dosimetry", study, "-o", output), "timepoints[3]: 'hours' gives 1.008e+04 h",
                   "--accept spect-time", output=output)
    err = assert_refused(run(capsys, "dosimetry", study, "-o", output, "--accept", "spect-time"),
                         "study time points: the last time point is at 10080 h", "typed in minutes",
                         output=output)
    assert "times the administered activity" not in err, err


def test_voi_without_activity_is_a_study_warning_naming_it(study_writer, synthetic_patient_dir, tmp_path, capsys,
                                                           monkeypatch):
    """'Bone marrow' moved into the air in a corner of the grid: no activity at any time point, so no TIA and no
    dose. That was only a note in dose.csv (summary.json warnings: []); an organ at risk without a dose is now a
    warning of summary.json and the report, naming the VOI and its CT density (air: 0.0012 g/mL)."""
    import numpy as np
    from ragaliv.geometry import SegmentMask
    from ragaliv.io.nrrd import read_nrrd
    from ragaliv.io.segmentation import paste_into, read_segments, write_seg_nrrd

    no_pdf(monkeypatch)
    spect = synthetic_patient_dir / "spect"
    source = spect / json.loads((spect / "study.json").read_text(encoding="utf-8"))["segmentation"]
    segments, geometry = read_segments(str(source)), read_nrrd(str(source)).geometry
    moved = []
    for segment in segments:
        mask = paste_into(segment, geometry)
        if segment.name == "Bone marrow":
            k, j, i = np.nonzero(mask)
            mask = np.zeros_like(mask)
            mask[k - k.min() + 1, j - j.min() + 1, i - i.min() + 1] = True  # the corner of the grid: air
        moved.append(SegmentMask.from_full_mask(segment.name, mask, geometry))
    write_seg_nrrd(str(tmp_path / "air.seg.nrrd"), moved, geometry)

    def in_air(document):
        document["segmentation"] = str(tmp_path / "air.seg.nrrd")
    study = study_writer(tmp_path / "in", in_air)
    output = tmp_path / "out"
    code, _, err = run(capsys, "dosimetry", study, "-o", output, "--report")
    assert code == 0, err
    summary = assert_warned(output, [
        "VOI Bone marrow: no dose (no TIA: no time point with activity > 0): no activity at any time point. Is the "
        "VOI in air, outside the body or outside the SPECT? Its mean CT density is 0.0012 g/mL."])
    assert sum("no dose" in text for text in summary["warnings"]) == 1  # the other VOIs have their dose
    assert "warning: VOI Bone marrow: no dose" in err
