"""Real MRML scenes on the slicer-core wheel (no Qt, no application)."""

import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core (real MRML without Qt) is not installed")


@pytest.fixture
def mrml_scene():
    from ragaliv_mrml.headless import create_scene

    scene, _, _ = create_scene()
    yield scene
    scene.Clear(True)


def suv_node(scene, activity, suv_per_bq_per_ml, name):
    """An SUV volume node as the module's PET loader makes it (voxels in g/mL, Ragaliv.Unit and the SUVbw
    normalisation set)."""
    from ragaliv.geometry import Volume
    from ragaliv_mrml import nodes

    suv = Volume(activity.array * suv_per_bq_per_ml, activity.geometry, "g/mL")
    node = nodes.add_volume_node(scene, suv, name, dtype="float32")
    node.SetAttribute("Ragaliv.Normalization", "bw")
    return node


def patient_scene(scene, patient):
    """MRI, IA/IV SUV PETs and the lesion/organ segmentation of the synthetic patient, as MRML nodes."""
    from ragaliv_mrml import nodes
    from RagalivLesionRatioLib import LesionRatioLogic

    mri = nodes.add_volume_node(scene, patient.mri, "MRI T1")
    ia = suv_node(scene, patient.ia.activity, patient.ia.suv_per_bq_per_ml, "IA PET SUV")
    iv = suv_node(scene, patient.iv.activity, patient.iv.suv_per_bq_per_ml, "IV PET SUV")
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Lesions and organs")
    segmentation.CreateDefaultDisplayNodes()
    segmentation.SetReferenceImageGeometryParameterFromVolumeNode(mri)
    for segment in patient.segments:
        nodes.add_segment(segmentation, segment, segment.name, segment.color_rgb)
    logic = LesionRatioLogic(scene)
    parameters = logic.parameters()
    for role, node in (("mriVolume", mri), ("iaPetVolume", ia), ("ivPetVolume", iv), ("segmentation", segmentation)):
        parameters.set_node(role, node)
    return logic, parameters


@pytest.fixture(scope="session")
def slow_uptake_patient():
    """The synthetic patient with a 2.5 h 177Lu uptake half-time in every tissue (issue 9: 1-3 h; the canonical
    patient has 0.5 h), truth by construction (truth["spect"])."""
    import dataclasses

    import ragaliv.phantom.patient as phantom

    original = phantom.SPECT_KINETICS
    phantom.SPECT_KINETICS = {name: dataclasses.replace(value, uptake_half_time_h=2.5)
                              for name, value in original.items()}
    try:
        return phantom.build_patient(0)
    finally:
        phantom.SPECT_KINETICS = original
