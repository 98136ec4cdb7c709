"""Provenance sidecar (``provenance.json``) for every result folder.

Records the software and library versions, each input (file hash, or for a DICOM folder the
SeriesInstanceUIDs and a hash over its files), all parameters, the time of computation, and the hash of
every result file written. The results themselves carry no timestamp, so the same inputs give
byte-identical results; only this sidecar changes from run to run.
"""

import datetime
import hashlib
import os
import platform
import sys
from collections.abc import Iterable
from typing import Any, Optional

from .. import __version__
from ..io.results import write_json

CHUNK_BYTES = 1 << 20


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _dicom_uids(paths: Iterable[str]) -> dict[str, int]:
    import pydicom

    uids: dict[str, int] = {}
    for path in paths:
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SeriesInstanceUID"])
        except Exception:  # not DICOM: counted in the folder hash only
            continue
        uid = str(getattr(header, "SeriesInstanceUID", ""))
        if uid:
            uids[uid] = uids.get(uid, 0) + 1
    return uids


def describe_input(path) -> dict[str, Any]:
    """A file: its SHA-256. A folder or a list of files (a DICOM series from Slicer's database): SHA-256
    over (name, file hash) pairs and the DICOM SeriesInstanceUIDs found."""
    if isinstance(path, dict):  # already identified by the caller: {"path": ..., "series_instance_uid": ...}
        described = describe_input(path["path"]) if "series_instance_uid" not in path else _hash_only(path["path"])
        described.update({key: value for key, value in path.items() if key != "path"})
        return described
    if isinstance(path, (list, tuple)):
        files = sorted(os.path.abspath(item) for item in path)
        digest = hashlib.sha256()
        for file_path in files:
            digest.update(os.path.basename(file_path).encode("utf-8"))
            digest.update(file_sha256(file_path).encode("ascii"))
        return {"files": len(files), "sha256": digest.hexdigest(), "series_instance_uids": _dicom_uids(files)}
    absolute = os.path.abspath(path)
    if os.path.isfile(absolute):
        return {"path": absolute, "sha256": file_sha256(absolute)}
    if not os.path.isdir(absolute):
        return {"path": absolute, "missing": True}
    files = sorted(
        os.path.join(root, name) for root, _, names in os.walk(absolute) for name in names
    )
    digest = hashlib.sha256()
    for file_path in files:
        digest.update(os.path.relpath(file_path, absolute).encode("utf-8"))
        digest.update(file_sha256(file_path).encode("ascii"))
    return {
        "path": absolute,
        "files": len(files),
        "sha256": digest.hexdigest(),
        "series_instance_uids": _dicom_uids(files),
    }


def _hash_only(path) -> dict[str, Any]:
    """Hash of a file, folder or file list without reading DICOM headers (the caller knows the UIDs)."""
    if isinstance(path, (list, tuple)):
        files = sorted(os.path.abspath(item) for item in path)
        base = None
    elif os.path.isdir(path):
        base = os.path.abspath(path)
        files = sorted(os.path.join(root, name) for root, _, names in os.walk(base) for name in names)
    else:
        return {"path": os.path.abspath(path), "sha256": file_sha256(path)}
    digest = hashlib.sha256()
    for file_path in files:
        digest.update((os.path.relpath(file_path, base) if base else os.path.basename(file_path)).encode("utf-8"))
        digest.update(file_sha256(file_path).encode("ascii"))
    described = {"files": len(files), "sha256": digest.hexdigest()}
    if base:
        described["path"] = base
    return described


def software_versions() -> dict[str, str]:
    """Versions of Python and the numeric libraries, from the installed distributions' metadata (importing
    scipy and SimpleITK just to ask would cost the command line a tenth of a second)."""
    from importlib import metadata

    versions = {"ragaliv": __version__, "python": platform.python_version()}
    for module_name, distribution in (("numpy", "numpy"), ("scipy", "scipy"), ("SimpleITK", "SimpleITK"),
                                      ("pydicom", "pydicom")):
        module = sys.modules.get(module_name)
        if module is not None and getattr(module, "__version__", None):
            versions[module_name] = str(module.__version__)
            continue
        try:
            versions[module_name] = metadata.version(distribution)
        except metadata.PackageNotFoundError:  # e.g. inside Slicer, which ships packages without metadata
            try:
                versions[module_name] = str(getattr(__import__(module_name), "__version__", "?"))
            except ImportError:
                versions[module_name] = "absent"
    return versions


def write_provenance(
    directory: str,
    inputs: dict[str, str],
    parameters: dict[str, Any],
    outputs: Iterable[str],
    extra: Optional[dict[str, Any]] = None,
) -> str:
    """Write ``directory/provenance.json`` describing how the listed output files were made."""
    document = {
        "software": software_versions(),
        "computed_at_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "inputs": {name: describe_input(path) for name, path in sorted(inputs.items())},
        "parameters": parameters,
        "outputs": {
            os.path.basename(path): file_sha256(path) for path in outputs if os.path.isfile(path)
        },
    }
    if extra:
        document.update(extra)
    path = os.path.join(directory, "provenance.json")
    write_json(path, document)
    return path
