"""The ``ragaliv`` argument parser: one sub-command per module of :mod:`ragaliv.cli`.

Each sub-command records the name of its module (``command_module``); :func:`ragaliv.cli.main` imports that
module only when the command runs, so ``ragaliv --help`` starts fast.
"""

import argparse
import os

from .. import __version__
from ..constants import DEFAULT_RATIO_AGGREGATE, DEFAULT_RATIO_METRIC, DEFAULT_RATIO_THRESHOLD
from .suv_flags import add_accept_flag, add_suv_flags, iso_datetime, positive, ratio_threshold

# As ragaliv.ratio.decision.METRICS / AGGREGATES (not imported: keeps --help fast; a quality gate compares).
METRICS = ("suvmax", "suvmean", "suvpeak")
AGGREGATES = ("mean", "median")
NORMALIZATIONS = ("bw", "lbm", "lbm-james", "bsa", "ibw")  # as ragaliv.pet.suv.NORMALIZATIONS
POPULATION_MODELS = ("auto", "biexp-uptake", "mono")  # as ragaliv.cli.population.MODELS
REVIEW_PORT = 8080
TAC_MODELS = ("auto", "mono", "biexp-uptake", "biexp", "triexp", "trapezoid", "stp")

__all__ = ["build_parser", "iso_datetime", "positive"]


def _suv(commands) -> None:
    suv = commands.add_parser("suv", help="PET DICOM series (or Bq/mL image) -> SUV image")
    suv.add_argument("series", help="PET DICOM folder/file, or a NRRD/NIfTI image in Bq/mL")
    suv.add_argument("-o", "--output", required=True, help="output image (.nrrd or .nii.gz), float32 SUV")
    suv.add_argument("--normalization", default="bw", choices=NORMALIZATIONS)
    add_suv_flags(suv)
    add_accept_flag(suv)
    suv.set_defaults(command_module="suv")


def _ratio(commands) -> None:
    ratio = commands.add_parser("ratio", help="IA/IV uptake ratios of lesions and organs, eligibility")
    ratio.add_argument("--ia", required=True, help="IA PET (DICOM folder, or NRRD/NIfTI in Bq/mL)")
    ratio.add_argument("--iv", required=True, help="IV PET (DICOM folder, or NRRD/NIfTI in Bq/mL)")
    ratio.add_argument("--segmentation", required=True, help="Slicer .seg.nrrd, or a labelmap with --labels")
    ratio.add_argument("--labels", help="CSV 'label,name' for a labelmap segmentation")
    ratio.add_argument("--reference", help="image the segmentation was drawn on (MRI); checked for overlap")
    ratio.add_argument("--metric", default=DEFAULT_RATIO_METRIC, choices=METRICS)
    ratio.add_argument("--aggregate", default=DEFAULT_RATIO_AGGREGATE, choices=AGGREGATES)
    ratio.add_argument("--threshold", type=ratio_threshold, default=DEFAULT_RATIO_THRESHOLD,
                       help=f"eligibility threshold (default {DEFAULT_RATIO_THRESHOLD:g})")
    ratio.add_argument("--normalization", default="bw", choices=NORMALIZATIONS)
    ratio.add_argument("-o", "--output", required=True, help="output folder")
    ratio.add_argument("--plot", action="store_true", help="also write lesion_ratios.png (bar chart)")
    ratio.add_argument("--report", action="store_true", help="also write the case report (report.html)")
    ratio.add_argument("--dicom", action="store_true",
                       help="also write DICOM SEG + TID 1500 SR (needs --reference MRI DICOM; highdicom)")
    ratio.add_argument("--dosimetry", help="output folder of `ragaliv dosimetry`: its doses go into the SR")
    ratio.add_argument("--deidentify", action="store_true", help="pseudonymise the report (names, IDs, dates)")
    add_suv_flags(ratio, "ia-", "IA")
    add_suv_flags(ratio, "iv-", "IV")
    add_accept_flag(ratio)
    ratio.add_argument("--confirm-consistency", action="store_true",
                       help="decide although an IA/IV consistency check failed (same series, weights that differ, "
                       "all lesion ratios < 1 ...), after checking the inputs; recorded in summary.json and provenance")
    ratio.set_defaults(command_module="ratio")


def _tac(commands) -> None:
    tac = commands.add_parser("tac", help="time-activity curves (CSV) -> fits, TIA, residence times")
    tac.add_argument("tacs", help="CSV with columns region,time_h,activity_mbq[,sigma_mbq]")
    tac.add_argument("--administered-mbq", type=positive, required=True, help="administered activity (MBq)")
    tac.add_argument("--model", default="auto", choices=TAC_MODELS)
    tac.add_argument("--calibration-uncertainty", type=float, default=0.0,
                     help="relative calibration uncertainty (e.g. 0.05), fully correlated across points")
    tac.add_argument("-o", "--output", required=True, help="output folder")
    add_accept_flag(tac)
    tac.set_defaults(command_module="tac")


def _population(commands) -> None:
    population = commands.add_parser(
        "population", help="cohort TACs (CSV) -> population (mixed-effects) kinetics, every patient's TIA"
    )
    population.add_argument("tacs", help="CSV with columns patient,region,time_h,activity_mbq,administered_mbq")
    population.add_argument("-o", "--output", required=True, help="output folder")
    population.add_argument("--model", default="auto", choices=POPULATION_MODELS,
                            help="population model (default auto: AIC between biexp-uptake and mono per region)")
    population.add_argument("--calibration-uncertainty", type=float, default=0.0,
                            help="relative calibration uncertainty (e.g. 0.05), fully correlated within a patient")
    population.set_defaults(command_module="population")


def _dosimetry(commands) -> None:
    dosimetry = commands.add_parser("dosimetry", help="multi-time-point SPECT/CT study -> TACs, TIAs, doses")
    dosimetry.add_argument("study", help="STUDY.json (see README)")
    dosimetry.add_argument("-o", "--output", required=True, help="output folder")
    dosimetry.add_argument("--report", action="store_true", help="also write the case report (report.html)")
    dosimetry.add_argument("--deidentify", action="store_true", help="pseudonymise the report (names, IDs, dates)")
    add_accept_flag(dosimetry)
    dosimetry.set_defaults(command_module="dosimetry")


def _report(commands) -> None:
    report = commands.add_parser("report", help="case report (HTML, and PDF when a converter is available)")
    report.add_argument("--ratio", help="output folder of `ragaliv ratio`")
    report.add_argument("--dosimetry", help="output folder of `ragaliv dosimetry`")
    report.add_argument("-o", "--output", required=True, help="report file (.html); a .pdf is written beside it "
                        "when a converter (Chromium) is available")
    report.add_argument("--deidentify", action="store_true", help="pseudonymise names, IDs and dates")
    report.set_defaults(command_module="report")


def _batch(commands) -> None:
    batch = commands.add_parser("batch", help="cohort: ratio and/or dosimetry for many patients, in parallel")
    batch.add_argument("cohort", help="COHORT.csv, one row per patient (see README)")
    batch.add_argument("-o", "--output", required=True, help="output folder (re-run to resume)")
    batch.add_argument("--jobs", type=int, default=0, help="parallel processes (default: number of CPUs)")
    batch.add_argument("--no-deidentify", action="store_true", help="keep names, IDs and dates in the outputs")
    batch.add_argument("--secret", help="site key for pseudonyms and date shifts (default: project key)")
    batch.add_argument("--no-population", action="store_true",
                       help="skip the population (mixed-effects) kinetics over the cohort's dosimetry results")
    batch.set_defaults(command_module="batch")


def _phantom(commands) -> None:
    phantom = commands.add_parser("phantom", help="write the synthetic patient (DICOM, segmentation, truth)")
    phantom.add_argument("output", help="output folder")
    phantom.add_argument("--seed", type=int, default=0, help="patient variant (0 = canonical)")
    phantom.add_argument("--blur-fwhm-mm", type=float, default=0.0, help="scanner resolution (Gaussian FWHM)")
    phantom.add_argument("--noise", action="store_true", help="add image noise")
    phantom.add_argument("--spect-shift-mm", type=float, nargs=3, metavar=("X", "Y", "Z"),
                         help="patient shift at the last SPECT time point (tests registration)")
    phantom.set_defaults(command_module="phantom")


def _demo(commands) -> None:
    demo = commands.add_parser("demo", help="synthetic patient -> ratio analysis and dosimetry")
    demo.add_argument("output", nargs="?", default=os.path.join("out", "demo"))
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(command_module="demo")


def _review(commands) -> None:
    review = commands.add_parser(
        "review", help="the five-lesion reading in a web browser (optional: requirements-review.txt)",
        description="Serve one patient's reading (MRI with the IA or IV PET fused, click to place lesions, "
                    "paint/erase, organ VOIs, the live IA/IV table and decision) to a web browser. One process "
                    "serves one reader: start one per reader, each on its own port.")
    review.add_argument("patient", nargs="?",
                        help="patient folder (mri/, pet_ia/, pet_iv/, segmentation.seg.nrrd), as `ragaliv phantom` "
                             "writes it; the flags below replace its files")
    review.add_argument("--ia", help="IA PET (DICOM folder, or NRRD/NIfTI in Bq/mL with the SUV flags)")
    review.add_argument("--iv", help="IV PET (DICOM folder, or NRRD/NIfTI in Bq/mL with the SUV flags)")
    review.add_argument("--reference", help="the MRI the lesions are drawn on (DICOM folder or image file)")
    review.add_argument("--segmentation", help="segments to start from: Slicer .seg.nrrd, or a labelmap with --labels")
    review.add_argument("--labels", help="CSV 'label,name' for a labelmap segmentation")
    review.add_argument("--no-segmentation", action="store_true",
                        help="start from no segment (ignore the patient folder's segmentation.seg.nrrd)")
    review.add_argument("--metric", default=DEFAULT_RATIO_METRIC, choices=METRICS)
    review.add_argument("--aggregate", default=DEFAULT_RATIO_AGGREGATE, choices=AGGREGATES)
    review.add_argument("--threshold", type=ratio_threshold, default=DEFAULT_RATIO_THRESHOLD,
                        help=f"eligibility threshold (default {DEFAULT_RATIO_THRESHOLD:g})")
    review.add_argument("--normalization", default="bw", choices=NORMALIZATIONS)
    review.add_argument("-o", "--output", default=os.path.join("out", "review"),
                        help="folder the saved readings go into, one sub-folder per save (default out/review)")
    review.add_argument("--reader", default="", help="the reader's name (can also be typed in the page)")
    review.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    review.add_argument("--port", type=int, default=REVIEW_PORT, help=f"port (default {REVIEW_PORT})")
    add_suv_flags(review, "ia-", "IA")
    add_suv_flags(review, "iv-", "IV")
    add_accept_flag(review)
    review.add_argument("--confirm-consistency", action="store_true",
                        help="decide although an IA/IV consistency check failed (as `ragaliv ratio`; also in the "
                             "page's settings); recorded in the saved reading")
    review.set_defaults(command_module="review")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ragaliv",
        description="RAGALIV: IA/IV 68Ga PET uptake ratios and 177Lu SPECT/CT dosimetry (3D Slicer core, headless).",
    )
    parser.add_argument("--version", action="version", version=f"ragaliv {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of internal errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for add in (_suv, _ratio, _tac, _population, _dosimetry, _report, _batch, _phantom, _demo, _review):
        add(commands)
    return parser
