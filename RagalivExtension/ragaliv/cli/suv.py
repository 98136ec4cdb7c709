"""``ragaliv suv SERIES -o OUT.nrrd``: a PET series (or a Bq/mL image) -> float32 SUV image in its own grid."""

import argparse
import os
import sys
from typing import Any

from ..errors import RagalivInputError
from . import suv_flags

OUTPUT_SUFFIXES = (".nrrd", ".nii", ".nii.gz", ".mha")


def run_suv(series: str, output: str, normalization: str = "bw", values: Any = None) -> int:
    """Convert ``series`` to SUV (``values``: flat SUV overrides and ``accept``, see :mod:`.suv_flags`) and write
    ``output``. The output path is checked first; the SUV values and the image are checked before writing."""
    from ..checks.findings import apply_findings, normalise_accept
    from ..checks.outputs import check_output_file
    from ..checks.voxels import pet_activity_findings
    from ..io.images import write_image

    values = dict(values or {})
    values["accept"] = normalise_accept(values.get("accept"))
    output = check_output_file(output, OUTPUT_SUFFIXES)
    if os.path.abspath(series) == output:
        raise RagalivInputError(f"-o {output} is the input image.", "Give the SUV image another file name.")
    pet = suv_flags.load_pet(series, values, normalization)
    parameters = pet.parameters
    apply_findings(pet_activity_findings(pet.suv, parameters.to_dict(), "The PET"), values["accept"],
                   parameters.warnings)
    write_image(pet.suv, output, dtype="float32")
    print(f"{parameters.suv_quantity} ({parameters.suv_unit}) written to {output}")
    for warning in parameters.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def command(args: argparse.Namespace) -> int:
    return run_suv(args.series, args.output, args.normalization, suv_flags.suv_values(args))
