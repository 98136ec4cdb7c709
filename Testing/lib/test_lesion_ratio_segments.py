"""The lesion-segment checks of ``ragaliv ratio`` in the RagalivLesionRatio panel (adversarial review of issue 8):
one metastasis drawn twice is NOT DETERMINED, naming both segments, as in the CLI
(Testing/cli/test_bad_input_segments.py); a confirmation given for it does not cover a second overlap drawn later."""

import pytest
from conftest import patient_scene  # Testing/lib/conftest.py
from ragaliv_mrml import nodes

pytestmark = pytest.mark.mrml


def _redraw(parameters, name, segment):
    """Replace segment ``name`` of the panel's segmentation by the voxels of ``segment`` (a SegmentMask)."""
    segmentation_node = parameters.segmentation
    segmentation = segmentation_node.GetSegmentation()
    segmentation.RemoveSegment(segmentation.GetSegmentIdBySegmentName(name))
    nodes.add_segment(segmentation_node, segment, name, segment.color_rgb)


def test_one_lesion_drawn_twice_is_not_determined_in_the_panel(mrml_scene, synthetic_patient):
    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    by_name = {segment.name: segment for segment in synthetic_patient.segments}
    assert logic.live_update(parameters).decision_text.startswith("ELIGIBLE")

    _redraw(parameters, "Lesion 3", by_name["Lesion 4"])
    status = logic.live_update(parameters)
    assert status.decision_status == "not determined"
    (item,) = status.consistency
    assert (item["check"], item["subject"], item["status"]) == ("segment-overlap", "Lesion 3 + Lesion 4",
                                                                 "not confirmed")
    assert f"share {by_name['Lesion 4'].voxel_count} voxel(s)" in item["message"]

    parameters.set("confirmConsistency", True)  # the reader says both are right
    status = logic.live_update(parameters)
    assert status.decision_status == "determined" and parameters.get("confirmConsistency") is True

    _redraw(parameters, "Lesion 5", by_name["Lesion 1"])  # a second overlap, drawn after the confirmation
    status = logic.live_update(parameters)
    assert status.decision_status == "not determined" and parameters.get("confirmConsistency") is False
    assert any("Lesion 1 + Lesion 5" in note for note in status.confirmation_notes), status.confirmation_notes
