"""Multi-time-point 177Lu SPECT/CT dosimetry: study input, VOI TACs, masses, registration, doses, voxel doses.

Typical use::

    from ragaliv.spect import load_study, analyse_study
    result = analyse_study(load_study("STUDY.json"))
    result.dose_rows()

Modules: :mod:`.study` (SpectStudy, SpectTimepoint), :mod:`.study_json` (STUDY.json), :mod:`.loading`
(images and headers), :mod:`.registration` (rigid CT-to-CT, applied to the VOIs), :mod:`.tac` (VOI TACs),
:mod:`.mass` (VOI masses), :mod:`.dose` (dose method by role), :mod:`.voxel` (voxel dosimetry),
:mod:`.analysis` (the pipeline), :mod:`.result` (StudyResult), :mod:`.tables` (CSV column contracts),
:mod:`.outputs` (the result files of a study), :mod:`.ct` (CT number to mass density).
"""

import importlib
from typing import Any

# Public name -> submodule. Submodules are imported on first use (PEP 562), so that e.g. ``ragaliv tac``,
# which needs only :mod:`.tables`, does not import the phantom, dosimetry and SimpleITK code.
_EXPORTS = {
    "RegionDose": "dose",
    "RegionResult": "result",
    "RegionTac": "tac",
    "RegionVoxelDose": "voxel",
    "RigidRegistration": "registration",
    "SpectStudy": "study",
    "SpectTimepoint": "study",
    "StudyResult": "result",
    "VoiMass": "mass",
    "VoiMeasurement": "tac",
    "VoxelDosimetry": "voxel",
    "analyse_study": "analysis",
    "counts_to_bq_per_ml": "study",
    "default_kernel_directory": "voxel",
    "load_study": "study_json",
    "measure_tacs": "tac",
    "measure_voi": "tac",
    "organ_for": "dose",
    "primary_method_for": "dose",
    "region_dose": "dose",
    "register_rigid": "registration",
    "register_study": "analysis",
    "resample_to_grid": "registration",
    "transform_segment": "registration",
    "voi_mass": "mass",
    "voxel_dosimetry": "voxel",
    "write_study_outputs": "outputs",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(_EXPORTS))
