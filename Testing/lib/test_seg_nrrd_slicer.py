"""``.seg.nrrd`` written by the core (SimpleITK) against Slicer's own reader and writer
(``vtkMRMLSegmentationStorageNode`` of the slicer-core wheel), and against slicerio when it is installed."""

import numpy as np
import pytest
from ragaliv.geometry import Geometry, SegmentMask
from ragaliv.io.segmentation import paste_into, read_segments, write_seg_nrrd
from ragaliv_mrml import nodes

OBLIQUE = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def _segments():
    """Three segments on an oblique grid: A and B overlap (two layers), C shares A's layer."""
    geometry = Geometry.from_spacing((12, 14, 16), (1.5, 2.0, 3.0), (-20.0, 31.0, 7.5), OBLIQUE)
    masks = [np.zeros(geometry.shape_kji, bool) for _ in range(3)]
    masks[0][2:5, 3:7, 4:9] = True
    masks[1][3:8, 5:9, 6:12] = True
    masks[2][9:11, 0:2, 13:16] = True
    colours = [(0.9, 0.3, 0.2), (0.2, 0.55, 0.8), (0.5, 0.5, 0.5)]
    segments = [SegmentMask.from_full_mask(name, mask, geometry, segment_id=f"id_{name}", color_rgb=colour)
                for name, mask, colour in zip(("Lesion 1", "Healthy liver", "Kidney left"), masks, colours)]
    return segments, geometry


def _read_with_slicer(scene, path):
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    storage = scene.AddNewNodeByClass("vtkMRMLSegmentationStorageNode")
    storage.SetFileName(str(path))
    assert storage.ReadData(node) == 1
    return node


def _assert_same(read, expected):
    assert [s.name for s in read] == [s.name for s in expected]
    for got, want in zip(read, expected):
        assert got.segment_id == want.segment_id
        assert np.allclose(got.color_rgb, want.color_rgb, atol=1e-5)
        assert got.mask.shape == want.mask.shape and np.array_equal(got.mask, want.mask), got.name
        assert np.allclose(got.geometry.ijk_to_lps, want.geometry.ijk_to_lps, atol=1e-6), got.name


def test_slicer_reads_what_the_core_writes(mrml_scene, tmp_path):
    segments, geometry = _segments()
    path = tmp_path / "core.seg.nrrd"
    write_seg_nrrd(str(path), segments, geometry)
    node = _read_with_slicer(mrml_scene, path)
    segmentation = node.GetSegmentation()
    assert segmentation.GetNumberOfLayers() == 2  # overlapping A/B in two layers, C beside A
    _assert_same(nodes.segment_masks(node), segments)


def test_core_reads_what_slicer_writes(mrml_scene, tmp_path):
    segments, _geometry = _segments()
    node = mrml_scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    for segment in segments:
        nodes.add_segment(node, segment, segment.name, segment.color_rgb)
    ids = [node.GetSegmentation().GetNthSegmentID(n) for n in range(3)]
    path = tmp_path / "slicer.seg.nrrd"
    storage = mrml_scene.AddNewNodeByClass("vtkMRMLSegmentationStorageNode")
    storage.SetFileName(str(path))
    assert storage.WriteData(node) == 1
    header = path.read_bytes().partition(b"\n\n")[0]
    assert b"kinds: list domain domain domain" in header and b"Segment2_Layer:=0" in header
    read = read_segments(str(path))
    expected = [SegmentMask(s.name, s.mask, s.geometry, segment_id=i, color_rgb=s.color_rgb)
                for s, i in zip(segments, ids)]
    _assert_same(read, expected)


def test_slicerio_files_read_and_core_files_for_slicerio(tmp_path):
    """Third-party tools write and read the same layout (kept while slicerio is in the dev environment)."""
    slicerio = pytest.importorskip("slicerio")
    segments, geometry = _segments()
    ours = tmp_path / "core.seg.nrrd"
    write_seg_nrrd(str(ours), segments, geometry)
    read = slicerio.read_segmentation(str(ours))
    assert [s["name"] for s in read["segments"]] == [s.name for s in segments]
    assert np.allclose(read["ijkToLPS"], geometry.ijk_to_lps)

    theirs = slicerio.create_segmentation(geometry.size_ijk, geometry.ijk_to_lps)
    for segment in segments[:1] + segments[2:]:  # the two that do not overlap
        slicerio.add_segment(theirs, np.transpose(paste_into(segment, geometry), (2, 1, 0)),
                             {"id": segment.segment_id, "name": segment.name, "color": list(segment.color_rgb)})
    path = tmp_path / "slicerio.seg.nrrd"
    slicerio.write_segmentation(str(path), theirs)
    _assert_same(read_segments(str(path)), segments[:1] + segments[2:])
