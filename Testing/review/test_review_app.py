"""Server side, no browser: the whole web app (trame-slicer views, Slicer's markups placement and segment
editor) built on the synthetic patient, driven through the slice views' interactors as the browser's
mouse events drive them, without a web server."""

import itertools
import json

import numpy as np
import pytest
from conftest import inputs_for, lesion_click_ras

pytestmark = pytest.mark.mrml

_servers = itertools.count()


@pytest.fixture
def app(synthetic_patient_dir, tmp_path, scheduler):
    from ragaliv_review.server import ReviewApp
    from trame.app import get_server

    inputs = inputs_for(synthetic_patient_dir, "--no-segmentation", "-o", tmp_path / "readings")
    review = ReviewApp(inputs, get_server(f"review-test-{next(_servers)}", client_type="vue3"), scheduler)
    review.state.ready()  # what starting the server does: state changes now reach the app's handlers
    yield review
    review.session.live.stop()


@pytest.fixture
def truth(synthetic_patient_dir):
    return json.loads((synthetic_patient_dir / "truth.json").read_text())


def display_xy(view, ras):
    """The view's pixel (from its bottom-left corner) that shows ``ras``."""
    import vtk

    ras_to_xy = vtk.vtkMatrix4x4()
    ras_to_xy.DeepCopy(view.get_view_node().GetXYToRAS())
    ras_to_xy.Invert()
    x, y, _, _ = ras_to_xy.MultiplyPoint((*ras, 1.0))
    return round(x), round(y)


def click(view, ras):
    interactor = view.interactor()
    interactor.SetEventPosition(*display_xy(view, ras))
    for event in ("MouseMoveEvent", "LeftButtonPressEvent", "LeftButtonReleaseEvent"):
        interactor.InvokeEvent(event)


def drag(view, start_ras, end_ras, steps=12):
    interactor = view.interactor()
    (x0, y0), (x1, y1) = display_xy(view, start_ras), display_xy(view, end_ras)
    interactor.SetEventPosition(x0, y0)
    interactor.InvokeEvent("MouseMoveEvent")
    interactor.InvokeEvent("LeftButtonPressEvent")
    for t in np.linspace(0.0, 1.0, steps):
        interactor.SetEventPosition(round(float(x0 + t * (x1 - x0))), round(float(y0 + t * (y1 - y0))))
        interactor.InvokeEvent("MouseMoveEvent")
    interactor.InvokeEvent("LeftButtonReleaseEvent")


def rows(app):
    return {row["segment"]: row for row in app.state.rows}


def axial(app, s_mm):
    app.state.axial_mm = s_mm
    app.state.flush()  # as when the page changes the field
    view = app.slice_views[0]
    assert view.get_slice_value() == pytest.approx(s_mm)
    return view


def test_a_click_in_the_axial_view_places_the_lesion_at_the_click(app, truth, scheduler):
    ras = lesion_click_ras(truth, "Lesion 3")  # 22 mm across, its uptake 22/2 + 9 mm around its centre
    view = axial(app, ras[2])
    app.arm_lesion()
    assert app.state.armed == "Lesion 1"
    click(view, ras)
    scheduler.run()
    assert app.state.armed == ""  # one click, one segment
    row = rows(app)["Lesion 1"]
    for scan in ("ia", "iv"):
        for metric in ("suvmax", "suvmean", "suvpeak"):
            assert row[f"{scan}_{metric}"] == pytest.approx(truth["segments"]["Lesion 3"][scan][metric], rel=0.02)
    assert row["volume_ml"] == pytest.approx(4 / 3 * np.pi * 1.0**3, rel=0.05)  # the 20 mm sphere
    assert app.state.selected_segment_id == row["segment_id"]  # ready for correction
    from ragaliv_review.display import segment_centre_ras

    centre = segment_centre_ras(app.loaded.segmentation, row["segment_id"])
    assert np.allclose(centre, ras, atol=1.0)  # where the click was (the MRI voxel is 1.5 x 1.5 x 3 mm)
    assert app.placement.node.GetNumberOfControlPoints() == 0


def test_an_organ_voi_in_one_click_and_the_automatic_pet_contour(app, truth, scheduler):
    view = axial(app, 75.0)
    app.arm_organ("Healthy liver")
    click(view, [75.0, -25.0, 75.0])
    scheduler.run()
    liver = rows(app)["Healthy liver"]
    assert liver["volume_ml"] == pytest.approx(4 / 3 * np.pi * 1.5**3, rel=0.05)  # the 3 cm preset
    assert liver["ia_suvmean"] == pytest.approx(truth["segments"]["Healthy liver"]["ia"]["suvmean"], rel=1e-3)

    ras = lesion_click_ras(truth, "Lesion 1")
    view = axial(app, ras[2])
    app.state.update({"placement_mode": "auto", "contour_radius_mm": 40})
    app.state.flush()
    app.arm_lesion()
    click(view, ras)
    scheduler.run()
    contour = rows(app)["Lesion 1"]
    halo_radius_cm = (40.0 / 2 + truth["uptake_margin_mm"]) / 10
    # The 40 % contour of a uniform hot sphere is that sphere (up to PET voxelisation).
    assert contour["volume_ml"] == pytest.approx(4 / 3 * np.pi * halo_radius_cm**3, rel=0.15)
    assert contour["tumour_to_liver_ia"] == pytest.approx(contour["ia_suvmax"] / liver["ia_suvmean"], rel=1e-3)


def test_a_paint_stroke_changes_that_row_only_and_undo_restores_it(app, truth, scheduler):
    app.session.add_organ_voi("Healthy liver", [75.0, -25.0, 75.0])
    ras = lesion_click_ras(truth, "Lesion 1")
    lesion_id = app.session.add_lesion(ras)
    scheduler.run()
    before = rows(app)
    view = axial(app, ras[2])
    app.state.update({"selected_segment_id": lesion_id, "tool": "paint", "brush_mm": 10})
    app.state.flush()
    assert app.correction.tool == "paint" and app.correction.segment_id == lesion_id
    drag(view, ras, [ras[0] - 20.0, ras[1] - 33.0, ras[2]])  # from the centre out into the liver
    scheduler.run()
    after = rows(app)
    assert app.state.recomputed == ["Lesion 1"]
    assert after["Healthy liver"] == before["Healthy liver"]
    assert after["Lesion 1"]["volume_ml"] > before["Lesion 1"]["volume_ml"] + 0.5
    assert after["Lesion 1"]["ia_suvmean"] < before["Lesion 1"]["ia_suvmean"]  # liver voxels joined the lesion
    assert after["Lesion 1"]["ia_suvmax"] == before["Lesion 1"]["ia_suvmax"]
    assert app.state.can_undo
    app.correction.undo()
    scheduler.run()
    assert rows(app)["Lesion 1"]["volume_ml"] == pytest.approx(before["Lesion 1"]["volume_ml"])
    app.state.update({"tool": "erase"})
    app.state.flush()
    drag(view, [ras[0] - 5.0, ras[1], ras[2]], [ras[0] + 5.0, ras[1], ras[2]])
    scheduler.run()
    erased = rows(app)["Lesion 1"]["volume_ml"]
    assert erased < before["Lesion 1"]["volume_ml"] and app.state.can_undo
    # Undo restores the whole segmentation of before the stroke: after a placement it would remove the new
    # segment too, so a placement ends the strokes' undo history.
    app.arm_organ("Spleen")
    spleen_ras = [-100.0, -50.0, 100.0]  # LPS (100, 50, 100): the spleen's centre
    click(axial(app, spleen_ras[2]), spleen_ras)
    scheduler.run()
    assert "Spleen" in rows(app) and not app.state.can_undo
    app.correction.undo()
    scheduler.run()
    assert "Spleen" in rows(app) and rows(app)["Lesion 1"]["volume_ml"] == erased


def test_fusion_toggle_and_pet_windows_in_suv(app):
    from trame_slicer.views import SliceLayer

    loaded = app.loaded
    for view in app.slice_views:
        assert view.get_layer_volume_id(SliceLayer.Background) == loaded.mri.GetID()
        assert view.get_layer_volume_id(SliceLayer.Foreground) == loaded.ia_pet.GetID()
    app.state.update({"pet_shown": "IV", "pet_window": "0-40", "fusion_opacity": 0.7})
    app.state.flush()
    for view in app.slice_views:
        assert view.get_layer_volume_id(SliceLayer.Foreground) == loaded.iv_pet.GetID()
        assert view.get_foreground_opacity() == pytest.approx(0.7)
    for pet in (loaded.ia_pet, loaded.iv_pet):
        display = pet.GetDisplayNode()
        assert (display.GetWindowLevelMin(), display.GetWindowLevelMax()) == pytest.approx((0.0, 40.0))


def test_a_click_placement_can_be_cancelled_and_painting_cancels_it(app, truth, scheduler):
    ras = lesion_click_ras(truth, "Lesion 2")
    view = axial(app, ras[2])
    app.arm_lesion()
    app.placement.disarm()
    click(view, ras)
    scheduler.run()
    assert app.state.rows == [] and app.state.armed == ""
    interaction = app.placement.interaction_node
    assert interaction.GetCurrentInteractionMode() == interaction.ViewTransform
    app.session.add_lesion(ras)
    scheduler.run()
    app.state.selected_segment_id = app.state.rows[0]["segment_id"]
    app.state.flush()
    app.arm_organ("Spleen")
    app.state.tool = "paint"
    app.state.flush()
    assert app.state.armed == ""  # painting and placing never share a click


def test_view_geometry_tells_clients_where_patient_points_are(app):
    geometry = app.state.view_geometry
    for tag, orientation in (("Red", "Axial"), ("Green", "Coronal")):
        view = app.slicer_app.view_manager.get_view(tag)
        matrix = np.array(geometry[tag]["xy_to_ras"]).reshape(4, 4)
        assert geometry[tag]["orientation"] == orientation
        assert geometry[tag]["size"] == list(view.render_window().GetSize())
        centre = matrix @ np.array([geometry[tag]["size"][0] / 2, geometry[tag]["size"][1] / 2, 0.0, 1.0])
        normal_axis = 2 if orientation == "Axial" else 1
        assert centre[normal_axis] == pytest.approx(geometry[tag]["offset_mm"])


def test_an_unexpected_error_in_a_page_action_is_shown_not_swallowed(app, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("brush pipeline missing")

    monkeypatch.setattr(app.correction, "set_tool", broken)
    app.state.tool = "paint"
    app.state.flush()
    assert app.state.refusal.startswith("Internal error (RuntimeError: brush pipeline missing)")


def test_without_an_mri_the_ia_pet_is_shown_and_drawn_on(synthetic_patient_dir, tmp_path, scheduler, truth):
    from ragaliv_review.server import ReviewApp
    from trame.app import get_server
    from trame_slicer.views import SliceLayer

    inputs = inputs_for("--ia", synthetic_patient_dir / "pet_ia", "--iv", synthetic_patient_dir / "pet_iv",
                        "-o", tmp_path)
    app = ReviewApp(inputs, get_server(f"review-test-{next(_servers)}", client_type="vue3"), scheduler)
    app.state.ready()
    try:
        view = app.slice_views[0]
        assert view.get_layer_volume_id(SliceLayer.Background) == app.loaded.ia_pet.GetID()
        assert view.get_layer_volume_id(SliceLayer.Foreground) is None
        ras = lesion_click_ras(truth, "Lesion 2")
        axial(app, ras[2])
        app.arm_lesion()
        click(view, ras)
        scheduler.run()
        row = rows(app)["Lesion 1"]
        assert row["ia_suvmean"] == pytest.approx(truth["segments"]["Lesion 2"]["ia"]["suvmean"], rel=0.02)
    finally:
        app.session.live.stop()
