"""The ``ragaliv`` command line: the same core as the Slicer modules, on files, for headless and batch use.

Exit codes: 0 success, 2 bad input or usage (the message says what is wrong and how to fix it),
1 internal error (a bug: run with ``--debug`` for the traceback and report it).
Heavy modules are imported inside the commands so that ``ragaliv --help`` starts fast; nothing here
imports Slicer.
"""

import argparse
import datetime
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Optional

from . import __version__
from .constants import DEFAULT_RATIO_AGGREGATE, DEFAULT_RATIO_METRIC, DEFAULT_RATIO_THRESHOLD
from .errors import RagalivInputError

METRICS = ("suvmax", "suvmean", "suvpeak")  # as ragaliv.ratio.METRICS (not imported: keeps --help fast)
AGGREGATES = ("mean", "median")

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INPUT = 2


def _iso_datetime(text: str) -> datetime.datetime:
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date-time (e.g. 2026-03-10T09:12:00)"
        ) from None


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


# --- suv ---------------------------------------------------------------------------------------------------
SUV_FLAGS = ("weight_kg", "height_cm", "sex", "dose_mbq", "injection_time", "scan_time", "half_life_s")


def _add_suv_overrides(parser: argparse.ArgumentParser, prefix: str = "", scan: str = "") -> None:
    """Per-scan (``--ia-dose-mbq``) or plain (``--dose-mbq``) SUV overrides."""
    label = f" of the {scan} scan" if scan else ""
    group = parser.add_argument_group(f"SUV values{label} (override the DICOM header)")
    if not prefix or prefix == "ia-":
        # Patient values are shared by both scans.
        group.add_argument("--weight-kg", type=_positive, help="patient weight (kg) (0010,1030)")
        group.add_argument("--height-cm", type=_positive, help="patient height (cm) (0010,1020, in m)")
        group.add_argument("--sex", choices=("M", "F", "O"), help="patient sex (0010,0040)")
        group.add_argument("--half-life-s", type=_positive, help="radionuclide half-life (s) (0018,1075)")
    group.add_argument(f"--{prefix}dose-mbq", type=_positive,
                       help=f"injected activity{label} in MBq (0018,1074 holds Bq)")
    group.add_argument(f"--{prefix}injection-time", type=_iso_datetime,
                       help=f"injection date-time{label}, ISO (0018,1078)")
    group.add_argument(f"--{prefix}scan-time", type=_iso_datetime,
                       help=f"scan reference date-time{label}, ISO (0008,0021/0031)")


def _overrides(args: argparse.Namespace, prefix: str = ""):
    from .pet.suv import SuvOverrides

    key = prefix.replace("-", "_")
    return SuvOverrides(
        weight_kg=args.weight_kg,
        height_cm=args.height_cm,
        sex=args.sex,
        injected_dose_mbq=getattr(args, f"{key}dose_mbq"),
        injection_time=getattr(args, f"{key}injection_time"),
        scan_time=getattr(args, f"{key}scan_time"),
        half_life_s=args.half_life_s,
    )


def _load_pet(path: str, args: argparse.Namespace, prefix: str = "", what: str = "PET"):
    """load_pet with per-scan flag names in the messages (``--ia-dose-mbq`` rather than ``--dose-mbq``)."""
    from .pet.suv import load_pet

    try:
        return load_pet(path, _overrides(args, prefix), args.normalization)
    except RagalivInputError as error:
        if not prefix:
            raise
        message = f"{what}: {error.message}"
        hint = error.hint or ""
        for flag in ("dose-mbq", "injection-time", "scan-time"):
            hint = hint.replace(f"--{flag}", f"--{prefix}{flag}")
            message = message.replace(f"--{flag}", f"--{prefix}{flag}")
        raise RagalivInputError(message, hint or None) from None


def command_suv(args: argparse.Namespace) -> int:
    from .io.images import write_image

    pet = _load_pet(args.series, args)
    if not args.output.lower().endswith((".nrrd", ".nii", ".nii.gz", ".mha")):
        raise RagalivInputError(f"Unsupported output {args.output!r}.", "Use a .nrrd or .nii.gz file name (-o).")
    write_image(pet.suv, args.output, dtype="float32")
    parameters = pet.parameters
    print(f"{parameters.suv_quantity} ({parameters.suv_unit}) written to {args.output}")
    for warning in parameters.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return EXIT_OK


# --- ratio -------------------------------------------------------------------------------------------------
def command_ratio(args: argparse.Namespace) -> int:
    from .lesion_ratio import analyse_pets, provenance_inputs
    from .ratio import RatioSettings
    from .ratio_outputs import write_ratio_outputs
    from .workflow import load_segments

    settings = RatioSettings(args.metric, args.aggregate, args.threshold)
    segments = load_segments(args.segmentation, args.labels, args.reference)
    ia = _load_pet(args.ia, args, "ia-", "IA PET")
    iv = _load_pet(args.iv, args, "iv-", "IV PET")
    from .workflow import frame_of_reference_uid

    analysis = analyse_pets(segments, ia, iv, settings, frame_of_reference_uid(args.reference))
    inputs = provenance_inputs(args.ia, args.iv, ia, iv, args.segmentation, args.labels, args.reference)
    paths = write_ratio_outputs(analysis, args.output, inputs, vars(args), plot=args.plot or args.report)
    if args.dicom:
        paths.update(_export_dicom(args, segments, analysis))
    if args.report:
        from .report.case_report import write_ratio_report

        paths.update(write_ratio_report(analysis, segments, ia, iv, args.output, reference=args.reference,
                                        deidentify=args.deidentify))
    if args.dicom or args.report:  # the sidecar then also covers the DICOM objects and the report
        from .ratio_outputs import used_parameters
        from .report.provenance import write_provenance

        outputs = [path for key, path in paths.items() if key != "provenance"]
        paths["provenance"] = write_provenance(args.output, inputs, used_parameters(vars(args)), outputs)
    summary = analysis.summary
    print(summary.decision_text)
    print(f"Rule: {summary.settings.rule_text()}")
    for warning in summary.warnings + ia.parameters.warnings + iv.parameters.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"Results: {', '.join(paths.values())}")
    return EXIT_OK


def _export_dicom(args: argparse.Namespace, segments, analysis) -> dict:
    """DICOM SEG (on the --reference MRI series) and TID 1500 SR (+ doses from --dosimetry DIR/dose.csv)."""
    import csv

    from .io.images import is_image_file
    from .report.dicom_export import SEG_FILENAME, SR_FILENAME, dose_measurements_from_rows, write_dicom_outputs
    from .report.phi import Deidentifier

    if not args.reference or is_image_file(args.reference):
        raise RagalivInputError(
            "--dicom needs the DICOM series the segmentation was drawn on.",
            "Give it with --reference <MRI DICOM folder>.",
        )
    doses = None
    if args.dosimetry:
        dose_csv = os.path.join(args.dosimetry, "dose.csv")
        if not os.path.isfile(dose_csv):
            raise RagalivInputError(
                f"No dose.csv in {args.dosimetry}.", "Give the output folder of `ragaliv dosimetry`."
            )
        with open(dose_csv, newline="", encoding="utf-8") as stream:
            doses = dose_measurements_from_rows(list(csv.DictReader(stream)))
    exported = write_dicom_outputs(args.output, segments, analysis, args.reference, args.ia, args.iv,
                                   Deidentifier() if args.deidentify else None, doses)
    for warning in exported["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return {"dicom_seg": os.path.join(args.output, SEG_FILENAME), "dicom_sr": os.path.join(args.output, SR_FILENAME)}


# --- tac / dosimetry ---------------------------------------------------------------------------------------
def command_tac(args: argparse.Namespace) -> int:
    from .tac_command import run_tac

    return run_tac(args)


def command_dosimetry(args: argparse.Namespace) -> int:
    from .dosimetry_study import run_study_command

    return run_study_command(args)


# --- report / batch ----------------------------------------------------------------------------------------
def command_report(args: argparse.Namespace) -> int:
    from .report.case_report import run_report_command

    return run_report_command(args)


def command_batch(args: argparse.Namespace) -> int:
    from .batch import run_batch

    return run_batch(args)


# --- phantom / demo ----------------------------------------------------------------------------------------
def command_phantom(args: argparse.Namespace) -> int:
    from .phantom import generate

    paths = generate(args.output, args.seed, args.blur_fwhm_mm, args.noise, args.spect_shift_mm)
    print(f"Synthetic patient (seed {args.seed}) written to {args.output}")
    for key, path in paths.items():
        print(f"  {key:20s} {path}")
    return EXIT_OK


def command_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.output, seed=args.seed)


# --- parser ------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ragaliv",
        description="RAGALIV: IA/IV 68Ga PET uptake ratios and 177Lu SPECT/CT dosimetry (3D Slicer core, headless).",
    )
    parser.add_argument("--version", action="version", version=f"ragaliv {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of internal errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    suv = commands.add_parser("suv", help="PET DICOM series (or Bq/mL image) -> SUV image")
    suv.add_argument("series", help="PET DICOM folder/file, or a NRRD/NIfTI image in Bq/mL")
    suv.add_argument("-o", "--output", required=True, help="output image (.nrrd or .nii.gz), float32 SUV")
    suv.add_argument("--normalization", default="bw", choices=("bw", "lbm", "lbm-james", "bsa", "ibw"))
    _add_suv_overrides(suv)
    suv.set_defaults(handler=command_suv)

    ratio = commands.add_parser("ratio", help="IA/IV uptake ratios of lesions and organs, eligibility")
    ratio.add_argument("--ia", required=True, help="IA PET (DICOM folder, or NRRD/NIfTI in Bq/mL)")
    ratio.add_argument("--iv", required=True, help="IV PET (DICOM folder, or NRRD/NIfTI in Bq/mL)")
    ratio.add_argument("--segmentation", required=True, help="Slicer .seg.nrrd, or a labelmap with --labels")
    ratio.add_argument("--labels", help="CSV 'label,name' for a labelmap segmentation")
    ratio.add_argument("--reference", help="image the segmentation was drawn on (MRI); checked for overlap")
    ratio.add_argument("--metric", default=DEFAULT_RATIO_METRIC, choices=METRICS)
    ratio.add_argument("--aggregate", default=DEFAULT_RATIO_AGGREGATE, choices=AGGREGATES)
    ratio.add_argument("--threshold", type=_positive, default=DEFAULT_RATIO_THRESHOLD,
                       help=f"eligibility threshold (default {DEFAULT_RATIO_THRESHOLD:g})")
    ratio.add_argument("--normalization", default="bw", choices=("bw", "lbm", "lbm-james", "bsa", "ibw"))
    ratio.add_argument("-o", "--output", required=True, help="output folder")
    ratio.add_argument("--plot", action="store_true", help="also write lesion_ratios.png (bar chart)")
    ratio.add_argument("--report", action="store_true", help="also write the case report (report.html)")
    ratio.add_argument("--dicom", action="store_true",
                       help="also write DICOM SEG + TID 1500 SR (needs --reference MRI DICOM; highdicom)")
    ratio.add_argument("--dosimetry", help="output folder of `ragaliv dosimetry`: its doses go into the SR")
    ratio.add_argument("--deidentify", action="store_true", help="pseudonymise the report (names, IDs, dates)")
    _add_suv_overrides(ratio, "ia-", "IA")
    _add_suv_overrides(ratio, "iv-", "IV")
    ratio.set_defaults(handler=command_ratio)

    tac = commands.add_parser("tac", help="time-activity curves (CSV) -> fits, TIA, residence times")
    tac.add_argument("tacs", help="CSV with columns region,time_h,activity_mbq[,sigma_mbq]")
    tac.add_argument("--administered-mbq", type=_positive, required=True, help="administered activity (MBq)")
    tac.add_argument("--model", default="auto",
                     choices=("auto", "mono", "biexp-uptake", "biexp", "triexp", "trapezoid", "stp"))
    tac.add_argument("--calibration-uncertainty", type=float, default=0.0,
                     help="relative calibration uncertainty (e.g. 0.05), fully correlated across points")
    tac.add_argument("-o", "--output", required=True, help="output folder")
    tac.set_defaults(handler=command_tac)

    # --- population (issue 9): `ragaliv population`, handler in population_command.py ---------------------
    from .population_command import add_population_parser

    add_population_parser(commands)
    # --- end population ---------------------------------------------------------------------------------

    dosimetry = commands.add_parser("dosimetry", help="multi-time-point SPECT/CT study -> TACs, TIAs, doses")
    dosimetry.add_argument("study", help="STUDY.json (see README)")
    dosimetry.add_argument("-o", "--output", required=True, help="output folder")
    dosimetry.add_argument("--report", action="store_true", help="also write the case report (report.html)")
    dosimetry.add_argument("--deidentify", action="store_true", help="pseudonymise the report (names, IDs, dates)")
    dosimetry.set_defaults(handler=command_dosimetry)

    report = commands.add_parser("report", help="case report (HTML, and PDF when a converter is available)")
    report.add_argument("--ratio", help="output folder of `ragaliv ratio`")
    report.add_argument("--dosimetry", help="output folder of `ragaliv dosimetry`")
    report.add_argument("-o", "--output", required=True, help="report file (.html); a .pdf is written beside it "
                        "when a converter (Chromium) is available")
    report.add_argument("--deidentify", action="store_true", help="pseudonymise names, IDs and dates")
    report.set_defaults(handler=command_report)

    batch = commands.add_parser("batch", help="cohort: ratio and/or dosimetry for many patients, in parallel")
    batch.add_argument("cohort", help="COHORT.csv, one row per patient (see README)")
    batch.add_argument("-o", "--output", required=True, help="output folder (re-run to resume)")
    batch.add_argument("--jobs", type=int, default=0, help="parallel processes (default: number of CPUs)")
    batch.add_argument("--no-deidentify", action="store_true", help="keep names, IDs and dates in the outputs")
    batch.add_argument("--secret", help="site key for pseudonyms and date shifts (default: project key)")
    batch.set_defaults(handler=command_batch)

    phantom = commands.add_parser("phantom", help="write the synthetic patient (DICOM, segmentation, truth)")
    phantom.add_argument("output", help="output folder")
    phantom.add_argument("--seed", type=int, default=0, help="patient variant (0 = canonical)")
    phantom.add_argument("--blur-fwhm-mm", type=float, default=0.0, help="scanner resolution (Gaussian FWHM)")
    phantom.add_argument("--noise", action="store_true", help="add image noise")
    phantom.add_argument("--spect-shift-mm", type=float, nargs=3, metavar=("X", "Y", "Z"),
                         help="patient shift at the last SPECT time point (tests registration)")
    phantom.set_defaults(handler=command_phantom)

    demo = commands.add_parser("demo", help="synthetic patient -> ratio analysis and dosimetry")
    demo.add_argument("output", nargs="?", default=os.path.join("out", "demo"))
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(handler=command_demo)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except RagalivInputError as error:
        print(f"ragaliv {args.command}: error: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"  fix: {error.hint}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("ragaliv: interrupted; no partial result was written", file=sys.stderr)
        return 130
    except Exception as error:  # a bug, not bad input
        if args.debug:
            traceback.print_exc()
        print(f"ragaliv {args.command}: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        print("  run again with --debug for the traceback, and report it", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
