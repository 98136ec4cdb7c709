"""The per-patient case report (``report.html``, and ``report.pdf`` when Chromium is installed).

Three entry points, free of MRML so the Slicer modules call them with core objects:

* :func:`write_ratio_report` - after a ratio analysis (``ragaliv ratio --report``, the lesion-ratio module);
  also writes the lesion snapshots to ``snapshots/`` so the combined report can reuse them;
* :func:`write_dosimetry_report` - after a SPECT/CT study (``ragaliv dosimetry --report``);
* :func:`write_case_report` - from the result folders of the two commands (``ragaliv report``,
  ``make demo``); :mod:`ragaliv.cli.report` is its CLI handler.

Everything shown is drawn from the result documents (the ``summary.json`` content), so a report written
right after the analysis and one rebuilt later from its folder are the same page. The report date is the
only input that changes between runs (``generated_at``; fixed, the HTML is byte-identical).
"""

import datetime
import json
import os
from collections.abc import Sequence
from typing import Any, Callable, Optional, Union

from ..errors import RagalivInputError
from ..geometry import SegmentMask, Volume
from ..io.atomic import write_bytes, write_text
from ..io.results import to_json_text
from .html_template import CaseReport, DosimetryPart, LesionSnapshot, RatioPart, render
from .identity import PatientIdentity, Privacy, SeriesInfo, merge_identities, read_series
from .phi import Deidentifier
from .provenance import software_versions

REPORT_NAME = "report.html"
SNAPSHOT_FOLDER = "snapshots"
SNAPSHOT_INDEX = "snapshots.json"

Log = Callable[[str], None]
Deidentify = Union[bool, Deidentifier]


# --- small helpers ---------------------------------------------------------------------------------------
def _document(data: dict[str, Any]) -> dict[str, Any]:
    """The JSON form of a result document (numbers rounded exactly as in summary.json)."""
    return json.loads(to_json_text(data))


def _read_json(path: str) -> Optional[dict[str, Any]]:
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def _deidentifier(deidentify: Deidentify) -> Deidentifier:
    if isinstance(deidentify, Deidentifier):
        return deidentify
    return Deidentifier(enabled=bool(deidentify))


def _now(generated_at: Optional[datetime.datetime]) -> datetime.datetime:
    return (generated_at or datetime.datetime.now()).replace(microsecond=0)


def _suv_volume(pet) -> Volume:
    """A :class:`~ragaliv.pet.suv.PetImage` or an SUV :class:`Volume` (the Slicer module has the latter)."""
    return pet.suv if hasattr(pet, "suv") else pet


def _slug(name: str) -> str:
    return "".join(ch.lower() if ch.isalnum() else "_" for ch in name).strip("_") or "segment"


def _input_path(provenance: Optional[dict[str, Any]], key: str) -> Optional[str]:
    described = ((provenance or {}).get("inputs") or {}).get(key) or {}
    path = described.get("path")
    return path if path and os.path.exists(path) else None


# --- ratio part --------------------------------------------------------------------------------------------
def _load_reference(path: str) -> Volume:
    from ..io.dicom_series import load_volume, select_series
    from ..io.images import is_image_file, read_image

    if is_image_file(path):
        return read_image(path)
    return load_volume(select_series(path, ("MR", "CT", "PT", "NM"), "reference image"))


def _ratio_series(document: dict[str, Any], ia_source, iv_source, reference_source) -> tuple[
        list[SeriesInfo], list[Optional[PatientIdentity]]]:
    series, identities = [], []
    if reference_source:
        identity, info = read_series(reference_source, "Reference MRI")
        series.append(info)
        identities.append(identity)
    parameters = document.get("suv_parameters") or {}
    for scan, source in (("ia", ia_source), ("iv", iv_source)):
        identity, info = read_series(source, f"{scan.upper()} PET")
        used = parameters.get(scan) or {}
        info.description = info.description or used.get("series_description", "")
        info.series_instance_uid = info.series_instance_uid or used.get("series_instance_uid", "")
        info.date_time = info.date_time or used.get("scan_reference_time")
        info.modality = info.modality or "PT"
        series.append(info)
        identities.append(identity)
    return series, identities


def _lesion_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    order = list((document.get("lesion_ratios") or {}).keys())
    rows = {row["segment"]: row for row in document.get("segments", []) if row.get("role") == "lesion"}
    return [rows[name] for name in order if name in rows] + [row for name, row in rows.items() if name not in order]


def render_snapshots(
    document: dict[str, Any],
    segments: Sequence[SegmentMask],
    ia_suv: Volume,
    iv_suv: Volume,
    reference: Optional[Volume],
    reference_label: str,
    marker_by_segment: Optional[dict[str, Any]] = None,
) -> list[LesionSnapshot]:
    """Fused IA and IV snapshots of every lesion (see :mod:`ragaliv.report.snapshots`)."""
    from .snapshots import plane_for, render_panel

    by_name = {segment.name: segment for segment in segments}
    background = reference if reference is not None else ia_suv
    label = reference_label if reference is not None else "IA PET in grey (no MRI given)"
    snapshots = []
    for row in _lesion_rows(document):
        segment = by_name.get(row["segment"])
        if segment is None or segment.is_empty:
            continue
        scale = max(value for value in (row.get("ia_suvmax"), row.get("iv_suvmax"), 1e-6) if value is not None)
        plane = plane_for(segment, scale, (marker_by_segment or {}).get(segment.name))
        panels = [render_panel(plane, background, suv, segment, background_is_pet=reference is None)
                  for suv in (ia_suv, iv_suv)]
        snapshots.append(LesionSnapshot(segment.name, panels[0], panels[1], plane.to_dict(), label))
    return snapshots


def _write_snapshots(directory: str, snapshots: Sequence[LesionSnapshot]) -> str:
    folder = os.path.join(directory, SNAPSHOT_FOLDER)
    os.makedirs(folder, exist_ok=True)
    index = []
    for snapshot in snapshots:
        files = {}
        for scan, png in (("ia", snapshot.ia_png), ("iv", snapshot.iv_png)):
            name = f"{_slug(snapshot.segment)}_{scan}.png"
            write_bytes(os.path.join(folder, name), png)
            files[scan] = name
        index.append({"segment": snapshot.segment, "files": files, "plane": snapshot.plane,
                      "background": snapshot.background})
    write_text(os.path.join(folder, SNAPSHOT_INDEX), to_json_text({"snapshots": index}))
    return folder


def _read_snapshots(directory: str) -> Optional[list[LesionSnapshot]]:
    folder = os.path.join(directory, SNAPSHOT_FOLDER)
    index = _read_json(os.path.join(folder, SNAPSHOT_INDEX))
    if index is None:
        return None
    snapshots = []
    for item in index.get("snapshots", []):
        images = []
        for scan in ("ia", "iv"):
            path = os.path.join(folder, item["files"][scan])
            if not os.path.isfile(path):
                return None
            with open(path, "rb") as stream:
                images.append(stream.read())
        snapshots.append(LesionSnapshot(item["segment"], images[0], images[1], item["plane"], item["background"]))
    return snapshots


def _reference_label(series: Sequence[SeriesInfo]) -> str:
    for info in series:
        if info.role == "Reference MRI":
            return f"{info.modality or 'image'} '{info.description}'".strip()
    return "reference image"


def _ratio_part(
    document: dict[str, Any],
    segments: Sequence[SegmentMask],
    ia_suv: Volume,
    iv_suv: Volume,
    reference_volume: Optional[Volume],
    series: list[SeriesInfo],
    markers: dict[str, Any],
    provenance: Optional[dict[str, Any]],
    notes: list[str],
) -> RatioPart:
    from .figures import lesion_ratio_chart

    snapshots = render_snapshots(document, segments, ia_suv, iv_suv, reference_volume, _reference_label(series),
                                 markers)
    return RatioPart(document, series, lesion_ratio_chart(document), snapshots, "", provenance)


# --- dosimetry part ----------------------------------------------------------------------------------------
def _dosimetry_series(document: dict[str, Any], inputs: dict[str, Any]) -> tuple[
        list[SeriesInfo], list[Optional[PatientIdentity]]]:
    series, identities = [], []
    for index, point in enumerate(document.get("timepoints", [])):
        hours = f"{point.get('time_h', 0):g} h"
        for kind, role in (("image", f"SPECT {hours}"), ("ct", f"CT {hours}")):
            path = inputs.get(f"timepoint{index}_{kind}")
            if isinstance(path, dict):
                path = path.get("path")
            if kind == "ct" and not path:
                continue
            identity, info = read_series(path if path and os.path.exists(path) else None, role)
            if kind == "image":
                info.description = info.description or point.get("description", "")
                info.date_time = info.date_time or point.get("acquisition_time")
            series.append(info)
            identities.append(identity)
    return series, identities


def _dosimetry_part(document: dict[str, Any], series: list[SeriesInfo],
                    provenance: Optional[dict[str, Any]]) -> DosimetryPart:
    from .figures import tac_overview, tac_panels

    return DosimetryPart(document, series, tac_overview(document), tac_panels(document), provenance)


# --- assembling and writing ----------------------------------------------------------------------------
def _compose(
    ratio: Optional[RatioPart],
    dosimetry: Optional[DosimetryPart],
    identities: Sequence[Optional[PatientIdentity]],
    deidentify: Deidentify,
    generated_at: Optional[datetime.datetime],
    notes: list[str],
    patient: Optional[PatientIdentity] = None,
) -> tuple[str, Privacy]:
    from .figures import MISSING_MATPLOTLIB, matplotlib_available
    from .snapshots import hot_colour_bar

    identity, identity_notes = merge_identities([patient, *identities] if patient else identities)
    others = [item for item in identities if item is not None and item is not identity]
    privacy = Privacy(_deidentifier(deidentify), identity, others)
    notes = [*notes, *identity_notes]
    if not matplotlib_available():
        notes.append(MISSING_MATPLOTLIB)
    report = CaseReport(privacy, _now(generated_at), ratio, dosimetry, notes, software_versions(), hot_colour_bar())
    text = render(report)
    if privacy.enabled:
        uids = [info.series_instance_uid for part in (ratio, dosimetry) if part is not None for info in part.series]
        leaks = privacy.leaks(_without_images(text), uids)
        if leaks:  # a bug: never write identifiers into a report that says it is de-identified
            raise RuntimeError(f"de-identified report still holds {len(leaks)} original identifier(s); not written")
    return text, privacy


REVIEWED_BY_BLANK = "<span>Reviewed by ______________________________</span>"  # html_template._signature


def _prefill_reviewer(text: str, reviewer: Optional[str]) -> str:
    """The first "Reviewed by" line of the signature section filled with ``reviewer`` (escaped)."""
    name = " ".join((reviewer or "").split())
    if not name:
        return text
    if REVIEWED_BY_BLANK not in text:  # the template changed: never drop the name silently
        raise RuntimeError("the report template has no blank 'Reviewed by' line to pre-fill")
    import html

    return text.replace(REVIEWED_BY_BLANK, f"<span>Reviewed by <b>{html.escape(name)}</b></span>", 1)


def _without_images(text: str) -> str:
    import re

    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)


def _write(text: str, html_path: str, pdf: bool, log: Optional[Log]) -> dict[str, str]:
    stale_pdf = os.path.splitext(html_path)[0] + ".pdf"
    if os.path.isfile(stale_pdf):  # an earlier report's PDF must not stay beside this one (old decision)
        os.remove(stale_pdf)
    write_text(html_path, text)
    paths = {"report": html_path}
    if pdf:
        from .pdf import html_to_pdf

        pdf_path, reason = html_to_pdf(html_path, os.path.splitext(html_path)[0] + ".pdf")
        if pdf_path:
            paths["report_pdf"] = pdf_path
        elif log is not None:
            log(f"note: {reason}")
    return paths


# --- public API ----------------------------------------------------------------------------------------
def write_ratio_report(
    analysis,
    segments: Sequence[SegmentMask],
    ia,
    iv,
    output_dir: str,
    reference: Optional[str] = None,
    deidentify: Deidentify = False,
    *,
    reference_volume: Optional[Volume] = None,
    patient: Optional[PatientIdentity] = None,
    generated_at: Optional[datetime.datetime] = None,
    pdf: bool = True,
    log: Optional[Log] = print,
    reviewer: Optional[str] = None,
) -> dict[str, str]:
    """Case report of a lesion-ratio analysis: ``output_dir/report.html`` (+ ``report.pdf``, ``snapshots/``).

    ``ia``/``iv``: :class:`~ragaliv.pet.suv.PetImage` or SUV :class:`Volume`. ``reference``: the MRI the
    segments were drawn on (DICOM folder or image file), or give it loaded as ``reference_volume``.
    ``patient`` replaces the identity read from the DICOM headers. ``deidentify``: True, or a configured
    :class:`Deidentifier` (site secret). ``reviewer``: the reader's name, pre-filled in the first "Reviewed
    by" line (radiologist / nuclear medicine physician); date and signature stay blank.
    Returns ``{"report": ..., "report_pdf": ..., "snapshots": ...}``.
    """
    from ..ratio.analysis import summary_dict

    document = _document(summary_dict(analysis))
    ia_suv, iv_suv = _suv_volume(ia), _suv_volume(iv)
    notes: list[str] = []
    series, identities = _ratio_series(document, ia_suv.metadata.get("files"), iv_suv.metadata.get("files"), reference)
    if reference_volume is None and reference:
        try:
            reference_volume = _load_reference(reference)
        except RagalivInputError as error:
            notes.append(f"Reference MRI not shown in the snapshots ({error.message}); the IA PET is the background.")
    markers = {row.segment: row.ia.max_voxel_lps_mm for row in analysis.rows}
    provenance = _read_json(os.path.join(output_dir, "provenance.json"))
    ratio = _ratio_part(document, segments, ia_suv, iv_suv, reference_volume, series, markers, provenance, notes)
    text, _ = _compose(ratio, None, identities, deidentify, generated_at, notes, patient)
    text = _prefill_reviewer(text, reviewer)
    os.makedirs(output_dir, exist_ok=True)
    paths = {"snapshots": _write_snapshots(output_dir, ratio.snapshots)}
    paths.update(_write(text, os.path.join(output_dir, REPORT_NAME), pdf, log))
    return paths


def write_dosimetry_report(
    result,
    study,
    output_dir: str,
    deidentify: Deidentify = False,
    *,
    patient: Optional[PatientIdentity] = None,
    generated_at: Optional[datetime.datetime] = None,
    pdf: bool = True,
    log: Optional[Log] = print,
) -> dict[str, str]:
    """Case report of a SPECT/CT dosimetry study (:class:`~ragaliv.spect.StudyResult` and its
    :class:`~ragaliv.spect.SpectStudy`): ``output_dir/report.html`` (+ ``report.pdf``)."""
    document = _document(result.to_dict())
    series, identities = _dosimetry_series(document, dict(getattr(study, "inputs", {}) or {}))
    provenance = _read_json(os.path.join(output_dir, "provenance.json"))
    dosimetry = _dosimetry_part(document, series, provenance)
    text, _ = _compose(None, dosimetry, identities, deidentify, generated_at, [], patient)
    os.makedirs(output_dir, exist_ok=True)
    return _write(text, os.path.join(output_dir, REPORT_NAME), pdf, log)


def _ratio_part_from_folder(directory: str, notes: list[str]) -> tuple[RatioPart, list[Optional[PatientIdentity]]]:
    document = _read_json(os.path.join(directory, "summary.json"))
    if document is None or "lesion_ratios" not in document:
        raise RagalivInputError(f"{directory} holds no ratio results (summary.json of `ragaliv ratio`).",
                                "Give the output folder (-o) of `ragaliv ratio` with --ratio.")
    provenance = _read_json(os.path.join(directory, "provenance.json"))
    reference = _input_path(provenance, "reference")
    series, identities = _ratio_series(document, _input_path(provenance, "ia"), _input_path(provenance, "iv"),
                                       reference)
    from .figures import lesion_ratio_chart

    part = RatioPart(document, series, lesion_ratio_chart(document), [], "", provenance)
    snapshots = _read_snapshots(directory)
    if snapshots is None:
        snapshots = _snapshots_from_inputs(document, provenance, series, notes)
    if snapshots is None:
        part.snapshot_note = ("Lesion snapshots not available: the ratio folder has no snapshots/ (run "
                              "`ragaliv ratio --report`) and the input images were not found.")
    else:
        part.snapshots = snapshots
    return part, identities


def _snapshots_from_inputs(document: dict[str, Any], provenance: Optional[dict[str, Any]],
                           series: list[SeriesInfo], notes: list[str]) -> Optional[list[LesionSnapshot]]:
    """Re-render the snapshots from the inputs recorded in provenance.json, when they are still there."""
    paths = {key: _input_path(provenance, key) for key in ("ia", "iv", "segmentation", "labels", "reference")}
    if not (paths["ia"] and paths["iv"] and paths["segmentation"]):
        return None
    from ..pet.suv import SuvOverrides, load_pet
    from ..ratio.segments import load_segments

    used = (provenance or {}).get("parameters") or {}

    def moment(key: str) -> Optional[datetime.datetime]:
        return datetime.datetime.fromisoformat(used[key]) if used.get(key) else None

    try:
        segments = load_segments(paths["segmentation"], paths["labels"])
        pets = []
        for scan in ("ia", "iv"):
            overrides = SuvOverrides(used.get("weight_kg"), used.get("height_cm"), used.get("sex"),
                                     used.get(f"{scan}_dose_mbq"), moment(f"{scan}_injection_time"),
                                     moment(f"{scan}_scan_time"), used.get("half_life_s"),
                                     tuple(used.get("accept") or ()))
            pets.append(load_pet(paths[scan], overrides, used.get("normalization") or "bw").suv)
        reference = _load_reference(paths["reference"]) if paths["reference"] else None
    except (RagalivInputError, ValueError) as error:
        notes.append(f"Lesion snapshots not re-rendered from the inputs: {getattr(error, 'message', error)}")
        return None
    return render_snapshots(document, segments, pets[0], pets[1], reference, _reference_label(series))


def _dosimetry_part_from_folder(directory: str) -> tuple[DosimetryPart, list[Optional[PatientIdentity]]]:
    document = _read_json(os.path.join(directory, "summary.json"))
    if document is None or "regions" not in document or "timepoints" not in document:
        raise RagalivInputError(f"{directory} holds no dosimetry results (summary.json of `ragaliv dosimetry`).",
                                "Give the output folder (-o) of `ragaliv dosimetry` with --dosimetry.")
    provenance = _read_json(os.path.join(directory, "provenance.json"))
    series, identities = _dosimetry_series(document, (provenance or {}).get("inputs") or {})
    return _dosimetry_part(document, series, provenance), identities


def write_case_report(
    ratio_dir: Optional[str],
    dosimetry_dir: Optional[str],
    output_html: str,
    deidentify: Deidentify = False,
    *,
    patient: Optional[PatientIdentity] = None,
    generated_at: Optional[datetime.datetime] = None,
    pdf: bool = True,
    log: Optional[Log] = print,
) -> dict[str, str]:
    """Combined report from the output folders of ``ragaliv ratio`` and/or ``ragaliv dosimetry``.

    Patient identity and series dates are read from the DICOM inputs recorded in each ``provenance.json``
    (when they are still on disk). Returns ``{"report": html, "report_pdf": pdf (when written)}``.
    """
    if not ratio_dir and not dosimetry_dir:
        raise RagalivInputError("Nothing to report.", "Give --ratio DIR and/or --dosimetry DIR.")
    for flag, directory in (("--ratio", ratio_dir), ("--dosimetry", dosimetry_dir)):
        if directory and not os.path.isdir(directory):
            raise RagalivInputError(f"{flag}: folder not found: {directory}", f"Give the output folder of `ragaliv "
                                    f"{flag.strip('-')}`.")
    if not output_html.lower().endswith((".html", ".htm")):
        raise RagalivInputError(f"Report file {output_html!r} must end in .html.", "Use e.g. -o report.html.")
    notes: list[str] = []
    identities: list[Optional[PatientIdentity]] = []
    ratio = dosimetry = None
    if ratio_dir:
        ratio, found = _ratio_part_from_folder(ratio_dir, notes)
        identities.extend(found)
    if dosimetry_dir:
        dosimetry, found = _dosimetry_part_from_folder(dosimetry_dir)
        identities.extend(found)
    text, _ = _compose(ratio, dosimetry, identities, deidentify, generated_at, notes, patient)
    return _write(text, output_html, pdf, log)
