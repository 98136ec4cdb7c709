"""Third review of issue 10, N1: "Inputs checked — decide anyway" and the consistency ids in "Accept checks" confirm
only what they were given for. A confirmation is bound to the failed consistency checks shown when it was given and
to the IA/IV pair it was given for (each PET node, its voxels, PatientID, SeriesInstanceUID and SUV parameters); a
new failed check or another pair makes the decision NOT DETERMINED again and un-ticks the box (removes the id), as
``ragaliv ratio --confirm-consistency`` confirms only the one invocation in which the user saw the checks."""

import json

import pytest
from conftest import patient_scene  # Testing/lib/conftest.py
from ragaliv.pet.suv import SuvOverrides
from ragaliv_mrml import nodes

pytestmark = pytest.mark.mrml


def _read(path):
    return json.loads(open(path, encoding="utf-8").read())


def _two_patients(scene, patient):
    """The synthetic patient with the IV PET of another PatientID: NOT DETERMINED (patient) until confirmed."""
    logic, parameters = patient_scene(scene, patient)
    nodes.set_dicom_identity(parameters.ia_pet, "PATIENT-A", "1.2.3")
    nodes.set_dicom_identity(parameters.iv_pet, "PATIENT-B", "1.2.3")
    status = logic.live_update(parameters)
    assert status.decision_status == "not determined" and [item["check"] for item in status.consistency] == \
        ["patient"]
    return logic, parameters


def test_a_box_ticked_for_one_patient_does_not_decide_for_another(mrml_scene, synthetic_patient):
    """The review's reproduction: A/A decided, the box ticked (nothing to confirm), then the IV PET is of patient B
    (a wrong series picked): NOT DETERMINED, the box un-ticked and the panel told why."""
    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    for node in (parameters.ia_pet, parameters.iv_pet):
        nodes.set_dicom_identity(node, "PATIENT-A", "1.2.3")
    assert logic.live_update(parameters).decision_text.startswith("ELIGIBLE")
    parameters.set("confirmConsistency", True)
    status = logic.live_update(parameters)
    assert status.decision_text.startswith("ELIGIBLE") and parameters.get("confirmConsistency") is True

    nodes.set_dicom_identity(parameters.iv_pet, "PATIENT-B", "1.2.3")
    status = logic.live_update(parameters)
    assert status.decision_status == "not determined" and status.decision_text.startswith("NOT DETERMINED")
    assert status.consistency[0]["check"] == "patient" and status.consistency[0]["status"] == "not confirmed"
    assert parameters.get("confirmConsistency") is False  # the box is shown un-ticked
    assert any("'Inputs checked — decide anyway' was un-ticked" in note and "IV PET" in note
               for note in status.confirmation_notes), status.confirmation_notes
    table = parameters.get_node("ratioTable")
    assert table.GetAttribute("Ragaliv.DecisionStatus") == "not determined"
    assert table.GetAttribute("Ragaliv.ConfirmConsistency") == "False"


def test_another_iv_node_is_not_covered_either(mrml_scene, synthetic_patient):
    from conftest import suv_node

    logic, parameters = _two_patients(mrml_scene, synthetic_patient)
    parameters.set("confirmConsistency", True)
    assert logic.update(parameters).summary.determined
    other = suv_node(mrml_scene, synthetic_patient.iv.activity, synthetic_patient.iv.suv_per_bq_per_ml, "IV of C")
    nodes.set_dicom_identity(other, "PATIENT-C", "1.2.3")
    parameters.set_node("ivPetVolume", other)
    summary = logic.update(parameters).summary
    assert summary.eligible is None and not summary.determined
    assert "PATIENT-C" in summary.decision_text and parameters.get("confirmConsistency") is False
    # ticked again after reading the new check: it decides for this pair
    parameters.set("confirmConsistency", True)
    assert logic.update(parameters).summary.eligible is True


def test_unchanged_inputs_stay_confirmed_and_the_export_records_what_was_confirmed(mrml_scene, synthetic_patient,
                                                                                   tmp_path):
    logic, parameters = _two_patients(mrml_scene, synthetic_patient)
    parameters.set("confirmConsistency", True)
    for _ in range(3):  # live updates, a segment edit: the same pair, no new failed check
        status = logic.live_update(parameters)
        assert status.decision_status == "determined" and status.decision_text.startswith("ELIGIBLE")
        assert status.confirmation_notes == []
    segmentation = parameters.segmentation
    segment_id = segmentation.GetSegmentation().GetSegmentIdBySegmentName("Lesion 2")
    mask = nodes.segment_mask(segmentation, segment_id)
    nodes.set_segment_mask(segmentation, segment_id, mask)
    assert logic.live_update(parameters).decision_status == "determined"
    assert parameters.get("confirmConsistency") is True

    paths = logic.export(str(tmp_path / "confirmed"), parameters)
    summary, provenance = _read(paths["summary"]), _read(paths["provenance"])
    assert summary["decision_status"] == "determined" and summary["confirm_consistency"] is True
    assert [(item["check"], item["status"]) for item in summary["consistency"]] == \
        [("patient", "confirmed by the user")]
    assert "'PATIENT-A' but the IV PET to 'PATIENT-B'" in summary["consistency"][0]["message"]
    assert provenance["parameters"]["confirm_consistency"] is True

    # A check that was not failing when the box was ticked (every lesion ratio below 1: the kidneys named as
    # lesions) is not covered: NOT DETERMINED, and the box un-ticked.
    names = segmentation.GetSegmentation()
    for index in range(1, 6):
        names.GetSegment(names.GetSegmentIdBySegmentName(f"Lesion {index}")).SetName(f"Metastasis {index}")
    names.GetSegment(names.GetSegmentIdBySegmentName("Kidney left")).SetName("Lesion 1")
    names.GetSegment(names.GetSegmentIdBySegmentName("Kidney right")).SetName("Lesion 2")
    status = logic.live_update(parameters)
    assert status.decision_status == "not determined"
    assert {item["check"]: item["status"] for item in status.consistency} == \
        {"patient": "not confirmed", "ratios-below-one": "not confirmed"}
    assert any("ratios-below-one" in note for note in status.confirmation_notes)
    paths = logic.export(str(tmp_path / "withdrawn"), parameters)
    summary, provenance = _read(paths["summary"]), _read(paths["provenance"])
    assert summary["decision_status"] == "not determined" and summary["confirm_consistency"] is False
    assert summary["eligible"] is None and provenance["parameters"]["confirm_consistency"] is False


def test_accepted_consistency_ids_are_bound_too(mrml_scene, synthetic_patient):
    logic, parameters = _two_patients(mrml_scene, synthetic_patient)
    parameters.set("acceptChecks", "weight, patient")
    summary = logic.update(parameters).summary
    assert summary.determined and summary.settings.accept == ("weight", "patient")
    nodes.set_dicom_identity(parameters.iv_pet, "PATIENT-C", "1.2.3")
    status = logic.live_update(parameters)
    assert status.decision_status == "not determined"
    # the consistency id is removed; the plausibility id stays (no refusal of it that it does not cover, see below)
    assert parameters.get("acceptChecks") == "weight"
    assert any("patient was removed from 'Accept checks'" in note for note in status.confirmation_notes)


def test_a_reconverted_pet_is_not_covered(mrml_scene, synthetic_patient_dir):
    """The IA series given as IV too (same-series) confirmed; re-converting the IV PET (new voxels, new SUV
    parameters) withdraws the confirmation."""
    from ragaliv.io.segmentation import read_segments
    from RagalivLesionRatioLib import LesionRatioLogic, load_pet_node

    logic = LesionRatioLogic(mrml_scene)
    parameters = logic.parameters()
    for role in ("iaPetVolume", "ivPetVolume"):
        node, _ = load_pet_node(mrml_scene, str(synthetic_patient_dir / "pet_ia"), role)
        parameters.set_node(role, node)
    segmentation = mrml_scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Seg")
    for segment in read_segments(str(synthetic_patient_dir / "segmentation.seg.nrrd")):
        nodes.add_segment(segmentation, segment, segment.name)
    parameters.set_node("segmentation", segmentation)
    assert [item["check"] for item in logic.live_update(parameters).consistency] == ["same-series"]
    parameters.set("confirmConsistency", True)
    assert logic.update(parameters).summary.decision_text.startswith("NOT eligible")

    load_pet_node(mrml_scene, str(synthetic_patient_dir / "pet_ia"), "IV", SuvOverrides(weight_kg=79.0),
                  volume_node=parameters.iv_pet)
    status = logic.live_update(parameters)
    assert status.decision_status == "not determined" and parameters.get("confirmConsistency") is False
    assert any("re-converted" in note for note in status.confirmation_notes), status.confirmation_notes
    # the same values again: still new voxels, still withdrawn once ticked before
    parameters.set("confirmConsistency", True)
    assert logic.update(parameters).summary.determined
    load_pet_node(mrml_scene, str(synthetic_patient_dir / "pet_ia"), "IV", SuvOverrides(weight_kg=79.0),
                  volume_node=parameters.iv_pet)
    assert not logic.update(parameters).summary.determined and parameters.get("confirmConsistency") is False


def test_a_box_ticked_before_any_decision_was_shown_confirms_nothing(mrml_scene, synthetic_patient):
    """Ticked while no decision was shown (inputs incomplete, or a value saved before the binding existed), the
    box cannot stand for checks the user never saw."""
    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    nodes.set_dicom_identity(parameters.ia_pet, "PATIENT-A", "1.2.3")
    nodes.set_dicom_identity(parameters.iv_pet, "PATIENT-B", "1.2.3")
    segmentation = parameters.segmentation
    parameters.set_node("segmentation", None)
    logic.mark_not_computed(logic.missing_inputs(parameters), parameters)
    parameters.set("confirmConsistency", True)
    parameters.set_node("segmentation", segmentation)
    status = logic.live_update(parameters)
    assert status.decision_status == "not determined" and parameters.get("confirmConsistency") is False
    assert any("no decision was shown" in note for note in status.confirmation_notes), status.confirmation_notes


def test_a_confirmation_saved_with_a_scene_does_not_survive_reloading(mrml_scene, synthetic_patient, tmp_path):
    from ragaliv_mrml.scene_io import load_scene, save_scene
    from RagalivLesionRatioLib import LesionRatioLogic

    logic, parameters = _two_patients(mrml_scene, synthetic_patient)
    parameters.set("confirmConsistency", True)
    assert logic.update(parameters).summary.determined
    save_scene(mrml_scene, str(tmp_path / "scene.mrml"))
    scene = load_scene(str(tmp_path / "scene.mrml"))
    try:
        reloaded = LesionRatioLogic(scene)
        again = reloaded.parameters()
        assert again.get("confirmConsistency") is True  # saved as it was ...
        summary = reloaded.update(again).summary
        assert not summary.determined and again.get("confirmConsistency") is False  # ... but honoured no more
    finally:
        scene.Clear(True)


def test_scene_import_and_close_withdraw_the_confirmations(mrml_scene, synthetic_patient):
    logic, parameters = _two_patients(mrml_scene, synthetic_patient)
    parameters.set("confirmConsistency", True)
    parameters.set("acceptChecks", "weight patient")
    assert logic.update(parameters).summary.determined
    logic.withdraw_confirmations()  # the panel calls this on EndImport
    assert parameters.get("confirmConsistency") is False and parameters.get("acceptChecks") == ""
    status = logic.live_update(parameters)
    assert status.decision_status == "not determined"
    assert any("scene was loaded" in note for note in status.confirmation_notes), status.confirmation_notes
    parameters.set("confirmConsistency", True)
    assert logic.update(parameters).summary.determined
    mrml_scene.Clear(0)  # File > Close scene: singleton nodes are reset (vtkMRMLScene::ResetNodes)
    assert logic.parameters().get("confirmConsistency") is False


# --- D1 (fourth review): a per-lesion finding is confirmed only for the lesion it was shown for -----------------
def _hot_voxel_scene(scene, patient):
    """The synthetic patient, metric SUVmax, an isolated hot voxel (x200) in the IA PET inside Lesion 1 and inside
    Lesion 3, with Lesion 3 not drawn yet (the review's /tmp/r4/outlier.py). Returns the logic, the parameters and
    Lesion 3's segment, to draw later."""
    import numpy as np
    from conftest import suv_node
    from ragaliv.geometry import Volume
    from RagalivLesionRatioLib import LesionRatioLogic

    activity = patient.ia.activity
    array = np.array(activity.array, copy=True)  # the session's patient is shared: not modified
    to_index = np.linalg.inv(activity.geometry.ijk_to_lps)
    segments = {segment.name: segment for segment in patient.segments}
    for name in ("Lesion 1", "Lesion 3"):
        segment = segments[name]
        kji = np.argwhere(segment.mask)
        k, j, i = kji[len(kji) // 2]
        lps = segment.geometry.ijk_to_lps @ np.array([i, j, k, 1.0])
        pi, pj, pk = np.round(to_index @ lps)[:3].astype(int)
        array[pk, pj, pi] *= 200.0
    hot = Volume(array, activity.geometry, activity.unit)
    mri = nodes.add_volume_node(scene, patient.mri, "MRI")
    ia = suv_node(scene, hot, patient.ia.suv_per_bq_per_ml, "IA")
    iv = suv_node(scene, patient.iv.activity, patient.iv.suv_per_bq_per_ml, "IV")
    for node in (ia, iv):
        nodes.set_dicom_identity(node, "PATIENT-A", "1.2.3")
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Seg")
    segmentation.CreateDefaultDisplayNodes()
    segmentation.SetReferenceImageGeometryParameterFromVolumeNode(mri)
    for segment in patient.segments:
        if segment.name != "Lesion 3":
            nodes.add_segment(segmentation, segment, segment.name, segment.color_rgb)
    logic = LesionRatioLogic(scene)
    parameters = logic.parameters()
    for role, node in (("mriVolume", mri), ("iaPetVolume", ia), ("ivPetVolume", iv), ("segmentation", segmentation)):
        parameters.set_node(role, node)
    parameters.set("metric", "suvmax")
    return logic, parameters, segments["Lesion 3"]


@pytest.mark.parametrize("how", ["box", "accept"])
def test_a_voxel_outlier_confirmed_for_one_lesion_does_not_confirm_another(mrml_scene, synthetic_patient, how):
    """The review's reproduction (D1): voxel-outlier confirmed after reading Lesion 1's finding; Lesion 3, drawn
    later, has an isolated hot voxel too: NOT DETERMINED again (its ratio of ~920 must not enter the mean), the box
    un-ticked (the id removed) and the note names Lesion 3."""
    logic, parameters, lesion_3 = _hot_voxel_scene(mrml_scene, synthetic_patient)
    status = logic.live_update(parameters)
    assert status.decision_status == "not determined"
    assert [(item["check"], item["subject"]) for item in status.consistency] == [("voxel-outlier", "Lesion 1 IA")]
    if how == "box":
        parameters.set("confirmConsistency", True)
    else:
        parameters.set("acceptChecks", "voxel-outlier")
    status = logic.live_update(parameters)
    assert status.decision_status == "determined" and status.decision_text.startswith("ELIGIBLE")
    assert status.confirmation_notes == []

    nodes.add_segment(parameters.segmentation, lesion_3, "Lesion 3", lesion_3.color_rgb)
    status = logic.live_update(parameters)
    assert status.decision_status == "not determined" and status.decision_text.startswith("NOT DETERMINED")
    assert logic.analysis.summary.eligible is None
    assert logic.analysis.summary.lesion_ratios["Lesion 3"] > 100  # the hot voxel's ratio, left undecided
    assert {(item["subject"], item["status"]) for item in status.consistency} == \
        {("Lesion 1 IA", "not confirmed"), ("Lesion 3 IA", "not confirmed")}
    assert any("voxel-outlier (Lesion 3 IA) failed since it was confirmed" in note
               for note in status.confirmation_notes), status.confirmation_notes
    if how == "box":
        assert parameters.get("confirmConsistency") is False
    else:
        assert parameters.get("acceptChecks") == ""
    # confirmed again after reading both findings: decided, both listed as confirmed
    parameters.set("confirmConsistency" if how == "box" else "acceptChecks",
                   True if how == "box" else "voxel-outlier")
    status = logic.live_update(parameters)
    assert status.decision_status == "determined"
    assert {item["status"] for item in status.consistency} == {"confirmed by the user"}


# --- D4 (fourth review): a plausibility id accepts only the refusals it was given for ------------------------------
def _edited(source, target, **keywords):
    """A copy of a PET series with header values changed (``RadionuclideTotalDose`` in its sequence item)."""
    import shutil

    import pydicom

    shutil.copytree(source, target)
    series_uid = pydicom.uid.generate_uid() if keywords.get("PatientID") else None
    for path in sorted(target.iterdir()):
        dataset = pydicom.dcmread(path)
        for keyword, value in keywords.items():
            item = dataset.RadiopharmaceuticalInformationSequence[0] if keyword == "RadionuclideTotalDose" else dataset
            setattr(item, keyword, value)
        if series_uid:  # another patient: another series
            dataset.SeriesInstanceUID = series_uid
        dataset.save_as(path)
    return str(target)


@pytest.mark.parametrize(("check", "value", "change"), [
    ("weight", "780 kg", {"PatientWeight": 780}),
    ("injected-activity", "1500 MBq", {"RadionuclideTotalDose": 1.5e9}),
], ids=["weight", "injected-activity"])
def test_an_accepted_header_value_covers_only_the_pet_it_was_given_for(mrml_scene, synthetic_patient_dir, tmp_path,
                                                                       check, value, change):
    """The IA PET of patient A is refused at conversion; the id added after reading the refusal converts it. A PET of
    patient B with an implausible value of the same check (refused before A's), and A's series converted as the IV
    PET, are refused again (nothing stored), the id removed with a note naming that PET; added again, it accepts
    that one and still the IA PET's (no loop of re-adding when both PETs are re-converted)."""
    from ragaliv.errors import RagalivInputError
    from RagalivLesionRatioLib import LesionRatioLogic

    a_ia = _edited(synthetic_patient_dir / "pet_ia", tmp_path / "a_ia", **change)
    b_iv = _edited(synthetic_patient_dir / "pet_iv", tmp_path / "b_iv", PatientID="PATIENT-B", **change)
    logic = LesionRatioLogic(mrml_scene)
    logic.panel_hints = True
    parameters = logic.parameters()
    volumes = mrml_scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode")
    with pytest.raises(RagalivInputError):  # read first, then another refusal: the id is given for the last one
        logic.load_pet(b_iv, "IV")
    with pytest.raises(RagalivInputError) as refused:
        logic.load_pet(a_ia, "IA")
    assert value in refused.value.message and f"add {check} to the 'Accept checks' field" in refused.value.hint
    parameters.set("acceptChecks", check)  # after reading the refusal
    ia, pet = logic.load_pet(a_ia, "IA")
    assert any(text.startswith(f"ACCEPTED BY THE USER (--accept {check})") and value in text
               for text in pet.parameters.warnings)

    for files, role, who in ((b_iv, "IV", "PatientID 'PATIENT-B'"), (a_ia, "IV", "PatientID 'RGL-SYN-000'")):
        parameters.set("acceptChecks", check)
        with pytest.raises(RagalivInputError) as refused:
            logic.load_pet(files, role)
        message = refused.value.message
        assert value in message and f"{check} was removed from 'Accept checks'" in message
        assert f"the {role} PET ({who}" in message.split("removed from")[1], message
        assert parameters.get("acceptChecks") == ""
        assert mrml_scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode") == volumes + 1  # only A's IA PET
    assert any(f"{check} was removed" in note for note in logic.live_update(parameters).confirmation_notes)

    parameters.set("acceptChecks", check)  # after reading the second refusal: accepts it and the earlier ones
    iv, _ = logic.load_pet(a_ia, "IV")
    for files, role, node in ((a_ia, "IA", ia), (a_ia, "IV", iv)):  # "Re-convert both PETs"
        assert logic.load_pet(files, role, volume_node=node)[0] is node
    logic.load_pet(b_iv, "IV", volume_node=iv)
    assert parameters.get("acceptChecks") == check
    assert nodes.dicom_identity(iv)[0] == "PATIENT-B"


def _low_ia_scene(scene, patient_dir, tmp_path):
    """The patient's PETs and segments as the panel loads them, the IA PET's RadionuclideTotalDose set to 29.6 MBq
    (its image then holds about 3x that: pet-activity refused by the update)."""
    from ragaliv.io.segmentation import read_segments
    from RagalivLesionRatioLib import LesionRatioLogic, load_pet_node

    logic = LesionRatioLogic(scene)
    parameters = logic.parameters()
    low_ia = _edited(patient_dir / "pet_ia", tmp_path / "ia", RadionuclideTotalDose=29.6e6)
    for role, files in (("iaPetVolume", low_ia), ("ivPetVolume", str(patient_dir / "pet_iv"))):
        parameters.set_node(role, load_pet_node(scene, files, role)[0])
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Seg")
    for segment in read_segments(str(patient_dir / "segmentation.seg.nrrd")):
        nodes.add_segment(segmentation, segment, segment.name)
    parameters.set_node("segmentation", segmentation)
    return logic, parameters


def test_an_accepted_pet_activity_covers_only_the_pet_it_was_given_for(mrml_scene, synthetic_patient_dir, tmp_path):
    """pet-activity (refused by the update: the IA PET holds 3x its injected activity) accepted after the refusal;
    an IV PET with the same defect selected later is refused again, the id removed with a note naming the IV PET."""
    from RagalivLesionRatioLib import load_pet_node

    logic, parameters = _low_ia_scene(mrml_scene, synthetic_patient_dir, tmp_path)
    low_iv = _edited(synthetic_patient_dir / "pet_iv", tmp_path / "iv", RadionuclideTotalDose=29.6e6)
    status = logic.live_update(parameters)
    assert not status.computed and status.reason.startswith("The IA PET holds 3.")
    parameters.set("acceptChecks", "pet-activity")
    status = logic.live_update(parameters)
    assert status.decision_status == "determined"
    assert any("ACCEPTED BY THE USER (--accept pet-activity): The IA PET holds" in text for text in status.warnings)

    parameters.set_node("ivPetVolume", load_pet_node(mrml_scene, low_iv, "IV 2")[0])
    status = logic.live_update(parameters)
    assert not status.computed and status.reason.startswith("The IV PET holds")
    assert parameters.get("acceptChecks") == ""
    assert any(note.startswith("pet-activity was removed from 'Accept checks': it was given for the refusal of the "
                               "IA PET") and "not for this one of the IV PET" in note
               for note in status.confirmation_notes), status.confirmation_notes
    parameters.set("acceptChecks", "pet-activity")  # after reading it: both PETs' refusals accepted
    status = logic.live_update(parameters)
    assert status.decision_status == "determined"
    assert sum("ACCEPTED BY THE USER (--accept pet-activity)" in text for text in status.warnings) == 2


@pytest.mark.parametrize("given_with_inputs", [False, True])
def test_an_id_added_before_its_refusal_accepts_nothing_unless_given_with_the_inputs(mrml_scene, synthetic_patient_dir,
                                                                                    tmp_path, given_with_inputs):
    """In the panel, an id typed before any refusal of it was shown accepts none (removed with a note when one
    comes); ``ragaliv review --accept`` comes with its inputs and covers what the first update refuses, as
    ``ragaliv ratio --accept`` covers its one invocation."""
    logic, parameters = _low_ia_scene(mrml_scene, synthetic_patient_dir, tmp_path)
    parameters.set("acceptChecks", "pet-activity")
    if given_with_inputs:
        logic.confirmations_given_with_inputs()
    status = logic.live_update(parameters)
    if given_with_inputs:
        assert status.decision_status == "determined" and parameters.get("acceptChecks") == "pet-activity"
    else:
        assert not status.computed and status.reason.startswith("The IA PET holds 3.")
        assert parameters.get("acceptChecks") == ""
        assert any("added before any refusal of it was shown" in note for note in status.confirmation_notes)
