"""RagalivSpectDosimetryLib on real MRML: time points + VOIs -> results table, TAC chart, dose map."""

import math
import os

import numpy as np
import pytest
from ragaliv.errors import RagalivInputError
from ragaliv_mrml import nodes, tables
from ragaliv_mrml.scene_io import load_scene, save_scene

pytestmark = pytest.mark.mrml


def study_scene(scene, patient, counts_for_first=False, without_ct=(), hu_offsets=None):
    """The synthetic SPECT/CT study as nodes; ``without_ct``: time point indices added without a CT;
    ``hu_offsets``: index -> HU added to that CT (to tell the CTs apart by the masses they give)."""
    from ragaliv.geometry import Volume
    from RagalivSpectDosimetryLib import SpectDosimetryLogic

    logic = SpectDosimetryLogic(scene)
    parameters = logic.parameters()
    for index, point in enumerate(patient.spect):
        activity = point.activity
        units, calibration, duration = "Bq/mL", None, None
        if counts_for_first and index == 0:
            # Same image as counts: counts = Bq/mL x voxel mL x 1e-6 MBq/Bq x cps/MBq x s.
            calibration, duration = 9.5, 900.0
            factor = activity.geometry.voxel_volume_ml * 1e-6 * calibration * duration
            activity = Volume(activity.array * factor, activity.geometry, "counts")
            units = "counts"
        spect = nodes.add_volume_node(scene, activity, f"SPECT {point.time_h:g} h")
        ct_image = point.ct
        if hu_offsets and index in hu_offsets:
            ct_image = Volume(ct_image.array + hu_offsets[index], ct_image.geometry, ct_image.unit)
        ct = None if index in without_ct else nodes.add_volume_node(scene, ct_image, f"CT {point.time_h:g} h")
        logic.add_timepoint(spect, ct, point.time_h, units, calibration, duration, parameters)
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "VOIs")
    for segment in patient.spect_segments:
        nodes.add_segment(segmentation, segment, segment.name, segment.color_rgb)
    parameters.set_node("segmentation", segmentation)
    parameters.set("administeredMbq", patient.administered_mbq)
    parameters.set("injectionTime", patient.spect_injection_time.isoformat())
    parameters.set("voxelDosimetry", False)
    return logic, parameters


def rows_by_region(table_node):
    columns = tables.read_table(table_node)
    return {name: {key: values[i] for key, values in columns.items()} for i, name in enumerate(columns["region"])}


def test_results_match_truth_and_nodes_are_written(mrml_scene, synthetic_patient):
    logic, parameters = study_scene(mrml_scene, synthetic_patient, counts_for_first=True)
    result = logic.run(parameters)
    truth = synthetic_patient.truth["spect"]["regions"]
    for region in result.regions:
        expected = truth[region.region]
        assert region.tac.activity_mbq == pytest.approx(expected["tac_mbq"], rel=0.01), region.region
        assert region.fit.tia_mbq_h == pytest.approx(expected["tia_mbq_h"], rel=0.03), region.region
    rows = rows_by_region(parameters.get_node("resultsTable"))
    assert set(rows) == set(truth)
    kidney = rows["Kidney left"]
    assert kidney["tiac_h"] == pytest.approx(truth["Kidney left"]["tiac_h"], rel=0.03)
    assert kidney["method"] == "organ_s" and kidney["bed_gy"] > kidney["dose_gy"]
    assert parameters.get_node("resultsTable").GetColumnUnitLabel("dose_gy") == "Gy"
    chart = parameters.get_node("tacChart")
    assert chart.GetNumberOfPlotSeriesNodes() == 2 * len(truth)
    measured = tables.read_table(parameters.get_node("tacTable"))
    assert measured["time_h"] == pytest.approx([4.0, 24.0, 72.0, 168.0])


def test_time_points_and_results_survive_save_and_reload(mrml_scene, synthetic_patient, tmp_path):
    logic, parameters = study_scene(mrml_scene, synthetic_patient, without_ct=(1,))
    logic.run(parameters)
    saved = rows_by_region(parameters.get_node("resultsTable"))
    save_scene(mrml_scene, str(tmp_path / "scene.mrml"))
    from RagalivSpectDosimetryLib import SpectDosimetryLogic

    reloaded = SpectDosimetryLogic(load_scene(str(tmp_path / "scene.mrml")))
    parameters2 = reloaded.parameters()
    points = reloaded.timepoints(parameters2)
    assert [p.time_h for p in points] == [4.0, 24.0, 72.0, 168.0]
    assert all(p.spect is not None for p in points)
    assert [p.ct.GetName() if p.ct is not None else None for p in points] == ["CT 4 h", None, "CT 72 h", "CT 168 h"]
    assert parameters2.get("administeredMbq") == synthetic_patient.administered_mbq
    assert parameters2.get("voxelDosimetry") is False
    loaded = rows_by_region(parameters2.get_node("resultsTable"))
    assert loaded["Spleen"]["dose_gy"] == pytest.approx(saved["Spleen"]["dose_gy"], rel=1e-5)
    again = reloaded.run(parameters2)
    assert again.region("Spleen").dose.primary.dose_gy == pytest.approx(saved["Spleen"]["dose_gy"], rel=1e-6)


def test_voxel_dose_map_node(mrml_scene, synthetic_patient):
    """Voxel dosimetry with no kernel folder set: the tables shipped with the package are used."""
    from ragaliv.dosimetry import shipped_kernel_directory

    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    parameters.set("voxelDosimetry", True)
    assert not parameters.get("kernelDirectory")
    result = logic.run(parameters)
    assert result.voxel.performed, result.voxel.reason
    assert result.voxel.kernel_directory == os.path.abspath(shipped_kernel_directory())
    dose_node = parameters.get_node("doseMap")
    assert dose_node is not None and dose_node.GetAttribute("Ragaliv.Unit") == "Gy"
    dose = nodes.volume_from_node(dose_node)
    assert dose.geometry.is_same_grid(synthetic_patient.spect[0].activity.geometry)
    assert np.allclose(dose.array, result.voxel.dose_map.array)
    kidney = result.region("Kidney left")
    assert kidney.voxel.mean_gy == pytest.approx(kidney.dose.led.dose_gy, rel=0.1)


def test_per_voi_models_and_recovery_coefficients(mrml_scene, synthetic_patient):
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    parameters.set("modelOverrides", "Kidney left=trapezoid; Spleen = stp")
    parameters.set("recoveryCoefficients", "Lesion 5=0.5")
    result = logic.run(parameters)
    assert result.region("Kidney left").fit.model == "trapezoid"
    assert result.region("Spleen").fit.model == "stp"
    assert result.region("Kidney right").fit.model == "biexp-uptake"  # auto with four points (issue 9)
    truth = synthetic_patient.truth["spect"]["regions"]["Lesion 5"]["tac_mbq"]
    assert result.region("Lesion 5").tac.activity_mbq == pytest.approx([2.0 * a for a in truth], rel=0.01)
    parameters.set("modelOverrides", "Kidney left")
    with pytest.raises(RagalivInputError, match="VOI name = value"):
        logic.run(parameters)


def test_export_and_report_from_the_module_logic(mrml_scene, synthetic_patient, tmp_path):
    import csv

    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    result = logic.run(parameters)
    paths = logic.write_report(str(tmp_path), parameters=parameters)
    with open(paths["dose"], newline="", encoding="utf-8") as stream:
        doses = {row["region"]: row for row in csv.DictReader(stream)}
    assert float(doses["Spleen"]["dose_gy"]) == pytest.approx(result.region("Spleen").dose.primary.dose_gy, rel=1e-5)
    html = open(paths["report"], encoding="utf-8").read()
    assert "Spleen" in html and "data:image/png" in html


def test_bad_time_points_are_refused(mrml_scene, synthetic_patient):
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    with pytest.raises(RagalivInputError, match="units"):
        logic.add_timepoint(logic.timepoints(parameters)[0].spect, None, 1.0, "MBq")
    spect = nodes.add_volume_node(mrml_scene, synthetic_patient.spect[1].activity, "duplicate")
    logic.add_timepoint(spect, None, 24.0, parameters=parameters)  # same time as another point
    with pytest.raises(RagalivInputError):
        logic.run(parameters)
    logic.remove_timepoint(2, parameters)
    counts = nodes.add_volume_node(mrml_scene, synthetic_patient.spect[2].activity, "counts, no calibration")
    logic.add_timepoint(counts, None, 100.0, "counts", parameters=parameters)
    with pytest.raises(RagalivInputError, match="calibration"):
        logic.run(parameters)
    assert math.isfinite(logic.timepoints(parameters)[-1].time_h)


def test_time_point_without_ct_keeps_the_other_cts_at_their_time_points(mrml_scene, synthetic_patient):
    """Review 1g: MRML drops an empty reference, so [A, "", B] used to read back as [A, B, None]."""
    from ragaliv.spect.mass import voi_mass

    # The 168 h CT is made denser, so that masses tell which CT was used; the VOIs are drawn at 72 h.
    logic, parameters = study_scene(mrml_scene, synthetic_patient, without_ct=(1,), hu_offsets={3: 400.0})
    parameters.set("referenceTimepoint", 2)
    points = logic.timepoints(parameters)
    assert [p.ct.GetName() if p.ct is not None else None for p in points] == ["CT 4 h", None, "CT 72 h", "CT 168 h"]
    study = logic.build_study(parameters)
    assert [tp.ct_source for tp in study.timepoints] == ["CT 4 h", None, "CT 72 h", "CT 168 h"]
    assert study.timepoints[1].ct is None
    result = logic.run(parameters)
    reference_ct = synthetic_patient.spect[2].ct
    rows = rows_by_region(parameters.get_node("resultsTable"))
    for segment in synthetic_patient.spect_segments:
        expected = voi_mass(segment, reference_ct).mass_g
        assert result.region(segment.name).mass.mass_g == pytest.approx(expected, rel=1e-9), segment.name
        assert rows[segment.name]["mass_g"] == pytest.approx(expected, rel=1e-9), segment.name

    # Removing the time point without a CT shifts the later ones down with their own CTs.
    logic.remove_timepoint(1, parameters)
    names = [p.ct.GetName() for p in logic.timepoints(parameters)]
    assert names == ["CT 4 h", "CT 72 h", "CT 168 h"]
    # Adding it back (sorted by time) puts it in the middle again, still without a CT.
    spect = nodes.add_volume_node(mrml_scene, synthetic_patient.spect[1].activity, "SPECT 24 h again")
    assert logic.add_timepoint(spect, None, 24.0, parameters=parameters) == 1
    names = [p.ct.GetName() if p.ct is not None else None for p in logic.timepoints(parameters)]
    assert names == ["CT 4 h", None, "CT 72 h", "CT 168 h"]


def test_administered_activity_is_required(mrml_scene, synthetic_patient):
    """No silent 7400 MBq default: TIAC and Gy/GBq are divided by it."""
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    parameters.node.UnsetParameter("administeredMbq")
    assert parameters.get("administeredMbq") == 0.0
    with pytest.raises(RagalivInputError, match="Administered activity") as raised:
        logic.build_study(parameters)
    assert "Administered 177Lu (MBq)" in raised.value.hint
    for value in (0.0, -5.0, float("nan")):
        parameters.set("administeredMbq", value)
        with pytest.raises(RagalivInputError, match="administeredMbq"):
            logic.run(parameters)
    parameters.set("administeredMbq", synthetic_patient.administered_mbq)
    assert logic.build_study(parameters).administered_mbq == synthetic_patient.administered_mbq


def test_scenes_saved_with_the_old_ct_list_still_load(mrml_scene, synthetic_patient):
    """Before the indexed roles the CTs were one list under "timepointCt" (aligned when every point had one)."""
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    node = parameters.node
    cts = [point.ct for point in logic.timepoints(parameters)]
    for index in range(len(cts)):
        node.RemoveNodeReferenceIDs(f"timepointCt{index}")
    for ct in cts:
        node.AddNodeReferenceID("timepointCt", ct.GetID())
    assert [p.ct.GetName() for p in logic.timepoints(parameters)] == ["CT 4 h", "CT 24 h", "CT 72 h", "CT 168 h"]
    logic.remove_timepoint(0, parameters)  # rewritten with the indexed roles
    assert node.GetNumberOfNodeReferences("timepointCt") == 0
    assert [p.ct.GetName() for p in logic.timepoints(parameters)] == ["CT 24 h", "CT 72 h", "CT 168 h"]
