"""PET files (from Slicer's DICOM database or disk) -> an SUV volume node, with Ragaliv's SUV conversion
so that the module does not depend on another extension. The SUV parameters used travel with the node."""

import json
from collections.abc import Sequence
from typing import Optional, Union

from ragaliv.errors import RagalivInputError
from ragaliv.pet.suv import SuvOverrides, load_pet
from ragaliv_mrml import nodes
from ragaliv_mrml.panel_text import panel_error

PET_COLOR_NODE_ID = "vtkMRMLPETProceduralColorNodePET-Heat"  # Slicer's PET colour map


def load_pet_node(scene, files: Union[str, Sequence[str]], name: str,
                  overrides: Optional[SuvOverrides] = None, normalization: str = "bw", volume_node=None,
                  panel_hints: bool = False):
    """Load a PET series as SUV into ``volume_node`` (or a new node); returns (node, PetImage).

    The node keeps the SUV parameters used, the series' files, the normalisation, PatientID and
    FrameOfReferenceUID (attributes saved with the scene), which the Lib's checks and exports read. A refused
    header value (``overrides.accept`` accepts it) raises; ``panel_hints``: its fix names the module panel's
    fields ("add weight to the 'Accept checks' field") rather than CLI flags."""
    try:
        pet = load_pet(files if isinstance(files, str) else list(files), overrides, normalization)
    except RagalivInputError as error:
        if not panel_hints:
            raise
        raise panel_error(error) from None
    return store_pet_node(scene, pet, files, name, volume_node), pet


def store_pet_node(scene, pet, files: Union[str, Sequence[str]], name: str, volume_node=None):
    """``pet`` (a :class:`~ragaliv.pet.suv.PetImage` loaded from ``files``) into ``volume_node`` or a new node named
    ``name``, with the attributes :func:`load_pet_node` describes; returns the node."""
    node = volume_node or scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
    nodes.set_volume_node(node, pet.suv)
    parameters = pet.parameters.to_dict()
    parameters["series_instance_uid"] = pet.series_instance_uid
    parameters["series_description"] = pet.description
    node.SetAttribute("Ragaliv.SuvParameters", json.dumps(parameters))
    node.SetAttribute("DICOM.SeriesInstanceUID", pet.series_instance_uid)
    # The series' own files (a folder given here is not what export, report and re-conversion read).
    source = pet.suv.metadata.get("files") or ([files] if isinstance(files, str) else list(files))
    node.SetAttribute("Ragaliv.SourceFiles", json.dumps([str(path) for path in source]))
    node.SetAttribute("Ragaliv.Normalization", pet.parameters.normalization)
    nodes.set_dicom_identity(node, pet.patient_id, pet.frame_of_reference_uid)
    if node.GetDisplayNode() is None:
        node.CreateDefaultDisplayNodes()
    display = node.GetDisplayNode()
    if scene.GetNodeByID(PET_COLOR_NODE_ID) is not None:
        display.SetAndObserveColorNodeID(PET_COLOR_NODE_ID)
    display.AutoWindowLevelOff()
    display.SetWindowLevelMinMax(0.0, 10.0 if pet.parameters.suv_unit == "g/mL" else 2000.0)
    return node
