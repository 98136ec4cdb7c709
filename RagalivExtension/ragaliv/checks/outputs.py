"""Output folders: checked before any computation, and holding the files of one run only.

* :func:`check_output_folder` / :func:`check_output_file` run first in every command: an empty path, a path that
  is an existing file (or a folder, for a file output), a path below a file, a folder that cannot be written, a
  folder that is one of the inputs, or one that holds the results of another command is refused with exit 2
  and a fix, before anything is loaded or computed.
* :func:`clear_previous_outputs` runs right before a command writes: the files an earlier run of the same
  command left there (report, PDF, plot, snapshots, dose map, DICOM objects ...) are removed, so the folder
  never shows a new table beside an old decision. Other files are left alone.
"""

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from typing import Optional

from ..errors import RagalivInputError

# Every file or folder a command may write into its output folder.
OUTPUTS = {
    "ratio": ("ratios.csv", "summary.json", "lesion_ratios.png", "provenance.json", "report.html", "report.pdf",
              "snapshots", "segmentation.seg.dcm", "measurements.sr.dcm"),
    "dosimetry": ("tac.csv", "tia.csv", "dose.csv", "tac.png", "summary.json", "provenance.json", "dose_map.nrrd",
                  "dvh.csv", "report.html", "report.pdf"),
    "tac": ("tia.csv", "tac_fits.json", "tac.png", "provenance.json"),
    "phantom": ("truth.json", "mri", "pet_ia", "pet_iv", "segmentation.seg.nrrd", "labels.nrrd", "labels.csv",
                "spect"),
    "demo": ("patient", "dosimetry", "ratio", "report.html", "report.pdf", "summary.json"),
}
# A file only that command writes: the folder holds its results.
SIGNATURES = {
    "ratio": "ratios.csv",
    "dosimetry": "dose.csv",
    "tac": "tac_fits.json",
    "phantom": "truth.json",
    "batch": "cohort_summary.csv",
    "demo": "patient",
}


def _nearest_existing(path: str) -> str:
    current = path
    while not os.path.lexists(current):
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return current


def _check_writable_location(folder: str, flag: str, path: str) -> None:
    """The folder ``folder`` (absolute, not necessarily existing) of the output ``path`` can be created and
    written: no file on its way, a writable folder."""
    existing = _nearest_existing(folder)
    if os.path.lexists(existing) and not os.path.isdir(existing):
        raise RagalivInputError(f"{flag} {path}: {existing} is a file, so nothing can be created below it.",
                                f"Give a folder path for {flag} that does not pass through a file.")
    try:
        handle, probe = tempfile.mkstemp(prefix=".ragaliv-write-test-", dir=existing)
    except OSError as error:
        raise RagalivInputError(f"{flag} {path}: the folder {existing} cannot be written ({error.strerror}).",
                                f"Give {flag} a folder you can write to (check its permissions).") from None
    os.close(handle)
    os.remove(probe)


def check_output_folder(path: Optional[str], command: str, flag: str = "-o",
                        inputs: Iterable[Optional[str]] = (), marker: str = "provenance.json") -> str:
    """The absolute output folder of ``command``, refused (exit 2 with a fix) when unusable; nothing is created."""
    if path is None or not str(path).strip():
        raise RagalivInputError(f"The output folder ({flag}) is empty.",
                                f"Give {flag} FOLDER, e.g. {flag} out/{command}.")
    absolute = os.path.abspath(os.path.expanduser(str(path)))
    if os.path.lexists(absolute) and not os.path.isdir(absolute):
        raise RagalivInputError(f"{flag} {path} is an existing file, not a folder.",
                                f"Give {flag} a new or existing folder (the results are several files).")
    for item in inputs:
        if item and os.path.abspath(str(item)) == absolute:
            raise RagalivInputError(f"{flag} {path} is one of the inputs.", f"Give {flag} a separate result folder.")
    _check_writable_location(absolute, flag, str(path))
    if os.path.isdir(absolute):
        own = OUTPUTS.get(command, ())
        for other, signature in SIGNATURES.items():
            if other != command and signature not in own and os.path.lexists(os.path.join(absolute, signature)):
                raise RagalivInputError(
                    f"{flag} {path} holds the results of `ragaliv {other}` ({signature}); this run would mix the "
                    "two.", f"Give `ragaliv {command}` its own output folder.")
        _previous_outputs(absolute, command, marker)  # refuses now, before any computation, what it cannot clear
    return absolute


def check_output_file(path: Optional[str], suffixes: Sequence[str], flag: str = "-o") -> str:
    """The absolute path of an output file: not empty, not a folder, a known suffix, a writable folder."""
    if path is None or not str(path).strip():
        raise RagalivInputError(f"The output file ({flag}) is empty.", f"Give {flag} FILE{suffixes[0]}.")
    absolute = os.path.abspath(os.path.expanduser(str(path)))
    if os.path.isdir(absolute):
        raise RagalivInputError(f"{flag} {path} is a folder, not a file.", f"Give a file name ending in {suffixes[0]}.")
    if not absolute.lower().endswith(tuple(suffixes)):
        raise RagalivInputError(f"Unsupported output {path!r}.", f"Use a file name ending in {' or '.join(suffixes)}.")
    _check_writable_location(os.path.dirname(absolute), flag, str(path))
    return absolute


def _written_by_ragaliv(folder: str, marker: str) -> bool:
    """The folder's ``marker`` file exists and, for provenance.json, was written by Ragaliv."""
    path = os.path.join(folder, marker)
    if not os.path.isfile(path):
        return False
    if marker != "provenance.json":
        return True
    try:
        with open(path, encoding="utf-8") as stream:
            document = json.load(stream)
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and "ragaliv" in (document.get("software") or {})


def _previous_outputs(folder: str, command: str, marker: str) -> list[str]:
    """Names of ``command``'s outputs in ``folder``; refused when Ragaliv's ``marker`` is missing."""
    present = [name for name in OUTPUTS.get(command, ()) if os.path.lexists(os.path.join(folder, name))]
    if present and not _written_by_ragaliv(folder, marker):
        raise RagalivInputError(
            f"{folder} already holds {', '.join(present)}, but no {marker} of a Ragaliv run: they cannot be told "
            "apart from your own files, and new results would be mixed with them.",
            "Give an empty (or new) output folder, or remove those files.")
    return present


def clear_previous_outputs(folder: str, command: str, marker: str = "provenance.json") -> list[str]:
    """Remove what an earlier run of ``command`` wrote into ``folder`` (the names of :data:`OUTPUTS`); returns
    the names removed. Only a folder Ragaliv wrote (its ``marker``, normally a Ragaliv provenance.json) is
    cleared: when such names exist without it, the run is refused rather than deleting files it cannot
    attribute."""
    present = _previous_outputs(folder, command, marker)
    for name in present:
        target = os.path.join(folder, name)
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)
        else:
            os.remove(target)
    return present
