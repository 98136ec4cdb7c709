"""The lesion-ratio analysis: segments x (IA SUV, IV SUV) -> rows, decision, table columns.

Used by the ``ragaliv ratio`` command and by the Slicer module's logic, so both show the same numbers in
the same columns.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from ..checks.findings import REFUSE, WARN, Finding, accepted_warning, apply_findings
from ..checks.lesions import overlap_findings
from ..checks.pair import PetScan, ratio_input_findings
from ..errors import RagalivInputError
from ..geometry import SegmentMask, Volume
from .decision import RatioRow, RatioSettings, RatioSummary, ratio_row, summarise
from .uptake import PEAK_METHOD, UptakeStats, uptake_statistics

# (key, title, unit); the first twelve keys are the CLI contract of ratios.csv.
RATIO_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("segment", "Segment", ""),
    ("role", "Role", ""),
    ("volume_ml", "Volume", "mL"),
    ("ia_suvmax", "IA SUVmax", "SUV"),
    ("ia_suvmean", "IA SUVmean", "SUV"),
    ("ia_suvpeak", "IA SUVpeak", "SUV"),
    ("iv_suvmax", "IV SUVmax", "SUV"),
    ("iv_suvmean", "IV SUVmean", "SUV"),
    ("iv_suvpeak", "IV SUVpeak", "SUV"),
    ("ratio_suvmax", "IA/IV SUVmax", "ratio"),
    ("ratio_suvmean", "IA/IV SUVmean", "ratio"),
    ("ratio_suvpeak", "IA/IV SUVpeak", "ratio"),
    ("tumour_to_liver_ia", "T/L IA", "ratio"),
    ("tumour_to_liver_iv", "T/L IV", "ratio"),
    ("ia_outside_fov_percent", "IA outside FOV", "%"),
    ("iv_outside_fov_percent", "IV outside FOV", "%"),
    ("flags", "Flags", ""),
)


@dataclass
class RatioAnalysis:
    rows: list[RatioRow]
    summary: RatioSummary
    suv_unit: str = "g/mL"
    scan_parameters: dict[str, Any] = field(default_factory=dict)  # "ia"/"iv" -> SUV parameters used

    def row(self, segment: str) -> RatioRow:
        for row in self.rows:
            if row.segment == segment:
                return row
        raise KeyError(segment)


def row_values(row: RatioRow) -> dict[str, Any]:
    """One table row as {column key: value}; None where a value is undefined (a flag says why)."""
    values: dict[str, Any] = {"segment": row.segment, "role": row.role, "volume_ml": row.volume_ml}
    for prefix, stats in (("ia", row.ia), ("iv", row.iv)):
        for metric in ("suvmax", "suvmean", "suvpeak"):
            values[f"{prefix}_{metric}"] = stats.value(metric)
        values[f"{prefix}_outside_fov_percent"] = 100.0 * stats.fraction_outside_fov
    for metric in ("suvmax", "suvmean", "suvpeak"):
        values[f"ratio_{metric}"] = row.ratio(metric)
    values["tumour_to_liver_ia"] = row.tumour_to_liver_ia
    values["tumour_to_liver_iv"] = row.tumour_to_liver_iv
    values["flags"] = "; ".join(row.flags)
    return values


def rows_from_stats(
    segments: Sequence[SegmentMask], ia_stats: Sequence[UptakeStats], iv_stats: Sequence[UptakeStats]
) -> list[RatioRow]:
    return [ratio_row(segment.name, ia, iv) for segment, ia, iv in zip(segments, ia_stats, iv_stats)]


def analyse(
    segments: Sequence[SegmentMask],
    ia_suv: Volume,
    iv_suv: Volume,
    settings: Optional[RatioSettings] = None,
    scan_parameters: Optional[dict[str, Any]] = None,
    findings: Sequence[Finding] = (),
) -> RatioAnalysis:
    """Uptake of every segment in both PETs (each in its own grid), ratios and the decision (``findings``: the
    input checks, see :func:`check_ratio_inputs`)."""
    settings = settings or RatioSettings()
    ia_stats = [uptake_statistics(ia_suv, segment) for segment in segments]
    iv_stats = [uptake_statistics(iv_suv, segment) for segment in segments]
    rows = rows_from_stats(segments, ia_stats, iv_stats)
    # lesions drawn twice or over each other, a healthy-liver VOI over a lesion (ragaliv.checks.lesions)
    summary = summarise(rows, settings, list(findings) + overlap_findings(segments))
    return RatioAnalysis(rows, summary, ia_suv.unit or "g/mL", dict(scan_parameters or {}))


def summary_dict(analysis: RatioAnalysis) -> dict[str, Any]:
    """``summary.json`` content: decision keys first (CLI contract), then details."""
    result = analysis.summary.to_dict()
    result["suv_unit"] = analysis.suv_unit
    result["suvpeak_method"] = PEAK_METHOD
    result["suv_parameters"] = analysis.scan_parameters
    result["segments"] = [
        dict(row_values(row).items()) for row in analysis.rows
    ]
    return result


def overlap_problem(analysis: RatioAnalysis) -> Optional[str]:
    """A sentence when no segment overlaps a PET at all (wrong registration or wrong files), else None."""
    drawn = [row for row in analysis.rows if row.volume_ml > 0]
    if not drawn:
        return "Every segment is empty."
    for scan in ("ia", "iv"):
        if all(getattr(row, scan).fraction_outside_fov >= 1.0 for row in drawn):
            return (
                f"No segment overlaps the {scan.upper()} PET field of view: the segmentation and the PET are "
                "not in the same patient coordinates."
            )
    return None


def check_ratio_inputs(ia: PetScan, iv: PetScan, settings: RatioSettings) -> list[Finding]:
    """The input checks of a ratio analysis (:func:`ragaliv.checks.pair.ratio_input_findings`): refusals not
    accepted in ``settings.accept`` raise :class:`~ragaliv.errors.RagalivInputError` (exit 2); the other findings
    are returned for :func:`~ragaliv.ratio.decision.summarise` (accepted refusals as warnings).

    The Slicer module builds the :class:`PetScan` pair from its volume nodes and calls this before ``summarise``.
    """
    return accept_refusals(ratio_input_findings(ia, iv), lambda finding: finding.check in settings.accept)


def accept_refusals(findings: Sequence[Finding], accepted: Callable[[Finding], bool]) -> list[Finding]:
    """The rule of :func:`check_ratio_inputs` with the acceptance as a function of the refused finding (the
    lesion-ratio module accepts only the refusals an id in its "Accept checks" field was given for): accepted
    refusals become warnings that say so, the others raise :class:`~ragaliv.checks.findings.RefusalError`."""
    checked, refused = [], []
    for finding in findings:
        if finding.severity != REFUSE:
            checked.append(finding)
        elif accepted(finding):
            checked.append(Finding(finding.check, WARN, accepted_warning(finding), subject=finding.subject))
        else:
            refused.append(finding)
    apply_findings(refused)  # raises when anything is refused
    return checked


REGISTRATION_CHECK = " - CHECK REGISTRATION (inputs in different frames of reference)"


def check_pet_pair(summary: RatioSummary, frames_of_reference: dict[str, str]) -> None:
    """The frame-of-reference check of ``analyse_pets`` and the Slicer module's Lib (one rule, two callers): when
    the images in ``frames_of_reference`` (name -> FrameOfReferenceUID (0020,0052)) are not in one frame, say so
    first in the warnings and in the decision text. Empty identifiers are unknown and not compared. (The patients
    are compared by :func:`check_ratio_inputs`: two PatientIDs make the decision NOT DETERMINED until confirmed.)"""
    known = {name: uid for name, uid in frames_of_reference.items() if uid}
    if len(set(known.values())) > 1:
        message = (
            f"{', '.join(known)} are not in one frame of reference (FrameOfReferenceUID (0020,0052) differs): the "
            "segments were applied to each PET as if all were registered. Register the PETs to the MRI first "
            "and export them in its frame, or check the ratios by eye."
        )
        summary.warnings.insert(0, message)
        summary.decision_text += REGISTRATION_CHECK


def analyse_pets(
    segments: Sequence[SegmentMask], ia, iv, settings: Optional[RatioSettings] = None,
    reference_frame_of_reference_uid: str = "",
) -> RatioAnalysis:
    """The analysis of two loaded PETs (:class:`ragaliv.pet.suv.PetImage`), as ``ragaliv ratio`` and the batch
    run it: the input checks first (:func:`check_ratio_inputs`: tracer, activity in each image, one patient, two
    different scans that agree; a failed consistency check makes the decision NOT DETERMINED), same SUV
    normalisation on both, the SUV parameters used recorded per scan, a warning (also in the decision) when IA,
    IV and the MRI are not in one frame of reference, and a clear error when no segment overlaps a PET."""
    settings = settings or RatioSettings()
    if ia.suv.unit != iv.suv.unit:
        raise RagalivInputError(f"IA SUV is in {ia.suv.unit} but IV SUV in {iv.suv.unit}.",
                                "Use the same normalization for both scans.")
    ia_scan, iv_scan = PetScan.from_pet("IA", ia), PetScan.from_pet("IV", iv)
    findings = check_ratio_inputs(ia_scan, iv_scan, settings)
    parameters = {"ia": ia_scan.parameters, "iv": iv_scan.parameters}
    analysis = analyse(segments, ia.suv, iv.suv, settings, parameters, findings)
    # The patients were compared by check_ratio_inputs (a consistency check); here only the frames of reference.
    check_pet_pair(analysis.summary,
                   {"IA PET": getattr(ia, "frame_of_reference_uid", ""),
                    "IV PET": getattr(iv, "frame_of_reference_uid", ""),
                    "reference image": reference_frame_of_reference_uid})
    problem = overlap_problem(analysis)
    if problem:
        raise RagalivInputError(problem, "Check that the segmentation was drawn on images co-registered with "
                                "both PETs (same frame of reference), or draw it again.")
    return analysis


def provenance_inputs(ia_path: str, iv_path: str, ia, iv, segmentation: str, labels: Optional[str] = None,
                      reference: Optional[str] = None) -> dict[str, Any]:
    """Inputs for the provenance sidecar (the PETs identified by their SeriesInstanceUIDs)."""
    inputs: dict[str, Any] = {"ia": {"path": ia_path, "series_instance_uid": ia.series_instance_uid},
                              "iv": {"path": iv_path, "series_instance_uid": iv.series_instance_uid},
                              "segmentation": segmentation}
    if labels:
        inputs["labels"] = labels
    if reference:
        inputs["reference"] = reference
    return inputs
