"""Issue 8 in the LesionRatio module: the Lib gives what ``ragaliv ratio`` gives on the same bad inputs - the same
refusal (message), or the same decision text, status, failed consistency checks and warnings.

Each case is a copy of the synthetic patient's PET series with one header changed (as in
Testing/cli/test_bad_input_consistency.py and ..._plausibility.py); the CLI runs on the files and the Lib on MRML
nodes loaded from the same files by the module's PET loader. Then the panel's own parts: the confirm box and
"Accept checks" (recorded in the export), the panel hints, the live status, and the checks' cache.
"""

import json
import shutil

import pydicom
import pytest
from ragaliv.cli import main
from ragaliv.errors import RagalivInputError
from ragaliv.pet.suv import SuvOverrides
from ragaliv_mrml import nodes

pytestmark = pytest.mark.mrml


# --- the cases (one header changed with pydicom) ----------------------------------------------------------------
def edit_series(source, target, change):
    shutil.copytree(source, target)
    for path in sorted(target.iterdir()):
        dataset = pydicom.dcmread(path)
        change(dataset)
        dataset.save_as(path)
    return target


def setter(**values):
    def change(dataset):
        for keyword, value in values.items():
            setattr(dataset, keyword, value)
    return change


def radiopharmaceutical(**values):
    def change(dataset):
        item = dataset.RadiopharmaceuticalInformationSequence[0]
        for keyword, value in values.items():
            setattr(item, keyword, value)
    return change


def same_day(injection, scan):
    """The IV scan moved to the IA scan day: its injection and acquisition times (HHMMSS)."""
    def change(dataset):
        for keyword in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
            setattr(dataset, keyword, "20260310")
        for keyword in ("SeriesTime", "AcquisitionTime", "ContentTime"):
            setattr(dataset, keyword, scan)
        radiopharmaceutical(RadiopharmaceuticalStartDateTime="20260310" + injection,
                            RadiopharmaceuticalStartTime=injection)(dataset)
    return change


def copy_with_new_uid(dataset):
    dataset.SeriesInstanceUID = "2.25.1234567890"
    dataset.SOPInstanceUID = pydicom.uid.generate_uid()
    radiopharmaceutical(RadionuclideTotalDose=150e6)(dataset)  # another dose: proportional SUV voxels


def as_18f(dataset):
    item = dataset.RadiopharmaceuticalInformationSequence[0]
    item.RadionuclideHalfLife = 6586.2
    item.Radiopharmaceutical = "18F-FDG"
    item.RadionuclideCodeSequence[0].CodeValue = "C-111A1"
    item.RadionuclideCodeSequence[0].CodeMeaning = "^18^Fluorine"


# (IA source, IV source, change of the IA series, change of the IV series, what the CLI does)
CASES = [
    pytest.param("ia", "iv", None, setter(PatientWeight=172), "not determined", id="iv-weight-in-pounds"),
    pytest.param("ia", "iv", setter(PatientSize=1.60), None, "not determined", id="height-differs"),
    pytest.param("ia", "iv", None, setter(PatientID="SOMEONE-ELSE"), "not determined", id="other-patient"),
    pytest.param("ia", "iv", None, same_day("094000", "104100"), "not determined", id="iv-injected-before-ia-scan"),
    pytest.param("ia", "iv", None, setter(SeriesDescription="PET AC IA 68Ga-DOTATATE"), "not determined",
                 id="iv-described-as-ia"),
    pytest.param("ia", "ia", None, copy_with_new_uid, "not determined", id="ia-copied-as-iv"),
    pytest.param("ia", "ia", None, None, "not determined", id="same-series-twice"),
    pytest.param("iv", "ia", None, None, "not determined", id="ia-and-iv-swapped"),
    pytest.param("ia", "iv", as_18f, None, "refused", id="an-18F-PET"),
    pytest.param("ia", "iv", radiopharmaceutical(RadionuclideTotalDose=29.6e6), None, "refused",
                 id="dose-5x-too-small"),
    pytest.param("ia", "iv", setter(PatientWeight=780), None, "refused", id="weight-10x"),
    pytest.param("ia", "iv", radiopharmaceutical(RadionuclideTotalDose=74e6), None, "determined",
                 id="dose-half-the-truth-warned"),
]


def _series(patient, tmp_path, ia_source, iv_source, ia_change, iv_change):
    paths = {}
    for role, source, change in (("ia", ia_source, ia_change), ("iv", iv_source, iv_change)):
        folder = patient / f"pet_{source}"
        paths[role] = edit_series(folder, tmp_path / role, change) if change is not None else folder
    return paths


def _cli(capsys, patient, paths, output, *extra):
    code = main(["ratio", "--ia", str(paths["ia"]), "--iv", str(paths["iv"]), "--segmentation",
                 str(patient / "segmentation.seg.nrrd"), "-o", str(output), *extra])
    captured = capsys.readouterr()
    summary = json.loads((output / "summary.json").read_text(encoding="utf-8")) if code != 2 else None
    return code, captured.err, summary


def _lib_scene(scene, patient, paths, accept=()):
    """The PETs through the module's loader (``accept``: its "Accept checks"), the segmentation as nodes."""
    from ragaliv.io.segmentation import read_segments
    from RagalivLesionRatioLib import LesionRatioLogic, load_pet_node

    logic = LesionRatioLogic(scene)
    parameters = logic.parameters()
    parameters.set("acceptChecks", ", ".join(accept))
    for role, name in (("ia", "iaPetVolume"), ("iv", "ivPetVolume")):
        node, _ = load_pet_node(scene, str(paths[role]), f"{role.upper()} PET", SuvOverrides(accept=tuple(accept)))
        parameters.set_node(name, node)
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Seg")
    for segment in read_segments(str(patient / "segmentation.seg.nrrd")):
        nodes.add_segment(segmentation, segment, segment.name)
    parameters.set_node("segmentation", segmentation)
    return logic, parameters


def _assert_same_decision(analysis, cli_summary):
    lib = analysis.summary.to_dict()
    for key in ("decision", "decision_status", "eligible", "warnings", "consistency", "confirm_consistency",
                "accepted_checks"):
        assert lib[key] == cli_summary[key], (key, lib[key], cli_summary[key])
    if cli_summary["lesion_ratio"] is None:
        assert lib["lesion_ratio"] is None
    else:
        assert lib["lesion_ratio"] == pytest.approx(cli_summary["lesion_ratio"], rel=1e-6)


@pytest.mark.parametrize(("ia_source", "iv_source", "ia_change", "iv_change", "outcome"), CASES)
def test_lib_gives_the_cli_result_on_bad_input(mrml_scene, synthetic_patient_dir, tmp_path, capsys, ia_source,
                                               iv_source, ia_change, iv_change, outcome):
    paths = _series(synthetic_patient_dir, tmp_path, ia_source, iv_source, ia_change, iv_change)
    code, err, cli_summary = _cli(capsys, synthetic_patient_dir, paths, tmp_path / "cli")
    assert code == {"refused": 2, "not determined": 3, "determined": 0}[outcome], err
    if outcome == "refused":
        with pytest.raises(RagalivInputError) as refused:  # at loading (header values) or at the update (pair)
            logic, parameters = _lib_scene(mrml_scene, synthetic_patient_dir, paths)
            logic.update(parameters)
        assert refused.value.message in err or f"IA PET: {refused.value.message}" in err, (refused.value, err)
        assert "--accept " in refused.value.hint
        return
    logic, parameters = _lib_scene(mrml_scene, synthetic_patient_dir, paths)
    analysis = logic.update(parameters)
    _assert_same_decision(analysis, cli_summary)
    table = parameters.get_node("ratioTable")
    assert table.GetAttribute("Ragaliv.Decision") == cli_summary["decision"]
    assert table.GetAttribute("Ragaliv.DecisionStatus") == cli_summary["decision_status"] == outcome
    status = logic.live_update(parameters)
    assert status.decision_status == outcome and status.decision_text == cli_summary["decision"]
    # the SUV warnings of each scan reach the panel too (summary.json has them under suv_parameters)
    for role in ("ia", "iv"):
        for warning in cli_summary["suv_parameters"][role]["warnings"]:
            assert f"{role.upper()} PET: {warning}" in status.warnings


# --- confirm and accept: the same as --confirm-consistency / --accept, and recorded ---------------------------
def test_confirm_box_decides_like_the_cli_flag_and_is_recorded(mrml_scene, synthetic_patient_dir, tmp_path, capsys):
    paths = _series(synthetic_patient_dir, tmp_path, "ia", "ia", None, None)  # the same series twice
    _, _, cli_summary = _cli(capsys, synthetic_patient_dir, paths, tmp_path / "cli", "--confirm-consistency")
    logic, parameters = _lib_scene(mrml_scene, synthetic_patient_dir, paths)
    status = logic.live_update(parameters)
    assert status.decision_status == "not determined" and status.decision_text.startswith(
        "NOT DETERMINED: IA and IV are the same series")
    assert [item["check"] for item in status.consistency] == ["same-series"]
    assert "same-series" in status.confirm_hint and "'Inputs checked — decide anyway'" in status.confirm_hint
    parameters.set("confirmConsistency", True)
    analysis = logic.update(parameters)
    _assert_same_decision(analysis, cli_summary)
    assert analysis.summary.decision_text.startswith("NOT eligible") and "= 1.00" in analysis.summary.decision_text
    table = parameters.get_node("ratioTable")
    assert table.GetAttribute("Ragaliv.ConfirmConsistency") == "True"
    assert json.loads(table.GetAttribute("Ragaliv.Consistency"))[0]["status"] == "confirmed by the user"
    paths = logic.export(str(tmp_path / "export"), parameters)
    summary = json.loads(open(paths["summary"], encoding="utf-8").read())
    provenance = json.loads(open(paths["provenance"], encoding="utf-8").read())
    assert summary["confirm_consistency"] is True and summary["decision_status"] == "determined"
    assert "CONFIRMED BY THE USER (--confirm-consistency)" in " ".join(summary["warnings"])
    assert provenance["parameters"]["confirm_consistency"] is True and provenance["parameters"]["accept"] == []


def test_accepted_checks_load_and_decide_like_the_cli_and_are_recorded(mrml_scene, synthetic_patient_dir, tmp_path,
                                                                      capsys):
    """IA weight 780 kg: refused at loading, accepted with "weight" (SuvOverrides.accept) it loads and the IA/IV
    weight comparison keeps the decision open; "weight-mismatch" added confirms that check alone."""
    paths = _series(synthetic_patient_dir, tmp_path, "ia", "iv", setter(PatientWeight=780), None)
    _, _, cli_summary = _cli(capsys, synthetic_patient_dir, paths, tmp_path / "cli", "--accept", "weight")
    logic, parameters = _lib_scene(mrml_scene, synthetic_patient_dir, paths, accept=("weight",))
    _assert_same_decision(logic.update(parameters), cli_summary)
    status = logic.live_update(parameters)
    assert status.decision_status == "not determined"
    assert any(text.startswith("IA PET: ACCEPTED BY THE USER (--accept weight)") for text in status.warnings)

    _, _, cli_summary = _cli(capsys, synthetic_patient_dir, paths, tmp_path / "cli2", "--accept", "weight",
                             "--accept", "weight-mismatch")
    parameters.set("acceptChecks", "weight weight-mismatch")
    analysis = logic.update(parameters)
    _assert_same_decision(analysis, cli_summary)
    assert analysis.summary.eligible is True
    paths = logic.export(str(tmp_path / "export"), parameters)
    summary = json.loads(open(paths["summary"], encoding="utf-8").read())
    provenance = json.loads(open(paths["provenance"], encoding="utf-8").read())
    assert summary["accepted_checks"] == ["weight", "weight-mismatch"]
    assert provenance["parameters"]["accept"] == ["weight", "weight-mismatch"]
    assert parameters.get_node("ratioTable").GetAttribute("Ragaliv.AcceptedChecks") == "weight, weight-mismatch"


def test_an_unknown_check_id_is_refused_with_the_field_named(mrml_scene, synthetic_patient_dir):
    logic, parameters = _lib_scene(mrml_scene, synthetic_patient_dir,
                                   {"ia": synthetic_patient_dir / "pet_ia", "iv": synthetic_patient_dir / "pet_iv"})
    assert logic.live_update(parameters).decision_status == "determined"
    parameters.set("acceptChecks", "wieght")
    status = logic.live_update(parameters)
    assert not status.computed and status.decision_status == "not computed"
    assert status.reason.startswith("'Accept checks' field: Unknown check(s) to accept: wieght.")
    assert "weight" in status.reason  # the known ids are listed
    assert parameters.get_node("ratioTable").GetAttribute("Ragaliv.DecisionStatus") == "not computed"


# --- the panel's words --------------------------------------------------------------------------------------------
def test_panel_hints_name_the_panel_controls(mrml_scene, synthetic_patient_dir, tmp_path):
    from RagalivLesionRatioLib import load_pet_node

    paths = _series(synthetic_patient_dir, tmp_path, "ia", "iv", radiopharmaceutical(RadionuclideTotalDose=29.6e6),
                    None)
    logic, parameters = _lib_scene(mrml_scene, synthetic_patient_dir, paths)
    logic.panel_hints = True
    status = logic.live_update(parameters)
    assert not status.computed and "holds 3." in status.reason
    assert "add pet-activity to the 'Accept checks' field" in status.reason and "--accept" not in status.reason
    assert "the IA injected activity field of the \"SUV parameters\" panel" in status.reason
    parameters.set("acceptChecks", "pet-activity")  # accepted: decided, with the acceptance as a warning
    status = logic.live_update(parameters)
    assert status.computed and any("ACCEPTED BY THE USER (--accept pet-activity)" in text for text in status.warnings)

    weight = edit_series(synthetic_patient_dir / "pet_ia", tmp_path / "heavy", setter(PatientWeight=780))
    with pytest.raises(RagalivInputError) as refused:
        load_pet_node(mrml_scene, str(weight), "IA", panel_hints=True)
    assert "780 kg" in refused.value.message
    assert refused.value.hint.endswith("add weight to the 'Accept checks' field.")
    assert "(CLI)" not in refused.value.hint and "the weight field of the Slicer \"SUV parameters\" panel" in \
        refused.value.hint


def test_consistency_hints_in_panel_words(mrml_scene, synthetic_patient_dir, tmp_path):
    paths = _series(synthetic_patient_dir, tmp_path, "ia", "iv", None, setter(PatientWeight=172))
    logic, parameters = _lib_scene(mrml_scene, synthetic_patient_dir, paths)
    logic.panel_hints = True
    status = logic.live_update(parameters)
    item = status.consistency[0]
    assert item["check"] == "weight-mismatch" and item["status"] == "not confirmed"
    assert item["hint"].endswith("confirm with the 'Inputs checked — decide anyway' box.")
    assert "the weight field of the \"SUV parameters\" panel" in item["hint"]
    assert status.decision_text.startswith("NOT DETERMINED")  # the decision text stays the CLI's, word for word
    assert "(--confirm-consistency)" in status.decision_text


# --- cached checks: a segment edit does not re-read the images for them -------------------------------------------
def test_checks_rerun_only_when_what_they_read_changes(mrml_scene, synthetic_patient_dir, synthetic_patient,
                                                      monkeypatch):
    import RagalivLesionRatioLib.logic as lib_logic
    from ragaliv.ratio.placement import sphere_segment
    from RagalivLesionRatioLib import load_pet_node

    calls = []
    original = lib_logic.ratio_input_findings
    monkeypatch.setattr(lib_logic, "ratio_input_findings", lambda *args: calls.append(1) or original(*args))
    logic, parameters = _lib_scene(mrml_scene, synthetic_patient_dir,
                                   {"ia": synthetic_patient_dir / "pet_ia", "iv": synthetic_patient_dir / "pet_iv"})
    logic.update(parameters)
    segmentation = parameters.segmentation
    segment_id = segmentation.GetSegmentation().GetSegmentIdBySegmentName("Lesion 2")
    lesion = synthetic_patient.anatomy.lesions[1]
    nodes.set_segment_mask(segmentation, segment_id,
                           sphere_segment("Lesion 2", lesion.centre_mm, 12.0, synthetic_patient.mri.geometry))
    parameters.set("confirmConsistency", True)  # the decision changes, the checks' inputs do not
    logic.update(parameters)
    assert logic.last_update.recomputed_segments == ["Lesion 2"] and len(calls) == 1
    parameters.set("acceptChecks", "weight")  # which refusals are accepted is decided on the cached findings
    logic.update(parameters)
    assert len(calls) == 1
    load_pet_node(mrml_scene, str(synthetic_patient_dir / "pet_iv"), "IV PET",
                  SuvOverrides(weight_kg=79.0), volume_node=parameters.iv_pet)  # re-converted: new SUV parameters
    summary = logic.update(parameters).summary
    assert len(calls) == 2 and "IV PET" not in " ".join(summary.warnings)  # 79 vs 78 kg: within 10 %
    logic.reset()
    logic.update(parameters)
    assert len(calls) == 3
