"""Live table: segmentation events -> a debounced recompute (GUIDE §3, QuantitativeReporting pattern).

Qt-free: the caller passes ``schedule``, a function that (re)starts its debounce timer. In Slicer that is
a single-shot ``qt.QTimer.start``; in tests it records the request, and ``flush()`` runs the update.
Events only say *that* something changed: the logic's caches decide *what* (undo/redo and overwrite
edits come without a segment ID).

Besides the segment edits, moving the segmentation or a PET (their parent transform, or its matrix) and
replacing a PET's voxels (re-conversion to SUV) schedule an update: the masks and SUV images are read in
world coordinates, and the logic's cache keys include the transforms.
"""

from collections.abc import Sequence
from typing import Callable, Optional

import slicer

SEGMENTATION_EVENTS = (
    slicer.vtkSegmentation.SegmentAdded,
    slicer.vtkSegmentation.SegmentRemoved,
    slicer.vtkSegmentation.SegmentModified,
    slicer.vtkSegmentation.SourceRepresentationModified,
    slicer.vtkSegmentation.RepresentationModified,
)
# On the segmentation node: fired when its parent transform is set, replaced or its matrix modified.
SEGMENTATION_NODE_EVENTS = (slicer.vtkMRMLTransformableNode.TransformModifiedEvent,)
PET_NODE_EVENTS = (
    slicer.vtkMRMLTransformableNode.TransformModifiedEvent,
    slicer.vtkMRMLVolumeNode.ImageDataModifiedEvent,
)


class LiveRatioUpdater:
    def __init__(self, update: Callable[[], object], schedule: Callable[[], None]):
        self._update = update
        self._schedule = schedule
        self._observed = None
        self._tags: list[tuple[object, int]] = []
        self.pending = False
        self.event_count = 0

    def observe(self, segmentation_node: Optional["slicer.vtkMRMLSegmentationNode"],
                pet_nodes: Sequence[Optional["slicer.vtkMRMLScalarVolumeNode"]] = ()) -> None:
        """Observe this segmentation and these PET volumes (and stop observing the previous ones)."""
        self.stop()
        if segmentation_node is None:
            return
        self._observed = segmentation_node.GetSegmentation()
        observations = [(self._observed, event) for event in SEGMENTATION_EVENTS]
        observations += [(segmentation_node, event) for event in SEGMENTATION_NODE_EVENTS]
        for pet in pet_nodes:
            if pet is not None:
                observations += [(pet, event) for event in PET_NODE_EVENTS]
        self._tags = [(observed, observed.AddObserver(event, self._on_event)) for observed, event in observations]

    def stop(self) -> None:
        for observed, tag in self._tags:
            observed.RemoveObserver(tag)
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
