"""Issue 8, the lesion segments themselves (adversarial review): a metastasis drawn twice or over its neighbour, a
healthy-liver VOI over a lesion, and a segmentation that is not on the PETs' lesions (a labelmap shifted 20 mm or
100 mm: a labelmap carries no frame of reference to check). Before these checks each gave a confident decision
without a word (2.88 / 2.97 / 0.90 "NOT eligible" where the truth is 3.36 ELIGIBLE). Now the decision is NOT
DETERMINED naming the segments (confirmable like every consistency check)."""

import numpy as np
import pytest
import SimpleITK as sitk
from bad_input import read_summary, run
from ragaliv.geometry import SegmentMask
from ragaliv.io.nrrd import read_nrrd
from ragaliv.io.segmentation import read_segments, write_seg_nrrd
from test_bad_input_consistency import assert_not_determined


def ratio_args(patient, segmentation, output, *extra):
    return ("ratio", "--ia", patient / "pet_ia", "--iv", patient / "pet_iv", "--segmentation", segmentation,
            "-o", output, *extra)


def _segments(patient):
    path = patient / "segmentation.seg.nrrd"
    return read_segments(str(path)), read_nrrd(str(path)).geometry


def _save(tmp_path, segments, geometry):
    path = tmp_path / "edited.seg.nrrd"
    write_seg_nrrd(str(path), segments, geometry)
    return path


def _replaced(segments, name, mask_of):
    """``segments`` with the segment ``name`` holding the voxels of ``mask_of`` (a SegmentMask)."""
    return [SegmentMask(name, mask_of.mask.copy(), mask_of.geometry, segment_id=segment.segment_id)
            if segment.name == name else segment for segment in segments]


def test_one_lesion_drawn_twice_is_not_determined_then_confirmed(synthetic_patient_dir, tmp_path, capsys):
    segments, geometry = _segments(synthetic_patient_dir)
    by_name = {segment.name: segment for segment in segments}
    path = _save(tmp_path, _replaced(segments, "Lesion 3", by_name["Lesion 4"]), geometry)
    summary = assert_not_determined(run(capsys, *ratio_args(synthetic_patient_dir, path, tmp_path / "out")),
                                    tmp_path / "out", ["segment-overlap"])
    (item,) = [item for item in summary["consistency"] if item["check"] == "segment-overlap"]
    count = by_name["Lesion 4"].voxel_count
    assert item["subject"] == "Lesion 3 + Lesion 4"
    assert f"Lesion 3 and Lesion 4 share {count} voxel(s) (100 % of the smaller)" in item["message"]
    # Confirmed (the user says both are right): decided, with the confirmation recorded.
    code, _, err = run(capsys, *ratio_args(synthetic_patient_dir, path, tmp_path / "ok", "--accept", "segment-overlap"))
    assert code == 0, err
    assert any("CONFIRMED BY THE USER (--accept segment-overlap)" in text
               for text in read_summary(tmp_path / "ok")["warnings"])


def test_a_lesion_drawn_over_its_neighbour_is_not_determined(synthetic_patient_dir, tmp_path, capsys):
    """Lesion 4 grown by its neighbour's voxels (a partial overlap)."""
    segments, geometry = _segments(synthetic_patient_dir)
    by_name = {segment.name: segment for segment in segments}
    full = np.zeros(geometry.shape_kji, bool)
    for name in ("Lesion 3", "Lesion 4"):
        segment = by_name[name]
        origin = np.rint(geometry.lps_to_index(segment.geometry.index_to_lps(np.zeros(3)))).astype(int)
        k, j, i = np.nonzero(segment.mask)
        full[k + origin[2], j + origin[1], i + origin[0]] = True
    grown = SegmentMask.from_full_mask("Lesion 4", full, geometry)
    path = _save(tmp_path, _replaced(segments, "Lesion 4", grown), geometry)
    summary = assert_not_determined(run(capsys, *ratio_args(synthetic_patient_dir, path, tmp_path / "out")),
                                    tmp_path / "out", ["segment-overlap"])
    shared = by_name["Lesion 3"].voxel_count
    assert any(f"Lesion 3 and Lesion 4 share {shared} voxel(s) (100 % of the smaller)" in item["message"]
               for item in summary["consistency"])


def test_a_healthy_liver_voi_over_a_lesion_is_not_determined(synthetic_patient_dir, tmp_path, capsys):
    """The healthy-liver reference holding a lesion: tumour-to-liver ratios too low, avidity not judged."""
    segments, geometry = _segments(synthetic_patient_dir)
    by_name = {segment.name: segment for segment in segments}
    lesion, liver = by_name["Lesion 1"], by_name["Healthy liver"]
    full = np.zeros(geometry.shape_kji, bool)
    for segment in (lesion, liver):
        origin = np.rint(geometry.lps_to_index(segment.geometry.index_to_lps(np.zeros(3)))).astype(int)
        k, j, i = np.nonzero(segment.mask)
        full[k + origin[2], j + origin[1], i + origin[0]] = True
    path = _save(tmp_path, _replaced(segments, "Healthy liver", SegmentMask.from_full_mask("x", full, geometry)),
                 geometry)
    summary = assert_not_determined(run(capsys, *ratio_args(synthetic_patient_dir, path, tmp_path / "out")),
                                    tmp_path / "out", ["segment-overlap"])
    assert any(f"'Healthy liver' covers {lesion.voxel_count} voxel(s) of Lesion 1 (100 % of it)" in item["message"]
               and item["subject"] == "Healthy liver + Lesion 1" for item in summary["consistency"])


@pytest.mark.parametrize(("shift_mm", "lesions"), [(20.0, {"Lesion 5"}), (100.0, None)], ids=["20mm", "100mm"])
def test_a_labelmap_not_on_the_lesions_is_not_determined(synthetic_patient_dir, tmp_path, capsys, shift_mm,
                                                         lesions):
    """The patient's labelmap with its origin moved in z (drawn on a scan that is not registered to the PETs)."""
    image = sitk.ReadImage(str(synthetic_patient_dir / "labels.nrrd"))
    origin = list(image.GetOrigin())
    origin[2] -= shift_mm
    image.SetOrigin(origin)
    path = tmp_path / "shifted.nrrd"
    sitk.WriteImage(image, str(path))
    output = tmp_path / "out"
    summary = assert_not_determined(
        run(capsys, *ratio_args(synthetic_patient_dir, path, output, "--labels", synthetic_patient_dir / "labels.csv")),
        output, ["lesion-not-avid"])
    flagged = {item["subject"] for item in summary["consistency"] if item["check"] == "lesion-not-avid"}
    if lesions is not None:
        assert flagged == lesions
    else:
        assert len(flagged) >= 3, flagged
    assert all("is not above healthy liver on either PET" in item["message"]
               for item in summary["consistency"] if item["check"] == "lesion-not-avid")


def test_lesions_on_the_metastases_pass(synthetic_patient_dir, tmp_path, capsys):
    """The truth: no overlap, every lesion above healthy liver (at least 1.2x on one PET), decided ELIGIBLE."""
    code, _, err = run(capsys, *ratio_args(synthetic_patient_dir, synthetic_patient_dir / "segmentation.seg.nrrd",
                                           tmp_path / "out"))
    assert code == 0, err
    summary = read_summary(tmp_path / "out")
    assert summary["eligible"] is True and summary["consistency"] == []
    assert not any("covers" in text for text in summary["warnings"])


# --- names: separators, "Liver lesion n", segments of no role (W12, W14), and the lesions counted (W19) -------------
def _renamed(segments, names):
    return [SegmentMask(names.get(segment.name, segment.name), segment.mask, segment.geometry,
                        segment_id=segment.segment_id) for segment in segments]


def test_names_with_underscores_keep_their_roles(synthetic_patient_dir, tmp_path, capsys):
    """"Healthy_liver" and "Bone_marrow" are the healthy-liver reference and an organ at risk, as their spaced
    names: the tumour-to-liver ratios are computed and the decision is the truth's."""
    segments, geometry = _segments(synthetic_patient_dir)
    names = {"Healthy liver": "Healthy_liver", "Bone marrow": "Bone_marrow", "Kidney left": "Left_kidney"}
    path = _save(tmp_path, _renamed(segments, names), geometry)
    code, _, err = run(capsys, *ratio_args(synthetic_patient_dir, path, tmp_path / "out"))
    assert code == 0, err
    summary = read_summary(tmp_path / "out")
    roles = {row["segment"]: row["role"] for row in summary["segments"]}
    assert roles["Healthy_liver"] == "healthy_liver" and roles["Bone_marrow"] == "bone_marrow"
    assert roles["Left_kidney"] == "kidney"
    assert not any("No 'Healthy liver' segment" in text for text in summary["warnings"])
    assert all(row["tumour_to_liver_iv"] for row in summary["segments"] if row["role"] == "lesion")


def test_liver_lesion_names_are_lesions(synthetic_patient_dir, tmp_path, capsys):
    segments, geometry = _segments(synthetic_patient_dir)
    names = {f"Lesion {n}": f"Liver lesion {n}" for n in range(1, 6)}
    path = _save(tmp_path, _renamed(segments, names), geometry)
    code, _, err = run(capsys, *ratio_args(synthetic_patient_dir, path, tmp_path / "out"))
    assert code == 0, err
    summary = read_summary(tmp_path / "out")
    assert summary["lesion_count"] == 5 and summary["eligible"] is True


def test_unknown_names_are_listed_and_no_ratio_is_not_a_decision(synthetic_patient_dir, tmp_path, capsys):
    """Lesions named "Met 1".."Met 5": no lesion, exit 3, the names listed, and summary.json says "not determined"
    (it said "determined" beside "UNDETERMINED")."""
    segments, geometry = _segments(synthetic_patient_dir)
    names = {f"Lesion {n}": f"Met {n}" for n in range(1, 6)}
    path = _save(tmp_path, _renamed(segments, names), geometry)
    code, _, err = run(capsys, *ratio_args(synthetic_patient_dir, path, tmp_path / "out", "--report"))
    assert code == 3, err
    summary = read_summary(tmp_path / "out")
    assert summary["decision"].startswith("UNDETERMINED") and summary["decision_status"] == "not determined"
    assert any("Segments of no known role (named neither 'Lesion n' nor an organ): Met 1, Met 2, Met 3, Met 4, "
               "Met 5." in text for text in summary["warnings"]), summary["warnings"]
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert ">UNDETERMINED</div>" in page and "NOT DETERMINED</div>" not in page


def test_an_empty_lesion_is_not_counted_in_the_decision(synthetic_patient_dir, tmp_path, capsys):
    import numpy as np

    segments, geometry = _segments(synthetic_patient_dir)
    emptied = [SegmentMask(segment.name, np.zeros_like(segment.mask), segment.geometry, segment_id=segment.segment_id)
               if segment.name == "Lesion 3" else segment for segment in segments]
    path = _save(tmp_path, emptied, geometry)
    code, _, err = run(capsys, *ratio_args(synthetic_patient_dir, path, tmp_path / "out"))
    assert code == 0, err
    summary = read_summary(tmp_path / "out")
    assert (summary["lesion_count"], summary["lesions_in_decision"]) == (5, 4)
    assert "ratio of 4 lesion(s)" in summary["decision"]


def test_a_painted_label_missing_from_the_labels_csv_is_refused(synthetic_patient_dir, tmp_path, capsys):
    """W13: the labels CSV forgets '5,Lesion 5': the lesion was dropped and the decision made on 4, silently."""
    lines = (synthetic_patient_dir / "labels.csv").read_text(encoding="utf-8").splitlines()
    (tmp_path / "labels.csv").write_text("\n".join(line for line in lines if not line.startswith("5,")) + "\n",
                                         encoding="utf-8")
    image = sitk.GetArrayFromImage(sitk.ReadImage(str(synthetic_patient_dir / "labels.nrrd")))
    voxels = int(np.count_nonzero(image == 5))
    output = tmp_path / "out"
    code, _, err = run(capsys, *ratio_args(synthetic_patient_dir, synthetic_patient_dir / "labels.nrrd", output,
                                           "--labels", tmp_path / "labels.csv"))
    assert code == 2, err
    assert f"does not name: 5 ({voxels} voxels)" in err and "Add a line '5,<segment name>'" in err
    assert not output.exists() or not any(output.iterdir())


def test_a_labels_csv_can_leave_the_other_labels_out_on_purpose(synthetic_patient_dir, tmp_path, capsys):
    """A multi-organ labelmap used with a CSV naming only the wanted labels: the line '*,ignore' says the others are
    left out on purpose (review of the adversarial fixes); the decision is then made on the named segments."""
    lines = (synthetic_patient_dir / "labels.csv").read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if not line.startswith(("7,", "8,"))]  # two organs not wanted
    (tmp_path / "labels.csv").write_text("\n".join([*kept, "*,ignore"]) + "\n", encoding="utf-8")
    output = tmp_path / "out"
    code, _, err = run(capsys, *ratio_args(synthetic_patient_dir, synthetic_patient_dir / "labels.nrrd", output,
                                           "--labels", tmp_path / "labels.csv"))
    assert code == 0, err
    summary = read_summary(output)
    assert len(summary["segments"]) == len(kept) - (1 if kept[0].startswith("label") else 0)
    assert summary["eligible"] is True
