"""Issue 8, class 4: output folders and argument combinations, checked before anything is read, computed or
written (exit 2 with a fix, never exit 1 "internal error"), and a result folder holding the files of one run
only (an earlier run's report, PDF, plot, snapshots, dose map or DICOM objects are removed)."""

import json
import os

import pytest
from bad_input import assert_refused, files_in, no_pdf, read_summary, run

MISSING = "/nonexistent/ragaliv-input"  # an input that does not exist: the output check must come first


def command_line(command, output):
    """Each command with inputs that do not exist: a refusal naming the output proves the order of the checks."""
    return {
        "suv": ("suv", MISSING, "-o", output),
        "ratio": ("ratio", "--ia", MISSING, "--iv", MISSING, "--segmentation", MISSING, "-o", output),
        "tac": ("tac", MISSING, "--administered-mbq", "7400", "-o", output),
        "dosimetry": ("dosimetry", MISSING, "-o", output),
        "report": ("report", "--ratio", MISSING, "-o", output),
        "batch": ("batch", MISSING, "-o", output),
        "phantom": ("phantom", output),
        "demo": ("demo", output),
    }[command]


FILE_OUTPUT = {"suv": "suv.nrrd", "report": "report.html"}
COMMANDS = ("suv", "ratio", "tac", "dosimetry", "report", "batch", "phantom", "demo")


@pytest.mark.parametrize("command", COMMANDS)
def test_output_that_is_the_wrong_kind_of_path_is_refused_first(command, tmp_path, capsys):
    if command in FILE_OUTPUT:  # a file output given as an existing folder
        target = tmp_path / "a-folder"
        target.mkdir()
        assert_refused(run(capsys, *command_line(command, target)), "is a folder, not a file", "Give a file name")
    else:  # a folder output given as an existing file
        target = tmp_path / "a-file"
        target.write_text("keep me", encoding="utf-8")
        assert_refused(run(capsys, *command_line(command, target)), "is an existing file, not a folder")
        assert target.read_text(encoding="utf-8") == "keep me"


@pytest.mark.parametrize("command", COMMANDS)
def test_output_below_a_file_is_refused_first(command, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    target = blocker / "sub" / FILE_OUTPUT.get(command, "out")
    assert_refused(run(capsys, *command_line(command, target)), "is a file, so nothing can be created below it")


@pytest.mark.parametrize("command", COMMANDS)
def test_empty_output_is_refused_first(command, capsys):
    assert_refused(run(capsys, *command_line(command, "")), "is empty", "Give")


@pytest.mark.parametrize("command", COMMANDS)
def test_output_that_cannot_be_written_is_refused_first(command, capsys):
    """/sys is read-only even for root (this machine runs the tests as root, so chmod cannot be used)."""
    if not os.path.isdir("/sys/kernel"):
        pytest.skip("no /sys/kernel on this system")
    target = os.path.join("/sys/kernel", "ragaliv-out", FILE_OUTPUT.get(command, "out"))
    assert_refused(run(capsys, *command_line(command, target)), "cannot be written", "Give")


# --- argument combinations validated before anything is written ---------------------------------------------
def _ratio(patient, output, *extra, segmentation=None):
    return ("ratio", "--ia", patient / "pet_ia", "--iv", patient / "pet_iv", "--segmentation",
            segmentation or patient / "segmentation.seg.nrrd", "-o", output, *extra)


@pytest.mark.parametrize(("extra", "texts"), [
    pytest.param(("--dicom",), ("--dicom needs the DICOM series", "--reference"), id="dicom-without-reference"),
    pytest.param(("--dicom", "--reference", "{patient}/labels.nrrd"), ("--dicom needs the DICOM series",),
                 id="dicom-with-an-image-reference"),
    pytest.param(("--dosimetry", "{patient}"), ("--dosimetry only feeds", "Add --dicom"), id="dosimetry-without-dicom"),
    pytest.param(("--deidentify",), ("--deidentify applies", "--report"), id="deidentify-without-report"),
    pytest.param(("--labels", "{patient}/labels.csv"), ("--labels is for a labelmap", "Leave out --labels"),
                 id="labels-with-seg-nrrd"),
])
def test_ratio_argument_combinations_are_refused_before_writing(synthetic_patient_dir, tmp_path, capsys, extra,
                                                                texts):
    output = tmp_path / "out"
    extra = [str(item).format(patient=synthetic_patient_dir) for item in extra]
    assert_refused(run(capsys, *_ratio(synthetic_patient_dir, output, *extra)), *texts, output=output)


def test_output_that_is_an_input_is_refused(synthetic_patient_dir, capsys):
    assert_refused(run(capsys, *_ratio(synthetic_patient_dir, synthetic_patient_dir / "pet_ia")),
                   "is one of the inputs")
    series = synthetic_patient_dir / "labels.nrrd"
    assert_refused(run(capsys, "suv", series, "-o", series), "is the input image")


def test_dosimetry_deidentify_without_report_is_refused(synthetic_patient_dir, tmp_path, capsys):
    output = tmp_path / "out"
    assert_refused(run(capsys, "dosimetry", synthetic_patient_dir / "spect" / "study.json", "-o", output,
                       "--deidentify"), "--deidentify applies to the case report", output=output)


def test_folder_of_another_command_is_refused(synthetic_patient_dir, tmp_path, capsys):
    output = tmp_path / "out"
    output.mkdir()
    (output / "dose.csv").write_text("region\n", encoding="utf-8")
    assert_refused(run(capsys, *_ratio(synthetic_patient_dir, output)), "holds the results of `ragaliv dosimetry`")
    assert files_in(output) == ["dose.csv"]


def test_result_names_without_ragaliv_provenance_are_refused_not_deleted(synthetic_patient_dir, tmp_path, capsys):
    output = tmp_path / "out"
    output.mkdir()
    (output / "summary.json").write_text("{}", encoding="utf-8")  # someone's own file
    assert_refused(run(capsys, *_ratio(synthetic_patient_dir, output)), "already holds summary.json",
                   "no provenance.json of a Ragaliv run")
    assert (output / "summary.json").read_text(encoding="utf-8") == "{}"


# --- one run per folder ---------------------------------------------------------------------------------------
def test_second_ratio_run_removes_the_first_runs_report_plot_and_snapshots(synthetic_patient_dir, tmp_path,
                                                                          capsys, monkeypatch):
    no_pdf(monkeypatch)
    output = tmp_path / "out"
    code, _, err = run(capsys, *_ratio(synthetic_patient_dir, output, "--report"))
    assert code == 0, err
    (output / "report.pdf").write_bytes(b"%PDF old decision")  # as Chromium would have written it
    (output / "segmentation.seg.dcm").write_bytes(b"old")
    assert {"report.html", "lesion_ratios.png", "snapshots/snapshots.json"} <= set(files_in(output))
    code, _, err = run(capsys, *_ratio(synthetic_patient_dir, output, "--threshold", "4"))
    assert code == 0, err
    assert files_in(output) == ["provenance.json", "ratios.csv", "summary.json"]
    assert read_summary(output)["eligible"] is False  # threshold 4: the new decision, alone in the folder


def test_second_dosimetry_run_removes_the_stale_dose_map_and_report(synthetic_patient_dir, tmp_path, capsys):
    from ragaliv.report.provenance import write_provenance

    output = tmp_path / "out"
    output.mkdir()
    for name in ("dose_map.nrrd", "dvh.csv", "report.html", "report.pdf", "tac.png"):
        (output / name).write_bytes(b"an earlier run")
    write_provenance(str(output), {}, {}, [])
    spect = synthetic_patient_dir / "spect"
    document = json.loads((spect / "study.json").read_text(encoding="utf-8"))
    document["timepoints"] = [dict(tp, image=str(spect / tp["image"]), ct=str(spect / tp["ct"]))
                              for tp in document["timepoints"]]
    document.update(segmentation=str(spect / document["segmentation"]), voxel_dosimetry=False)
    study = tmp_path / "study.json"
    study.write_text(json.dumps(document), encoding="utf-8")
    code, _, err = run(capsys, "dosimetry", study, "-o", output)
    assert code == 0, err
    names = files_in(output)
    assert "dose_map.nrrd" not in names and "report.html" not in names and "report.pdf" not in names
    assert (output / "tac.png").read_bytes() != b"an earlier run"


def test_report_replaces_a_stale_pdf_beside_it(synthetic_patient_dir, tmp_path, capsys, monkeypatch):
    no_pdf(monkeypatch)
    ratio = tmp_path / "ratio"
    assert run(capsys, *_ratio(synthetic_patient_dir, ratio))[0] == 0
    (tmp_path / "case.pdf").write_bytes(b"%PDF old decision")
    code, _, err = run(capsys, "report", "--ratio", ratio, "-o", tmp_path / "case.html")
    assert code == 0, err
    assert (tmp_path / "case.html").exists() and not (tmp_path / "case.pdf").exists()


def test_tac_refuses_a_folder_with_unattributed_results(tmp_path, capsys):
    output = tmp_path / "out"
    output.mkdir()
    (output / "tia.csv").write_text("mine\n", encoding="utf-8")
    tacs = tmp_path / "tacs.csv"
    tacs.write_text("region,time_h,activity_mbq\nKidney,4,30\nKidney,24,25\n", encoding="utf-8")
    assert_refused(run(capsys, "tac", tacs, "--administered-mbq", "7400", "-o", output), "already holds tia.csv")


def test_phantom_refuses_a_folder_with_other_files(tmp_path, capsys):
    output = tmp_path / "data"
    output.mkdir()
    (output / "patient_scan.dcm").write_bytes(b"not ours")
    assert_refused(run(capsys, "phantom", output), "holds other files (patient_scan.dcm)")
    assert files_in(output) == ["patient_scan.dcm"]


def test_batch_refuses_patients_of_an_earlier_cohort(synthetic_patient_dir, tmp_path, capsys):
    output = tmp_path / "out"
    (output / "OLD-PATIENT").mkdir(parents=True)
    (output / "OLD-PATIENT" / "error.txt").write_text("patient: OLD-PATIENT\n", encoding="utf-8")
    cohort = tmp_path / "COHORT.csv"
    cohort.write_text(f"patient_id,study\nP1,{synthetic_patient_dir / 'spect' / 'study.json'}\n", encoding="utf-8")
    assert_refused(run(capsys, "batch", cohort, "-o", output, "--no-deidentify"), "not in this COHORT.csv",
                   "OLD-PATIENT")
    assert not (output / "P1").exists()
