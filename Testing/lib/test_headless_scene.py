"""The headless MRML harness gives what the Libs and their tests need, the way Slicer does."""

import numpy as np
import pytest
from ragaliv.geometry import Geometry, SegmentMask, Volume
from ragaliv_mrml import nodes, tables
from ragaliv_mrml.scene_io import load_scene, save_scene

pytestmark = pytest.mark.mrml


def test_module_logics_are_registered():
    from ragaliv_mrml.headless import MODULE_LOGICS, create_scene

    scene, app_logic, logics = create_scene()
    for name, _ in MODULE_LOGICS:
        assert app_logic.GetModuleLogic(name) is logics[name]
    assert scene.GetNodeByID("vtkMRMLPETProceduralColorNodePET-Heat") is not None  # default colour nodes


def test_nodes_of_every_kind_survive_save_and_reload(mrml_scene, tmp_path):
    geometry = Geometry.from_spacing((4, 5, 6), (1.5, 2.0, 3.0), (10.0, -20.0, 30.0))
    values = np.arange(120, dtype=np.float32).reshape(4, 5, 6)
    volume = nodes.add_volume_node(mrml_scene, Volume(values, geometry, "Bq/mL"), "PET")
    segmentation = mrml_scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Seg")
    mask = np.zeros(geometry.shape_kji, bool)
    mask[1:3, 2:4, 1:5] = True
    nodes.add_segment(segmentation, SegmentMask.from_full_mask("Lesion 1", mask, geometry), "Lesion 1")
    table = mrml_scene.AddNewNodeByClass("vtkMRMLTableNode", "Results")
    tables.write_table(table, [("segment", "Segment", ""), ("suvmax", "SUVmax", "g/mL")],
                       [{"segment": "Lesion 1", "suvmax": 4.25}], ["segment"])
    fiducials = mrml_scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "Clicks")
    fiducials.AddControlPoint([12.0, -18.0, 33.0])  # (the three-float overload crashes slicer-core 5.13)
    chart = mrml_scene.AddNewNodeByClass("vtkMRMLPlotChartNode", "Chart")
    chart.SetTitle("ratios")

    save_scene(mrml_scene, str(tmp_path / "scene.mrml"))
    scene = load_scene(str(tmp_path / "scene.mrml"))

    back = nodes.volume_from_node(scene.GetFirstNodeByName("PET"))
    assert np.array_equal(back.array, values) and back.geometry.is_same_grid(geometry)
    assert back.unit == "Bq/mL"
    segment = nodes.segment_masks(scene.GetFirstNodeByName("Seg"))[0]
    assert segment.name == "Lesion 1" and segment.voxel_count == int(mask.sum())
    loaded = tables.read_table(scene.GetFirstNodeByName("Results"))
    assert loaded["segment"] == ["Lesion 1"] and loaded["suvmax"] == [4.25]
    assert scene.GetFirstNodeByName("Results").GetColumnUnitLabel("suvmax") == "g/mL"
    point = [0.0, 0.0, 0.0]
    scene.GetFirstNodeByName("Clicks").GetNthControlPointPosition(0, point)
    assert point == pytest.approx([12.0, -18.0, 33.0])
    assert scene.GetFirstNodeByName("Chart").GetTitle() == "ratios"
    del volume
