"""What one reading starts from: the same inputs as ``ragaliv ratio``, or a patient folder.

A patient folder is what ``ragaliv phantom`` writes (and what a site exports the same way): ``mri/``,
``pet_ia/``, ``pet_iv/`` (DICOM folders) and, when present, ``segmentation.seg.nrrd``. Flags given beside a
folder replace the folder's files. Pure Python: no Slicer, no trame.
"""

import argparse
import os
from dataclasses import dataclass
from typing import Optional

from ragaliv.errors import RagalivInputError
from ragaliv.pet.suv import SuvOverrides

PATIENT_FOLDER_FILES = {"reference": "mri", "ia": "pet_ia", "iv": "pet_iv", "segmentation": "segmentation.seg.nrrd"}


@dataclass
class ReviewInputs:
    """Files of one reading and the analysis settings it starts with."""

    ia: str
    iv: str
    reference: Optional[str] = None  # the MRI the lesions are drawn on (DICOM folder or image file)
    segmentation: Optional[str] = None  # segments to start from (.seg.nrrd, or a labelmap with ``labels``)
    labels: Optional[str] = None
    ia_overrides: Optional[SuvOverrides] = None
    iv_overrides: Optional[SuvOverrides] = None
    normalization: str = "bw"
    metric: str = "suvmax"
    aggregate: str = "mean"
    threshold: float = 3.0
    output: str = os.path.join("out", "review")
    reader: str = ""
    confirm_consistency: bool = False  # --confirm-consistency: decide although a consistency check failed
    accept: tuple = ()  # --accept CHECK ids (ragaliv.checks.findings.CHECKS)
    parameters: Optional[dict] = None  # the command-line values, for the provenance sidecar

    @property
    def title(self) -> str:
        """A short name of the case for the page title (the folder the PETs come from)."""
        return os.path.basename(os.path.dirname(os.path.abspath(self.ia))) or os.path.basename(self.ia)


def _existing(path: Optional[str], flag: str) -> Optional[str]:
    if path is None:
        return None
    if not os.path.exists(path):
        raise RagalivInputError(f"{flag} {path}: not found.", f"Check the path given with {flag}.")
    return path


def inputs_from_arguments(args: argparse.Namespace) -> ReviewInputs:
    """The reading's inputs from the parsed ``ragaliv review`` arguments (paths checked, SUV flags per scan)."""
    from ragaliv.checks.findings import normalise_accept
    from ragaliv.cli import suv_flags  # the same per-scan SUV flags as `ragaliv ratio`

    chosen = {key: getattr(args, key) for key in PATIENT_FOLDER_FILES}
    if args.patient:
        if not os.path.isdir(args.patient):
            raise RagalivInputError(f"Patient folder {args.patient} not found.",
                                    "Give a folder as written by `ragaliv phantom` (mri/, pet_ia/, pet_iv/).")
        for key, name in PATIENT_FOLDER_FILES.items():
            path = os.path.join(args.patient, name)
            if chosen[key] is None and os.path.exists(path):
                chosen[key] = path
    if args.no_segmentation:
        chosen["segmentation"] = None
    for key, flag in (("ia", "--ia"), ("iv", "--iv")):
        if chosen[key] is None:
            where = f" in {args.patient}" if args.patient else ""
            raise RagalivInputError(f"No {key.upper()} PET given{where}.",
                                    f"Give a patient folder with {PATIENT_FOLDER_FILES[key]}/, or {flag} SERIES.")
    for key in PATIENT_FOLDER_FILES:
        _existing(chosen[key], f"--{key}")
    _existing(args.labels, "--labels")
    values = suv_flags.suv_values(args, ("ia-", "iv-"))
    return ReviewInputs(
        ia=chosen["ia"], iv=chosen["iv"], reference=chosen["reference"], segmentation=chosen["segmentation"],
        labels=args.labels, ia_overrides=suv_flags.overrides(values, "ia-"),
        iv_overrides=suv_flags.overrides(values, "iv-"),
        normalization=args.normalization, metric=args.metric, aggregate=args.aggregate, threshold=args.threshold,
        output=args.output, reader=args.reader or "",
        confirm_consistency=bool(getattr(args, "confirm_consistency", False)),
        accept=tuple(normalise_accept(values.get("accept") or ())),  # unknown ids refused before loading
        parameters={key: value for key, value in vars(args).items() if key not in ("handler", "command_module")},
    )
