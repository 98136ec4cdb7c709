"""A reading's inputs into a MRML scene: the MRI, the IA and IV PETs converted to SUV by the Lib's PET loader
(the same conversion as the Slicer module and ``ragaliv ratio``), and the segments to start from.

Needs ``slicer`` (MRML), not trame: the server-side tests load a reading into a headless scene.
"""

from dataclasses import dataclass, field
from typing import Optional

from ragaliv.errors import RagalivInputError
from ragaliv_mrml import nodes

from .inputs import ReviewInputs
from .lib import lesion_ratio_lib

MRI_MODALITIES = ("MR", "CT")
SEGMENTATION_NAME = "Lesions and organs"


@dataclass
class LoadedReading:
    """The nodes of one reading (in the Lib's parameter node) and what the inputs warn about."""

    parameters: object  # RagalivLesionRatioLib.LesionRatioParameters
    warnings: list[str] = field(default_factory=list)

    @property
    def mri(self):
        return self.parameters.mri

    @property
    def ia_pet(self):
        return self.parameters.ia_pet

    @property
    def iv_pet(self):
        return self.parameters.iv_pet

    @property
    def segmentation(self):
        return self.parameters.segmentation


def _load_mri(scene, path: str):
    from ragaliv.io.dicom_series import load_volume, select_series
    from ragaliv.io.images import is_image_file, read_image

    volume = read_image(path) if is_image_file(path) else load_volume(select_series(path, MRI_MODALITIES, "MRI"))
    node = nodes.add_volume_node(scene, volume, "MRI")
    node.SetAttribute("Ragaliv.SourcePath", path)
    return node


def _pet_files(path: str):
    """A DICOM folder as the list of its PET series' files (what the Slicer module passes from its DICOM
    database, and what the Lib's export and report expect in ``Ragaliv.SourceFiles``); an image file as is."""
    from ragaliv.io.dicom_series import select_series
    from ragaliv.io.images import is_image_file

    return path if is_image_file(path) else select_series(path, ("PT",), "PET").files


def _load_pet(lib, scene, path: str, name: str, overrides, normalization: str, prefix: str):
    """The Lib's SUV loader; its messages name the per-scan flags of ``ragaliv review`` (``--ia-dose-mbq``)."""
    try:
        return lib.load_pet_node(scene, _pet_files(path), name, overrides, normalization)
    except RagalivInputError as error:
        from ragaliv.cli.suv_flags import for_scan

        raise for_scan(error, prefix, name) from None


def _frames_warning(ia_pet, iv_pet, reference: Optional[str]) -> Optional[str]:
    from ragaliv.ratio.segments import frame_of_reference_uid

    frames = {"IA PET": ia_pet.frame_of_reference_uid, "IV PET": iv_pet.frame_of_reference_uid,
              "MRI": frame_of_reference_uid(reference)}
    known = {name: uid for name, uid in frames.items() if uid}
    if len(set(known.values())) <= 1:
        return None
    return (f"{', '.join(known)} are not in one frame of reference (FrameOfReferenceUID (0020,0052) differs): the "
            "segments are applied to each PET as if all were registered. Check the fusion by eye.")


def load_reading(scene, inputs: ReviewInputs, logic) -> LoadedReading:
    """Load ``inputs`` into ``scene`` and record them in the Lib's parameter node (``logic``: the Lib's
    ``LesionRatioLogic`` on ``scene``). The IA/IV checks (two patients, same series ...) are the Lib's, as in
    ``ragaliv ratio``: a failed one makes the decision NOT DETERMINED until confirmed."""
    lib = lesion_ratio_lib()
    parameters = logic.parameters()
    mri = _load_mri(scene, inputs.reference) if inputs.reference else None
    ia, ia_pet = _load_pet(lib, scene, inputs.ia, "IA PET", inputs.ia_overrides, inputs.normalization, "ia-")
    iv, iv_pet = _load_pet(lib, scene, inputs.iv, "IV PET", inputs.iv_overrides, inputs.normalization, "iv-")
    warnings = [f"IA PET: {text}" for text in ia_pet.parameters.warnings]
    warnings += [f"IV PET: {text}" for text in iv_pet.parameters.warnings]
    frames = _frames_warning(ia_pet, iv_pet, inputs.reference)
    if frames:
        warnings.insert(0, frames)
    for role, node in (("mriVolume", mri), ("iaPetVolume", ia), ("ivPetVolume", iv)):
        if node is not None:
            parameters.set_node(role, node)
    for name in ("metric", "aggregate", "threshold", "normalization"):
        parameters.set(name, getattr(inputs, name))
    parameters.set("confirmConsistency", bool(inputs.confirm_consistency))
    parameters.set("acceptChecks", ", ".join(inputs.accept))
    segmentation = logic.ensure_segmentation(parameters)
    segmentation.SetName(SEGMENTATION_NAME)
    if inputs.segmentation:
        from ragaliv.ratio.segments import load_segments

        for segment in load_segments(inputs.segmentation, inputs.labels, inputs.reference):
            nodes.add_segment(segmentation, segment, segment.name, segment.color_rgb)
    return LoadedReading(parameters, warnings)
