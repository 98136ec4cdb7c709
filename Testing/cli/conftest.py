"""CLI fixtures: the synthetic patient written to disk once per test session."""

import pathlib

import pytest


@pytest.fixture(scope="session")
def synthetic_patient_dir(tmp_path_factory) -> pathlib.Path:
    """``ragaliv phantom`` output (seed 0, no blur, no noise): DICOM, segmentations, study.json, truth.json."""
    from ragaliv.phantom import generate

    directory = tmp_path_factory.mktemp("synthetic_patient")
    generate(str(directory), seed=0)
    return directory
