"""Lesion-ratio results -> DICOM Comprehensive 3D SR, TID 1500 "Measurement Report" (as QIICR
QuantitativeReporting/dcmqi write them), and back.

Document layout (``Imaging Measurements``, TID 1500 row 6)::

    per segment, three TID 1411 "Volumetric ROI Measurements" groups, each with
      Tracking Identifier = segment name, Tracking UID = the SEG segment's Tracking UID,
      Referenced Segment  = the segment in the DICOM SEG (+ Source series for segmentation = the MRI),
      Finding category/type = the SEG segment's property category/type:
      1. session "IA PET", Route of administration = Intra-arterial route (SCT 58100008):
         SUVbw (DCM 126401, g/ml{SUVbw}, method DCM 126410) x Derivation Maximum / Mean / Peak Value Within ROI,
         Lesion to Background SUV Ratio (DCM 126039, unit 1) = tumour-to-healthy-liver ratio;
         every measurement's Source of Measurement = the IA PET images covering the segment;
      2. session "IV PET", Route = Intravenous route (SCT 47625008): the same on the IV PET;
      3. session "IA/IV comparison": Volume (SCT 118565006, ml; from the segment's own grid) and the IA/IV
         ratio (99RAGALIV IAIV-RATIO, unit 1) x the same derivations, sources = both PETs;
    one TID 1501 group "IA/IV eligibility decision": aggregate of the lesion ratios (99RAGALIV IAIV-AGG-MEAN or
      -MEDIAN, derivation = metric), threshold, lesion count, and the verdict as a qualitative evaluation
      (99RAGALIV IA-ELIGIBLE = Yes / No / Undetermined);
    optional TID 1501 groups "177Lu SPECT/CT dosimetry", one per region (absorbed dose DCM 128513, TIA, TIAC,
      BED ... see :data:`~ragaliv.report.dicom_codes.DOSE_QUANTITIES`).

and a TID 1500 row 12 ``Qualitative Evaluations`` container with the decision sentence, the rule and the
warnings as TEXT. The SR belongs to the IA PET study (its patient/study identity is copied from the IA PET);
the IV PET and the SEG (MRI study) are listed in the Pertinent Other Evidence Sequence.

:func:`read_dicom_sr` needs pydicom only and returns the numbers with the keys of
:func:`ragaliv.ratio.analysis.row_values`.
"""

import datetime
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.coding import Code

from ..errors import RagalivInputError
from ..geometry import SegmentMask
from ..ratio.analysis import RatioAnalysis, summary_dict
from ..ratio.decision import METRICS
from ..ratio.uptake import PEAK_METHOD
from . import dicom_codes as codes
from .dicom_common import (
    MANUFACTURER,
    SOFTWARE_VERSION,
    SeriesInput,
    content_moment,
    create_sop,
    deidentify,
    deterministic_uid,
    digest,
    group_evidence_by_study,
    import_highdicom,
    make_reproducible,
    patient_identity,
    read_dataset,
    resolve_series,
    save_dataset,
    series_datetime,
)
from .dicom_seg import SEGMENTATION_STORAGE, SegExport, read_dicom_seg
from .phi import Deidentifier

SESSION_BY_SCAN = {"ia": "IA PET", "iv": "IV PET"}
SESSION_COMPARISON = "IA/IV comparison"
SESSION_DECISION = "IA/IV decision"
SESSION_DOSIMETRY = "177Lu SPECT/CT dosimetry"
DECISION_TRACKING_ID = "IA/IV eligibility decision"
DEVICE = Code("121007", "DCM", "Device")  # CID 270 Observer Type
# UCUM SUV units in the older dcmqi spelling, read as the current ones.
_LEGACY_SUV_UNITS = {"{SUVbw}g/ml", "{SUVlbm}g/ml", "{SUVbsa}cm2/ml", "{SUVibw}g/ml"}

SegInput = Union[str, "os.PathLike[str]", Dataset, SegExport]


@dataclass
class SrExport:
    """What :func:`write_dicom_sr` wrote."""

    path: str
    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    warnings: list[str] = field(default_factory=list)
    dataset: Optional[Dataset] = None


# --- helpers ----------------------------------------------------------------------------------------------
def _finite(value: Any) -> Optional[float]:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _normalization(analysis: RatioAnalysis, scan: str) -> str:
    parameters = analysis.scan_parameters.get(scan) if analysis.scan_parameters else None
    if parameters is None:
        return "bw"
    value = parameters.get("normalization") if isinstance(parameters, Mapping) else getattr(
        parameters, "normalization", None)
    return str(value or "bw")


def _suv_codes(analysis: RatioAnalysis, scan: str) -> codes.SuvCodes:
    normalization = _normalization(analysis, scan)
    if normalization not in codes.SUV_CODES_BY_NORMALIZATION:
        raise RagalivInputError(f"No DICOM code for the SUV normalisation {normalization!r}.",
                                f"Use one of {', '.join(codes.SUV_CODES_BY_NORMALIZATION)}.")
    return codes.SUV_CODES_BY_NORMALIZATION[normalization]


def _plane_distance(header: Dataset, normal: np.ndarray) -> Optional[float]:
    position = header.get("ImagePositionPatient")
    if position is None or len(position) != 3:
        return None
    return float(np.dot([float(v) for v in position], normal))


def _pet_slices(headers: Sequence[Dataset]) -> tuple[list[tuple[float, Dataset]], Optional[np.ndarray], float]:
    """Single-frame PET headers sorted along the slice normal, the normal and the slice step (mm)."""
    first = headers[0]
    orientation = first.get("ImageOrientationPatient")
    if orientation is None or len(orientation) != 6 or int(first.get("NumberOfFrames", 1) or 1) > 1:
        return [], None, 0.0
    values = [float(v) for v in orientation]
    normal = np.cross(values[:3], values[3:])
    slices = []
    for header in headers:
        distance = _plane_distance(header, normal)
        if distance is None:
            return [], None, 0.0
        slices.append((distance, header))
    slices.sort(key=lambda item: (item[0], str(item[1].SOPInstanceUID)))
    gaps = np.diff([d for d, _ in slices])
    gaps = gaps[gaps > 1e-3]
    if gaps.size:
        step = float(np.median(gaps))
    else:
        step = float(first.get("SliceThickness", 0) or 0) or 1.0
    return slices, normal, step


def _covering_images(hd: Any, headers: Sequence[Dataset], slices: list[tuple[float, Dataset]],
                     normal: Optional[np.ndarray], step: float, segment: Optional[SegmentMask]) -> list[Any]:
    """Source of Measurement items: the PET images whose slab meets the segment (all images when the PET
    geometry is not single-frame axial-stack-like)."""
    if segment is not None and segment.is_empty:
        return []
    if normal is None or segment is None:
        chosen = sorted(headers, key=lambda h: str(h.SOPInstanceUID))
    else:
        extent = segment.geometry.corners_lps() @ normal
        low, high = float(extent.min()), float(extent.max())
        chosen = [header for distance, header in slices
                  if distance + step / 2.0 > low and distance - step / 2.0 < high]
    return [hd.sr.SourceImageForMeasurement(referenced_sop_class_uid=str(h.SOPClassUID),
                                            referenced_sop_instance_uid=str(h.SOPInstanceUID))
            for h in chosen]


def _seg_dataset(seg: SegInput) -> Dataset:
    if isinstance(seg, SegExport):
        return seg.dataset if seg.dataset is not None else read_dataset(seg.path, "DICOM SEG")
    dataset = read_dataset(seg, "DICOM SEG")
    if str(dataset.get("SOPClassUID", "")) != SEGMENTATION_STORAGE:
        raise RagalivInputError("The segmentation given to the SR export is not a DICOM SEG.",
                                "Give the file written by write_dicom_seg.")
    return dataset


def _code_of(item: Dataset, sequence: str) -> Optional[Code]:
    values = item.get(sequence)
    if not values:
        return None
    entry = values[0]
    return Code(str(entry.CodeValue), str(entry.CodingSchemeDesignator), str(entry.CodeMeaning))


def _roi_group_arguments(hd: Any, seg: Dataset, item: Dataset, source_series_uid: str, session: str,
                         algorithm: Any) -> dict[str, Any]:
    """Arguments shared by the TID 1411 groups of one SEG segment (``item`` of its Segment Sequence)."""
    label = str(item.SegmentLabel)
    tracking_uid = str(item.get("TrackingUID", "") or deterministic_uid("tracking", seg.SOPInstanceUID, label))
    return {
        "tracking_identifier": hd.sr.TrackingIdentifier(uid=tracking_uid, identifier=label),
        "referenced_segment": hd.sr.ReferencedSegment(
            sop_class_uid=str(seg.SOPClassUID), sop_instance_uid=str(seg.SOPInstanceUID),
            segment_number=int(item.SegmentNumber),
            source_series=hd.sr.SourceSeriesForSegmentation(source_series_uid)),
        "finding_type": _code_of(item, "SegmentedPropertyTypeCodeSequence"),
        "finding_category": _code_of(item, "SegmentedPropertyCategoryCodeSequence"),
        "session": session,
        "algorithm_id": algorithm,
    }


# --- writing ---------------------------------------------------------------------------------------------
def write_dicom_sr(
    analysis: RatioAnalysis,
    ia_series: SeriesInput,
    iv_series: SeriesInput,
    seg_path_or_dataset: SegInput,
    path: str,
    deidentifier: Optional[Deidentifier] = None,
    dose_measurements: Optional[Sequence[Mapping[str, Any]]] = None,
    *,
    series_number: int = 9901,
    series_description: str = "Ragaliv IA/IV measurement report",
    content_datetime: Optional[datetime.datetime] = None,
) -> SrExport:
    """Write the lesion-ratio ``analysis`` (and optional dosimetry) as a TID 1500 Comprehensive 3D SR.

    Parameters
    ----------
    analysis : result of :func:`ragaliv.ratio.analysis.analyse`; every row's segment must be in the SEG.
    ia_series, iv_series : the PET series the SUVs were measured on (:class:`DicomSeries`, folder or files).
    seg_path_or_dataset : the DICOM SEG of the segments (path, dataset, or :class:`SegExport`).
    path : output file (written atomically).
    deidentifier : pseudonymise patient identity and shift dates (identity taken from the IA PET); the UIDs
        of the referenced PET/SEG instances are kept, so the references stay valid.
    dose_measurements : optional neutral dosimetry input, a list of ``{"region": str, "quantity": str,
        "value": float, "unit": str}`` (optional ``"method"`` text). Known quantities (see
        :data:`~ragaliv.report.dicom_codes.DOSE_QUANTITIES`: absorbed_dose, mean_absorbed_dose, bed, tia,
        tiac, mass, d2/d50/d98 ...) get their standard or private code; others a private code named after them.
    content_datetime : Content Date/Time; default the later of the two PET series date/times.
    """
    hd = import_highdicom()
    warnings: list[str] = []
    seg = _seg_dataset(seg_path_or_dataset)
    ia = resolve_series(ia_series, ("PT",), "IA PET")
    iv = resolve_series(iv_series, ("PT",), "IV PET")
    headers = {"ia": list(ia.headers), "iv": list(iv.headers)}
    geometry = {scan: _pet_slices(found) for scan, found in headers.items()}

    segment_items = {str(item.SegmentLabel): item for item in seg.get("SegmentSequence", [])}
    masks = {segment.name: segment for segment in read_dicom_seg(seg)}
    missing = [row.segment for row in analysis.rows if row.segment not in segment_items]
    if missing:
        raise RagalivInputError(f"Segment(s) {', '.join(missing)} of the analysis are not in the DICOM SEG "
                                f"{seg.SOPInstanceUID}.", "Export the SEG from the same segmentation first.")
    referenced_series = seg.get("ReferencedSeriesSequence")
    if not referenced_series:
        raise RagalivInputError("The DICOM SEG does not name its source series (Referenced Series Sequence).",
                                "Write the SEG with write_dicom_seg.")
    source_series_uid = str(referenced_series[0].SeriesInstanceUID)

    settings = analysis.summary.settings
    algorithm = hd.sr.AlgorithmIdentification(
        name="Ragaliv lesion ratio", version=SOFTWARE_VERSION,
        parameters=[f"SUVpeak: {PEAK_METHOD}", f"Decision rule: {settings.rule_text()}"])
    groups: list[Any] = []
    for row in analysis.rows:
        item = segment_items[row.segment]
        mask = masks.get(row.segment)
        sources = {scan: _covering_images(hd, headers[scan], *geometry[scan], mask) for scan in ("ia", "iv")}
        for scan in ("ia", "iv"):
            stats = getattr(row, scan)
            suv = _suv_codes(analysis, scan)
            measurements = []
            for metric in METRICS:
                value = _finite(stats.value(metric))
                if value is not None:
                    measurements.append(hd.sr.Measurement(
                        name=suv.quantity, value=value, unit=suv.unit, derivation=codes.DERIVATION_BY_METRIC[metric],
                        method=suv.method, referenced_images=sources[scan] or None))
            tumour_to_liver = _finite(getattr(row, f"tumour_to_liver_{scan}"))
            if tumour_to_liver is not None:
                measurements.append(hd.sr.Measurement(
                    name=codes.LESION_TO_BACKGROUND_SUV_RATIO, value=tumour_to_liver, unit=codes.UNITS["1"],
                    derivation=codes.DERIVATION_BY_METRIC[settings.metric], referenced_images=sources[scan] or None))
            route = hd.sr.QualitativeEvaluation(codes.ROUTE_OF_ADMINISTRATION, codes.ROUTE_BY_SCAN[scan])
            groups.append(hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                **_roi_group_arguments(hd, seg, item, source_series_uid, SESSION_BY_SCAN[scan], algorithm),
                measurements=measurements or None, qualitative_evaluations=[route]))
        comparison = []
        volume = _finite(row.volume_ml)
        if volume is not None:
            comparison.append(hd.sr.Measurement(name=codes.VOLUME, value=volume, unit=codes.UNITS["ml"]))
        both = (sources["ia"] + sources["iv"]) or None
        for metric in METRICS:
            value = _finite(row.ratio(metric))
            if value is not None:
                comparison.append(hd.sr.Measurement(
                    name=codes.IA_IV_RATIO, value=value, unit=codes.UNITS["1"],
                    derivation=codes.DERIVATION_BY_METRIC[metric], referenced_images=both))
        groups.append(hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            **_roi_group_arguments(hd, seg, item, source_series_uid, SESSION_COMPARISON, algorithm),
            measurements=comparison or None))

    summary = analysis.summary
    decision_measurements = []
    aggregate = _finite(summary.lesion_ratio)
    if aggregate is not None:
        decision_measurements.append(hd.sr.Measurement(
            name=codes.AGGREGATE_BY_NAME[settings.aggregate], value=aggregate, unit=codes.UNITS["1"],
            derivation=codes.DERIVATION_BY_METRIC[settings.metric]))
    decision_measurements.append(hd.sr.Measurement(
        name=codes.IA_IV_THRESHOLD, value=float(settings.threshold), unit=codes.UNITS["1"],
        derivation=codes.DERIVATION_BY_METRIC[settings.metric]))
    decision_measurements.append(hd.sr.Measurement(
        name=codes.LESION_COUNT, value=float(summary.lesion_count), unit=codes.UNITS["1"]))
    verdict = {True: codes.YES, False: codes.NO}.get(summary.eligible, codes.UNDETERMINED)
    groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=deterministic_uid("decision", seg.SOPInstanceUID, ia.series_instance_uid, iv.series_instance_uid),
            identifier=DECISION_TRACKING_ID),
        session=SESSION_DECISION, algorithm_id=algorithm, measurements=decision_measurements,
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(codes.IA_ELIGIBLE, verdict)]))

    dose_groups, dose_key = _dose_groups(hd, dose_measurements or [], warnings)
    groups.extend(dose_groups)

    observer = hd.sr.ObserverContext(
        observer_type=DEVICE,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=deterministic_uid("observer-device", "ragaliv"), name="Ragaliv", manufacturer_name=MANUFACTURER,
            model_name="Ragaliv"))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.PET_UNSPECIFIED_BODY_REGION,
        imaging_measurements=groups,
        title=codes.IMAGING_MEASUREMENT_REPORT,
    )
    texts = [(codes.DECISION, summary.decision_text), (codes.DECISION_RULE, settings.rule_text())]
    texts.extend((codes.WARNING, text) for text in summary.warnings)
    evaluations = hd.sr.ContainerContentItem(name=codes.QUALITATIVE_EVALUATIONS, relationship_type="CONTAINS")
    evaluations.ContentSequence = hd.sr.ContentSequence(
        [hd.sr.TextContentItem(name=name, value=str(text), relationship_type="CONTAINS") for name, text in texts])
    report[0].ContentSequence.append(evaluations)

    content_key = digest(json.dumps(summary_dict(analysis), sort_keys=True, default=str), dose_key,
                         str(seg.SOPInstanceUID), ia.series_instance_uid, iv.series_instance_uid,
                         series_number, series_description)
    series_uid = deterministic_uid("sr-series", content_key)
    sop_uid = deterministic_uid("sr-instance", content_key)
    found = [moment for moment in (series_datetime(headers[scan]) for scan in ("ia", "iv")) if moment is not None]
    if content_datetime is None and found:
        content_datetime = max(found)
    moment = content_moment(content_datetime, [], warnings)
    evidence = [*headers["ia"], *headers["iv"], seg]
    sr = create_sop(
        hd.sr.Comprehensive3DSR,
        evidence=evidence,
        content=report,
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=sop_uid,
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=True,
        is_final=False,
        record_evidence=True,
        series_description=series_description,
        content_date=moment.date(),
        content_time=moment.time(),
        manufacturer_model_name="Ragaliv",
        software_versions=SOFTWARE_VERSION,
        specific_character_set="ISO_IR 192",
        coding_schemes=[hd.coding_schemes.CodingSchemeIdentificationItem(
            designator=codes.PRIVATE_SCHEME, name=codes.PRIVATE_SCHEME_NAME,
            responsible_organization=codes.PRIVATE_SCHEME_ORGANIZATION)],
    )
    group_evidence_by_study(hd, sr, evidence)
    make_reproducible(sr, moment, sop_uid)
    if deidentifier is not None and deidentifier.enabled:
        deidentify(sr, deidentifier, *patient_identity(headers["ia"][0]))
    save_dataset(sr, path)
    return SrExport(str(path), sop_uid, series_uid, str(sr.StudyInstanceUID), warnings, sr)


def _dose_groups(hd: Any, measurements: Sequence[Mapping[str, Any]], warnings: list[str]) -> tuple[list[Any], str]:
    """TID 1501 groups, one per region, from the neutral dosimetry list; and a key for the UIDs."""
    by_region: dict[str, list[Mapping[str, Any]]] = {}
    for entry in measurements:
        region = str(entry.get("region", "") or "")
        quantity = str(entry.get("quantity", "") or "")
        if not region or not quantity:
            raise RagalivInputError(f"Dose measurement {dict(entry)!r} lacks 'region' or 'quantity'.",
                                    "Give {region, quantity, value, unit} for each dosimetry value.")
        by_region.setdefault(region, []).append(entry)
    groups = []
    key_parts = []
    for region, entries in by_region.items():
        items, methods = [], []
        for entry in entries:
            quantity = str(entry["quantity"])
            value = _finite(entry.get("value"))
            if value is None:
                warnings.append(f"Dosimetry {region} {quantity}: no finite value, left out of the SR.")
                continue
            concept, default_unit, derivation = codes.DOSE_QUANTITIES.get(
                quantity, (codes.private_code_for(quantity), "1", None))
            unit = codes.unit_code(entry.get("unit", default_unit))
            items.append(hd.sr.Measurement(name=concept, value=value, unit=unit, derivation=derivation))
            key_parts.append(f"{region}|{quantity}|{value!r}|{unit.value}")
            if entry.get("method"):
                methods.append(f"{quantity}: {entry['method']}")
        if not items:
            continue
        algorithm = hd.sr.AlgorithmIdentification(name="Ragaliv dosimetry", version=SOFTWARE_VERSION,
                                                  parameters=list(dict.fromkeys(methods)) or None)
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=deterministic_uid("dosimetry", region),
                                                         identifier=region),
            session=SESSION_DOSIMETRY, algorithm_id=algorithm, measurements=items))
    return groups, "\n".join(key_parts)


def dose_measurements_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Neutral dosimetry input from table rows with Ragaliv's column names (``dose.csv``/``tia.csv`` style:
    region, mass_g, tia_mbq_h, tiac_h, dose_gy, bed_gy, voxel_mean_dose_gy, voxel_d2/d50/d98_gy). Columns
    that are absent or empty are skipped; ``method_description`` becomes the method of the dose."""
    columns = (
        ("mass_g", "mass", "g"), ("tia_mbq_h", "tia", "MBq.h"), ("tiac_h", "tiac", "h"),
        ("dose_gy", "absorbed_dose", "Gy"), ("dose_gy_per_gbq", "dose_per_activity", "Gy/GBq"),
        ("bed_gy", "bed", "Gy"), ("voxel_mean_dose_gy", "mean_absorbed_dose", "Gy"),
        ("voxel_d2_gy", "d2", "Gy"), ("voxel_d50_gy", "d50", "Gy"), ("voxel_d98_gy", "d98", "Gy"),
    )
    result: list[dict[str, Any]] = []
    for row in rows:
        region = row.get("region")
        if not region:
            continue
        for column, quantity, unit in columns:
            value = _finite(row.get(column))
            if value is None:
                continue
            entry: dict[str, Any] = {"region": str(region), "quantity": quantity, "value": value, "unit": unit}
            if quantity == "absorbed_dose" and row.get("method_description"):
                entry["method"] = str(row["method_description"])
            result.append(entry)
    return result


# --- reading (pydicom only) -------------------------------------------------------------------------------
def _concept(item: Dataset) -> tuple[str, str, str]:
    names = item.get("ConceptNameCodeSequence")
    if not names:
        return ("", "", "")
    code = names[0]
    return (str(code.get("CodeValue", "")), str(code.get("CodingSchemeDesignator", "")),
            str(code.get("CodeMeaning", "")))


def _is(item: Dataset, code: Code) -> bool:
    value, scheme, _ = _concept(item)
    return value == code.value and scheme == code.scheme_designator


def _children(item: Dataset) -> list[Dataset]:
    return list(item.get("ContentSequence") or [])


def _num_value(item: Dataset) -> tuple[Optional[float], str]:
    measured = item.get("MeasuredValueSequence")
    if not measured:
        return None, ""
    entry = measured[0]
    if "FloatingPointValue" in entry:
        value = float(entry.FloatingPointValue)
    else:
        value = float(entry.NumericValue)
    units = entry.get("MeasurementUnitsCodeSequence")
    unit = str(units[0].CodeValue) if units else ""
    return value, unit


def _code_value(item: Dataset) -> Optional[str]:
    values = item.get("ConceptCodeSequence")
    return str(values[0].CodeValue) if values else None


def read_dicom_sr(path) -> dict[str, Any]:
    """The numbers of an SR written by :func:`write_dicom_sr` (TID 1500 with the layout above).

    Returns ``{"segments": {segment: {key: value}}, "decision": {...}, "dosimetry": {region: {quantity:
    value}}, "units": {...}, "referenced_series": {segment: {"ia": uid, "iv": uid}}, "segment_numbers":
    {segment: number}, "seg_sop_instance_uid": uid, "suv_quantity": "SUVbw"}``; segment keys are those of
    :func:`ragaliv.ratio.analysis.row_values` (``volume_ml``, ``ia_suvmax`` ... ``ratio_suvpeak``,
    ``tumour_to_liver_ia``/``_iv``); a value left out of the SR (undefined) is absent.
    """
    dataset = read_dataset(path, "DICOM SR")
    series_of_instance: dict[str, str] = {}
    for sequence in ("CurrentRequestedProcedureEvidenceSequence", "PertinentOtherEvidenceSequence"):
        for study in dataset.get(sequence) or []:
            for series in study.get("ReferencedSeriesSequence") or []:
                for instance in series.get("ReferencedSOPSequence") or []:
                    series_of_instance[str(instance.ReferencedSOPInstanceUID)] = str(series.SeriesInstanceUID)

    result: dict[str, Any] = {
        "segments": {}, "decision": {}, "dosimetry": {}, "units": {}, "dosimetry_units": {},
        "referenced_series": {}, "segment_numbers": {}, "seg_sop_instance_uid": None, "suv_quantity": None,
    }
    containers = [item for item in _children(dataset)
                  if _is(item, codes.IMAGING_MEASUREMENTS) or _is(item, codes.QUALITATIVE_EVALUATIONS)]
    for container in containers:
        if _is(container, codes.QUALITATIVE_EVALUATIONS):
            _read_texts(container, result["decision"])
            continue
        for group in _children(container):
            if _is(group, codes.MEASUREMENT_GROUP):
                _read_group(group, result, series_of_instance)
    return result


def _read_texts(container: Dataset, decision: dict[str, Any]) -> None:
    for item in _children(container):
        text = str(item.get("TextValue", ""))
        if _is(item, codes.DECISION):
            decision["decision"] = text
        elif _is(item, codes.DECISION_RULE):
            decision["rule"] = text
        elif _is(item, codes.WARNING):
            decision.setdefault("warnings", []).append(text)


def _read_group(group: Dataset, result: dict[str, Any], series_of_instance: Mapping[str, str]) -> None:
    tracking, session, scan = "", "", None
    segment_number: Optional[int] = None
    numbers: list[tuple[tuple[str, str, str], Optional[float], str, Optional[str], set[str]]] = []
    evaluations: list[tuple[tuple[str, str, str], Optional[str]]] = []
    for item in _children(group):
        kind = str(item.get("ValueType", ""))
        if kind == "TEXT" and _is(item, codes.TRACKING_IDENTIFIER):
            tracking = str(item.TextValue)
        elif kind == "TEXT" and _is(item, codes.ACTIVITY_SESSION):
            session = str(item.TextValue)
        elif kind == "IMAGE" and _is(item, codes.REFERENCED_SEGMENT):
            reference = item.ReferencedSOPSequence[0]
            result["seg_sop_instance_uid"] = str(reference.ReferencedSOPInstanceUID)
            if "ReferencedSegmentNumber" in reference:
                segment_number = int(reference.ReferencedSegmentNumber)
        elif kind == "CODE" and _is(item, codes.ROUTE_OF_ADMINISTRATION):
            scan = codes.SCAN_BY_ROUTE.get(_code_value(item) or "")
        elif kind == "CODE":
            evaluations.append((_concept(item), _code_value(item)))
        elif kind == "NUM":
            value, unit = _num_value(item)
            derivation, sources = None, set()
            for child in _children(item):
                if _is(child, codes.DERIVATION):
                    derivation = _code_value(child)
                elif _is(child, codes.SOURCE_OF_MEASUREMENT) and child.get("ReferencedSOPSequence"):
                    uid = str(child.ReferencedSOPSequence[0].ReferencedSOPInstanceUID)
                    sources.add(series_of_instance.get(uid, ""))
            numbers.append((_concept(item), value, unit, derivation, sources))
    if scan is None:
        scan = {v: k for k, v in SESSION_BY_SCAN.items()}.get(session)
    if segment_number is not None:
        result["segment_numbers"][tracking] = segment_number

    if session == SESSION_DECISION or tracking == DECISION_TRACKING_ID:
        _read_decision(numbers, evaluations, result["decision"])
        return
    if session == SESSION_DOSIMETRY:
        values = result["dosimetry"].setdefault(tracking, {})
        units = result["dosimetry_units"].setdefault(tracking, {})
        for (value_code, scheme, meaning), value, unit, derivation, _ in numbers:
            key = codes.dose_quantity_key(value_code, scheme, derivation, meaning)
            values[key], units[key] = value, unit
        return
    values = result["segments"].setdefault(tracking, {})
    references = result["referenced_series"].setdefault(tracking, {})
    for (value_code, scheme, meaning), value, unit, derivation, sources in numbers:
        metric = codes.METRIC_BY_DERIVATION.get(derivation or "")
        if scheme == "DCM" and value_code in codes.SUV_QUANTITY_VALUES and scan and metric:
            key = f"{scan}_{metric}"
            result["suv_quantity"] = meaning
            result["units"]["suv"] = _current_suv_unit(unit)
            references[scan] = _single(sources)
        elif (value_code, scheme) == (codes.LESION_TO_BACKGROUND_SUV_RATIO.value, "DCM") and scan:
            key = f"tumour_to_liver_{scan}"
        elif (value_code, scheme) == (codes.VOLUME.value, "SCT"):
            key = "volume_ml"
            result["units"]["volume"] = unit
        elif (value_code, scheme) == (codes.IA_IV_RATIO.value, codes.PRIVATE_SCHEME) and metric:
            key = f"ratio_{metric}"
        else:
            key = meaning
        values[key] = value


def _single(sources: set[str]) -> Optional[str]:
    found = sorted(uid for uid in sources if uid)
    return found[0] if len(found) == 1 else (None if not found else ",".join(found))


def _current_suv_unit(unit: str) -> str:
    if unit in _LEGACY_SUV_UNITS:  # {SUVbw}g/ml -> g/ml{SUVbw}
        annotation, rest = unit[1:].split("}", 1)
        return f"{rest}{{{annotation}}}"
    return unit


def _read_decision(numbers, evaluations, decision: dict[str, Any]) -> None:
    for (value_code, scheme, _meaning), value, _unit, derivation, _ in numbers:
        if scheme != codes.PRIVATE_SCHEME:
            continue
        if value_code in codes.NAME_BY_AGGREGATE_VALUE:
            decision["aggregate"] = codes.NAME_BY_AGGREGATE_VALUE[value_code]
            decision["lesion_ratio"] = value
            decision["metric"] = codes.METRIC_BY_DERIVATION.get(derivation or "")
        elif value_code == codes.IA_IV_THRESHOLD.value:
            decision["threshold"] = value
            decision.setdefault("metric", codes.METRIC_BY_DERIVATION.get(derivation or ""))
        elif value_code == codes.LESION_COUNT.value and value is not None:
            decision["lesion_count"] = round(value)
    decision.setdefault("lesion_ratio", None)
    for (value_code, scheme, _meaning), answer in evaluations:
        if (value_code, scheme) == (codes.IA_ELIGIBLE.value, codes.PRIVATE_SCHEME):
            decision["eligible"] = {codes.YES.value: True, codes.NO.value: False}.get(answer or "")

