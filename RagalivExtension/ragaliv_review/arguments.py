"""The ``ragaliv review`` sub-command: its arguments (argparse only, imported when the ``ragaliv`` parser is
built, so nothing heavy here) and its handler, which imports the web app only when the command runs."""

import argparse
import os

from ragaliv.constants import DEFAULT_RATIO_AGGREGATE, DEFAULT_RATIO_METRIC, DEFAULT_RATIO_THRESHOLD
from ragaliv.errors import RagalivInputError

DEFAULT_PORT = 8080
INSTALL_HINT = ("Install the review app's dependencies: `make review` in a checkout, or "
                "`pip install -r requirements-review.txt` (Python 3.11).")


def add_review_command(commands) -> None:
    """Add ``review`` to the ``ragaliv`` sub-commands (``commands``: the parser's sub-parser action)."""
    from ragaliv.cli import AGGREGATES, METRICS, _add_suv_overrides, _positive

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
    review.add_argument("--threshold", type=_positive, default=DEFAULT_RATIO_THRESHOLD,
                        help=f"eligibility threshold (default {DEFAULT_RATIO_THRESHOLD:g})")
    review.add_argument("--normalization", default="bw", choices=("bw", "lbm", "lbm-james", "bsa", "ibw"))
    review.add_argument("-o", "--output", default=os.path.join("out", "review"),
                        help="folder the saved readings go into, one sub-folder per save (default out/review)")
    review.add_argument("--reader", default="", help="the reader's name (can also be typed in the page)")
    review.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    review.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    _add_suv_overrides(review, "ia-", "IA")
    _add_suv_overrides(review, "iv-", "IV")
    review.set_defaults(handler=command_review)


def command_review(args: argparse.Namespace) -> int:
    """Check the inputs, then load them and serve the reading until the process is stopped."""
    from .inputs import inputs_from_arguments

    inputs = inputs_from_arguments(args)
    try:
        from .server import serve
    except ImportError as error:
        missing = getattr(error, "name", None) or str(error)
        if missing.split(".")[0] in ("ragaliv", "ragaliv_review", "ragaliv_mrml"):
            raise  # our own code: a bug, not a missing optional package
        raise RagalivInputError(f"`ragaliv review` needs the optional package {missing!r}, which is not installed.",
                                INSTALL_HINT) from None
    return serve(inputs, host=args.host, port=args.port)
