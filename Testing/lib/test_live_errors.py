"""Live table after a failed update: any error, not only a Ragaliv input error, clears the decision and the
table ("Not computed" with the reason); a stale decision is never shown as current."""

import pytest
from conftest import patient_scene  # Testing/lib/conftest.py
from ragaliv_mrml import tables


def _decision(parameters):
    return parameters.get_node("ratioTable").GetAttribute("Ragaliv.Decision")


def _row_count(parameters):
    columns = tables.read_table(parameters.get_node("ratioTable"))
    return len(next(iter(columns.values()))) if columns else 0


@pytest.fixture
def computed(mrml_scene, synthetic_patient):
    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    status = logic.live_update(parameters)
    assert status.computed and "ELIGIBLE" in status.decision_text and ">= 3" in status.rule_text
    assert _row_count(parameters) == len(synthetic_patient.segments)
    return logic, parameters


def test_input_error_shows_not_computed_with_the_reason(computed):
    logic, parameters = computed
    parameters.ia_pet.SetAttribute("Ragaliv.Unit", "Bq/mL")  # not an SUV image any more
    status = logic.live_update(parameters)
    assert not status.computed
    assert status.decision_text.startswith("Not computed:") and "is not an SUV image" in status.reason
    assert status.warnings == [] and status.rule_text == ""
    assert _decision(parameters) == status.decision_text
    assert _row_count(parameters) == 0  # no stale rows either
    assert logic.analysis is None
    parameters.ia_pet.SetAttribute("Ragaliv.Unit", "g/mL")
    assert logic.live_update(parameters).computed and "ELIGIBLE" in _decision(parameters)


def test_any_other_error_also_clears_the_decision(computed, monkeypatch):
    logic, parameters = computed
    import RagalivLesionRatioLib.logic as lib_logic

    def broken(*args, **kwargs):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(lib_logic, "uptake_statistics", broken)
    segmentation = parameters.segmentation.GetSegmentation()
    from ragaliv.ratio.placement import sphere_segment
    from ragaliv_mrml import nodes

    mask = sphere_segment("Lesion 1", [0.0, 0.0, 0.0], 10.0, nodes.volume_geometry(parameters.mri))
    nodes.set_segment_mask(parameters.segmentation, segmentation.GetSegmentIdBySegmentName("Lesion 1"), mask)
    status = logic.live_update(parameters)
    assert not status.computed
    assert "internal error (ZeroDivisionError: float division by zero)" in status.reason
    assert _decision(parameters) == status.decision_text and _row_count(parameters) == 0
    chart_table = parameters.get_node("ratioChartTable")
    assert chart_table.GetNumberOfColumns() == 0 and "Not computed" in chart_table.GetAttribute("Ragaliv.ChartNote")


def test_live_updater_passes_the_status_from_the_debounced_flush(computed):
    from RagalivLesionRatioLib import LiveRatioUpdater

    logic, parameters = computed
    live = LiveRatioUpdater(lambda: logic.live_update(parameters), lambda: None)
    live.observe(parameters.segmentation, [parameters.ia_pet, parameters.iv_pet])
    parameters.iv_pet.SetAttribute("Ragaliv.Unit", "")
    segmentation = parameters.segmentation.GetSegmentation()
    segmentation.InvokeEvent(segmentation.SegmentModified)  # an edit schedules the debounced update
    status = live.flush()
    assert status is not None and not status.computed and "IV PET SUV is not an SUV image" in status.reason
    live.stop()
