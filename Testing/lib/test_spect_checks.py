"""Issue 8 in the SpectDosimetry module: the run checks what ``ragaliv dosimetry`` checks (administered activity,
hours against the DICOM acquisition time, activity in each SPECT, VOI activities and TIACs), refuses what it
refuses (accepted with the panel's "Accept checks"), and its warnings and fit notes reach the panel's result, the
results table and the exports; the export folder holds one run's files."""

import datetime
import html
import json

import pytest
from ragaliv.checks.spect import fit_notes
from ragaliv.errors import RagalivInputError
from ragaliv.geometry import Volume
from ragaliv_mrml import nodes
from test_spect_dosimetry_lib import rows_by_region, study_scene  # Testing/lib

pytestmark = pytest.mark.mrml


def _scale_timepoint(scene, logic, parameters, index, factor):
    """Replace the SPECT of one time point by the same image x ``factor`` (a lost or doubled scale factor)."""
    point = logic.timepoints(parameters)[index]
    image = nodes.volume_from_node(point.spect)
    scaled = nodes.add_volume_node(scene, Volume(image.array * factor, image.geometry, "Bq/mL"), f"x{factor:g}")
    logic.add_timepoint(scaled, point.ct, point.time_h, parameters=parameters)
    logic.remove_timepoint([p.spect.GetID() for p in logic.timepoints(parameters)].index(point.spect.GetID()),
                           parameters)


def _read(path):
    return json.loads(open(path, encoding="utf-8").read())


def test_administered_activity_in_gbq_is_refused(mrml_scene, synthetic_patient):
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    parameters.set("administeredMbq", 7.4)  # 7.4 GBq typed into the MBq field
    with pytest.raises(RagalivInputError) as refused:
        logic.run(parameters)
    message = refused.value.message
    assert "7.4 MBq ('Administered 177Lu (MBq)' in the panel) is implausible" in message
    assert "GBq typed as MBq" in message
    assert "Enter the administered activity in MBq in 'Administered 177Lu (MBq)'" in refused.value.hint
    assert "--accept administered-activity" in refused.value.hint  # the CLI's words without panel hints ...
    logic.panel_hints = True
    with pytest.raises(RagalivInputError) as refused:
        logic.run(parameters)
    assert "add administered-activity to the 'Accept checks' field" in refused.value.hint  # ... the panel's with
    assert logic.result is None and parameters.get_node("resultsTable") is None
    # accepted, the SPECTs then hold far more than 7.4 MBq: the next check refuses
    parameters.set("acceptChecks", "administered-activity")
    with pytest.raises(RagalivInputError, match=r"holds \d+ times the administered activity 7.4 MBq.*impossible"):
        logic.run(parameters)


@pytest.mark.parametrize(("factor", "text"), [
    (12.0, r"The SPECT of timepoints\[2\] \(72 h\) holds 1.62 times the administered activity 7400 MBq decayed to "
           r"that time: impossible"),
    (1 / 60, r"timepoints\[2\] \(72 h\) holds 0.00226 times .*, 88.6 times less than another time point"),
])
def test_spect_activity_above_the_administered_or_a_lost_factor_is_refused(mrml_scene, synthetic_patient, factor,
                                                                           text):
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    _scale_timepoint(mrml_scene, logic, parameters, 2, factor)
    with pytest.raises(RagalivInputError, match=text) as refused:
        logic.run(parameters)
    assert "--accept spect-activity" in refused.value.hint
    assert logic.result is None


def test_warnings_and_accepted_refusals_reach_the_result_table_and_exports(mrml_scene, synthetic_patient, tmp_path):
    """2500 MBq is unusual (warned); the 72 h SPECT x12 is refused, accepted with "spect-activity" it is a
    recorded warning. Both reach result.warnings, the table, summary.json; the ids reach the provenance."""
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    parameters.set("administeredMbq", 2500.0)
    _scale_timepoint(mrml_scene, logic, parameters, 2, 12.0 * 2500.0 / 7400.0)
    with pytest.raises(RagalivInputError, match="spect-activity"):
        logic.run(parameters)
    parameters.set("acceptChecks", "spect-activity")
    result = logic.run(parameters)
    warned = ["Administered 177Lu activity 2500 MBq ('Administered 177Lu (MBq)' in the panel) is unusual",
              "ACCEPTED BY THE USER (--accept spect-activity): The SPECT of timepoints[2] (72 h) holds 1.62 times"]
    for text in warned:
        assert any(warning.startswith(text) for warning in result.warnings), (text, result.warnings)
        assert text in parameters.get_node("resultsTable").GetAttribute("Ragaliv.Warnings")
    assert parameters.get_node("resultsTable").GetAttribute("Ragaliv.AcceptedChecks") == "spect-activity"
    paths = logic.write_report(str(tmp_path / "out"), parameters=parameters)
    summary, provenance = _read(paths["summary"]), _read(paths["provenance"])
    page = html.unescape(open(paths["report"], encoding="utf-8").read())
    for text in warned:
        assert any(warning.startswith(text) for warning in summary["warnings"]), text
        assert text in page, text
    assert summary["settings"]["accepted_checks"] == ["spect-activity"]
    assert provenance["parameters"]["accept"] == ["spect-activity"]


def test_hours_against_the_dicom_acquisition_time(mrml_scene, synthetic_patient):
    """A time point whose SPECT header says 24 h after injection, entered as 30 h: refused like a STUDY.json
    'hours' that disagrees with the header (spect-time); 24.4 h is within max(0.5 h, 5 %)."""
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    injection = synthetic_patient.spect_injection_time
    point = logic.timepoints(parameters)[1]
    acquired = (injection + datetime.timedelta(hours=24.0)).isoformat()
    logic.remove_timepoint(1, parameters)
    logic.add_timepoint(point.spect, point.ct, 30.0, parameters=parameters, acquisition_time=acquired)
    assert logic.timepoints(parameters)[1].acquisition_time == acquired
    logic.panel_hints = True
    with pytest.raises(RagalivInputError) as refused:
        logic.run(parameters)
    assert refused.value.message.startswith("Time point 2: 'Time after injection (h)' gives 30 h after injection but "
                                            "the SPECT header acquisition time gives 24 h")
    assert "add spect-time to the 'Accept checks' field" in refused.value.hint
    # Without an injection time: the intervals from the first time point with a known acquisition time.
    parameters.set("injectionTime", "")
    first = logic.timepoints(parameters)[0]
    logic.remove_timepoint(0, parameters)
    logic.add_timepoint(first.spect, first.ct, 4.0, parameters=parameters,
                        acquisition_time=(injection + datetime.timedelta(hours=4.0)).isoformat())
    with pytest.raises(RagalivInputError, match=r"gives 26 h after time point 1 but .* gives 20 h"):
        logic.run(parameters)
    parameters.set("acceptChecks", "spect-time")
    result = logic.run(parameters)
    assert any(text.startswith("ACCEPTED BY THE USER (--accept spect-time): Time point 2") for text in result.warnings)
    parameters.set("acceptChecks", "")
    parameters.set("injectionTime", injection.isoformat())
    logic.remove_timepoint(1, parameters)
    logic.add_timepoint(point.spect, point.ct, 24.4, parameters=parameters, acquisition_time=acquired)
    assert not any("spect-time" in text or "Time point 2" in text for text in logic.run(parameters).warnings)


def test_header_acquisition_time_is_read_from_the_spect_header():
    import pydicom
    from RagalivSpectDosimetryLib.header_prefill import header_acquisition_time

    header = pydicom.Dataset()
    header.AcquisitionDate, header.AcquisitionTime = "20260422", "100512"
    assert header_acquisition_time(header) == ("2026-04-22T10:05:12", "DICOM AcquisitionDate/Time (0008,0022/0032)")
    header = pydicom.Dataset()
    header.SeriesDate, header.SeriesTime = "20260422", "0930"
    assert header_acquisition_time(header) == ("2026-04-22T09:30:00", "DICOM SeriesDate/Time (0008,0021/0031)")
    assert header_acquisition_time(pydicom.Dataset()) == (None, "")
    assert header_acquisition_time([]) == (None, "")


def test_fit_flags_reach_the_panel(mrml_scene, synthetic_patient):
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    assert logic.fit_notes() == []
    result = logic.run(parameters)
    notes = logic.fit_notes()
    assert notes == fit_notes(result) and notes
    count = len(synthetic_patient.spect_segments)
    assert any(note.startswith("fit flag: |corr(") and note.endswith(f"(all {count} regions)") for note in notes)
    assert any(note.startswith("fit note: 4 time points: AICc is undefined for biexp-uptake") for note in notes)


def test_export_is_checked_and_holds_the_files_of_one_run(mrml_scene, synthetic_patient, tmp_path):
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    logic.run(parameters)
    folder = tmp_path / "export"
    paths = logic.write_report(str(folder), parameters=parameters)
    assert (folder / "report.html").exists() and paths["report"]
    logic.export(str(folder), parameters)  # a second export: the first one's report is gone
    assert not (folder / "report.html").exists() and (folder / "dose.csv").exists()
    afile = tmp_path / "a-file"
    afile.write_text("x")
    with pytest.raises(RagalivInputError, match=r"Export folder .* is an existing file"):
        logic.export(str(afile), parameters)
    ratio = tmp_path / "ratio"
    ratio.mkdir()
    (ratio / "ratios.csv").write_text("segment\n")
    with pytest.raises(RagalivInputError, match="holds the results of `ragaliv ratio`"):
        logic.export(str(ratio), parameters)


# --- issue 9: the 4-point protocol in the module ---------------------------------------------------------------
@pytest.mark.parametrize("which", ["synthetic", "slow-uptake"])
def test_four_point_study_in_auto_gives_biexp_uptake_tias_within_5_percent(mrml_scene, synthetic_patient,
                                                                           slow_uptake_patient, which):
    """The standard 4-point study (4, 24, 72, 168 h; noise-free) in `auto`: biexp-uptake for every VOI and TIAs
    within 5 % of the truth (truth.json) - the issue-9 fix holds in the module (table and result)."""
    patient = synthetic_patient if which == "synthetic" else slow_uptake_patient
    logic, parameters = study_scene(mrml_scene, patient)
    assert parameters.get("model") == "auto"
    result = logic.run(parameters)
    truth = patient.truth["spect"]["regions"]
    rows = rows_by_region(parameters.get_node("resultsTable"))
    errors = {}
    for region in result.regions:
        assert region.fit.model == "biexp-uptake" and rows[region.region]["model"] == "biexp-uptake", region.region
        errors[region.region] = region.fit.tia_mbq_h / truth[region.region]["tia_mbq_h"] - 1.0
        assert rows[region.region]["tia_mbq_h"] == pytest.approx(region.fit.tia_mbq_h, rel=1e-9)
    assert max(abs(error) for error in errors.values()) < 0.05, errors
    if which == "slow-uptake":  # the case matters: a mono-exponential over-estimates these TIAs by far more
        parameters.set("model", "mono")
        mono = logic.run(parameters)
        worst = max(abs(region.fit.tia_mbq_h / truth[region.region]["tia_mbq_h"] - 1.0) for region in mono.regions)
        assert worst > 0.05, worst


# --- N3 (third review of issue 10): the messages shown are those of the results table shown --------------------------
def test_warnings_and_fit_notes_travel_with_the_results_table(mrml_scene, synthetic_patient, tmp_path):
    """The panel shows result_messages(node.resultsTable): this run's messages, those of a scene loaded from file
    for that scene's table, and none without a table (after File > Close scene)."""
    from ragaliv_mrml.scene_io import load_scene, save_scene
    from RagalivSpectDosimetryLib import SpectDosimetryLogic, result_messages

    assert result_messages(None) == ([], [])
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    result = logic.run(parameters)
    table = parameters.get_node("resultsTable")
    warnings, notes = result_messages(table)
    assert warnings == [w for w in result.warnings if w.strip()] and notes == fit_notes(result) and notes
    assert any(note.startswith("fit flag: |corr(") for note in notes)

    save_scene(mrml_scene, str(tmp_path / "a.mrml"))
    reloaded = SpectDosimetryLogic(load_scene(str(tmp_path / "a.mrml")))
    assert result_messages(reloaded.parameters().get_node("resultsTable")) == (warnings, notes)

    # Another patient's run replaces the table's messages with its own (2 time points: other notes).
    from ragaliv_mrml.headless import create_scene

    other_scene, _, _ = create_scene()
    try:
        other, other_parameters = study_scene(other_scene, synthetic_patient)
        other.remove_timepoint(3, other_parameters)  # 3 time points: other fit notes
        other_result = other.run(other_parameters)
        other_notes = result_messages(other_parameters.get_node("resultsTable"))[1]
        assert other_notes == fit_notes(other_result) and other_notes != notes
    finally:
        other_scene.Clear(True)
    mrml_scene.Clear(0)  # File > Close scene: no results table, no messages
    assert logic.parameters().get_node("resultsTable") is None
    assert result_messages(logic.parameters().get_node("resultsTable")) == ([], [])


def test_injection_date_without_time_of_day_is_refused(mrml_scene, synthetic_patient):
    """Adversarial test W6: the panel's injection time read by the rule of ragaliv dosimetry; a date alone is not
    taken as midnight."""
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    parameters.set("injectionTime", "2026-04-21")
    with pytest.raises(RagalivInputError) as refused:
        logic.run(parameters)
    assert "Injection time (injectionTime): '2026-04-21' has no time of day" in refused.value.message
    assert "2026-04-21T10:00:00" in refused.value.hint


# --- the injection time entered against the SPECT header's (W7 of the adversarial review, as ragaliv dosimetry) -----
def test_injection_time_against_the_header_injection_time(mrml_scene, synthetic_patient):
    """'Injection time' typed 10 h off (hours pre-filled from it agree with it, so spect-time cannot see it): refused
    as ragaliv dosimetry refuses a STUDY.json injection_time off RadiopharmaceuticalStartDateTime; 20 min off is
    warned; --accept injection-time lets the entered value through with a warning. A header dated with the scan's
    day (whole days off, the clock agreeing) is warned, not refused."""
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    injection = synthetic_patient.spect_injection_time
    for point in logic.timepoints(parameters):  # the header's injection time kept with each time point
        logic.add_timepoint(point.spect, point.ct, point.time_h, parameters=parameters,
                            injection_time=injection.isoformat())
    assert [p.injection_time for p in logic.timepoints(parameters)] == [injection.isoformat()] * 4
    assert not any("injection" in text.lower() for text in logic.run(parameters).warnings)

    parameters.set("injectionTime", (injection - datetime.timedelta(hours=10.0)).isoformat())
    logic.panel_hints = True
    with pytest.raises(RagalivInputError) as refused:
        logic.run(parameters)
    assert refused.value.message.startswith(
        f"'Injection time' {(injection - datetime.timedelta(hours=10.0)).isoformat()} differs by 10 h from the DICOM "
        f"RadiopharmaceuticalStartDateTime (0018,1078) {injection.isoformat()} of time point 1 (SPECT 4 h) (more "
        "than 1 h)")
    assert "Correct 'Injection time'" in refused.value.hint and "injection-time" in refused.value.hint
    assert not logic.result_is_current(parameters)  # the earlier result is not exported for these inputs

    parameters.set("injectionTime", (injection + datetime.timedelta(minutes=20)).isoformat())
    warned = logic.run(parameters)
    assert any(text.startswith("'Injection time'") and "differs by 0.333 h" in text for text in warned.warnings)

    parameters.set("injectionTime", (injection - datetime.timedelta(hours=10.0)).isoformat())
    parameters.set("acceptChecks", "injection-time")
    accepted = logic.run(parameters)
    assert any(text.startswith("ACCEPTED BY THE USER (--accept injection-time)") for text in accepted.warnings)

    # The 24 h SPECT's header carries its scan day with the injection clock time: warned only.
    point = logic.timepoints(parameters)[1]
    logic.add_timepoint(point.spect, point.ct, point.time_h, parameters=parameters,
                        injection_time=(injection + datetime.timedelta(days=1)).isoformat(),
                        acquisition_time=(injection + datetime.timedelta(hours=24.0)).isoformat())
    parameters.set("injectionTime", injection.isoformat())
    parameters.set("acceptChecks", "")
    scan_dated = logic.run(parameters)
    assert any("differs by 24 h" in text and "dated with the scan's own day" in text for text in scan_dated.warnings)
