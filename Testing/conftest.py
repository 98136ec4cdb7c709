"""Shared pytest fixtures: the shared validation data, and the synthetic patient (built once per run)."""

import os
import pathlib
import sys

import pytest

try:  # hypothesis is a dev dependency (absent from the Slicer 5.8 tier)
    from hypothesis import settings
except ImportError:
    settings = None
if settings is not None:
    # Property tests draw the same examples on every run (CI must not pass or fail by chance); the examples
    # still cover the ranges each test declares.
    settings.register_profile("ragaliv", derandomize=True)
    settings.load_profile("ragaliv")

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
# The module Libs are importable the way Slicer imports them: from the module folders.
for module_folder in ("RagalivLesionRatio", "RagalivSpectDosimetry"):
    path = str(REPO_ROOT / module_folder)
    if path not in sys.path:
        sys.path.insert(0, path)


def shared_data_root() -> pathlib.Path:
    """``$RAGALIV_SHARED_DATA`` or ``../shared/data`` beside the checkout."""
    configured = os.environ.get("RAGALIV_SHARED_DATA")
    return pathlib.Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"


def require_shared_data(relative: str) -> pathlib.Path:
    """Path of a shared data folder; skip with a reason if absent, but fail under ``CI=true``."""
    path = shared_data_root() / relative
    if not path.exists():
        message = (
            f"shared validation data {path} not found "
            "(set RAGALIV_SHARED_DATA to the folder that holds ibsi_suv_dro/, voxel_s_values_lu177/ ...)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " - required under CI=true")
        pytest.skip(message)
    return path


@pytest.fixture
def shared_data():
    """``shared_data("ibsi_suv_dro")`` -> path, skipping (or failing under CI) when absent."""
    return require_shared_data


@pytest.fixture(scope="session")
def synthetic_patient():
    """The canonical synthetic patient (seed 0, no blur, no noise), in memory."""
    from ragaliv.phantom import build_patient

    return build_patient(0)


@pytest.fixture(scope="session")
def synthetic_patient_dir(tmp_path_factory) -> pathlib.Path:
    """``ragaliv phantom`` output (seed 0, no blur, no noise): DICOM, segmentations, study.json, truth.json.
    Written once per test session."""
    from ragaliv.phantom import generate

    directory = tmp_path_factory.mktemp("synthetic_patient")
    generate(str(directory), seed=0)
    return directory
