""""Save reading": the reader's segments and results, in a new folder per save, with who read and when.

Files: ``segmentation.seg.nrrd`` (Slicer's own segmentation writer), and through the Lib ``ratios.csv``,
``summary.json``, ``lesion_ratios.png`` (``LesionRatioLogic.export``) and the case report ``report.html``
(+ ``report.pdf`` when Chromium is found, ``LesionRatioLogic.write_report``); ``provenance.json`` last, over
every file, with a ``reading`` block (reader, time, application). The folder is written under a temporary
name and renamed when complete, so a folder without ``.partial`` is a whole reading; earlier readings are
never overwritten.
"""

import datetime
import os
import re
import shutil
from typing import Any, Optional

from ragaliv.errors import RagalivInputError

from .inputs import ReviewInputs

SEGMENTATION_FILE = "segmentation.seg.nrrd"
APPLICATION = "ragaliv review"


def reader_name(text: str) -> str:
    """The reader's name as recorded (spaces collapsed); refused when empty."""
    name = " ".join((text or "").split())
    if not name:
        raise RagalivInputError("No reader name: a reading is saved with the name of who read it.",
                                "Type your name in the 'Reader' field, then save again.")
    return name


def reading_folder(directory: str, reader: str, saved_at: datetime.datetime) -> str:
    """``<directory>/<reader>_<UTC time>`` (a suffix when that exists already)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", reader).strip("-").lower() or "reader"
    base = os.path.join(directory, f"{slug}_{saved_at:%Y%m%dT%H%M%SZ}")
    folder, counter = base, 1
    while os.path.exists(folder) or os.path.exists(folder + ".partial"):
        counter += 1
        folder = f"{base}_{counter}"
    return folder


def write_segmentation(segmentation_node, path: str) -> str:
    """The segmentation as a Slicer ``.seg.nrrd`` (Slicer's writer: what the Slicer module saves)."""
    import slicer

    storage = slicer.vtkMRMLSegmentationStorageNode()
    storage.SetFileName(path)
    if not storage.WriteData(segmentation_node):
        raise OSError(f"could not write the segmentation to {path}")
    return path


def _provenance_inputs(inputs: ReviewInputs, parameters) -> dict[str, Any]:
    described: dict[str, Any] = {}
    for key, node in (("ia", parameters.ia_pet), ("iv", parameters.iv_pet)):
        uid = node.GetAttribute("DICOM.SeriesInstanceUID") if node is not None else ""
        path = getattr(inputs, key)
        described[key] = {"path": path, "series_instance_uid": uid} if uid else path
    if inputs.reference:
        described["reference"] = inputs.reference
    if inputs.segmentation:
        described["starting_segmentation"] = inputs.segmentation
    if inputs.labels:
        described["labels"] = inputs.labels
    return described


def _used_parameters(inputs: ReviewInputs, logic, parameters) -> dict[str, Any]:
    """The command line's values, then what the reading used when saved: the rule and placement settings of the
    page, the SUV normalisation the PET nodes were converted with (not a setting that may have changed since), and
    the confirmations of the decision ("Inputs checked — decide anyway", accepted checks)."""
    from ragaliv.ratio.outputs import used_parameters

    from .lib import lesion_ratio_lib

    used = used_parameters(inputs.parameters or {})
    for name in ("metric", "aggregate", "threshold", "placementMode", "lesionDiameterMm", "contourPercent",
                 "contourRadiusMm"):
        used[name] = parameters.get(name)  # as set in the page when saved
    used["normalization"] = lesion_ratio_lib().suv_normalization(parameters.ia_pet)  # the Lib checked IV's is equal
    settings = logic.settings(parameters)
    used["confirm_consistency"] = settings.confirm_consistency
    used["accept"] = list(settings.accept)
    used["source"] = APPLICATION
    return used


def save_reading(logic, parameters, inputs: ReviewInputs, reader: str, directory: Optional[str] = None,
                 saved_at: Optional[datetime.datetime] = None) -> dict[str, str]:
    """Write the reading (``logic``: the Lib's ``LesionRatioLogic``; ``parameters``: its parameter view) into a
    new folder under ``directory`` (default: the ``--output`` folder); returns {name: path}."""
    from ragaliv.report.provenance import write_provenance

    reader = reader_name(reader)
    saved_at = saved_at or datetime.datetime.now(datetime.timezone.utc)
    folder = reading_folder(directory or inputs.output, reader, saved_at)
    partial = folder + ".partial"
    os.makedirs(partial)
    try:
        paths = dict(logic.export(partial, parameters, source=APPLICATION))
        paths["segmentation"] = write_segmentation(parameters.segmentation, os.path.join(partial, SEGMENTATION_FILE))
        reading = {"reader": reader, "saved_at_utc": saved_at.isoformat(timespec="seconds"),
                   "application": _application_versions(), "folder": os.path.basename(folder)}
        provenance_inputs, used = _provenance_inputs(inputs, parameters), _used_parameters(inputs, logic, parameters)

        def provenance():
            outputs = [path for key, path in paths.items() if key != "provenance" and os.path.isfile(path)]
            return write_provenance(partial, provenance_inputs, used, outputs, extra={"reading": reading})

        paths["provenance"] = provenance()  # the report shows the provenance of the results it reports
        paths.update(logic.write_report(partial, parameters=parameters, reviewer=reader))  # "Reviewed by" the reader
        paths["provenance"] = provenance()  # last: over every file, the report included
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    os.rename(partial, folder)
    return {key: os.path.join(folder, os.path.relpath(path, partial)) for key, path in paths.items()}


def _application_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {"name": APPLICATION}
    for distribution in ("trame-slicer", "slicer-core", "trame"):
        try:
            versions[distribution] = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            versions[distribution] = "absent"
    return versions
