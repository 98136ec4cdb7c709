"""The one-click placement state machine of RagalivLesionRatioLib on real MRML (interaction, selection and
markups nodes of slicer-core): arm, complete, cancel, and what is restored afterwards."""

import pytest
import vtk
from RagalivLesionRatioLib.placement import PLACE_NODE_NAME, ClickPlacement


@pytest.fixture
def placement():
    from ragaliv_mrml.headless import create_scene

    scene, app_logic, _ = create_scene()
    deferred = []
    machine = ClickPlacement(scene, app_logic.GetSelectionNode(), app_logic.GetInteractionNode(), deferred.append)
    machine.deferred = deferred
    yield machine
    scene.Clear(True)


def run_deferred(machine):
    while machine.deferred:
        machine.deferred.pop(0)()


def click(machine, ras):
    """What vtkSlicerMarkupsWidget::PlacePoint does: define a control point on the active place node, then go
    back to ViewTransform because place-mode persistence is off."""
    interaction = machine.interaction
    node = machine.scene.GetNodeByID(machine.selection.GetActivePlaceNodeID())
    node.AddControlPointWorld(vtk.vtkVector3d(*ras))
    if not interaction.GetPlaceModePersistence():
        interaction.SetCurrentInteractionMode(interaction.ViewTransform)
    return node


def place_nodes(scene):
    return [scene.GetNthNodeByClass(n, "vtkMRMLMarkupsFiducialNode")
            for n in range(scene.GetNumberOfNodesByClass("vtkMRMLMarkupsFiducialNode"))]


def user_point_list(machine):
    """A user's own point list, active, with persistent place mode (as set in the mouse-mode toolbar)."""
    node = machine.scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "F")
    machine.selection.SetReferenceActivePlaceNodeClassName("vtkMRMLMarkupsFiducialNode")
    machine.selection.SetActivePlaceNodeID(node.GetID())
    machine.interaction.SetPlaceModePersistence(1)
    return node


def test_arm_enters_one_click_place_mode_on_a_temporary_point_list(placement):
    user_point_list(placement)
    placement.arm(lambda ras: None)
    interaction, selection = placement.interaction, placement.selection
    assert placement.armed
    assert interaction.GetCurrentInteractionMode() == interaction.Place
    assert interaction.GetPlaceModePersistence() == 0
    active = placement.scene.GetNodeByID(selection.GetActivePlaceNodeID())
    assert active.GetName() == PLACE_NODE_NAME and not active.GetSaveWithScene() and active.GetHideFromEditors()


def test_click_completes_with_the_position_and_restores_the_user_settings(placement):
    user = user_point_list(placement)
    clicks = []
    placement.arm(clicks.append, lambda: clicks.append("cancelled"))
    temporary = click(placement, (12.5, -40.0, 7.25))
    assert clicks == []  # the action waits until the markups widget is done with its event
    run_deferred(placement)
    assert clicks == [[12.5, -40.0, 7.25]]
    assert not placement.armed
    assert temporary.GetScene() is None  # the "Ragaliv click" list is gone
    assert placement.interaction.GetPlaceModePersistence() == 1  # the user's persistence is back
    assert placement.selection.GetActivePlaceNodeID() == user.GetID()  # and the user's point list is active
    assert [node.GetName() for node in place_nodes(placement.scene)] == ["F"]


@pytest.mark.parametrize("how", ["escape", "toolbar", "editor effect"])
def test_place_mode_ending_without_click_cancels_and_a_later_point_does_nothing(placement, how):
    user = user_point_list(placement)
    clicks = []
    placement.arm(clicks.append, lambda: clicks.append("cancelled"))
    interaction = placement.interaction
    if how == "escape":  # WidgetEventStopPlace: SwitchToViewTransformMode
        interaction.SwitchToViewTransformMode()
    elif how == "toolbar":  # qSlicerMouseModeToolBar: "Toggle Markups Toolbar"/view mode
        interaction.SetCurrentInteractionMode(interaction.ViewTransform)
    else:  # a Segment Editor effect takes the mouse
        interaction.SetCurrentInteractionMode(interaction.ViewTransform)
        interaction.SetCurrentInteractionMode(interaction.AdjustWindowLevel)
    run_deferred(placement)
    assert clicks == ["cancelled"] and not placement.armed
    assert [node.GetName() for node in place_nodes(placement.scene)] == ["F"]
    assert interaction.GetPlaceModePersistence() == 1
    assert placement.selection.GetActivePlaceNodeID() == user.GetID()

    # The user then places a point of their own: it is theirs, not a lesion.
    interaction.SetCurrentInteractionMode(interaction.Place)
    click(placement, (1.0, 2.0, 3.0))
    run_deferred(placement)
    assert clicks == ["cancelled"]
    assert user.GetNumberOfControlPoints() == 1


def test_choosing_another_point_list_cancels_and_keeps_the_users_choice(placement):
    placement.interaction.SetPlaceModePersistence(0)
    clicks = []
    placement.arm(clicks.append, lambda: clicks.append("cancelled"))
    other = placement.scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "Other")
    placement.selection.SetActivePlaceNodeID(other.GetID())
    run_deferred(placement)
    assert clicks == ["cancelled"]
    assert placement.selection.GetActivePlaceNodeID() == other.GetID()
    assert [node.GetName() for node in place_nodes(placement.scene)] == ["Other"]


def test_arming_again_or_cancel_leaves_place_mode_and_one_request_only(placement):
    clicks = []
    placement.arm(lambda ras: clicks.append(("first", ras)), lambda: clicks.append("first cancelled"))
    placement.arm(lambda ras: clicks.append(("second", ras)))
    run_deferred(placement)
    assert clicks == ["first cancelled"]
    assert placement.interaction.GetCurrentInteractionMode() == placement.interaction.Place
    click(placement, (0.0, 0.0, 0.0))
    run_deferred(placement)
    assert clicks == ["first cancelled", ("second", [0.0, 0.0, 0.0])]
    assert place_nodes(placement.scene) == []

    placement.arm(lambda ras: clicks.append(("third", ras)))
    placement.cancel()  # module exit / scene close
    run_deferred(placement)
    assert placement.interaction.GetCurrentInteractionMode() == placement.interaction.ViewTransform
    assert place_nodes(placement.scene) == [] and not placement.armed


def user_line_list(machine):
    """A user's line list, active, with "place multiple" on (the mouse-mode toolbar's persistence)."""
    node = machine.scene.AddNewNodeByClass("vtkMRMLMarkupsLineNode", "L")
    machine.selection.SetReferenceActivePlaceNodeClassName("vtkMRMLMarkupsLineNode")
    machine.selection.SetActivePlaceNodeID(node.GetID())
    machine.interaction.SetPlaceModePersistence(1)
    return node


def assert_user_settings_back(machine, user):
    assert machine.interaction.GetPlaceModePersistence() == 1
    assert machine.selection.GetActivePlaceNodeClassName() == "vtkMRMLMarkupsLineNode"
    assert machine.selection.GetActivePlaceNodeID() == user.GetID()
    assert machine.interaction.GetCurrentInteractionMode() == machine.interaction.ViewTransform
    assert place_nodes(machine.scene) == []


@pytest.mark.parametrize("deferred_first", [True, False], ids=["restore-run-before-click", "click-before-restore"])
def test_rearming_keeps_the_first_requests_user_settings(placement, deferred_first):
    """"Add lesion" then "Healthy liver" (or "Add lesion" twice): the user's settings saved by the first request
    come back after the second one's click, and the superseded request's restore touches nothing but its own
    temporary point list (review of issue 10, defect 2 residue)."""
    user = user_line_list(placement)
    clicks = []
    placement.arm(lambda ras: clicks.append(("first", ras)), lambda: clicks.append("first cancelled"))
    first = placement.node
    placement.arm(lambda ras: clicks.append(("second", ras)))
    second = placement.node
    if deferred_first:
        run_deferred(placement)
        # The superseded request only removed its own point list: the second request is still armed as it was.
        assert first.GetScene() is None and second.GetScene() is placement.scene
        assert placement.armed and placement.selection.GetActivePlaceNodeID() == second.GetID()
        assert placement.interaction.GetPlaceModePersistence() == 0
        assert placement.interaction.GetCurrentInteractionMode() == placement.interaction.Place
    click(placement, (5.0, 6.0, 7.0))
    run_deferred(placement)
    assert clicks == ["first cancelled", ("second", [5.0, 6.0, 7.0])]
    assert_user_settings_back(placement, user)


def test_cancel_then_arm_before_the_restore_ran_keeps_the_user_settings(placement):
    """A new request armed while the previous one's restore is still deferred must not take the temporary
    settings for the user's."""
    user = user_line_list(placement)
    placement.arm(lambda ras: None)
    placement.interaction.SwitchToViewTransformMode()  # Esc: cancelled, restore deferred
    clicks = []
    placement.arm(clicks.append)
    click(placement, (1.0, 1.0, 1.0))
    run_deferred(placement)
    assert clicks == [[1.0, 1.0, 1.0]]
    assert_user_settings_back(placement, user)

    # Armed twice and then cancelled (module exit): the user's settings still come back.
    placement.arm(lambda ras: None)
    placement.arm(lambda ras: None)
    placement.cancel()
    run_deferred(placement)
    assert_user_settings_back(placement, user)


def test_lesion_and_organ_voi_by_click_through_the_lib(mrml_scene, synthetic_patient):
    """The module's "Add lesion" / organ buttons: arm, click, and the Lib adds the segment at the click."""
    from conftest import patient_scene  # Testing/lib/conftest.py

    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    app_logic = mrml_scene.ragalivLogics[0]
    deferred = []
    machine = ClickPlacement(mrml_scene, app_logic.GetSelectionNode(), app_logic.GetInteractionNode(), deferred.append)
    machine.deferred = deferred
    segmentation = parameters.segmentation.GetSegmentation()
    before = segmentation.GetNumberOfSegments()
    added = []
    machine.arm(lambda ras: added.append(logic.add_lesion(ras)))
    centre = synthetic_patient.mri.geometry.index_to_lps(
        [[s / 2 for s in synthetic_patient.mri.geometry.size_ijk]])[0]
    click(machine, (-centre[0], -centre[1], centre[2]))
    run_deferred(machine)
    machine.arm(lambda ras: added.append(logic.add_organ_voi("Spleen", ras)))
    placement_interaction = machine.interaction
    placement_interaction.SwitchToViewTransformMode()  # cancelled: no organ VOI
    run_deferred(machine)
    assert segmentation.GetNumberOfSegments() == before + 1
    assert segmentation.GetSegment(added[0]).GetName() == "Lesion 6"
    assert len(added) == 1
