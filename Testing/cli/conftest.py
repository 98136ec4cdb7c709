"""Fixtures shared by the command-line tests."""

import json

import pytest


@pytest.fixture(scope="module")
def study_writer(synthetic_patient_dir):
    """``write(folder, change)``: the synthetic STUDY.json with absolute paths, no voxel dosimetry (speed), and
    ``change(document)`` applied; returns its path."""
    spect = synthetic_patient_dir / "spect"
    base = json.loads((spect / "study.json").read_text(encoding="utf-8"))
    base["timepoints"] = [dict(tp, image=str(spect / tp["image"]), ct=str(spect / tp["ct"]))
                          for tp in base["timepoints"]]
    base["segmentation"] = str(spect / base["segmentation"])
    base["voxel_dosimetry"] = False

    def write(folder, change=None):
        document = json.loads(json.dumps(base))
        if change is not None:
            change(document)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "study.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        return path

    return write
