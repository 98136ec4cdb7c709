"""Paint and erase correction of a segment, with undo: trame-slicer's segmentation editor (Slicer's segment
editor logic and brush pipelines) on the reading's segmentation. The Lib sees the edits through its live
updater (segment events), exactly as it sees edits of the Segment Editor in Slicer."""

from trame_slicer.segmentation import (
    BrushDiameterMode,
    SegmentationEffectErase,
    SegmentationEffectPaint,
)
from undo_stack import UndoStack

TOOLS = {"none": None, "paint": SegmentationEffectPaint, "erase": SegmentationEffectErase}
DEFAULT_BRUSH_MM = 10.0
UNDO_STEPS = 10  # each step keeps two copies of the whole segmentation (trame-slicer's undo command)


class SegmentCorrection:
    def __init__(self, editor, segmentation_node, reference_volume_node):
        """``editor``: the app's trame-slicer ``SegmentationEditor``; the brush works on the grid of
        ``reference_volume_node`` (the MRI the lesions are drawn on)."""
        self.editor = editor
        self.undo_stack = UndoStack(undo_limit=UNDO_STEPS)
        editor.set_undo_stack(self.undo_stack)
        editor.set_active_segmentation(segmentation_node, reference_volume_node)
        self.tool = "none"
        self.brush_mm = DEFAULT_BRUSH_MM

    def select_segment(self, segment_id: str) -> None:
        self.editor.set_active_segment_id(segment_id)

    @property
    def segment_id(self) -> str:
        return self.editor.active_segment_id

    def set_tool(self, tool: str) -> None:
        """"paint", "erase" or "none" (views back to navigation and click placement)."""
        effect_type = TOOLS[tool]
        if effect_type is None or not self.segment_id:
            self.editor.deactivate_effect()
            self.tool = "none"
            return
        effect = self.editor.set_active_effect_type(effect_type)
        effect.set_brush_diameter(self.brush_mm, BrushDiameterMode.Absolute)
        self.tool = tool

    def set_brush_mm(self, diameter_mm: float) -> None:
        self.brush_mm = float(diameter_mm)
        effect = self.editor.active_effect
        if isinstance(effect, (SegmentationEffectPaint, SegmentationEffectErase)):
            effect.set_brush_diameter(self.brush_mm, BrushDiameterMode.Absolute)

    def undo(self) -> None:
        if self.undo_stack.can_undo():
            self.undo_stack.undo()

    def redo(self) -> None:
        if self.undo_stack.can_redo():
            self.undo_stack.redo()
