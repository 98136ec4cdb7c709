"""``ragaliv phantom OUTDIR``: write the synthetic patient (DICOM, segmentations, SPECT/CT study, truth)."""

import argparse
import os
from collections.abc import Sequence
from typing import Optional

from ..errors import RagalivInputError


def run_phantom(output: str, seed: int = 0, blur_fwhm_mm: float = 0.0, noise: bool = False,
                spect_shift_mm: Optional[Sequence[float]] = None) -> int:
    """Write the synthetic patient into ``output``: a new or empty folder, or the folder of an earlier
    ``ragaliv phantom`` (whose files are replaced)."""
    from ..checks.outputs import OUTPUTS, check_output_folder, clear_previous_outputs
    from ..phantom import generate

    folder = check_output_folder(output, "phantom", "OUTPUT", marker="truth.json")
    if os.path.isdir(folder):
        unknown = sorted(set(os.listdir(folder)) - set(OUTPUTS["phantom"]))
        if unknown:
            raise RagalivInputError(f"{output} holds other files ({', '.join(unknown[:5])}): the synthetic patient "
                                    "would be mixed with them.", "Give a new or empty folder.")
        clear_previous_outputs(folder, "phantom", marker="truth.json")
    paths = generate(output, seed, blur_fwhm_mm, noise, spect_shift_mm)
    print(f"Synthetic patient (seed {seed}) written to {output}")
    for key, path in paths.items():
        print(f"  {key:20s} {path}")
    return 0


def command(args: argparse.Namespace) -> int:
    return run_phantom(args.output, args.seed, args.blur_fwhm_mm, args.noise, args.spect_shift_mm)
