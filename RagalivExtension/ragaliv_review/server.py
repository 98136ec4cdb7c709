"""The review web app: trame-slicer's Slicer application (scene, slice views, markups, segment editor) served
by a trame server, wired to one reading session. One process holds one scene: it serves one reader.

Page state (names the page and the end-to-end tests read): ``rows``, ``columns``, ``decision``, ``rule``,
``eligible``, ``warnings``, ``refusal``, ``update_count`` (see :mod:`ragaliv_review.table_state`);
``armed`` (what the next click places); ``view_geometry`` (per view: ``xy_to_ras``, ``size``, ``offset_mm``,
so that a client can map its pixels to patient coordinates); ``saved_folder`` and ``saved_files``.
"""

import asyncio
import logging
import os
import socket
import time
from typing import Any, Optional

import slicer
from ragaliv.errors import RagalivInputError
from ragaliv.ratio.placement import next_lesion_name
from trame.app import get_server
from trame_slicer import module as trame_slicer_module
from trame_slicer.core import LayoutManager, SlicerApp
from trame_slicer.rca_view import register_rca_factories
from trame_slicer.views import Layout, LayoutDirection, ViewLayoutDefinition

from . import display
from .editing import DEFAULT_BRUSH_MM, SegmentCorrection
from .inputs import ReviewInputs
from .layout import build_page, slice_view_gutter
from .lib import lesion_ratio_lib
from .loading import load_reading
from .placement import ClickPlacement
from .reading import ReadingSession, internal_error_text
from .scheduling import AsyncioScheduler

logger = logging.getLogger(__name__)

AXIAL, CORONAL = "Red", "Green"  # trame-slicer's axial and coronal slice views
EXTRA_LOGICS = ("vtkSlicerTablesLogic", "vtkSlicerPlotsLogic")  # the Lib writes table and plot nodes
OFFSET_TOLERANCE_MM = 0.005  # the page shows slice positions to 0.001 mm
PLACEMENT_SETTINGS = {"placement_mode": "placementMode", "lesion_diameter_mm": "lesionDiameterMm",
                      "contour_percent": "contourPercent", "contour_radius_mm": "contourRadiusMm"}


def _number(value) -> Optional[float]:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # not NaN


def use_offscreen_rendering() -> None:
    """Without an X display, render with EGL straight away (VTK would try X first and warn)."""
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


class ReviewApp:
    def __init__(self, inputs: ReviewInputs, server=None, scheduler=None):
        use_offscreen_rendering()
        self.inputs = inputs
        self.server = server or get_server(client_type="vue3")
        self.server.enable_module(trame_slicer_module)
        self.state, self.ctrl = self.server.state, self.server.controller
        self.scheduler = scheduler or AsyncioScheduler()
        self.slicer_app = SlicerApp()
        for class_name in EXTRA_LOGICS:
            self.slicer_app.register_module_logic(getattr(slicer, class_name)())
        register_rca_factories(self.slicer_app.view_manager, self.server, slice_view_ui_f=slice_view_gutter)
        self.layout_manager = LayoutManager(self.scene, self.slicer_app.view_manager, self.server)
        self.layout_manager.register_layout_dict({"reading": Layout(
            LayoutDirection.Horizontal, [ViewLayoutDefinition.axial_view(), ViewLayoutDefinition.coronal_view()])})
        self.layout_manager.set_layout("reading")

        self.logic = lesion_ratio_lib().LesionRatioLogic(self.scene)
        self.loaded = load_reading(self.scene, inputs, self.logic)
        self._initial_state()
        self.session = ReadingSession(self.logic, self.loaded, inputs, self.scheduler, self.publish)
        markups_logic = self.slicer_app.app_logic.GetModuleLogic("Markups")
        self.placement = ClickPlacement(self.scene, markups_logic, self.scheduler,
                                        lambda label: self.publish({"armed": label}))
        self.correction = SegmentCorrection(self.slicer_app.segmentation_editor, self.loaded.segmentation,
                                            self.reference_volume)
        self.correction.undo_stack.index_changed.connect(lambda *_: self._publish_undo())
        self._show_fusion()
        self._set_pet_window(self.state.pet_window)
        for view in self.slice_views:
            view.fit_view_to_content()
            view.get_view_node().AddObserver("ModifiedEvent", lambda *_: self._publish_views())
        self._bind()
        self.page = build_page(self.server, self.layout_manager, inputs.title)
        self.session.refresh()
        self._publish_views()

    # --- access ------------------------------------------------------------------------------------------------
    @property
    def scene(self):
        return self.slicer_app.scene

    @property
    def slice_views(self) -> list:
        return [self.slicer_app.view_manager.get_view(tag) for tag in (AXIAL, CORONAL)]

    @property
    def parameters(self):
        return self.loaded.parameters

    @property
    def reference_volume(self):
        """What the lesions are drawn on: the MRI, or the IA PET when no MRI was given."""
        return self.loaded.mri if self.loaded.mri is not None else self.loaded.ia_pet

    def publish(self, changes: dict[str, Any]) -> None:
        """Page state from the session and the views (sent to the browser when the block exits)."""
        if "rows" in changes:
            changes = dict(changes, segment_items=self._segment_items())
            if self.state.selected_segment_id and not any(
                    item["value"] == self.state.selected_segment_id for item in changes["segment_items"]):
                changes["selected_segment_id"] = None
        with self.state:
            self.state.update(changes)

    # --- state -------------------------------------------------------------------------------------------------
    def _initial_state(self) -> None:
        parameters = self.parameters
        self.state.update({
            "trame__title": "Ragaliv Review",
            "rows": [], "columns": [], "decision": "", "rule": "", "eligible": None, "lesion_ratio": None,
            "lesion_count": 0, "warnings": list(self.loaded.warnings), "refusal": "", "update_count": 0,
            "update_seconds": 0.0, "recomputed": [],
            "pet_shown": "IA", "fusion_opacity": display.DEFAULT_OPACITY, "pet_window": display.DEFAULT_PET_WINDOW,
            "axial_mm": 0.0, "coronal_mm": 0.0, "view_geometry": {},
            "armed": "", "placement_mode": parameters.get("placementMode"),
            "lesion_diameter_mm": parameters.get("lesionDiameterMm"),
            "contour_percent": parameters.get("contourPercent"),
            "contour_radius_mm": parameters.get("contourRadiusMm"),
            "segment_items": [], "selected_segment_id": None, "tool": "none", "brush_mm": DEFAULT_BRUSH_MM,
            "can_undo": False, "can_redo": False,
            "metric": parameters.get("metric"), "aggregate": parameters.get("aggregate"),
            "threshold": parameters.get("threshold"),
            "reader": self.inputs.reader, "saving": False, "saved_folder": "", "saved_files": [],
        })

    def _guarded(self, handler):
        """``handler`` with its unexpected errors shown to the reader (trame would only log them)."""

        def run(*args, **kwargs):
            try:
                return handler(*args, **kwargs)
            except Exception as error:  # never a silent failure
                logger.exception("ragaliv review: internal error")
                self.publish({"refusal": internal_error_text(error)})
                return None

        return run

    def _bind(self) -> None:
        state, ctrl, guarded = self.state, self.ctrl, self._guarded
        changes = {
            ("pet_shown", "fusion_opacity"): lambda **_: self._show_fusion(),
            ("pet_window",): lambda pet_window, **_: self._set_pet_window(pet_window),
            ("axial_mm",): lambda axial_mm, **_: self._set_offset(AXIAL, axial_mm),
            ("coronal_mm",): lambda coronal_mm, **_: self._set_offset(CORONAL, coronal_mm),
            ("selected_segment_id",): lambda selected_segment_id, **_: self._select(selected_segment_id),
            ("tool",): lambda tool, **_: self._set_tool(tool),
            ("brush_mm",): lambda brush_mm, **_: self._set_brush(brush_mm),
        }
        for name in ("metric", "aggregate", "threshold"):
            changes[(name,)] = lambda _setting=name, **values: self._set_rule(_setting, values[_setting])
        for name in PLACEMENT_SETTINGS:
            changes[(name,)] = lambda _setting=name, **values: self._set_placement(_setting, values[_setting])
        for names, handler in changes.items():
            state.change(*names)(guarded(handler))
        ctrl.arm_lesion = guarded(self.arm_lesion)
        ctrl.arm_organ = guarded(self.arm_organ)
        ctrl.disarm = guarded(self.placement.disarm)
        ctrl.undo = guarded(self.correction.undo)
        ctrl.redo = guarded(self.correction.redo)
        ctrl.remove_segment = guarded(self.remove_selected_segment)
        ctrl.save = self.save  # the session reports its own errors

    # --- display -----------------------------------------------------------------------------------------------
    def _show_fusion(self) -> None:
        """The chosen PET over the MRI; without an MRI, the chosen PET alone."""
        pet = self.loaded.ia_pet if self.state.pet_shown == "IA" else self.loaded.iv_pet
        if self.loaded.mri is not None:
            display.show_fusion(self.slice_views, self.loaded.mri, pet, self.state.fusion_opacity)
        else:
            display.show_fusion(self.slice_views, pet, None, self.state.fusion_opacity)

    def _set_pet_window(self, key: str) -> None:
        if key in display.PET_WINDOWS_SUV:
            display.set_pet_window([self.loaded.ia_pet, self.loaded.iv_pet], *display.PET_WINDOWS_SUV[key])

    def _set_offset(self, tag: str, value) -> None:
        offset = _number(value)
        if offset is None:
            return  # a half-typed number: wait for the rest
        view = self.slicer_app.view_manager.get_view(tag)
        if abs(view.get_slice_value() - offset) > OFFSET_TOLERANCE_MM:
            view.set_slice_value(offset)

    def _publish_views(self) -> None:
        geometry = {tag: display.slice_geometry(self.slicer_app.view_manager.get_view(tag)) for tag in (AXIAL, CORONAL)}
        self.publish({"view_geometry": geometry, "axial_mm": round(geometry[AXIAL]["offset_mm"], 3),
                      "coronal_mm": round(geometry[CORONAL]["offset_mm"], 3)})

    # --- placing -----------------------------------------------------------------------------------------------
    def _segment_names(self) -> list[str]:
        segmentation = self.loaded.segmentation.GetSegmentation()
        return [segmentation.GetSegment(sid).GetName() for sid in segmentation.GetSegmentIDs()]

    def arm_lesion(self) -> None:
        """The next click places the next "Lesion n"."""
        self._arm(next_lesion_name(self._segment_names()), self.session.add_lesion)

    def arm_organ(self, name: str) -> None:
        """The next click places the organ VOI ``name``."""
        self._arm(name, lambda ras: self.session.add_organ_voi(name, ras))

    def _arm(self, label: str, place) -> None:
        if self.state.tool != "none":
            self.publish({"tool": "none"})
            self._set_tool("none")

        def placed(ras):
            segment_id = place(ras)
            if segment_id:
                self._forget_strokes()
                self.publish({"selected_segment_id": segment_id})

        self.placement.arm(label, placed)

    # --- correcting ----------------------------------------------------------------------------------------------
    def _segment_items(self) -> list[dict[str, str]]:
        segmentation = self.loaded.segmentation.GetSegmentation()
        return [{"title": segmentation.GetSegment(sid).GetName(), "value": sid}
                for sid in segmentation.GetSegmentIDs()]

    def _select(self, segment_id: Optional[str]) -> None:
        segmentation = self.loaded.segmentation
        if not segment_id or segmentation.GetSegmentation().GetSegment(segment_id) is None:
            self.correction.select_segment("")
            self._set_tool("none")
            return
        self.correction.select_segment(segment_id)
        if self.state.tool != "none":
            self.correction.set_tool(self.state.tool)
        centre = display.segment_centre_ras(segmentation, segment_id)
        if centre is not None:
            display.jump_to(self.slice_views, centre)

    def _set_tool(self, tool: str) -> None:
        if tool != "none":
            self.placement.disarm()
        self.correction.set_tool(tool if tool in ("paint", "erase") else "none")
        if self.correction.tool != tool:
            self.publish({"tool": self.correction.tool})

    def _set_brush(self, value) -> None:
        diameter = _number(value)
        if diameter is not None and diameter > 0:
            self.correction.set_brush_mm(diameter)

    def _publish_undo(self) -> None:
        stack = self.correction.undo_stack
        self.publish({"can_undo": stack.can_undo(), "can_redo": stack.can_redo()})

    def remove_selected_segment(self) -> None:
        segment_id = self.state.selected_segment_id
        if segment_id:
            self._set_tool("none")
            self.publish({"tool": "none", "selected_segment_id": None})
            self.session.remove_segment(segment_id)
            self._forget_strokes()

    def _forget_strokes(self) -> None:
        """Undo restores the whole segmentation as it was before a stroke, so after a placement or a removal
        it would also take that back: the strokes before it can no longer be undone."""
        self.correction.undo_stack.clear()
        self._publish_undo()

    # --- rule --------------------------------------------------------------------------------------------------
    def _set_rule(self, name: str, value) -> None:
        if name == "threshold":
            value = _number(value)
            if value is None:
                return  # a half-typed number
        if value == self.parameters.get(name):
            return
        self.session.set_setting(name, value)
        self.publish({name: self.parameters.get(name)})  # a refused value goes back to the one in use

    def _set_placement(self, name: str, value) -> None:
        setting = PLACEMENT_SETTINGS[name]
        if setting != "placementMode":
            value = _number(value)
            if value is None or value <= 0:
                return
        if value != self.parameters.get(setting):
            self.session.set_setting(setting, value)

    # --- saving ------------------------------------------------------------------------------------------------
    async def save(self) -> None:
        """"Save reading": refused without a reader name; the folder is shown when written."""
        self.publish({"saving": True, "saved_folder": "", "saved_files": []})
        await asyncio.sleep(0.05)  # let the page show that it is saving before the work blocks the loop
        try:
            paths = self.session.save(self.state.reader or "")
        finally:
            self.publish({"saving": False})
        if paths:
            folder = os.path.dirname(paths["provenance"])
            self.publish({"saved_folder": folder,
                          "saved_files": sorted(os.path.relpath(path, folder) for path in paths.values())})


def check_port_free(host: str, port: int) -> None:
    """Refuse a port another server (another reader's) listens on, before spending seconds loading images."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the web server binds
        try:
            probe.bind((host, port))
        except OSError as error:
            raise RagalivInputError(
                f"Cannot listen on {host}:{port} ({error.strerror}).",
                "Another `ragaliv review` (another reader) or another program uses this port: give --port.",
            ) from None


def serve(inputs: ReviewInputs, host: str = "127.0.0.1", port: int = 8080) -> int:
    """Load the reading and serve it until the process is stopped (Ctrl+C)."""
    check_port_free(host, port)
    started = time.perf_counter()
    app = ReviewApp(inputs, get_server(client_type="vue3"))
    print(f"Ragaliv Review: {inputs.title} loaded in {time.perf_counter() - started:.1f} s. "
          f"Open http://{host}:{port}/ in a web browser (one reader per process; Ctrl+C stops).", flush=True)
    app.server.start(host=host, port=port, open_browser=False, show_connection_info=False, timeout=0)
    return 0
