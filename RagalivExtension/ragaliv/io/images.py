"""NRRD / NIfTI / MetaImage files <-> :class:`~ragaliv.geometry.Volume` through SimpleITK.

SimpleITK is imported inside the functions: the ``ragaliv ratio`` command on DICOM never needs it, and
importing it costs a fifth of a second.
"""

import os
from typing import Optional

import numpy as np

from ..errors import RagalivInputError
from ..geometry import Geometry, Volume
from .atomic import atomic_path

IMAGE_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")


def is_image_file(path: str) -> bool:
    return os.path.isfile(path) and path.lower().endswith(IMAGE_SUFFIXES) and not path.endswith(".seg.nrrd")


def geometry_from_sitk(image) -> Geometry:
    direction = np.array(image.GetDirection(), dtype=float).reshape(3, 3)
    size_i, size_j, size_k = image.GetSize()
    return Geometry.from_spacing((size_k, size_j, size_i), image.GetSpacing(), image.GetOrigin(), direction)


def volume_to_sitk(volume: Volume, dtype: Optional[type] = None):
    import SimpleITK as sitk

    array = volume.array if dtype is None else volume.array.astype(dtype)
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    geometry = volume.geometry
    image.SetSpacing([float(s) for s in geometry.spacing_mm])
    image.SetOrigin([float(o) for o in geometry.origin_lps_mm])
    image.SetDirection([float(d) for d in geometry.direction.ravel()])
    return image


def volume_from_sitk(image, unit: str = "") -> Volume:
    import SimpleITK as sitk

    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise RagalivInputError(
            f"Expected a 3D scalar image, got {image.GetDimension()}D with "
            f"{image.GetNumberOfComponentsPerPixel()} components.",
            "Give a single 3D volume (one time point, one channel).",
        )
    return Volume(sitk.GetArrayFromImage(image), geometry_from_sitk(image), unit)


def read_image(path: str, unit: str = "") -> Volume:
    """Read a NRRD/NIfTI/MHA image; the unit is what the caller says the voxels hold."""
    import SimpleITK as sitk

    if not os.path.isfile(path):
        raise RagalivInputError(f"Image file not found: {path}", "Check the path.")
    try:
        image = sitk.ReadImage(path)
    except RuntimeError as error:
        raise RagalivInputError(f"Cannot read image {path}: {str(error).strip().splitlines()[-1]}") from None
    return volume_from_sitk(image, unit)


def write_image(volume: Volume, path: str, dtype: Optional[type] = None) -> None:
    """Write a volume (compressed, atomically) to ``path``; the format follows the suffix."""
    import SimpleITK as sitk

    with atomic_path(path) as temporary:
        sitk.WriteImage(volume_to_sitk(volume, dtype), temporary, True)
