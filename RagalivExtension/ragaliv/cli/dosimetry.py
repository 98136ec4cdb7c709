"""``ragaliv dosimetry STUDY.json -o OUTDIR``: multi-time-point 177Lu SPECT/CT study → TACs, TIAs, doses.

The files written are listed in :mod:`ragaliv.spect.outputs`.
"""

import argparse
import sys
from collections.abc import Sequence

from ..errors import RagalivInputError
from ..spect.result import StudyResult


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


def run_dosimetry(study_json: str, output: str, report: bool = False, deidentify: bool = False,
                  accept: Sequence[str] = ()) -> int:
    """Analyse the study of ``study_json`` and write its results (and the case report) into ``output``.

    The output folder is checked first; the study is checked before the analysis and the result before anything
    is written (:mod:`ragaliv.checks.spect`); ``accept``: checks whose refusal the user accepts."""
    from ..checks.findings import normalise_accept
    from ..checks.outputs import check_output_folder, clear_previous_outputs
    from ..checks.spect import check_result, check_study, fit_notes
    from ..spect import analyse_study, load_study
    from ..spect.outputs import write_study_outputs

    accepted = normalise_accept(accept)
    if deidentify and not report:
        raise RagalivInputError("--deidentify applies to the case report, which is not asked for.",
                                "Add --report, or leave out --deidentify.")
    output = check_output_folder(output, "dosimetry", inputs=(study_json,))
    study = load_study(study_json, accepted)
    check_study(study, accepted)
    result = analyse_study(study)
    check_result(result, accepted)
    clear_previous_outputs(output, "dosimetry")
    paths = write_study_outputs(result, output, study.inputs, {"study": study.settings(), "accept": list(accepted)})
    if report:
        from ..report.case_report import write_dosimetry_report

        paths.update(write_dosimetry_report(result, study, output, deidentify=deidentify))
    _print_summary(result)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for region in result.regions:
        for flag in region.all_flags():
            print(f"note: {region.region}: {flag}", file=sys.stderr)
    for note in fit_notes(result):
        print(f"{'warning' if note.startswith('fit flag') else 'note'}: {note}", file=sys.stderr)
    print(f"Results: {', '.join(paths[key] for key in sorted(paths))}")
    return 0


def command(args: argparse.Namespace) -> int:
    return run_dosimetry(args.study, args.output, args.report, args.deidentify, args.accept)
