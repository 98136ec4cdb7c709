"""Result files of a SPECT/CT dosimetry study: the tables, plots, dose map and provenance of one run.

Used by ``ragaliv dosimetry``, the cohort batch and the SpectDosimetry module's export. Writes ``tac.csv``,
``tia.csv``, ``dose.csv``, ``tac.png``, ``summary.json``, ``provenance.json`` and, when the voxel dosimetry ran,
``dose_map.nrrd`` (Gy, float32, reference SPECT grid) and ``dvh.csv``. The CSVs are byte-identical for the same
inputs (no timestamps; those are in ``provenance.json``).
"""

import os
from typing import Any, Optional

from .result import StudyResult


def write_study_outputs(
    result: StudyResult, output: str, inputs: dict[str, str], parameters: dict, deidentifier: Optional[Any] = None
) -> dict[str, str]:
    """Write every result file of a study into ``output``; return {name: path}.

    ``deidentifier`` (e.g. :class:`ragaliv.cohort.scrub.ResultScrubber`; None = identities kept) rewrites every
    string of the tables and documents (``document``) and writes the provenance (``write_provenance``).
    """
    from ..io.images import write_image
    from ..io.results import write_csv, write_json
    from ..report.provenance import write_provenance
    from .tables import DOSE_COLUMNS, DVH_COLUMNS, TAC_COLUMNS, TIA_COLUMNS, plot_curve

    scrub = (lambda value: value) if deidentifier is None else deidentifier.document
    os.makedirs(output, exist_ok=True)
    paths = {
        "tac": os.path.join(output, "tac.csv"),
        "tia": os.path.join(output, "tia.csv"),
        "dose": os.path.join(output, "dose.csv"),
        "plot": os.path.join(output, "tac.png"),
        "summary": os.path.join(output, "summary.json"),
    }
    write_csv(paths["tac"], TAC_COLUMNS, scrub(result.tac_rows()))
    write_csv(paths["tia"], (*TIA_COLUMNS, "voxel_tia_mbq_h"), scrub(result.tia_rows()))
    write_csv(paths["dose"], DOSE_COLUMNS, scrub(result.dose_rows()))
    try:
        from ..report.plots import plot_time_activity  # matplotlib: optional (absent inside Slicer unless installed
    except ImportError:
        paths.pop("plot")
    else:
        curves = [plot_curve(r.region, r.tac.time_h, r.tac.activity_mbq, r.fit) for r in result.regions]
        plot_time_activity(curves, paths["plot"], "VOI time-activity curves (not decay corrected)")
    if result.voxel.performed:
        paths["dose_map"] = os.path.join(output, "dose_map.nrrd")
        paths["dvh"] = os.path.join(output, "dvh.csv")
        write_image(result.voxel.dose_map, paths["dose_map"], dtype="float32")
        write_csv(paths["dvh"], DVH_COLUMNS, scrub(result.dvh_rows()))
    else:
        for stale in ("dose_map.nrrd", "dvh.csv"):  # never leave a previous run's map beside new tables
            stale_path = os.path.join(output, stale)
            if os.path.isfile(stale_path):
                os.remove(stale_path)
    document = result.to_dict()
    document["outputs"] = sorted(os.path.basename(path) for path in paths.values())
    write_json(paths["summary"], scrub(document))
    if deidentifier is not None:
        paths["provenance"] = deidentifier.write_provenance(output, inputs, parameters, list(paths.values()))
    else:
        paths["provenance"] = write_provenance(output, inputs, parameters, list(paths.values()))
    return paths
