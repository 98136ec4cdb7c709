"""``ragaliv ratio``: IA/IV uptake ratios of lesions and organs and the eligibility decision, on files.

The pipeline is the one of the Slicer module (:func:`ragaliv.ratio.analysis.analyse_pets`); this module reads
the inputs, writes the files (:mod:`ragaliv.ratio.outputs`, DICOM SEG/SR, case report) and prints the decision.
"""

import argparse
import os
import sys
from typing import Any, Optional

from ..constants import DEFAULT_RATIO_AGGREGATE, DEFAULT_RATIO_METRIC, DEFAULT_RATIO_THRESHOLD
from ..errors import RagalivInputError
from . import suv_flags

EXIT_NO_DECISION = 3  # results written, decision not determined (as ragaliv.cli.EXIT_NO_DECISION)


def run_ratio(
    ia: str,
    iv: str,
    segmentation: str,
    output: str,
    labels: Optional[str] = None,
    reference: Optional[str] = None,
    metric: str = DEFAULT_RATIO_METRIC,
    aggregate: str = DEFAULT_RATIO_AGGREGATE,
    threshold: float = DEFAULT_RATIO_THRESHOLD,
    normalization: str = "bw",
    values: Optional[dict[str, Any]] = None,
    plot: bool = False,
    report: bool = False,
    dicom: bool = False,
    dosimetry: Optional[str] = None,
    deidentify: bool = False,
    confirm_consistency: bool = False,
) -> int:
    """The whole ``ratio`` command. ``values``: flat SUV overrides (``weight_kg``, ``ia_dose_mbq`` ...) and
    ``accept`` (check ids). Returns 0, or :data:`~ragaliv.cli.EXIT_NO_DECISION` when the results are written but
    the decision is not determined."""
    from ..checks.findings import normalise_accept
    from ..ratio.analysis import analyse_pets, provenance_inputs
    from ..ratio.decision import RatioSettings
    from ..ratio.outputs import used_parameters, write_ratio_outputs
    from ..ratio.segments import frame_of_reference_uid, load_segments

    values = dict(values or {})
    values["accept"] = normalise_accept(values.get("accept"))
    output = _check_arguments(ia, iv, segmentation, output, labels, reference, dicom, dosimetry, deidentify, report)
    parameters = {"metric": metric, "aggregate": aggregate, "threshold": threshold,
                  "normalization": normalization, **values, "confirm_consistency": confirm_consistency}
    settings = RatioSettings(metric, aggregate, threshold, confirm_consistency, values["accept"])
    segments = load_segments(segmentation, labels, reference)
    ia_pet = suv_flags.load_pet(ia, values, normalization, "ia-", "IA PET")
    iv_pet = suv_flags.load_pet(iv, values, normalization, "iv-", "IV PET")

    analysis = analyse_pets(segments, ia_pet, iv_pet, settings, frame_of_reference_uid(reference))
    inputs = provenance_inputs(ia, iv, ia_pet, iv_pet, segmentation, labels, reference)
    paths = write_ratio_outputs(analysis, output, inputs, parameters, plot=plot or report)
    if dicom:
        paths.update(_export_dicom(output, segments, analysis, reference, ia, iv, dosimetry, deidentify))
    if report:
        from ..report.case_report import write_ratio_report

        paths.update(write_ratio_report(analysis, segments, ia_pet, iv_pet, output, reference=reference,
                                        deidentify=deidentify))
    if dicom or report:  # the sidecar then also covers the DICOM objects and the report
        from ..report.provenance import write_provenance

        outputs = [path for key, path in paths.items() if key != "provenance"]
        paths["provenance"] = write_provenance(output, inputs, used_parameters(parameters), outputs)
    summary = analysis.summary
    print(summary.decision_text)
    print(f"Rule: {summary.settings.rule_text()}")
    for warning in summary.warnings + ia_pet.parameters.warnings + iv_pet.parameters.warnings:
        if warning != summary.decision_text:
            print(f"warning: {warning}", file=sys.stderr)
    print(f"Results: {', '.join(paths.values())}")
    if summary.eligible is None:
        print("ragaliv ratio: no decision (see above); the results are written (exit code 3)", file=sys.stderr)
        return EXIT_NO_DECISION
    return 0


def _check_arguments(ia: str, iv: str, segmentation: str, output: str, labels: Optional[str],
                     reference: Optional[str], dicom: bool, dosimetry: Optional[str], deidentify: bool,
                     report: bool) -> str:
    """Argument combinations and the output folder, before anything is read or written; the output folder."""
    from ..checks.outputs import check_output_folder
    from ..io.images import is_image_file

    if dicom and (not reference or is_image_file(reference)):
        raise RagalivInputError(
            "--dicom needs the DICOM series the segmentation was drawn on.",
            "Give it with --reference <MRI DICOM folder>, or leave out --dicom.",
        )
    if dosimetry and not dicom:
        raise RagalivInputError("--dosimetry only feeds the doses into the DICOM SR, which needs --dicom.",
                                "Add --dicom (with --reference), or leave out --dosimetry.")
    if dosimetry and not os.path.isfile(os.path.join(dosimetry, "dose.csv")):
        raise RagalivInputError(f"No dose.csv in {dosimetry}.", "Give the output folder of `ragaliv dosimetry`.")
    if deidentify and not (report or dicom):
        raise RagalivInputError("--deidentify applies to the report and the DICOM objects; neither is asked for.",
                                "Add --report and/or --dicom, or leave out --deidentify.")
    if labels and segmentation.lower().endswith(".seg.nrrd"):
        raise RagalivInputError(f"--labels is for a labelmap image, but {segmentation} is a .seg.nrrd (it names its "
                                "segments itself).", "Leave out --labels, or give the labelmap (.nrrd/.nii.gz).")
    if dicom:
        from ..report.dicom_common import import_highdicom

        import_highdicom()
    return check_output_folder(output, "ratio", inputs=(ia, iv, segmentation, labels, reference, dosimetry))


def _export_dicom(output: str, segments, analysis, reference: Optional[str], ia: str, iv: str,
                  dosimetry: Optional[str], deidentify: bool) -> dict:
    """DICOM SEG (on the --reference MRI series) and TID 1500 SR (+ doses from --dosimetry DIR/dose.csv)."""
    import csv

    from ..report.dicom_export import SEG_FILENAME, SR_FILENAME, dose_measurements_from_rows, write_dicom_outputs
    from ..report.phi import Deidentifier

    doses = None
    if dosimetry:
        dose_csv = os.path.join(dosimetry, "dose.csv")
        if not os.path.isfile(dose_csv):
            raise RagalivInputError(
                f"No dose.csv in {dosimetry}.", "Give the output folder of `ragaliv dosimetry`."
            )
        with open(dose_csv, newline="", encoding="utf-8") as stream:
            doses = dose_measurements_from_rows(list(csv.DictReader(stream)))
    exported = write_dicom_outputs(output, segments, analysis, reference, ia, iv,
                                   Deidentifier() if deidentify else None, doses)
    for warning in exported["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return {"dicom_seg": os.path.join(output, SEG_FILENAME), "dicom_sr": os.path.join(output, SR_FILENAME)}


def command(args: argparse.Namespace) -> int:
    return run_ratio(
        args.ia, args.iv, args.segmentation, args.output, labels=args.labels, reference=args.reference,
        metric=args.metric, aggregate=args.aggregate, threshold=args.threshold, normalization=args.normalization,
        values=suv_flags.suv_values(args, ("ia-", "iv-")), plot=args.plot, report=args.report, dicom=args.dicom,
        dosimetry=args.dosimetry, deidentify=args.deidentify, confirm_consistency=args.confirm_consistency,
    )
