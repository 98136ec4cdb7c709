"""``ragaliv dosimetry STUDY.json -o OUTDIR``: multi-time-point 177Lu SPECT/CT study → TACs, TIAs, doses.

Writes ``tac.csv``, ``tia.csv``, ``dose.csv``, ``tac.png``, ``summary.json``, ``provenance.json`` and, when
the voxel dosimetry ran, ``dose_map.nrrd`` (Gy, float32, reference SPECT grid) and ``dvh.csv``. The CSVs
are byte-identical for the same inputs (no timestamps; those are in ``provenance.json``).
"""

import os
import sys
from typing import Any, Optional

from .spect.result import StudyResult


def write_study_outputs(
    result: StudyResult, output: str, inputs: dict[str, str], parameters: dict, deidentifier: Optional[Any] = None
) -> dict[str, str]:
    """Write every result file of a study into ``output``; return {name: path}.

    ``deidentifier`` (e.g. :class:`ragaliv.cohort.scrub.ResultScrubber`; None = identities kept) rewrites every
    string of the tables and documents (``document``) and writes the provenance (``write_provenance``).
    """
    from .io.images import write_image
    from .report.provenance import write_provenance
    from .results_io import write_csv, write_json
    from .spect.tables import DOSE_COLUMNS, DVH_COLUMNS, TAC_COLUMNS, TIA_COLUMNS, plot_curve

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
        from .plots import plot_time_activity  # matplotlib: optional (absent inside Slicer unless installed)
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


def _print_summary(result: StudyResult) -> None:
    administered = result.administered_mbq
    times = ", ".join(f"{point['time_h']:g} h" for point in result.timepoints)
    print(f"177Lu study: {administered:g} MBq, {len(result.timepoints)} time points ({times})")
    print(f"{'region':16s} {'model':8s} {'TIA (MBq·h)':>12s} {'mass (g)':>9s} {'method':8s} {'dose (Gy)':>9s} "
          f"{'Gy/GBq':>7s} {'u(D)':>6s} {'voxel (Gy)':>10s}")
    for region in result.regions:
        if region.fit is None or region.dose is None:
            print(f"{region.region:16s} no result: {'; '.join(region.flags[-1:])}")
            continue
        dose = region.dose.primary
        rel = "" if dose.dose_rel_uncertainty is None else f"{dose.dose_rel_uncertainty:.0%}"
        voxel = "" if region.voxel is None else f"{region.voxel.mean_gy:.3g}"
        bed = "" if region.dose.bed is None else f"  BED {region.dose.bed.bed_gy:.3g} Gy"
        print(f"{region.region:16s} {region.fit.model:8s} {region.fit.tia_mbq_h:12.5g} {region.mass.mass_g:9.4g} "
              f"{region.dose.method_key:8s} {dose.dose_gy:9.4g} {dose.dose_gy_per_gbq:7.3g} {rel:>6s} "
              f"{voxel:>10s}{bed}")
    if not result.voxel.performed:
        print(f"voxel dosimetry skipped: {result.voxel.reason}")


def run_study_command(args) -> int:
    from .spect import analyse_study, load_study

    study = load_study(args.study)
    result = analyse_study(study)
    paths = write_study_outputs(result, args.output, study.inputs, {"study": study.settings()})
    if getattr(args, "report", False):
        from .report.case_report import write_dosimetry_report

        paths.update(write_dosimetry_report(result, study, args.output, deidentify=args.deidentify))
    _print_summary(result)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for region in result.regions:
        for flag in region.all_flags():
            print(f"note: {region.region}: {flag}", file=sys.stderr)
    print(f"Results: {', '.join(paths[key] for key in sorted(paths))}")
    return 0
