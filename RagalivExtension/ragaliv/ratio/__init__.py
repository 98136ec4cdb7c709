"""IA/IV PET uptake ratios: from segments and two SUV images to the eligibility decision.

Modules, in the order the data flows:

* :mod:`.segments` — segments from a ``.seg.nrrd`` or labelmap + labels, checked against the reference image;
* :mod:`.placement` — click-to-segment: sphere or automatic PET contour, organ VOI presets, "Lesion n" names;
* :mod:`.uptake` — per segment and PET: volume, SUVmax, SUVmean (partial-voxel weights), PERCIST SUVpeak;
* :mod:`.decision` — IA/IV ratio per segment, lesion aggregate, threshold rule, warnings;
* :mod:`.analysis` — the pipeline shared by the CLI, the batch and the Slicer module (``analyse_pets``);
* :mod:`.outputs` — ``ratios.csv``, ``summary.json``, the plot and the provenance of one analysis.

Typical use::

    from ragaliv.ratio import RatioSettings, analyse_pets, load_segments
"""

import importlib
from typing import Any

# Public name -> submodule, imported on first use (PEP 562) so that e.g. the settings do not load SciPy.
_EXPORTS = {
    "AGGREGATES": "decision",
    "METRICS": "decision",
    "METRIC_TITLES": "decision",
    "RatioAnalysis": "analysis",
    "RatioRow": "decision",
    "RatioSettings": "decision",
    "RatioSummary": "decision",
    "UptakeStats": "uptake",
    "analyse_pets": "analysis",
    "auto_contour_segment": "placement",
    "load_segments": "segments",
    "next_lesion_name": "placement",
    "sphere_segment": "placement",
    "summarise": "decision",
    "uptake_statistics": "uptake",
    "write_ratio_outputs": "outputs",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
