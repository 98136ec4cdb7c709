"""Files of a ratio analysis: ``ratios.csv``, ``summary.json``, ``lesion_ratios.png``, ``provenance.json``."""

import os
from typing import Any, Optional

from ..checks.outputs import clear_previous_outputs
from ..io.results import write_csv, write_json
from ..report.provenance import write_provenance
from .analysis import RATIO_COLUMNS, RatioAnalysis, row_values, summary_dict

PARAMETER_KEYS = ("metric", "aggregate", "threshold", "normalization", "weight_kg", "height_cm", "sex",
                  "half_life_s", "ia_dose_mbq", "iv_dose_mbq", "ia_injection_time", "iv_injection_time",
                  "ia_scan_time", "iv_scan_time", "accept", "confirm_consistency", "source")


def used_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """The analysis parameters worth recording (JSON-ready)."""
    used = {key: parameters.get(key) for key in PARAMETER_KEYS if key in parameters}
    return {key: (value.isoformat() if hasattr(value, "isoformat") else value) for key, value in used.items()}


def write_ratio_outputs(
    analysis: RatioAnalysis,
    directory: str,
    inputs: dict[str, Any],
    parameters: dict[str, Any],
    plot: bool = True,
    deidentifier: Optional[Any] = None,
) -> dict[str, str]:
    """Write the result files into ``directory``; return {name: path}. Files an earlier ratio run left there
    (report, PDF, snapshots, plot, DICOM SEG/SR) are removed first.

    ``deidentifier`` (e.g. :class:`ragaliv.cohort.scrub.ResultScrubber`; None = identities kept) rewrites every
    string of the tables and documents (``document``) and writes the provenance (``write_provenance``).
    """
    os.makedirs(directory, exist_ok=True)
    clear_previous_outputs(directory, "ratio")  # no report, plot or DICOM object of an earlier run stays beside these
    paths = {
        "ratios": os.path.join(directory, "ratios.csv"),
        "summary": os.path.join(directory, "summary.json"),
    }
    rows = [row_values(row) for row in analysis.rows]
    summary = summary_dict(analysis)
    if deidentifier is not None:
        rows, summary = deidentifier.document(rows), deidentifier.document(summary)
    write_csv(paths["ratios"], [key for key, _, _ in RATIO_COLUMNS], rows)
    write_json(paths["summary"], summary)
    if plot:
        try:
            from ..report.plots import plot_lesion_ratios  # matplotlib: optional, and slow to import

            paths["plot"] = os.path.join(directory, "lesion_ratios.png")
            plot_lesion_ratios(analysis, paths["plot"])
        except ImportError:  # absent inside Slicer unless installed
            paths.pop("plot", None)
    used = used_parameters(parameters)
    if deidentifier is not None:
        paths["provenance"] = deidentifier.write_provenance(directory, inputs, used, list(paths.values()))
    else:
        paths["provenance"] = write_provenance(directory, inputs, used, paths.values())
    return paths
