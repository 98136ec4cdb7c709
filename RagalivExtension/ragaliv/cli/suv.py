"""``ragaliv suv SERIES -o OUT.nrrd``: a PET series (or a Bq/mL image) -> float32 SUV image in its own grid."""

import argparse
import sys
from typing import Any

from ..errors import RagalivInputError
from . import suv_flags

OUTPUT_SUFFIXES = (".nrrd", ".nii", ".nii.gz", ".mha")


def run_suv(series: str, output: str, normalization: str = "bw", values: Any = None) -> int:
    """Convert ``series`` to SUV (``values``: flat SUV overrides, see :mod:`.suv_flags`) and write ``output``."""
    from ..io.images import write_image

    if not output.lower().endswith(OUTPUT_SUFFIXES):
        raise RagalivInputError(f"Unsupported output {output!r}.", "Use a .nrrd or .nii.gz file name (-o).")
    pet = suv_flags.load_pet(series, values or {}, normalization)
    write_image(pet.suv, output, dtype="float32")
    parameters = pet.parameters
    print(f"{parameters.suv_quantity} ({parameters.suv_unit}) written to {output}")
    for warning in parameters.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def command(args: argparse.Namespace) -> int:
    return run_suv(args.series, args.output, args.normalization, suv_flags.suv_values(args))
