"""Click placement: the next click in a slice view gives a point in patient coordinates (RAS).

Slicer's own mechanism, as in the Slicer module: a hidden markups point list, the interaction node in Place
mode (not persistent), and the point list's ``PointPositionDefinedEvent``. The click is therefore turned into
a position by Slicer's slice view and markups code, not by the app. The action runs after the markups event
has returned (the module's ``QTimer.singleShot(0)``), through the scheduler's ``soon``.
"""

from typing import Callable, Optional

import slicer

PLACE_NODE_NAME = "Ragaliv click"
INTERACTION_NODE_ID = "vtkMRMLInteractionNodeSingleton"


class ClickPlacement:
    def __init__(self, scene, markups_logic, scheduler, on_armed_changed: Callable[[str], None] = lambda label: None):
        """``markups_logic``: the scene's ``vtkSlicerMarkupsLogic``; ``on_armed_changed(label)`` hears what the
        next click will place ("" when nothing)."""
        self._scene = scene
        self._markups_logic = markups_logic
        self._scheduler = scheduler
        self._on_armed_changed = on_armed_changed
        self._action: Optional[Callable[[list[float]], object]] = None
        self.label = ""
        self.node = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", PLACE_NODE_NAME)
        self.node.CreateDefaultDisplayNodes()
        self.node.SetSaveWithScene(False)
        self.node.SetHideFromEditors(True)
        self.node.AddObserver(slicer.vtkMRMLMarkupsNode.PointPositionDefinedEvent, self._on_point_defined)

    @property
    def interaction_node(self):
        return self._scene.GetNodeByID(INTERACTION_NODE_ID)

    def arm(self, label: str, action: Callable[[list[float]], object]) -> None:
        """The next click in a slice view calls ``action(click_ras)``; ``label`` says what it will place."""
        self._action, self.label = action, label
        self.node.RemoveAllControlPoints()
        self._markups_logic.SetActiveList(self.node)
        interaction = self.interaction_node
        interaction.SetPlaceModePersistence(0)
        interaction.SetCurrentInteractionMode(interaction.Place)
        self._on_armed_changed(label)

    def disarm(self) -> None:
        """Cancel a pending placement and give the views back to navigation."""
        self._action, self.label = None, ""
        interaction = self.interaction_node
        if interaction.GetCurrentInteractionMode() == interaction.Place:
            interaction.SetCurrentInteractionMode(interaction.ViewTransform)
        self._on_armed_changed("")

    def _on_point_defined(self, caller, event) -> None:
        count = self.node.GetNumberOfControlPoints()
        if self._action is None or count == 0:
            return
        position = [0.0, 0.0, 0.0]
        self.node.GetNthControlPointPositionWorld(count - 1, position)
        action = self._action
        self.disarm()
        self._scheduler.soon(lambda: self._run(action, position))

    def _run(self, action, position) -> None:
        self.node.RemoveAllControlPoints()
        action(position)
