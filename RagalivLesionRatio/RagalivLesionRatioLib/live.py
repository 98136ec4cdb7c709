"""Live table: segmentation events -> a debounced recompute (GUIDE §3, QuantitativeReporting pattern).

Qt-free: the caller passes ``schedule``, a function that (re)starts its debounce timer. In Slicer that is
a single-shot ``qt.QTimer.start``; in tests it records the request, and ``flush()`` runs the update.
Events only say *that* something changed: the logic's caches decide *what* (undo/redo and overwrite
edits come without a segment ID).
"""

from typing import Callable, Optional

import slicer

SEGMENTATION_EVENTS = (
    slicer.vtkSegmentation.SegmentAdded,
    slicer.vtkSegmentation.SegmentRemoved,
    slicer.vtkSegmentation.SegmentModified,
    slicer.vtkSegmentation.SourceRepresentationModified,
    slicer.vtkSegmentation.RepresentationModified,
)


class LiveRatioUpdater:
    def __init__(self, update: Callable[[], object], schedule: Callable[[], None]):
        self._update = update
        self._schedule = schedule
        self._observed = None
        self._tags: list[int] = []
        self.pending = False
        self.event_count = 0

    def observe(self, segmentation_node: Optional["slicer.vtkMRMLSegmentationNode"]) -> None:
        """Observe this segmentation (and stop observing the previous one)."""
        self.stop()
        if segmentation_node is None:
            return
        self._observed = segmentation_node.GetSegmentation()
        self._tags = [self._observed.AddObserver(event, self._on_event) for event in SEGMENTATION_EVENTS]

    def stop(self) -> None:
        if self._observed is not None:
            for tag in self._tags:
                self._observed.RemoveObserver(tag)
        self._observed, self._tags = None, []

    def _on_event(self, caller=None, event=None) -> None:
        self.event_count += 1
        self.pending = True
        self._schedule()

    def flush(self):
        """Run the update if an edit happened since the last one (called by the debounce timer)."""
        if not self.pending:
            return None
        self.pending = False
        return self._update()
