"""``.seg.nrrd`` read and written by the core with SimpleITK only (runs in the Slicer 5.8 package tier too)."""

import numpy as np
import pytest
from ragaliv.errors import RagalivInputError
from ragaliv.geometry import Geometry, SegmentMask
from ragaliv.io.images import write_image
from ragaliv.io.segmentation import assign_layers, read_segments, write_seg_nrrd

ROTATED = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def _geometry():
    return Geometry.from_spacing((10, 12, 14), (1.5, 2.0, 3.0), (-20.0, 31.0, 7.5), ROTATED)


def test_round_trip_keeps_masks_geometry_names_ids_colours_and_overlaps(tmp_path):
    geometry = _geometry()
    boxes = [(slice(2, 5), slice(3, 7), slice(4, 9)), (slice(3, 8), slice(5, 9), slice(6, 12)),
             (slice(8, 10), slice(0, 2), slice(0, 3))]
    segments = []
    for n, box in enumerate(boxes):
        full = np.zeros(geometry.shape_kji, bool)
        full[box] = True
        segments.append(SegmentMask.from_full_mask(f"Lesion {n + 1}", full, geometry, segment_id=f"s{n}",
                                                   color_rgb=(0.1 * n, 0.5, 1.0 - 0.1 * n)))
    segments.append(SegmentMask.from_full_mask("Empty", np.zeros(geometry.shape_kji, bool), geometry))
    path = tmp_path / "x.seg.nrrd"
    write_seg_nrrd(str(path), segments, geometry)

    header = path.read_bytes().partition(b"\n\n")[0].decode()
    assert "kinds: list domain domain domain" in header  # Slicer's layer axis (2 layers: 1 and 2 overlap)
    assert "Segment1_Layer:=1" in header and "Segment2_Layer:=0" in header and "Segment2_LabelValue:=2" in header
    assert "Segment0_Extent:=4 8 3 6 2 4" in header  # inclusive i0 i1 j0 j1 k0 k1, as Slicer writes it

    read = read_segments(str(path))
    assert [s.name for s in read] == [s.name for s in segments]
    for got, want in zip(read[:3], segments[:3]):
        assert got.segment_id == want.segment_id
        assert np.allclose(got.color_rgb, want.color_rgb)
        assert got.voxel_count == want.voxel_count == np.prod([b.stop - b.start for b in boxes[read.index(got)]])
        assert np.array_equal(got.mask, want.mask)
        assert np.allclose(got.geometry.ijk_to_lps, want.geometry.ijk_to_lps)
    assert read[3].is_empty


def test_single_layer_file_is_a_3d_labelmap(tmp_path):
    geometry = _geometry()
    first, second = np.zeros(geometry.shape_kji, bool), np.zeros(geometry.shape_kji, bool)
    first[1:3, 1:3, 1:3] = True
    second[5:7, 5:7, 5:7] = True
    path = tmp_path / "one.seg.nrrd"
    write_seg_nrrd(str(path), [SegmentMask.from_full_mask("A", first, geometry),
                               SegmentMask.from_full_mask("B", second, geometry)], geometry)
    assert b"dimension: 3" in path.read_bytes().partition(b"\n\n")[0]
    assert [s.voxel_count for s in read_segments(str(path))] == [8, 8]


def test_layers_share_non_overlapping_masks():
    masks = [np.array([1, 1, 0, 0], bool), np.array([0, 1, 1, 0], bool), np.array([0, 0, 1, 1], bool),
             np.array([0, 0, 0, 1], bool)]
    assert assign_layers(masks) == [(0, 1), (1, 1), (0, 2), (1, 2)]


def test_plain_labelmap_named_seg_nrrd_is_refused_with_a_hint(tmp_path):
    from ragaliv.geometry import Volume

    path = tmp_path / "plain.seg.nrrd"
    write_image(Volume(np.ones((4, 4, 4), np.uint8), _geometry().sub_grid(0, 4, 0, 4, 0, 4)), str(path))
    with pytest.raises(RagalivInputError, match="--labels"):
        read_segments(str(path))
