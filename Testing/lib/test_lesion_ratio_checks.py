"""RagalivLesionRatioLib refuses what ``ragaliv ratio`` refuses (second review of issue 10, O1/O4/O8/O10): PETs of
different SUV normalisations (refused) or of two patients (NOT DETERMINED, as in the CLI), a missing
frame-of-reference warning, a decision left on screen
for deselected inputs, an empty segmentation left behind by a refused placement; and the export records what the
PET nodes really are."""

import json

import pytest
from conftest import patient_scene  # Testing/lib/conftest.py
from ragaliv.errors import RagalivInputError
from ragaliv_mrml import nodes, tables

pytestmark = pytest.mark.mrml


def _decision(parameters):
    return parameters.get_node("ratioTable").GetAttribute("Ragaliv.Decision")


def _row_count(parameters):
    columns = tables.read_table(parameters.get_node("ratioTable"))
    return len(next(iter(columns.values()))) if columns else 0


def _coded_units(node, code_value):
    import slicer

    units = slicer.vtkCodedEntry()
    units.SetValueSchemeMeaning(code_value, "UCUM", code_value)
    node.SetVoxelValueUnits(units)


# --- O1: one SUV normalisation ----------------------------------------------------------------------------------
def test_pets_of_different_normalisations_are_refused(mrml_scene, synthetic_patient):
    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    assert logic.live_update(parameters).computed
    parameters.iv_pet.SetAttribute("Ragaliv.Normalization", "lbm")  # SUL: also g/mL, so the unit check passes
    with pytest.raises(RagalivInputError, match="normalised by 'bw' but the IV PET by 'lbm'") as refused:
        logic.update(parameters)
    assert "re-convert both" in refused.value.hint
    status = logic.live_update(parameters)
    assert not status.computed and "normalised by" in status.reason
    assert _decision(parameters) == status.decision_text and _row_count(parameters) == 0

    parameters.iv_pet.RemoveAttribute("Ragaliv.Normalization")  # not recorded: cannot be checked
    with pytest.raises(RagalivInputError, match="normalisation of IV PET 'IV PET SUV' is not recorded"):
        logic.update(parameters)


def test_normalisation_from_the_suv_parameters_or_coded_units(mrml_scene, synthetic_patient):
    from RagalivLesionRatioLib import suv_normalization

    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    iv = parameters.iv_pet
    iv.RemoveAttribute("Ragaliv.Normalization")
    iv.SetAttribute("Ragaliv.SuvParameters", json.dumps({"normalization": "bw", "suv_quantity": "SUVbw"}))
    assert suv_normalization(iv) == "bw" and logic.update(parameters).summary.eligible
    iv.RemoveAttribute("Ragaliv.SuvParameters")
    _coded_units(iv, "{SUVbw}g/ml")  # PETDICOMExtension's SUVbw
    assert suv_normalization(iv) == "bw" and logic.update(parameters).summary.eligible
    _coded_units(iv, "{SUVlbm}g/ml")  # its lean-body-mass SUV is not taken for Ragaliv's
    parameters.ia_pet.SetAttribute("Ragaliv.Normalization", "lbm")
    with pytest.raises(RagalivInputError, match="'lbm' but the IV PET by 'lbm \\(coded units"):
        logic.update(parameters)


def test_export_records_the_normalisation_of_the_pet_nodes_and_the_given_source(mrml_scene, synthetic_patient,
                                                                                  tmp_path):
    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    parameters.set("normalization", "bsa")  # the panel's choice changed after the PETs were converted
    paths = logic.export(str(tmp_path / "a"), parameters)
    used = json.loads(open(paths["provenance"], encoding="utf-8").read())["parameters"]
    assert used["normalization"] == "bw"
    assert used["source"] == "Slicer module RagalivLesionRatio"  # the default is unchanged
    paths = logic.export(str(tmp_path / "b"), parameters, source="ragaliv review (reader: A. Reader)")
    used = json.loads(open(paths["provenance"], encoding="utf-8").read())["parameters"]
    assert used["source"] == "ragaliv review (reader: A. Reader)"


# --- O4: one patient, one frame of reference -------------------------------------------------------------------
def test_pets_of_two_patients_are_not_determined_until_confirmed(mrml_scene, synthetic_patient):
    """The CLI's rule (one rule, ragaliv.checks.pair): two PatientIDs make the decision NOT DETERMINED; the panel's
    confirm box decides; the numbers are computed either way."""
    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    assert logic.live_update(parameters).computed
    nodes.set_dicom_identity(parameters.ia_pet, "RGL-SYN-000", "1.2.3")
    nodes.set_dicom_identity(parameters.iv_pet, "SOMEONE-ELSE", "1.2.3")
    summary = logic.update(parameters).summary
    assert summary.eligible is None and not summary.determined
    assert summary.decision_text.startswith("NOT DETERMINED: The IA PET belongs to patient 'RGL-SYN-000' but the IV "
                                            "PET to 'SOMEONE-ELSE'")
    assert _decision(parameters) == summary.decision_text and _row_count(parameters) == 11
    assert parameters.get_node("ratioTable").GetAttribute("Ragaliv.DecisionStatus") == "not determined"
    parameters.set("confirmConsistency", True)
    summary = logic.update(parameters).summary
    assert summary.eligible is True and summary.consistency[0]["status"] == "confirmed by the user"
    parameters.set("confirmConsistency", False)
    nodes.set_dicom_identity(parameters.iv_pet, "RGL-SYN-000", "1.2.3")
    analysis = logic.update(parameters)
    assert analysis.summary.eligible is True and analysis.summary.consistency == []
    assert not any("frame of reference" in warning for warning in analysis.summary.warnings)
    assert "CHECK REGISTRATION" not in analysis.summary.decision_text


def test_different_frames_of_reference_are_flagged_in_the_decision(mrml_scene, synthetic_patient):
    """The MRI's frame as Slicer's DICOM module records it: on its subject hierarchy series item."""
    import slicer

    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    for node in (parameters.ia_pet, parameters.iv_pet):
        nodes.set_dicom_identity(node, "P1", "1.2.840.1")
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(mrml_scene)
    item = hierarchy.GetItemByDataNode(parameters.mri) or hierarchy.CreateItem(hierarchy.GetSceneItemID(),
                                                                               parameters.mri)
    hierarchy.SetItemAttribute(item, "DICOM.FrameOfReferenceUID", "1.2.840.2")
    analysis = logic.update(parameters)
    warning = analysis.summary.warnings[0]
    assert warning.startswith("IA PET, IV PET, reference image are not in one frame of reference")
    decision = analysis.summary.decision_text
    assert decision.startswith("ELIGIBLE") and decision.endswith("CHECK REGISTRATION (inputs in different frames "
                                                                 "of reference)")
    assert _decision(parameters) == decision  # the table shows it too
    hierarchy.SetItemAttribute(item, "DICOM.FrameOfReferenceUID", "1.2.840.1")
    assert "CHECK REGISTRATION" not in logic.update(parameters).summary.decision_text


def test_identity_from_the_subject_hierarchy_of_a_dicom_loaded_series(mrml_scene, synthetic_patient):
    """What DICOMPlugin.addSeriesInSubjectHierarchy writes (patient > study > series items)."""
    import slicer

    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(mrml_scene)
    uid = slicer.vtkMRMLSubjectHierarchyConstants.GetDICOMUIDName()
    for node, patient_id, study_uid in ((parameters.ia_pet, "PAT-A", "1.9.1"), (parameters.iv_pet, "PAT-B", "1.9.2")):
        patient = hierarchy.CreateSubjectItem(hierarchy.GetSceneItemID(), patient_id)
        hierarchy.SetItemUID(patient, uid, patient_id)
        hierarchy.SetItemAttribute(patient, "DICOM.PatientID", patient_id)
        study = hierarchy.CreateStudyItem(patient, "study")
        hierarchy.SetItemUID(study, uid, study_uid)
        series = hierarchy.CreateItem(study, node)
        hierarchy.SetItemAttribute(series, "DICOM.FrameOfReferenceUID", "1.2.840.1")
    assert nodes.dicom_identity(parameters.iv_pet) == ("PAT-B", "1.2.840.1")
    summary = logic.update(parameters).summary
    assert summary.eligible is None and "'PAT-A' but the IV PET to 'PAT-B'" in summary.decision_text
    # An empty PatientID, for which Slicer makes up "Patient-<StudyInstanceUID>", is unknown, not a patient.
    patient = hierarchy.GetItemParent(hierarchy.GetItemParent(hierarchy.GetItemByDataNode(parameters.iv_pet)))
    hierarchy.SetItemAttribute(patient, "DICOM.PatientID", "Patient-1.9.2")
    assert nodes.dicom_identity(parameters.iv_pet) == ("", "1.2.840.1")
    assert logic.update(parameters).summary.eligible


def test_pet_loaded_from_a_folder_keeps_its_files_patient_and_frame(mrml_scene, synthetic_patient_dir, tmp_path):
    """load_pet_node(scene, "<folder>") used to keep the folder as the source "files": export() then crashed
    hashing a folder as a file."""
    import pydicom
    from ragaliv.report.provenance import describe_input
    from RagalivLesionRatioLib import load_pet_node
    from test_lesion_ratio_lib import dicom_scene  # Testing/lib

    folder = synthetic_patient_dir / "pet_iv"
    files = sorted(str(path) for path in folder.glob("*.dcm"))
    logic, parameters, _ = dicom_scene(mrml_scene, synthetic_patient_dir)  # its IV PET is loaded from the folder
    paths = logic.export(str(tmp_path), parameters)
    provenance = json.loads(open(paths["provenance"], encoding="utf-8").read())
    assert provenance["inputs"]["iv"]["sha256"] == describe_input(files)["sha256"]
    assert provenance["inputs"]["iv"]["files"] == len(files)

    node, _ = load_pet_node(mrml_scene, str(folder), "IV PET from folder")
    assert sorted(json.loads(node.GetAttribute("Ragaliv.SourceFiles"))) == files
    assert node.GetAttribute("Ragaliv.Normalization") == "bw"
    header = pydicom.dcmread(files[0], stop_before_pixels=True)
    assert nodes.dicom_identity(node) == (str(header.PatientID), str(header.FrameOfReferenceUID))


# --- O8: a deselected input withdraws the decision --------------------------------------------------------------
def test_deselecting_an_input_withdraws_the_decision(mrml_scene, synthetic_patient):
    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    assert logic.live_update(parameters).computed and "ELIGIBLE" in _decision(parameters)
    assert logic.missing_inputs(parameters) is None
    parameters.set_node("ivPetVolume", None)
    reason = logic.missing_inputs(parameters)
    assert reason == "select the IV PET"
    status = logic.mark_not_computed(reason, parameters)  # what the panel does when an input is deselected
    assert not status.computed and status.decision_text == "Not computed: select the IV PET"
    assert _decision(parameters) == status.decision_text and _row_count(parameters) == 0
    assert parameters.get_node("ratioChartTable").GetNumberOfColumns() == 0
    parameters.set_node("segmentation", None)
    assert logic.missing_inputs(parameters) == "select the IV PET and the segmentation"


def test_reset_forgets_everything_cached(mrml_scene, synthetic_patient):
    """Scene close: nothing of the closed scene (voxels, masks, statistics) is kept or reused."""
    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    logic.update(parameters)
    logic.update(parameters)
    assert logic.last_update.recomputed_segments == []  # cached
    logic.reset()
    assert logic.analysis is None and logic.last_update is None
    logic.update(parameters)
    assert len(logic.last_update.recomputed_segments) == len(synthetic_patient.segments)


# --- O10: nothing created by a refused placement ----------------------------------------------------------------
@pytest.mark.parametrize("place", ["lesion", "organ"])
def test_placement_without_a_reference_creates_no_segmentation(mrml_scene, place):
    from RagalivLesionRatioLib import LesionRatioLogic

    logic = LesionRatioLogic(mrml_scene)
    parameters = logic.parameters()
    with pytest.raises(RagalivInputError, match="No MRI selected"):
        if place == "lesion":
            logic.add_lesion([0.0, 0.0, 0.0], parameters)
        else:
            logic.add_organ_voi("Spleen", [0.0, 0.0, 0.0], parameters)
    assert mrml_scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == 0
    assert parameters.segmentation is None


def test_automatic_contour_without_ia_pet_creates_no_segmentation(mrml_scene, synthetic_patient):
    from RagalivLesionRatioLib import LesionRatioLogic

    logic = LesionRatioLogic(mrml_scene)
    parameters = logic.parameters()
    parameters.set_node("mriVolume", nodes.add_volume_node(mrml_scene, synthetic_patient.mri, "MRI"))
    parameters.set("placementMode", "auto")
    with pytest.raises(RagalivInputError, match="No IA PET selected"):
        logic.add_lesion([0.0, 0.0, 0.0], parameters)
    assert mrml_scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == 0
