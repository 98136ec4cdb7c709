"""``ragaliv phantom OUTDIR``: write the synthetic patient (DICOM, segmentations, SPECT/CT study, truth)."""

import argparse
from collections.abc import Sequence
from typing import Optional


def run_phantom(output: str, seed: int = 0, blur_fwhm_mm: float = 0.0, noise: bool = False,
                spect_shift_mm: Optional[Sequence[float]] = None) -> int:
    from ..phantom import generate

    paths = generate(output, seed, blur_fwhm_mm, noise, spect_shift_mm)
    print(f"Synthetic patient (seed {seed}) written to {output}")
    for key, path in paths.items():
        print(f"  {key:20s} {path}")
    return 0


def command(args: argparse.Namespace) -> int:
    return run_phantom(args.output, args.seed, args.blur_fwhm_mm, args.noise, args.spect_shift_mm)
