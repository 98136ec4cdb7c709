"""Volume and segmentation nodes <-> :class:`ragaliv.geometry.Volume` / :class:`SegmentMask`.

Geometry goes through RAS (Slicer) <-> LPS (core) with the node's parent transform applied, so a PET
registered to the MRI with a linear transform is measured where it is displayed. Non-linear transforms
must be hardened first (a clear error says so).
"""

from collections.abc import Sequence
from typing import Optional

import numpy as np
import slicer
import vtk
from ragaliv.errors import RagalivInputError
from ragaliv.geometry import LPS_TO_RAS, Geometry, SegmentMask, Volume
from scipy import ndimage
from vtk.util import numpy_support

LABELMAP = "Binary labelmap"


def _matrix_to_numpy(matrix: "vtk.vtkMatrix4x4") -> np.ndarray:
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def _numpy_to_matrix(array: np.ndarray) -> "vtk.vtkMatrix4x4":
    matrix = vtk.vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            matrix.SetElement(r, c, float(array[r, c]))
    return matrix


def parent_to_world_ras(node: "slicer.vtkMRMLTransformableNode") -> np.ndarray:
    """4x4 RAS matrix of the node's parent transforms (identity without one)."""
    parent = node.GetParentTransformNode()
    if parent is None:
        return np.eye(4)
    matrix = vtk.vtkMatrix4x4()
    if not slicer.vtkMRMLTransformNode.GetMatrixTransformBetweenNodes(parent, None, matrix):
        raise RagalivInputError(
            f"{node.GetName()} is under a non-linear transform.",
            "Harden the transform (Data module, right-click > Harden transform) and try again.",
        )
    return _matrix_to_numpy(matrix)


def volume_geometry(volume_node: "slicer.vtkMRMLScalarVolumeNode") -> Geometry:
    image = volume_node.GetImageData()
    if image is None:
        raise RagalivInputError(f"Volume {volume_node.GetName()} has no image data.", "Load the image again.")
    matrix = vtk.vtkMatrix4x4()
    volume_node.GetIJKToRASMatrix(matrix)
    ijk_to_ras = parent_to_world_ras(volume_node) @ _matrix_to_numpy(matrix)
    size_i, size_j, size_k = image.GetDimensions()
    return Geometry((size_k, size_j, size_i), LPS_TO_RAS @ ijk_to_ras)


def volume_from_node(volume_node: "slicer.vtkMRMLScalarVolumeNode", unit: Optional[str] = None) -> Volume:
    """A copy of the voxels ``[k, j, i]`` with world geometry; ``unit`` defaults to the node's attribute."""
    geometry = volume_geometry(volume_node)
    scalars = volume_node.GetImageData().GetPointData().GetScalars()
    if scalars.GetNumberOfComponents() != 1:
        raise RagalivInputError(f"{volume_node.GetName()} is not a scalar volume.", "Select a single-channel image.")
    array = numpy_support.vtk_to_numpy(scalars).reshape(geometry.shape_kji).copy()
    return Volume(array, geometry, unit if unit is not None else (volume_node.GetAttribute("Ragaliv.Unit") or ""))


def set_volume_node(
    volume_node: "slicer.vtkMRMLScalarVolumeNode", volume: Volume, dtype: Optional[type] = None
) -> "slicer.vtkMRMLScalarVolumeNode":
    """Fill a scalar volume node with ``volume`` (voxels copied; geometry in RAS)."""
    array = np.ascontiguousarray(volume.array if dtype is None else volume.array.astype(dtype))
    image = vtk.vtkImageData()
    size_k, size_j, size_i = array.shape
    image.SetDimensions(size_i, size_j, size_k)
    vtk_array = numpy_support.numpy_to_vtk(array.ravel(), deep=True)
    image.GetPointData().SetScalars(vtk_array)
    volume_node.SetIJKToRASMatrix(_numpy_to_matrix(volume.geometry.ijk_to_ras))
    volume_node.SetAndObserveImageData(image)
    if volume.unit:
        volume_node.SetAttribute("Ragaliv.Unit", volume.unit)
    return volume_node


def add_volume_node(scene: "slicer.vtkMRMLScene", volume: Volume, name: str, dtype: Optional[type] = None):
    """A new scalar volume node; a volume read from DICOM also gives it its PatientID and FrameOfReferenceUID."""
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
    set_volume_node(node, volume, dtype)
    node.CreateDefaultDisplayNodes()
    headers = volume.metadata.get("slice_headers") or []
    if headers:
        from ragaliv.pet.dicom_values import dicom_text

        set_dicom_identity(node, dicom_text(headers[0], "PatientID"), dicom_text(headers[0], "FrameOfReferenceUID"))
    return node


# --- DICOM identity --------------------------------------------------------------------------------------
PATIENT_ID_ATTRIBUTE = "Ragaliv.PatientID"
FRAME_OF_REFERENCE_ATTRIBUTE = "Ragaliv.FrameOfReferenceUID"


def set_dicom_identity(node, patient_id: str, frame_of_reference_uid: str) -> None:
    """Keep PatientID (0010,0020) and FrameOfReferenceUID (0020,0052) of the series on the node (saved with the
    scene), for the same-patient check (``ragaliv.checks.pair``) and the same-frame check
    (``ragaliv.ratio.analysis.check_pet_pair``)."""
    values = ((PATIENT_ID_ATTRIBUTE, patient_id), (FRAME_OF_REFERENCE_ATTRIBUTE, frame_of_reference_uid))
    for attribute, value in values:
        if value:
            node.SetAttribute(attribute, value)
        else:
            node.RemoveAttribute(attribute)


def dicom_identity(node) -> tuple[str, str]:
    """(PatientID, FrameOfReferenceUID) of a volume node, "" where unknown: Ragaliv's attributes, else what
    Slicer's DICOM module put in the subject hierarchy (``DICOMPlugin.addSeriesInSubjectHierarchy``: the series
    item's "DICOM.FrameOfReferenceUID", the patient item's "DICOM.PatientID"; a "Patient-<StudyInstanceUID>"
    made up for an empty PatientID is unknown)."""
    patient_id = node.GetAttribute(PATIENT_ID_ATTRIBUTE) or ""
    frame = node.GetAttribute(FRAME_OF_REFERENCE_ATTRIBUTE) or ""
    scene = node.GetScene()
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene) if scene is not None else None
    item = hierarchy.GetItemByDataNode(node) if hierarchy is not None else 0
    if not item:
        return patient_id, frame
    constants = slicer.vtkMRMLSubjectHierarchyConstants
    if not frame:
        frame = hierarchy.GetItemAttribute(item, constants.GetDICOMFrameOfReferenceUIDAttributeName()) or ""
    if not patient_id:
        study = hierarchy.GetItemParent(item)
        patient = hierarchy.GetItemParent(study) if study else 0
        if patient:
            found = hierarchy.GetItemAttribute(patient, constants.GetDICOMPatientIDAttributeName()) or ""
            study_uid = hierarchy.GetItemUID(study, constants.GetDICOMUIDName()) or ""
            patient_id = "" if study_uid and found == f"Patient-{study_uid}" else found
    return patient_id, frame


def dicom_series_uid(node) -> str:
    """SeriesInstanceUID (0020,000E) of a volume node, "" when unknown: Ragaliv's loader keeps it in
    "DICOM.SeriesInstanceUID"; Slicer's DICOM module makes it the series item's "DICOM" UID in the subject
    hierarchy (``DICOMPlugin.addSeriesInSubjectHierarchy``). For the "same series as IA and IV" check."""
    uid = node.GetAttribute("DICOM.SeriesInstanceUID") or ""
    scene = node.GetScene()
    if uid or scene is None:
        return uid
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    item = hierarchy.GetItemByDataNode(node) if hierarchy is not None else 0
    if not item:
        return ""
    return hierarchy.GetItemUID(item, slicer.vtkMRMLSubjectHierarchyConstants.GetDICOMUIDName()) or ""


# --- segments ------------------------------------------------------------------------------------------
def segment_labelmap(segmentation_node: "slicer.vtkMRMLSegmentationNode", segment_id: str):
    """The segment's internal binary labelmap (possibly shared with other segments) and its label value."""
    segmentation = segmentation_node.GetSegmentation()
    if segmentation.GetSourceRepresentationName() != LABELMAP and not segmentation.ContainsRepresentation(LABELMAP):
        segmentation_node.CreateBinaryLabelmapRepresentation()
    segment = segmentation.GetSegment(segment_id)
    if segment is None:
        raise RagalivInputError(f"Segment {segment_id!r} not found in {segmentation_node.GetName()}.")
    return segment.GetRepresentation(LABELMAP), segment.GetLabelValue()


def _labelmap_geometry(segmentation_node, labelmap) -> Optional[Geometry]:
    """World (LPS) geometry of a labelmap's extent, through the node's parent transform; None if empty."""
    extent = labelmap.GetExtent()
    if extent[1] < extent[0] or extent[3] < extent[2] or extent[5] < extent[4]:
        return None
    matrix = vtk.vtkMatrix4x4()
    labelmap.GetImageToWorldMatrix(matrix)
    image_to_ras = parent_to_world_ras(segmentation_node) @ _matrix_to_numpy(matrix)
    # The labelmap's voxel (i, j, k) is at image_to_ras @ (i, j, k); its array starts at the extent origin.
    ijk_to_ras = image_to_ras.copy()
    ijk_to_ras[:, 3] = image_to_ras @ np.array([extent[0], extent[2], extent[4], 1.0])
    shape_kji = (extent[5] - extent[4] + 1, extent[3] - extent[2] + 1, extent[1] - extent[0] + 1)
    return Geometry(shape_kji, LPS_TO_RAS @ ijk_to_ras)


def _empty_mask(name: str, segment_id: str, color) -> SegmentMask:
    return SegmentMask(name, np.zeros((1, 1, 1), bool), Geometry((1, 1, 1), np.eye(4)), segment_id, color)


def segment_masks(
    segmentation_node: "slicer.vtkMRMLSegmentationNode", segment_ids: Optional[Sequence[str]] = None
) -> list[SegmentMask]:
    """Segments as cropped masks with world (LPS) geometry.

    Segments that share one labelmap (Slicer's default for non-overlapping segments) are cut out of a
    single pass over that labelmap (bounding boxes by ``ndimage.find_objects``), which keeps a full
    re-read of eleven segments on an MRI grid within a few tens of milliseconds.
    """
    segmentation = segmentation_node.GetSegmentation()
    ids = list(segment_ids) if segment_ids is not None else list(segmentation.GetSegmentIDs())
    groups = {}
    for segment_id in ids:
        labelmap, label_value = segment_labelmap(segmentation_node, segment_id)
        key = labelmap.GetAddressAsString("vtkOrientedImageData") if labelmap is not None else None
        groups.setdefault(key, (labelmap, []))[1].append((segment_id, label_value))
    masks = {}
    for labelmap, members in groups.values():
        geometry = _labelmap_geometry(segmentation_node, labelmap) if labelmap is not None else None
        values = None
        boxes = []
        if geometry is not None:
            values = numpy_support.vtk_to_numpy(labelmap.GetPointData().GetScalars()).reshape(geometry.shape_kji)
            if values.dtype.kind not in "ui":
                names = ", ".join(repr(segmentation.GetSegment(sid).GetName()) for sid, _ in members)
                raise RagalivInputError(
                    f"Segmentation {segmentation_node.GetName()!r}: the binary labelmap of segment(s) {names} "
                    f"holds {labelmap.GetScalarTypeAsString()} values, not integer labels.",
                    "Re-create the segments from an integer labelmap (Segmentations module > Import from a "
                    "labelmap volume with an integer scalar type), or cast the volume with Cast Scalar Volume.",
                )
            if values.size:
                boxes = ndimage.find_objects(values)
        for segment_id, label_value in members:
            segment = segmentation.GetSegment(segment_id)
            name, color = segment.GetName(), tuple(float(c) for c in segment.GetColor())
            box = boxes[label_value - 1] if 0 < label_value <= len(boxes) else None
            if geometry is None or box is None:
                masks[segment_id] = _empty_mask(name, segment_id, color)
                continue
            (k, j, i) = box
            crop = values[box] == label_value
            sub = geometry.sub_grid(k.start, k.stop, j.start, j.stop, i.start, i.stop)
            masks[segment_id] = SegmentMask(name, crop, sub, segment_id, color)
    return [masks[segment_id] for segment_id in ids]


def segment_mask(segmentation_node: "slicer.vtkMRMLSegmentationNode", segment_id: str) -> SegmentMask:
    return segment_masks(segmentation_node, [segment_id])[0]


def segment_labelmap_mtime(segmentation_node: "slicer.vtkMRMLSegmentationNode", segment_id: str) -> int:
    """Modification time of the segment's labelmap: changes on every edit (also undo/redo, overwrite)."""
    labelmap, _ = segment_labelmap(segmentation_node, segment_id)
    return int(labelmap.GetMTime()) if labelmap is not None else 0


def oriented_image_from_mask(
    mask: SegmentMask, world_to_local_ras: Optional[np.ndarray] = None
) -> "slicer.vtkOrientedImageData":
    """The mask as a labelmap image; ``world_to_local_ras`` maps its world geometry into a node's coordinates."""
    image = slicer.vtkOrientedImageData()
    size_k, size_j, size_i = mask.mask.shape
    image.SetDimensions(size_i, size_j, size_k)
    scalars = numpy_support.numpy_to_vtk(mask.mask.astype(np.uint8).ravel(), deep=True,
                                         array_type=vtk.VTK_UNSIGNED_CHAR)
    image.GetPointData().SetScalars(scalars)
    ijk_to_ras = mask.geometry.ijk_to_ras
    if world_to_local_ras is not None:
        ijk_to_ras = world_to_local_ras @ ijk_to_ras
    image.SetImageToWorldMatrix(_numpy_to_matrix(ijk_to_ras))
    return image


def set_segment_mask(
    segmentation_node: "slicer.vtkMRMLSegmentationNode", segment_id: str, mask: SegmentMask
) -> None:
    """Replace the segment's content with ``mask`` the way the Segment Editor does (fires the same events).

    ``mask`` is in world coordinates (as :func:`segment_masks` returns it): under a parent transform it is
    written in the segmentation's own coordinates, so that it shows (and is read back) where it was placed.
    """
    image = oriented_image_from_mask(mask, np.linalg.inv(parent_to_world_ras(segmentation_node)))
    logic = slicer.vtkSlicerSegmentationsModuleLogic
    if not logic.SetBinaryLabelmapToSegment(image, segmentation_node, segment_id, logic.MODE_REPLACE):
        raise RagalivInputError(f"Could not write segment {segment_id!r}.")


def add_segment(
    segmentation_node: "slicer.vtkMRMLSegmentationNode",
    mask: SegmentMask,
    name: str,
    color_rgb: Optional[Sequence[float]] = None,
) -> str:
    """New segment ``name`` filled with ``mask``; returns its ID."""
    segmentation = segmentation_node.GetSegmentation()
    segment_id = segmentation.AddEmptySegment(segmentation.GenerateUniqueSegmentID(name.replace(" ", "_")), name)
    if color_rgb is not None:
        segmentation.GetSegment(segment_id).SetColor(*[float(c) for c in color_rgb])
    set_segment_mask(segmentation_node, segment_id, mask)
    return segment_id
