"""RagalivLesionRatioLib on real MRML: nodes in, table/chart out, live updates, scene save and reload."""

import math

import numpy as np
import pytest
from conftest import patient_scene  # Testing/lib/conftest.py
from ragaliv.errors import RagalivInputError
from ragaliv.geometry import SegmentMask
from ragaliv.ratio.placement import sphere_segment
from ragaliv.ratio.uptake import uptake_statistics
from ragaliv_mrml import nodes, tables
from ragaliv_mrml.scene_io import load_scene, save_scene

pytestmark = pytest.mark.mrml


def same(first, second):
    return first == second or (isinstance(first, float) and math.isnan(first) and math.isnan(second))


def table_rows(table_node):
    columns = tables.read_table(table_node)
    return {name: {key: values[i] for key, values in columns.items()} for i, name in enumerate(columns["segment"])}


def test_table_reproduces_truth_and_decision(mrml_scene, synthetic_patient):
    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    analysis = logic.update(parameters)
    truth = synthetic_patient.truth
    rows = table_rows(parameters.get_node("ratioTable"))
    assert len(rows) == 11
    for name, expected in truth["segments"].items():
        row = rows[name]
        for scan in ("ia", "iv"):
            for metric in ("suvmax", "suvmean", "suvpeak"):
                assert row[f"{scan}_{metric}"] == pytest.approx(expected[scan][metric], rel=1e-3), (name, scan, metric)
        assert row["ratio_suvmax"] == pytest.approx(expected["ratio"], rel=1e-3)
        assert row["volume_ml"] == pytest.approx(expected["volume_ml"], rel=1e-9)
    assert analysis.summary.lesion_ratio == pytest.approx(truth["ratio"]["lesion_ratio"], rel=1e-3)
    assert analysis.summary.eligible is truth["ratio"]["eligible"]
    table = parameters.get_node("ratioTable")
    assert table.GetColumnUnitLabel("ia_suvmax") == "g/mL"
    assert table.GetColumnUnitLabel("volume_ml") == "mL"
    assert "ELIGIBLE" in table.GetAttribute("Ragaliv.Decision")
    assert ">= 3" in table.GetAttribute("Ragaliv.Rule")
    chart = parameters.get_node("ratioChart")
    assert chart.GetNumberOfPlotSeriesNodes() == 3


def test_editing_one_segment_changes_only_its_row(mrml_scene, synthetic_patient):
    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    from RagalivLesionRatioLib import LiveRatioUpdater

    requests = []
    live = LiveRatioUpdater(lambda: logic.update(parameters), lambda: requests.append(1))
    segmentation = parameters.segmentation
    live.observe(segmentation)
    logic.update(parameters)
    before = table_rows(parameters.get_node("ratioTable"))

    # Move "Lesion 2" half out of its uptake: a new sphere 12 mm across centred on the lesion edge.
    lesion = synthetic_patient.anatomy.lesions[1]
    centre = np.array(lesion.centre_mm) + np.array([lesion.diameter_mm / 2.0 + 9.0, 0.0, 0.0])
    edited = sphere_segment("Lesion 2", centre, 12.0, synthetic_patient.mri.geometry)
    segment_id = segmentation.GetSegmentation().GetSegmentIdBySegmentName("Lesion 2")
    nodes.set_segment_mask(segmentation, segment_id, edited)
    assert requests, "the segmentation edit must schedule an update"
    live.flush()
    assert logic.last_update.recomputed_segments == ["Lesion 2"]
    after = table_rows(parameters.get_node("ratioTable"))
    for name in before:
        if name == "Lesion 2":
            continue
        assert all(same(after[name][key], before[name][key]) for key in before[name]), name
    # The new values equal an independent computation on the same mask and PET voxels.
    mask = nodes.segment_mask(segmentation, segment_id)
    for scan, node in (("ia", parameters.ia_pet), ("iv", parameters.iv_pet)):
        expected = uptake_statistics(nodes.volume_from_node(node, "g/mL"), mask)
        assert after["Lesion 2"][f"{scan}_suvmean"] == pytest.approx(expected.suvmean, rel=1e-9)
        assert after["Lesion 2"][f"{scan}_suvmax"] == pytest.approx(expected.suvmax, rel=1e-9)
        assert after["Lesion 2"][f"{scan}_suvpeak"] == pytest.approx(expected.suvpeak, rel=1e-9)
    assert after["Lesion 2"]["volume_ml"] == pytest.approx(edited.volume_ml)
    assert after["Lesion 2"]["ia_suvmean"] < before["Lesion 2"]["ia_suvmean"]
    live.stop()


def test_edit_without_segment_id_is_detected_by_the_cache(mrml_scene, synthetic_patient):
    """Undo/redo and overwrite edits fire events without a segment ID: the labelmap cache must notice."""
    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    logic.update(parameters)
    segmentation = parameters.segmentation
    segment_id = segmentation.GetSegmentation().GetSegmentIdBySegmentName("Kidney left")
    labelmap, label = nodes.segment_labelmap(segmentation, segment_id)
    from vtk.util import numpy_support

    values = numpy_support.vtk_to_numpy(labelmap.GetPointData().GetScalars())
    values[values == label] = 0  # erase the segment behind the editor's back (like an overwrite)
    labelmap.Modified()
    analysis = logic.update(parameters)
    row = analysis.row("Kidney left")
    assert row.ia.suvmean is None and "empty segment" in row.ia.flags
    assert logic.last_update.recomputed_segments == ["Kidney left"]


def test_results_survive_scene_save_and_reload(mrml_scene, synthetic_patient, tmp_path):
    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    parameters.set("threshold", 4.0)
    parameters.set("metric", "suvpeak")
    analysis = logic.update(parameters)
    assert analysis.summary.eligible is False  # 3.36 < 4
    saved_rows = table_rows(parameters.get_node("ratioTable"))
    save_scene(mrml_scene, str(tmp_path / "scene.mrml"))

    from RagalivLesionRatioLib import LesionRatioLogic

    reloaded = load_scene(str(tmp_path / "scene.mrml"))
    logic2 = LesionRatioLogic(reloaded)
    parameters2 = logic2.parameters()
    assert parameters2.get("threshold") == 4.0 and parameters2.get("metric") == "suvpeak"
    loaded_rows = table_rows(parameters2.get_node("ratioTable"))
    for name, row in saved_rows.items():
        for key, value in row.items():
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(loaded_rows[name][key])
            elif isinstance(value, float):
                assert loaded_rows[name][key] == pytest.approx(value, rel=1e-5), (name, key)
            else:
                assert loaded_rows[name][key] == value
    # The reloaded inputs give the same numbers again.
    again = logic2.update(parameters2)
    assert again.summary.lesion_ratio == pytest.approx(analysis.summary.lesion_ratio, rel=1e-6)
    assert again.summary.settings.metric == "suvpeak"


def test_add_lesion_by_click_sphere_and_auto_contour(mrml_scene, synthetic_patient):
    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    lesion = synthetic_patient.anatomy.lesions[2]  # Lesion 3, 22 mm, uptake halo 22/2 + 9 mm
    click_ras = [-lesion.centre_mm[0], -lesion.centre_mm[1], lesion.centre_mm[2]]
    parameters.set("lesionDiameterMm", 16.0)
    segment_id = logic.add_lesion(click_ras, parameters)
    segmentation = parameters.segmentation.GetSegmentation()
    assert segmentation.GetSegment(segment_id).GetName() == "Lesion 6"
    sphere = nodes.segment_mask(parameters.segmentation, segment_id)
    assert sphere.volume_ml == pytest.approx(4 / 3 * math.pi * 0.8**3, rel=0.05)
    analysis = logic.update(parameters)
    assert any("6 lesion segment(s)" in warning for warning in analysis.summary.warnings)
    lesion_3_suv = synthetic_patient.truth["segments"]["Lesion 3"]["ia"]["suvbw"]
    assert analysis.row("Lesion 6").ia.suvmean == pytest.approx(lesion_3_suv)

    parameters.set("placementMode", "auto")
    parameters.set("contourPercent", 40.0)
    parameters.set("contourRadiusMm", 40.0)
    auto_id = logic.add_lesion(click_ras, parameters)
    contour = nodes.segment_mask(parameters.segmentation, auto_id)
    halo_radius_mm = lesion.diameter_mm / 2 + 9.0
    # The 40 % contour of a uniform hot sphere is that sphere (up to PET voxelisation).
    assert contour.volume_ml == pytest.approx(4 / 3 * math.pi * (halo_radius_mm / 10) ** 3, rel=0.15)


def test_bone_marrow_voi_accumulates_spheres(mrml_scene, synthetic_patient):
    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    segmentation = parameters.segmentation.GetSegmentation()
    segmentation.RemoveSegment(segmentation.GetSegmentIdBySegmentName("Bone marrow"))
    volumes = []
    for z in (-88.0, -54.0, -20.0):
        segment_id = logic.add_organ_voi("Bone marrow", [0.0, -62.0, z], parameters)
        volumes.append(nodes.segment_mask(parameters.segmentation, segment_id).volume_ml)
    single = 4 / 3 * math.pi * 0.75**3
    assert volumes[0] == pytest.approx(single, rel=0.1)
    assert volumes[2] == pytest.approx(3 * volumes[0], rel=0.02)


def test_pet_without_suv_conversion_is_refused(mrml_scene, synthetic_patient):
    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    raw = nodes.add_volume_node(mrml_scene, synthetic_patient.ia.activity, "IA PET Bq/mL")
    raw.RemoveAttribute("Ragaliv.Unit")
    parameters.set_node("iaPetVolume", raw)
    with pytest.raises(RagalivInputError, match="not an SUV image"):
        logic.update(parameters)


def test_segment_mask_round_trip_through_mrml_keeps_geometry(mrml_scene, synthetic_patient):
    segmentation = mrml_scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    original: SegmentMask = synthetic_patient.segments[0]
    segment_id = nodes.add_segment(segmentation, original, original.name)
    back = nodes.segment_mask(segmentation, segment_id)
    assert back.volume_ml == pytest.approx(original.volume_ml)
    assert np.allclose(back.geometry.ijk_to_lps, original.geometry.ijk_to_lps, atol=1e-6)
    assert np.array_equal(back.mask, original.mask)


def dicom_scene(scene, patient):
    """The synthetic patient loaded from its DICOM files, PETs through the module's SUV loader."""
    from ragaliv.io.dicom_series import load_volume, select_series
    from ragaliv.io.segmentation import read_segments
    from RagalivLesionRatioLib import LesionRatioLogic, load_pet_node

    mri_series = select_series(str(patient / "mri"), ("MR",), "MRI")
    mri = nodes.add_volume_node(scene, load_volume(mri_series), "MRI")
    ia, _ = load_pet_node(scene, sorted(str(p) for p in (patient / "pet_ia").glob("*.dcm")), "IA PET")
    iv, _ = load_pet_node(scene, str(patient / "pet_iv"), "IV PET")  # a folder works too
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Seg")
    for segment in read_segments(str(patient / "segmentation.seg.nrrd")):
        nodes.add_segment(segmentation, segment, segment.name)
    logic = LesionRatioLogic(scene)
    parameters = logic.parameters()
    for role, node in (("mriVolume", mri), ("iaPetVolume", ia), ("ivPetVolume", iv), ("segmentation", segmentation)):
        parameters.set_node(role, node)
    return logic, parameters, mri_series.files


def test_dicom_seg_and_sr_from_the_module_logic(mrml_scene, synthetic_patient_dir, tmp_path):
    from ragaliv.report.dicom_export import read_dicom_seg, read_dicom_sr

    logic, parameters, mri_files = dicom_scene(mrml_scene, synthetic_patient_dir)
    paths = logic.export_dicom(str(tmp_path), mri_files, parameters=parameters)
    report = read_dicom_sr(paths["dicom_sr"])
    for row in logic.analysis.rows:
        assert report["segments"][row.segment]["ia_suvmax"] == pytest.approx(row.ia.suvmax, rel=1e-6)
        assert report["segments"][row.segment]["ratio_suvmean"] == pytest.approx(row.ratio("suvmean"), rel=1e-6)
    masks = {segment.name: segment for segment in read_dicom_seg(paths["dicom_seg"])}
    assert masks["Lesion 1"].volume_ml == pytest.approx(logic.analysis.row("Lesion 1").volume_ml)


def test_case_report_from_the_module_logic(mrml_scene, synthetic_patient_dir, tmp_path):
    logic, parameters, _ = dicom_scene(mrml_scene, synthetic_patient_dir)
    paths = logic.write_report(str(tmp_path), deidentify=True, parameters=parameters, reviewer="Dr  A. Reader <MD>")
    html = open(paths["report"], encoding="utf-8").read()
    assert logic.analysis.summary.decision_text.split(":")[0] in html
    # The reader pre-fills the first "Reviewed by" line (radiologist); the physicist's line stays blank.
    assert html.count("<span>Reviewed by <b>Dr A. Reader &lt;MD&gt;</b></span>") == 1
    assert html.count("<span>Reviewed by ______________________________</span>") == 1
    assert "RGL-SYN-000" not in html and "SYNTHETIC000" not in html  # de-identified
    assert html.count("data:image/png") >= 10  # lesion snapshots (IA and IV) and charts


def test_blurred_patient_matches_an_independent_computation(mrml_scene):
    """With scanner blur the Lib's table equals a brute-force computation on the same PET voxels."""
    import independent  # Testing/independent.py
    from ragaliv.phantom import build_patient

    patient = build_patient(0, blur_fwhm_mm=16.0)  # strong: SUVs then vary across the lesions
    logic, parameters = patient_scene(mrml_scene, patient)
    analysis = logic.update(parameters)
    for scan in (patient.ia, patient.iv):
        suv = scan.activity.array * scan.suv_per_bq_per_ml
        geometry = scan.activity.geometry
        for segment in patient.segments[:5]:  # the lesions: where blur matters most
            expected = independent.uptake(suv, geometry.spacing_mm, geometry.origin_lps_mm, segment)
            stats = getattr(analysis.row(segment.name), scan.role.lower())
            assert stats.suvmean == pytest.approx(expected["suvmean"], rel=2e-3), segment.name
            assert stats.suvmax == pytest.approx(expected["suvmax"], rel=1e-4), segment.name
            assert stats.suvpeak == pytest.approx(expected["suvpeak"], rel=2e-3), segment.name
    # The blur is real: partial volume lowers the small lesions' SUVs far below the truth.
    truth = patient.truth["segments"]["Lesion 5"]
    assert analysis.row("Lesion 5").ia.suvmean < 0.85 * truth["ia"]["suvmean"]


def _translation(scene, offset_ras, name="Moved"):
    import vtk

    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", name)
    matrix = vtk.vtkMatrix4x4()
    for axis in range(3):
        matrix.SetElement(axis, 3, float(offset_ras[axis]))
    transform.SetMatrixTransformToParent(matrix)
    return transform


def _assert_rows_match_independent_statistics(parameters, names):
    rows = table_rows(parameters.get_node("ratioTable"))
    segmentation = parameters.segmentation
    for name in names:
        segment_id = segmentation.GetSegmentation().GetSegmentIdBySegmentName(name)
        mask = nodes.segment_mask(segmentation, segment_id)  # world geometry: through the transform
        for scan, node in (("ia", parameters.ia_pet), ("iv", parameters.iv_pet)):
            expected = uptake_statistics(nodes.volume_from_node(node, "g/mL"), mask)
            for metric in ("suvmean", "suvmax", "suvpeak"):
                value = getattr(expected, metric)
                if value is None:
                    assert math.isnan(rows[name][f"{scan}_{metric}"]), (name, scan, metric)
                else:
                    assert rows[name][f"{scan}_{metric}"] == pytest.approx(value, rel=1e-9), (name, scan, metric)
    return rows


def test_moving_the_segmentation_with_a_transform_updates_the_table_live(mrml_scene, synthetic_patient):
    """Review 1f: the mask cache must include the segmentation's world transform (not only labelmap MTime)."""
    from RagalivLesionRatioLib import LiveRatioUpdater

    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    segmentation = parameters.segmentation
    requests = []
    live = LiveRatioUpdater(lambda: logic.update(parameters), lambda: requests.append(1))
    live.observe(segmentation, [parameters.ia_pet, parameters.iv_pet])
    before = logic.update(parameters).row("Lesion 1").ia.suvmean

    transform = _translation(mrml_scene, (30.0, 0.0, 0.0))
    segmentation.SetAndObserveTransformNodeID(transform.GetID())
    assert requests, "setting the segmentation's parent transform must schedule an update"
    live.flush()
    names = [row.segment for row in logic.analysis.rows]
    rows = _assert_rows_match_independent_statistics(parameters, names)
    assert sorted(logic.last_update.recomputed_segments) == sorted(names)
    assert rows["Lesion 1"]["ia_suvmean"] < 0.8 * before  # moved 30 mm: partly off the lesion's uptake

    # Editing the transform's matrix (Transforms module slider) is seen too.
    requests.clear()
    import vtk

    matrix = vtk.vtkMatrix4x4()
    matrix.SetElement(1, 3, -12.0)
    transform.SetMatrixTransformToParent(matrix)
    assert requests, "modifying the transform matrix must schedule an update"
    live.flush()
    _assert_rows_match_independent_statistics(parameters, names)

    # Moving the IV PET (its own parent transform) is seen as well.
    requests.clear()
    parameters.iv_pet.SetAndObserveTransformNodeID(_translation(mrml_scene, (0.0, 0.0, 9.0), "PET").GetID())
    assert requests, "moving a PET must schedule an update"
    live.flush()
    _assert_rows_match_independent_statistics(parameters, names)

    # Back without the transform: the original numbers again.
    segmentation.SetAndObserveTransformNodeID(None)
    parameters.iv_pet.SetAndObserveTransformNodeID(None)
    live.flush()
    assert logic.analysis.row("Lesion 1").ia.suvmean == pytest.approx(before, rel=1e-12)
    live.stop()


def test_segment_placed_under_a_transform_lands_at_the_click(mrml_scene, synthetic_patient):
    """Masks are read in world coordinates, so they must be written in world coordinates too."""
    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    parameters.segmentation.SetAndObserveTransformNodeID(_translation(mrml_scene, (25.0, -10.0, 6.0)).GetID())
    lesion = synthetic_patient.anatomy.lesions[2]
    click_ras = [-lesion.centre_mm[0], -lesion.centre_mm[1], lesion.centre_mm[2]]
    segment_id = logic.add_lesion(click_ras, parameters)
    mask = nodes.segment_mask(parameters.segmentation, segment_id)
    kji = np.argwhere(mask.mask)
    centre_lps = mask.geometry.index_to_lps(kji[:, ::-1].mean(axis=0))
    assert np.allclose(centre_lps, lesion.centre_mm, atol=1.0)
    lesion_3_suv = synthetic_patient.truth["segments"]["Lesion 3"]["ia"]["suvbw"]
    assert logic.update(parameters).row("Lesion 6").ia.suvmean == pytest.approx(lesion_3_suv)


def _erase(segmentation, name):
    from vtk.util import numpy_support

    segment_id = segmentation.GetSegmentation().GetSegmentIdBySegmentName(name)
    labelmap, label = nodes.segment_labelmap(segmentation, segment_id)
    values = numpy_support.vtk_to_numpy(labelmap.GetPointData().GetScalars())
    values[values == label] = 0
    labelmap.Modified()


def test_chart_leaves_missing_ratios_out_as_nan_and_says_so(mrml_scene, synthetic_patient):
    """Review 1k: a lesion without a ratio (and an undetermined aggregate) is NaN in the chart table, not 0."""
    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    _erase(parameters.segmentation, "Lesion 3")
    analysis = logic.update(parameters)
    chart_table = parameters.get_node("ratioChartTable")
    chart = tables.read_table(chart_table)
    index = [name.startswith("Lesion 3") for name in chart["lesion"]].index(True)
    assert math.isnan(chart["ratio"][index])
    assert chart["lesion"][index] == "Lesion 3 (no ratio)" and "not plotted" in chart["note"][index]
    assert "Lesion 3" in chart_table.GetAttribute("Ragaliv.ChartNote")
    others = [i for i in range(len(chart["ratio"])) if i != index]
    assert all(math.isfinite(chart["ratio"][i]) and chart["note"][i] == "" for i in others)
    assert chart["aggregate"][0] == pytest.approx(analysis.summary.lesion_ratio)

    for name in ("Lesion 1", "Lesion 2", "Lesion 4", "Lesion 5"):
        _erase(parameters.segmentation, name)
    analysis = logic.update(parameters)
    assert analysis.summary.lesion_ratio is None
    chart = tables.read_table(chart_table)
    assert all(math.isnan(value) for value in chart["ratio"] + chart["aggregate"])
    assert "undetermined" in chart_table.GetAttribute("Ragaliv.ChartNote")
    series = parameters.get_node("ratioChart").GetNthPlotSeriesNode(2)
    assert "undetermined" in series.GetName()


def test_bone_marrow_union_with_a_segment_drawn_on_another_grid(mrml_scene, synthetic_patient):
    """The existing marrow segment is not on the MRI grid: it is resampled onto it, not a bare ValueError."""
    from ragaliv.geometry import Geometry

    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    segmentation = parameters.segmentation
    mri = synthetic_patient.mri.geometry
    matrix = mri.ijk_to_lps.copy()
    matrix[:3, :3] *= 1.37
    matrix[:3, 3] += 0.3
    other_grid = Geometry(mri.shape_kji, matrix)
    first_centre = np.array([0.0, 62.0, -88.0])  # LPS of the RAS click (0, -62, -88)
    drawn = sphere_segment("Bone marrow", first_centre, 15.0, other_grid)
    segment_id = segmentation.GetSegmentation().GetSegmentIdBySegmentName("Bone marrow")
    nodes.set_segment_mask(segmentation, segment_id, drawn)
    assert not np.allclose(nodes.segment_mask(segmentation, segment_id).geometry.spacing_mm, mri.spacing_mm)

    assert logic.add_organ_voi("Bone marrow", [0.0, -62.0, -54.0], parameters) == segment_id
    union = nodes.segment_mask(segmentation, segment_id)
    assert np.allclose(union.geometry.spacing_mm, mri.spacing_mm)
    single = 4 / 3 * math.pi * 0.75**3
    assert union.volume_ml == pytest.approx(drawn.volume_ml + single, rel=0.1)
    for centre in (first_centre, np.array([0.0, 62.0, -54.0])):
        i, j, k = np.rint(union.geometry.lps_to_index(centre)).astype(int)
        assert union.mask[k, j, i], centre


def test_non_integer_labelmap_is_refused_with_the_segmentation_name(mrml_scene, synthetic_patient):
    import slicer
    import vtk
    from vtk.util import numpy_support

    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    segmentation = parameters.segmentation
    segment_id = segmentation.GetSegmentation().GetSegmentIdBySegmentName("Spleen")
    mask = nodes.segment_mask(segmentation, segment_id)
    image = nodes.oriented_image_from_mask(mask)
    values = numpy_support.numpy_to_vtk(mask.mask.astype(np.float32).ravel(), deep=True, array_type=vtk.VTK_FLOAT)
    image.GetPointData().SetScalars(values)
    segmentation.GetSegmentation().GetSegment(segment_id).AddRepresentation(
        slicer.vtkSegmentationConverter.GetBinaryLabelmapRepresentationName(), image)
    with pytest.raises(RagalivInputError, match=r"Lesions and organs.*Spleen.*float"):
        nodes.segment_masks(segmentation)
    with pytest.raises(RagalivInputError, match="not integer labels"):
        logic.update(parameters)
