"""One click in a view -> a position, through Slicer's Place mode (no Qt; tested on slicer-core).

Slicer's recipe for "click to place" (Markups module, ``qSlicerMouseModeToolBar``): make a point list the
active place node of the selection node, then switch the interaction node to Place. The markups widget then
defines a control point on the next click (``PointPositionDefinedEvent``) and, without place-mode
persistence, goes back to ViewTransform (``vtkSlicerMarkupsWidget::PlacePoint``, 5.8 to 5.12).

Place mode also ends *without* a click: Esc or right-click (``WidgetEventStopPlace``), the mouse-mode
toolbar, or an editor effect that switches to ViewTransform. Then the request is cancelled here, so the next
point the user places anywhere never becomes a lesion. Whatever ends the request, the user's place-mode
persistence, active place node class and active place node come back, and the temporary "Ragaliv click"
point list is removed.

Removing that point list inside its own event would delete it while the markups widget still uses it, and
a dialog raised by the click's action inside a VTK event is fragile: both are ``defer``-red (in Slicer a
zero-delay ``qt.QTimer.singleShot``; in tests a list of callables run by the test).

The user's settings are saved once, by the first request, and held until they are restored: a request
armed while another is armed ("Add lesion" then "Healthy liver"), or while a finished request's restore is
still deferred, keeps them instead of saving the temporary ones. A restore that runs while a newer request
is armed, or while another restore is still pending, only removes its own temporary point list.
"""

from collections.abc import Sequence
from typing import Callable, Optional

import slicer

PLACE_NODE_NAME = "Ragaliv click"
POINT_LIST_CLASS = "vtkMRMLMarkupsFiducialNode"


class ClickPlacement:
    """Arm Place mode for one click; ``on_click(ras)`` runs after the click, ``on_cancel()`` when Place mode
    ended without one. One request at a time: arming again cancels the previous request."""

    def __init__(self, scene, selection_node, interaction_node, defer: Callable[[Callable[[], None]], None]):
        self.scene = scene
        self.selection = selection_node
        self.interaction = interaction_node
        self._defer = defer
        self.node = None
        self._on_click: Optional[Callable[[Sequence[float]], None]] = None
        self._on_cancel: Optional[Callable[[], None]] = None
        # The user's (persistence, active place node class, active place node ID): saved by the first request,
        # held while a request is armed or a restore is pending, and cleared when restored.
        self._user_settings: Optional[tuple] = None
        self._pending_restores = 0
        self._tags: list[tuple[object, int]] = []
        self.state = "idle"  # "armed" while waiting for the click; "idle" otherwise

    @property
    def armed(self) -> bool:
        return self.state == "armed"

    def arm(self, on_click: Callable[[Sequence[float]], None], on_cancel: Optional[Callable[[], None]] = None) -> None:
        """Create the temporary point list, make it the active place node and switch to Place mode (one click)."""
        self.cancel()
        interaction, selection = self.interaction, self.selection
        live = (interaction.GetPlaceModePersistence(), selection.GetActivePlaceNodeClassName(),
                selection.GetActivePlaceNodeID())
        if self._user_settings is None:
            self._user_settings = live
        elif self._user_settings[1] is None:  # the user chose another point list meanwhile: that one comes back
            self._user_settings = (self._user_settings[0], live[1], live[2])
        node = self.scene.AddNewNodeByClass(POINT_LIST_CLASS, PLACE_NODE_NAME)
        node.CreateDefaultDisplayNodes()
        node.SetSaveWithScene(False)
        node.SetHideFromEditors(True)  # not in the Data module or the node selectors
        self.node, self._on_click, self._on_cancel = node, on_click, on_cancel
        selection.SetReferenceActivePlaceNodeClassName(POINT_LIST_CLASS)
        selection.SetActivePlaceNodeID(node.GetID())
        interaction.SetPlaceModePersistence(0)
        self.state = "armed"
        # Observed only after our own changes above, so they do not cancel the request.
        self._tags = [
            (node, node.AddObserver(slicer.vtkMRMLMarkupsNode.PointPositionDefinedEvent, self._on_point_defined)),
            (interaction, interaction.AddObserver(interaction.InteractionModeChangedEvent, self._on_mode_changed)),
            (selection, selection.AddObserver(selection.ActivePlaceNodeIDChangedEvent, self._on_place_node_changed)),
        ]
        interaction.SetCurrentInteractionMode(interaction.Place)

    def cancel(self) -> None:
        """End a pending request (module exit, scene close, a new request): leave Place mode if it is ours."""
        if self.state != "armed":
            return
        if self.interaction.GetCurrentInteractionMode() == self.interaction.Place and \
                self.selection.GetActivePlaceNodeID() == (self.node.GetID() if self.node else None):
            self._stop_observing()  # our own mode change below must not come back here
            self.interaction.SetCurrentInteractionMode(self.interaction.ViewTransform)
        self._finish(cancelled=True)

    # --- events ------------------------------------------------------------------------------------------
    def _on_point_defined(self, caller, event) -> None:
        if self.state != "armed" or caller is not self.node or caller.GetNumberOfControlPoints() == 0:
            return
        ras = [0.0, 0.0, 0.0]
        caller.GetNthControlPointPositionWorld(caller.GetNumberOfControlPoints() - 1, ras)
        on_click = self._on_click
        # The markups widget switches to ViewTransform right after this event (persistence 0): stop observing
        # first, so that this is not taken for a cancel; restore and clean up once the widget is done.
        self._stop_observing()
        self.state = "idle"
        node = self.node
        self._clear()
        self._defer_restore(node)
        if on_click is not None:
            self._defer(lambda: on_click(ras))

    def _on_mode_changed(self, caller, event) -> None:
        if self.state == "armed" and self.interaction.GetCurrentInteractionMode() != self.interaction.Place:
            self._finish(cancelled=True)

    def _on_place_node_changed(self, caller, event) -> None:
        if self.state == "armed" and self.selection.GetActivePlaceNodeID() != self.node.GetID():
            self._finish(cancelled=True, restore_place_node=False)  # the user chose another point list

    # --- helpers -----------------------------------------------------------------------------------------
    def _finish(self, cancelled: bool, restore_place_node: bool = True) -> None:
        self._stop_observing()
        self.state = "idle"
        node, on_cancel = self.node, self._on_cancel
        if not restore_place_node and self._user_settings is not None:
            self._user_settings = (self._user_settings[0], None, None)
        self._clear()
        self._defer_restore(node)
        if cancelled and on_cancel is not None:
            self._defer(on_cancel)

    def _stop_observing(self) -> None:
        for observed, tag in self._tags:
            observed.RemoveObserver(tag)
        self._tags = []

    def _clear(self) -> None:
        self.node, self._on_click, self._on_cancel = None, None, None

    def _defer_restore(self, node) -> None:
        self._pending_restores += 1
        self._defer(lambda: self._restore(node))

    def _restore(self, node) -> None:
        """The temporary point list removed; the user's persistence and active place node back, unless a newer
        request is armed or another restore is still pending (the last one restores them)."""
        self._pending_restores -= 1
        if not self.armed and self._pending_restores <= 0 and self._user_settings is not None:
            persistence, class_name, place_node_id = self._user_settings
            self._user_settings = None
            self.interaction.SetPlaceModePersistence(persistence)
            if class_name is not None and self.selection.GetActivePlaceNodeID() == (node.GetID() if node else None):
                if class_name:
                    self.selection.SetReferenceActivePlaceNodeClassName(class_name)
                previous = self.scene.GetNodeByID(place_node_id) if place_node_id else None
                self.selection.SetActivePlaceNodeID(previous.GetID() if previous is not None else None)
        if node is not None and node.GetScene() is not None:
            node.GetScene().RemoveNode(node)
