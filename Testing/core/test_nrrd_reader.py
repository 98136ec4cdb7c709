"""The numpy NRRD reader (``ragaliv.io.nrrd``) against SimpleITK's, and against hand-written headers."""

import gzip

import numpy as np
import pytest
import SimpleITK as sitk
from ragaliv.errors import RagalivInputError
from ragaliv.io.images import geometry_from_sitk
from ragaliv.io.nrrd import read_nrrd

DIRECTION = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.float32])
def test_same_voxels_and_grid_as_simpleitk(tmp_path, compress, dtype):
    rng = np.random.default_rng(3)
    array = (rng.random((5, 6, 7)) * 100).astype(dtype)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((0.7, 1.3, 2.9))
    image.SetOrigin((-10.5, 3.25, 7.0))
    image.SetDirection(DIRECTION.ravel().tolist())
    image.SetMetaData("Segment0_Name", "Lesion 1")
    path = str(tmp_path / "image.nrrd")
    sitk.WriteImage(image, path, compress)
    ours = read_nrrd(path)
    np.testing.assert_array_equal(ours.array, array)
    assert ours.array.dtype == array.dtype
    np.testing.assert_allclose(ours.geometry.ijk_to_lps, geometry_from_sitk(sitk.ReadImage(path)).ijk_to_lps)
    assert ours.value("Segment0_Name") == "Lesion 1"


def test_layers_axis_moves_last(tmp_path):
    """A 4D file with a 'list' axis first (Slicer's layered .seg.nrrd): [k, j, i, layer]."""
    layers = np.arange(2 * 3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5, 2)  # k, j, i, layer
    header = ("NRRD0004\ntype: unsigned char\ndimension: 4\nspace: left-posterior-superior\nsizes: 2 5 4 3\n"
              "space directions: none (2,0,0) (0,3,0) (0,0,4)\nkinds: list domain domain domain\n"
              "endian: little\nencoding: gzip\nspace origin: (1,2,3)\nSegment0_ID:=s1\n\n")
    path = tmp_path / "layers.seg.nrrd"
    path.write_bytes(header.encode() + gzip.compress(layers.tobytes()))
    image = read_nrrd(str(path))
    np.testing.assert_array_equal(image.array, layers)
    assert image.geometry.shape_kji == (3, 4, 5)
    np.testing.assert_allclose(image.geometry.index_to_lps(np.array([1.0, 1.0, 1.0])), [3.0, 5.0, 7.0])


def test_ras_space_and_big_endian(tmp_path):
    values = np.arange(8, dtype=">i2").reshape(2, 2, 2)
    header = ("NRRD0004\ntype: short\ndimension: 3\nspace: right-anterior-superior\nsizes: 2 2 2\n"
              "space directions: (1,0,0) (0,1,0) (0,0,1)\nendian: big\nencoding: raw\nspace origin: (5,6,7)\n\n")
    path = tmp_path / "ras.nrrd"
    path.write_bytes(header.encode() + values.tobytes())
    image = read_nrrd(str(path))
    np.testing.assert_array_equal(image.array, values.astype(np.int16))
    # RAS (5, 6, 7) is LPS (-5, -6, 7); RAS +x is LPS -x.
    np.testing.assert_allclose(image.geometry.index_to_lps(np.array([1.0, 0.0, 0.0])), [-6.0, -6.0, 7.0])


@pytest.mark.parametrize("change, message", [
    (lambda h, d: (h.replace("encoding: raw", "encoding: ascii"), d), "encoding"),
    (lambda h, d: (h.replace("sizes: 2 2 2", "sizes: 2 2 3"), d), "truncated"),
    (lambda h, d: (h.replace("NRRD0004", "NRRX0004"), d), "magic"),
    (lambda h, d: (h.replace("encoding: raw", "encoding: raw\ndata file: other.raw"), d), "data file"),
    (lambda h, d: (h.replace("type: short", "type: complex"), d), "unknown type"),
])
def test_unreadable_files_are_refused_with_a_reason(tmp_path, change, message):
    header = ("NRRD0004\ntype: short\ndimension: 3\nspace: left-posterior-superior\nsizes: 2 2 2\n"
              "space directions: (1,0,0) (0,1,0) (0,0,1)\nendian: little\nencoding: raw\n\n")
    header, data = change(header, np.zeros(8, "<i2").tobytes())
    path = tmp_path / "bad.nrrd"
    path.write_bytes(header.encode() + data)
    with pytest.raises(RagalivInputError, match=message):
        read_nrrd(str(path))
