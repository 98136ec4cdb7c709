"""Server side, no browser, no web server: the reading's inputs, the session on the Lib, and "Save reading",
on a headless MRML scene, against the synthetic patient's truth and against ``ragaliv ratio``."""

import csv
import datetime
import json
import os

import pytest
from conftest import inputs_for, review_arguments
from ragaliv.cli import main as ragaliv_main
from ragaliv.errors import RagalivInputError

pytestmark = pytest.mark.mrml


class Published(dict):
    """The page state as the session publishes it (last value of each name)."""

    def __call__(self, changes):
        self.update(changes)


def open_session(inputs, scheduler):
    from ragaliv_mrml.headless import create_scene
    from ragaliv_review.lib import lesion_ratio_lib
    from ragaliv_review.loading import load_reading
    from ragaliv_review.reading import ReadingSession

    scene, _, _ = create_scene()
    logic = lesion_ratio_lib().LesionRatioLogic(scene)
    published = Published()
    session = ReadingSession(logic, load_reading(scene, inputs, logic), inputs, scheduler, published)
    session.refresh()
    return session, published


def cli_ratio(patient, segmentation, output, *extra):
    """``ragaliv ratio`` on the same images: (summary.json, ratios.csv rows)."""
    code = ragaliv_main(["ratio", "--ia", str(patient / "pet_ia"), "--iv", str(patient / "pet_iv"), "--segmentation",
                         str(segmentation), "--reference", str(patient / "mri"), "-o", str(output), *extra])
    assert code == 0
    with open(output / "ratios.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    return json.loads((output / "summary.json").read_text()), rows


# --- inputs ----------------------------------------------------------------------------------------------------
def test_patient_folder_gives_the_same_inputs_as_ratio(synthetic_patient_dir, tmp_path):
    inputs = inputs_for(synthetic_patient_dir, "-o", tmp_path)
    assert inputs.ia == str(synthetic_patient_dir / "pet_ia") and inputs.iv == str(synthetic_patient_dir / "pet_iv")
    assert inputs.reference == str(synthetic_patient_dir / "mri")
    assert inputs.segmentation == str(synthetic_patient_dir / "segmentation.seg.nrrd")
    assert (inputs.metric, inputs.aggregate, inputs.threshold) == ("suvmax", "mean", 3.0)
    assert inputs_for(synthetic_patient_dir, "--no-segmentation").segmentation is None
    # A flag replaces the folder's file; SUV flags are per scan, as for `ragaliv ratio`.
    flagged = inputs_for(synthetic_patient_dir, "--iv", synthetic_patient_dir / "pet_ia", "--iv-dose-mbq", "150")
    assert flagged.iv == str(synthetic_patient_dir / "pet_ia")
    assert flagged.iv_overrides.injected_dose_mbq == 150.0 and flagged.ia_overrides.injected_dose_mbq is None


def test_missing_inputs_are_named_with_their_flag(tmp_path):
    with pytest.raises(RagalivInputError, match=r"Patient folder .* not found"):
        inputs_for(tmp_path / "nowhere")
    (tmp_path / "patient").mkdir()
    with pytest.raises(RagalivInputError, match="No IA PET given") as error:
        inputs_for(tmp_path / "patient")
    assert "--ia" in error.value.hint
    with pytest.raises(RagalivInputError, match=r"--iv .*not found"):
        inputs_for("--ia", tmp_path, "--iv", tmp_path / "missing")


def test_without_the_optional_packages_the_command_says_how_to_install_them(monkeypatch, tmp_path,
                                                                              synthetic_patient_dir, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "trame_slicer", None)  # as if trame-slicer were not installed
    monkeypatch.delitem(sys.modules, "ragaliv_review.server", raising=False)
    assert ragaliv_main(["review", str(synthetic_patient_dir), "-o", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "needs the optional package 'trame_slicer'" in error and "requirements-review.txt" in error


def test_a_port_in_use_is_refused_before_loading(synthetic_patient_dir, tmp_path, capsys):
    import socket

    with socket.socket() as other_reader:
        other_reader.bind(("127.0.0.1", 0))
        other_reader.listen()
        port = other_reader.getsockname()[1]
        assert ragaliv_main(["review", str(synthetic_patient_dir), "--port", str(port), "-o", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert f"Cannot listen on 127.0.0.1:{port}" in error and "give --port" in error


# --- the session on the Lib --------------------------------------------------------------------------------------
def test_table_reproduces_truth_and_the_decision_of_the_cli(synthetic_patient_dir, tmp_path, scheduler):
    truth = json.loads((synthetic_patient_dir / "truth.json").read_text())
    _, published = open_session(inputs_for(synthetic_patient_dir, "-o", tmp_path), scheduler)
    rows = {row["segment"]: row for row in published["rows"]}
    assert set(rows) == set(truth["segments"])
    for name, expected in truth["segments"].items():
        for scan in ("ia", "iv"):
            for metric in ("suvmax", "suvmean", "suvpeak"):
                assert rows[name][f"{scan}_{metric}"] == pytest.approx(expected[scan][metric], rel=1e-3), name
        assert rows[name]["volume_ml"] == pytest.approx(expected["volume_ml"], rel=1e-9)
        assert rows[name]["text"]["ratio_suvmax"] == f"{rows[name]['ratio_suvmax']:.2f}"
    assert published["lesion_ratio"] == pytest.approx(truth["ratio"]["lesion_ratio"], rel=1e-3)
    assert published["eligible"] is truth["ratio"]["eligible"]
    summary, _ = cli_ratio(synthetic_patient_dir, synthetic_patient_dir / "segmentation.seg.nrrd", tmp_path / "cli")
    assert published["decision"] == summary["decision"] and published["rule"] == summary["rule"]
    assert [column["key"] for column in published["columns"]][:3] == ["segment", "volume_ml", "ia_suvmax"]
    assert not published.get("refusal")


def test_rule_changes_update_the_decision_and_a_bad_rule_is_refused(synthetic_patient_dir, tmp_path, scheduler):
    session, published = open_session(inputs_for(synthetic_patient_dir, "-o", tmp_path), scheduler)
    assert published["eligible"] is True  # mean SUVmax ratio 3.36 >= 3
    session.set_setting("threshold", 4.0)
    assert published["eligible"] is False and ">= 4" in published["rule"]
    session.set_setting("threshold", -1.0)
    assert "Eligibility threshold (--threshold) -1 is at or below 1" in published["refusal"]
    assert session.parameters.get("threshold") == 4.0  # the refused value is not kept
    session.set_setting("metric", "suvmean")
    assert "SUVmean" in published["rule"] and published["lesion_ratio"] == pytest.approx(3.36, rel=1e-3)
    assert published["decision_status"] == "determined" and published["consistency"] == []
    session.set_setting("acceptChecks", "wieght")  # the Lib's confirmations are settings too, checked by the core
    assert "Unknown check(s) to accept: wieght" in published["refusal"]
    assert session.parameters.get("acceptChecks") == ""
    session.set_setting("confirmConsistency", True)
    assert published["confirm_consistency"] is True


def test_not_determined_comes_through_and_the_confirmation_decides(synthetic_patient_dir, tmp_path, scheduler):
    """The IA PET given as IV too: the Lib's consistency check (same series) makes the page's decision NOT
    DETERMINED, as ``ragaliv ratio``; confirmed, it is decided, and the save records the confirmation."""
    session, published = open_session(inputs_for(synthetic_patient_dir, "--iv", str(synthetic_patient_dir / "pet_ia"),
                                                 "-o", tmp_path / "readings"), scheduler)
    assert published["decision"].startswith("NOT DETERMINED: IA and IV are the same series")
    assert published["eligible"] is None and published["decision_status"] == "not determined"
    assert [item["check"] for item in published["consistency"]] == ["same-series"]
    session.set_setting("confirmConsistency", True)
    assert published["decision"].startswith("NOT eligible") and published["decision_status"] == "determined"
    paths = session.save("A. Reader")
    summary = json.loads(open(paths["summary"]).read())
    assert summary["confirm_consistency"] is True and summary["decision"] == published["decision"]
    assert json.loads(open(paths["provenance"]).read())["parameters"]["confirm_consistency"] is True


def test_the_confirmation_and_accepted_checks_can_be_given_on_the_command_line(synthetic_patient_dir, tmp_path,
                                                                              scheduler):
    """``ragaliv review --confirm-consistency --accept weight`` starts the reading confirmed, as ``ragaliv ratio``
    with the same flags decides; an unknown check id is refused like the CLI's."""
    same = ("--iv", str(synthetic_patient_dir / "pet_ia"), "-o", tmp_path / "readings")
    _session, published = open_session(inputs_for(synthetic_patient_dir, *same, "--confirm-consistency",
                                                  "--accept", "weight"), scheduler)
    assert published["decision_status"] == "determined" and published["confirm_consistency"] is True
    assert published["accepted_checks"] == ["weight"]
    assert published["decision"].startswith("NOT eligible")
    with pytest.raises(RagalivInputError, match="wieght"):
        inputs_for(synthetic_patient_dir, *same, "--accept", "wieght")


def test_an_edit_reaches_the_table_once_the_debounce_timer_fires(synthetic_patient_dir, tmp_path, scheduler):
    session, published = open_session(inputs_for(synthetic_patient_dir, "--no-segmentation", "-o", tmp_path),
                                      scheduler)
    assert published["rows"] == [] and published["update_count"] == 1
    truth = json.loads((synthetic_patient_dir / "truth.json").read_text())
    x, y, z = truth["segments"]["Lesion 2"]["centre_lps_mm"]
    segment_id = session.add_lesion([-x, -y, z])
    assert published["rows"] == []  # not yet: the live update waits for the debounce timer
    assert scheduler.run() == 1  # one update for the burst of segment events
    (row,) = published["rows"]
    assert row["segment"] == "Lesion 1" and row["segment_id"] == segment_id
    assert row["ia_suvmean"] == pytest.approx(truth["segments"]["Lesion 2"]["ia"]["suvmean"], rel=1e-3)
    assert published["recomputed"] == ["Lesion 1"]
    session.remove_segment(segment_id)
    scheduler.run()
    assert published["rows"] == []


def test_a_placement_the_lib_refuses_is_shown_and_adds_nothing(synthetic_patient_dir, tmp_path, scheduler):
    session, published = open_session(inputs_for(synthetic_patient_dir, "--no-segmentation", "-o", tmp_path),
                                      scheduler)
    assert session.add_lesion([400.0, 400.0, 30.0]) is None
    assert published["refusal"].startswith("The clicked point is outside the reference image.")
    session.set_setting("placementMode", "auto")
    assert session.add_lesion([0.0, 150.0, 30.0]) is None  # in the MRI, but in air: no uptake to contour
    assert "No uptake found near the click" in published["refusal"]
    scheduler.run()
    assert published["rows"] == [] and session.parameters.segmentation.GetSegmentation().GetNumberOfSegments() == 0
    truth = json.loads((synthetic_patient_dir / "truth.json").read_text())
    x, y, z = truth["segments"]["Lesion 3"]["centre_lps_mm"]
    assert session.add_lesion([-x, -y, z])
    assert published["refusal"] == ""  # the next accepted action clears the message


# --- saving ------------------------------------------------------------------------------------------------------
def test_save_needs_a_reader_and_writes_what_the_cli_writes_on_the_same_segments(synthetic_patient_dir, tmp_path,
                                                                                 scheduler):
    session, published = open_session(inputs_for(synthetic_patient_dir, "-o", tmp_path / "readings"), scheduler)
    assert session.save("   ") is None
    assert "No reader name" in published["refusal"] and not (tmp_path / "readings").exists()

    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    paths = session.save("Dr  Ada Lovelace")
    folder = os.path.dirname(paths["provenance"])
    assert os.path.basename(folder).startswith("dr-ada-lovelace_")
    for name in ("segmentation.seg.nrrd", "ratios.csv", "summary.json", "report.html", "provenance.json"):
        assert os.path.isfile(os.path.join(folder, name)), name
    provenance = json.loads(open(paths["provenance"]).read())
    reading = provenance["reading"]
    assert reading["reader"] == "Dr Ada Lovelace" and reading["application"]["name"] == "ragaliv review"
    saved_at = datetime.datetime.fromisoformat(reading["saved_at_utc"])
    assert before <= saved_at <= datetime.datetime.now(datetime.timezone.utc)
    assert set(provenance["outputs"]) >= {"segmentation.seg.nrrd", "ratios.csv", "summary.json", "report.html"}
    assert provenance["parameters"]["source"] == "ragaliv review"
    assert provenance["parameters"]["normalization"] == "bw"  # what the PET nodes were converted with
    assert provenance["parameters"]["confirm_consistency"] is False and provenance["parameters"]["accept"] == []
    assert "Reviewed by <b>Dr Ada Lovelace</b>" in open(paths["report"]).read()  # the reader pre-filled
    saved_segmentation = os.path.join(folder, "segmentation.seg.nrrd")
    summary, cli_rows = cli_ratio(synthetic_patient_dir, saved_segmentation, tmp_path / "cli")
    with open(paths["ratios"], newline="") as stream:
        assert list(csv.DictReader(stream)) == cli_rows  # the saved segments give the CLI's table, exactly
    saved = json.loads(open(paths["summary"]).read())
    assert saved["decision"] == summary["decision"] == published["decision"]
    assert "ELIGIBLE" in open(paths["report"]).read()
    second = session.save("Dr Ada Lovelace")
    assert os.path.dirname(second["provenance"]) != folder and os.path.isdir(folder)  # earlier reading kept


def test_a_failed_save_leaves_no_folder_and_says_it_is_a_bug(synthetic_patient_dir, tmp_path, scheduler,
                                                              monkeypatch):
    session, published = open_session(inputs_for(synthetic_patient_dir, "-o", tmp_path / "readings"), scheduler)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(session.logic, "write_report", broken)
    assert session.save("Dr B") is None
    assert "Internal error (RuntimeError: disk full)" in published["refusal"]
    assert os.listdir(tmp_path / "readings") == []


# --- NRRD inputs with flags, as for `ragaliv ratio` ----------------------------------------------------------------
def write_activity_nrrds(tmp_path):
    from ragaliv.io.images import write_image
    from ragaliv.phantom import build_patient

    patient = build_patient(0)
    for scan in (patient.ia, patient.iv):
        write_image(scan.activity, str(tmp_path / f"{scan.role.lower()}.nrrd"), dtype="float32")
    return patient


def test_nrrd_pets_in_bq_per_ml_with_the_suv_flags(synthetic_patient_dir, tmp_path, scheduler):
    patient = write_activity_nrrds(tmp_path)
    truth = patient.truth
    flags = ["--weight-kg", "78"]
    for scan in ("ia", "iv"):
        pet = truth["pet"][scan]
        flags += [f"--{scan}-dose-mbq", str(pet["injected_mbq"]), f"--{scan}-injection-time", pet["injection_time"],
                  f"--{scan}-scan-time", pet["scan_time"]]
    inputs = inputs_for("--ia", tmp_path / "ia.nrrd", "--iv", tmp_path / "iv.nrrd",
                        "--reference", synthetic_patient_dir / "mri",
                        "--segmentation", synthetic_patient_dir / "segmentation.seg.nrrd", "-o", tmp_path / "readings",
                        *flags)
    session, published = open_session(inputs, scheduler)
    rows = {row["segment"]: row for row in published["rows"]}
    for name in ("Lesion 1", "Lesion 4", "Kidney left"):
        for scan in ("ia", "iv"):
            assert rows[name][f"{scan}_suvmean"] == pytest.approx(truth["segments"][name][scan]["suvmean"], rel=1e-3)
    paths = session.save("Dr NRRD")
    assert paths is not None, published["refusal"]
    assert os.path.isfile(paths["segmentation"])


def test_an_nrrd_pet_without_its_dose_is_refused_naming_the_per_scan_flag(synthetic_patient_dir, tmp_path, scheduler):
    from ragaliv_review.inputs import inputs_from_arguments

    write_activity_nrrds(tmp_path)
    args = review_arguments("--ia", tmp_path / "ia.nrrd", "--iv", tmp_path / "iv.nrrd", "--weight-kg", "78")
    with pytest.raises(RagalivInputError) as error:
        open_session(inputs_from_arguments(args), scheduler)
    text = f"{error.value.message} {error.value.hint}"
    assert "IA PET" in text and "--ia-dose-mbq" in text
