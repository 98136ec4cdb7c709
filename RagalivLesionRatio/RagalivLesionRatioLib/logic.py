"""RagalivLesionRatio logic on a MRML scene (no Qt): SUV PETs + segmentation -> live ratio table and chart.

Recomputation is incremental: SUV images are re-read only when their voxels or geometry change, segment
masks only when their labelmap changes, and a segment's statistics only when its mask (compared voxel by
voxel) or a PET changed. Undo/redo and overwrite edits arrive without a reliable segment ID, so the
cache, not the event, decides what changed (GUIDE §3).

The input checks are those of ``ragaliv ratio`` (``ratio_input_findings`` on the IA/IV :class:`PetScan` pair, the
refusals screened by the rule of ``check_ratio_inputs``, then ``summarise`` with the findings): refusals raise,
failed consistency checks make the decision NOT DETERMINED until the panel's "Inputs checked — decide anyway"
(``confirm_consistency``) or the check's id in "Accept checks" confirms it. A confirmation covers only what it was
given for (:mod:`.confirmation`): the failed checks shown then and that IA/IV pair; a new failed check or another
pair withdraws it (the box is un-ticked) and the decision is NOT DETERMINED again. An accepted refusal (a
plausibility id in "Accept checks") covers only the refused values it was given for, in the update and in the PET
conversion (:meth:`LesionRatioLogic.load_pet`). The checks read whole images, so their findings are cached with
what they read (the SUV voxels' MTime and geometry, the SUV parameters and identities stored on the PET nodes): a
segment edit or another accepted id does not re-run them.
"""

import dataclasses
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional, Union

import numpy as np
from ragaliv.checks.findings import REFUSE, Finding, RefusalError
from ragaliv.checks.lesions import overlap_findings
from ragaliv.checks.pair import PetScan, ratio_input_findings
from ragaliv.errors import RagalivError, RagalivInputError
from ragaliv.geometry import SegmentMask, Volume
from ragaliv.pet.suv import SuvOverrides
from ragaliv.ratio.analysis import (
    RATIO_COLUMNS,
    RatioAnalysis,
    accept_refusals,
    check_pet_pair,
    overlap_problem,
    row_values,
    rows_from_stats,
)
from ragaliv.ratio.decision import METRIC_TITLES, RatioSettings, summarise
from ragaliv.ratio.outputs import write_ratio_outputs
from ragaliv.ratio.placement import (
    VOI_PRESET_DIAMETERS_MM,
    auto_contour_segment,
    next_lesion_name,
    sphere_segment,
)
from ragaliv.ratio.uptake import UptakeStats, uptake_statistics
from ragaliv.sampling import segment_weights
from ragaliv_mrml import nodes, plots, tables
from ragaliv_mrml.panel_text import ACCEPT_FIELD, CONFIRM_BOX, accepted_checks, for_panel, panel_error

from .confirmation import Confirmations, Shown, finding_key, pair_identity, refusal
from .parameters import MODULE_NAME, LesionRatioParameters, get_parameter_node
from .pet_import import store_pet_node

SUV_UNITS = ("g/mL", "cm2/mL")
SUV_CODE_VALUES = ("{SUVbw}g/ml", "{SUVlbm}g/ml", "{SUVbsa}cm2/ml", "{SUVibw}g/ml")
# Coded units of a PET converted by PETDICOMExtension -> its normalisation. Its SUVlbm formula need not be
# Ragaliv's "lbm" (Janmahasatian), so it gets a name of its own and is never taken for the same.
SUV_CODE_NORMALIZATIONS = {"{SUVbw}g/ml": "bw", "{SUVlbm}g/ml": "lbm (coded units {SUVlbm}g/ml)",
                           "{SUVbsa}cm2/ml": "bsa", "{SUVibw}g/ml": "ibw"}
DEFAULT_EXPORT_SOURCE = "Slicer module RagalivLesionRatio"
# Tumour-to-liver ratios apply to tumours only: text columns, empty for organs (not NaN).
TEXT_COLUMNS = ("segment", "role", "tumour_to_liver_ia", "tumour_to_liver_iv", "flags")
SEGMENT_COLORS = {"lesion": (0.90, 0.30, 0.20), "healthy_liver": (0.85, 0.65, 0.45), "kidney": (0.55, 0.30, 0.65),
                  "spleen": (0.20, 0.55, 0.80), "bone_marrow": (0.95, 0.85, 0.35)}


@dataclass
class _SegmentEntry:
    mask: SegmentMask
    stats: dict[str, UptakeStats] = field(default_factory=dict)  # PET node ID -> stats


@dataclass
class UpdateReport:
    """What the last update did (for the status line and the benchmark)."""

    recomputed_segments: list[str]
    seconds: float


@dataclass
class LiveStatus:
    """What the panel shows after a live update: the decision with its rule, or "Not computed" and why.

    ``decision_status`` is "determined", "not determined" (a consistency check failed and is not confirmed) or
    "not computed"; ``consistency`` the failed consistency checks (check, message, hint, status) and
    ``confirm_hint`` how to confirm them in the panel; ``confirmation_notes`` the confirmations withdrawn by this
    update and why (another pair, a new failed check); ``warnings`` the decision's warnings, then those of each
    PET's SUV conversion ("IA PET: ...")."""

    computed: bool
    decision_text: str
    rule_text: str = ""
    warnings: list[str] = field(default_factory=list)
    reason: str = ""
    recomputed_segments: list[str] = field(default_factory=list)
    seconds: float = 0.0
    decision_status: str = "not computed"
    consistency: list[dict[str, str]] = field(default_factory=list)
    confirm_hint: str = ""
    confirmation_notes: list[str] = field(default_factory=list)


def suv_warnings(volume_node, role: str) -> list[str]:
    """The warnings of a PET node's SUV conversion (stored by ``load_pet_node``), as "IA PET: ..."."""
    text = volume_node.GetAttribute("Ragaliv.SuvParameters") if volume_node is not None else None
    try:
        used = json.loads(text) if text else {}
    except ValueError:
        return []
    if not isinstance(used, dict):
        return []
    return [f"{role} PET: {warning}" for warning in (used.get("warnings") or []) if warning]


def suv_volume_unit(volume_node) -> Optional[str]:
    """The SUV unit of a PET node loaded by Ragaliv (attribute) or by PETDICOMExtension (coded units)."""
    unit = volume_node.GetAttribute("Ragaliv.Unit")
    if unit in SUV_UNITS:
        return unit
    units = volume_node.GetVoxelValueUnits() if hasattr(volume_node, "GetVoxelValueUnits") else None
    if units is not None and units.GetCodeValue() in SUV_CODE_VALUES:
        return "cm2/mL" if "bsa" in units.GetCodeValue() else "g/mL"
    return None


def suv_normalization(volume_node) -> Optional[str]:
    """The SUV normalisation a PET node was converted with ("bw", "lbm", ...), or None when not recorded:
    Ragaliv's loader keeps it in "Ragaliv.Normalization" (and in "Ragaliv.SuvParameters"); PETDICOMExtension
    in the coded voxel units."""
    value = volume_node.GetAttribute("Ragaliv.Normalization")
    if value:
        return value
    text = volume_node.GetAttribute("Ragaliv.SuvParameters")
    if text:
        try:
            value = json.loads(text).get("normalization")
        except (ValueError, AttributeError):
            value = None
        if value:
            return str(value)
    units = volume_node.GetVoxelValueUnits() if hasattr(volume_node, "GetVoxelValueUnits") else None
    return SUV_CODE_NORMALIZATIONS.get(units.GetCodeValue()) if units is not None else None


def same_normalization(ia_node, iv_node) -> str:
    """The one SUV normalisation of both PETs; refused when they differ or one is not recorded (SUVbw and SUL
    are both g/mL, so the unit cannot tell them apart, and their ratio is not an uptake ratio)."""
    found = {role: suv_normalization(node) for role, node in (("IA", ia_node), ("IV", iv_node))}
    if found["IA"] and found["IA"] == found["IV"]:
        return found["IA"]
    if None in found.values():
        missing = [f"{role} PET {node.GetName()!r}" for role, node in (("IA", ia_node), ("IV", iv_node))
                   if found[role] is None]
        raise RagalivInputError(
            f"The SUV normalisation of {' and '.join(missing)} is not recorded, so IA and IV cannot be checked "
            "to be the same SUV.",
            "Load both PETs through Ragaliv's SUV conversion with one normalisation (in Slicer: 'Load from "
            "DICOM…' beside each PET).",
        )
    raise RagalivInputError(
        f"The IA PET is SUV normalised by {found['IA']!r} but the IV PET by {found['IV']!r}: their ratio is not an "
        "uptake ratio.",
        "Choose one SUV normalisation and re-convert both PETs with it (in Slicer: 'Re-convert both PETs with "
        "these values').",
    )


class LesionRatioLogic:
    def __init__(self, scene):
        self.scene = scene
        self._suv: dict[str, tuple[tuple, Volume]] = {}
        # Segment ID -> (segmentation node ID, labelmap MTime, parent-to-world RAS matrix): what the cached
        # mask was read from. The transform is part of it: moving the segmentation moves the masks.
        self._mask_keys: dict[str, tuple] = {}
        self._segments: dict[str, _SegmentEntry] = {}
        # (what the input checks read, their outcome: the findings, or the refusal)
        self._checks: Optional[tuple[tuple, object]] = None
        self.analysis: Optional[RatioAnalysis] = None
        self.last_update: Optional[UpdateReport] = None
        self.last_export_warnings: list[str] = []
        # The last decision computed (what the panel shows): a confirmation given since is bound to it.
        self._shown: Optional[Shown] = None
        self._bind_to_next = False  # confirmations given with the inputs (a command line): bound to the next decision
        self._confirmation_notes: list[str] = []  # withdrawn confirmations, for the next status
        # The refusals shown (conversions and updates), by check id: a plausibility id added to "Accept checks" is
        # bound to those of its check (confirmation.refusal dicts).
        self._refusals_shown: dict[str, list[dict]] = {}
        # The module panel sets this: refusal hints and the consistency hints name its controls ("add weight to
        # the 'Accept checks' field") instead of CLI flags; the review app keeps the CLI's words.
        self.panel_hints = False

    def reset(self) -> None:
        """Forget every cached image, mask, statistic and check (scene closed: they belong to another scene,
        perhaps another patient, and hold its voxels in memory)."""
        self._suv.clear()
        self._mask_keys.clear()
        self._segments.clear()
        self._checks = None
        self.analysis, self.last_update = None, None
        self._shown, self._bind_to_next, self._confirmation_notes = None, False, []
        self._refusals_shown = {}

    # --- parameters ----------------------------------------------------------------------------------
    def parameters(self) -> LesionRatioParameters:
        return LesionRatioParameters(get_parameter_node(self.scene))

    def settings(self, parameters: Optional[LesionRatioParameters] = None) -> RatioSettings:
        """The decision rule and the confirmations ("Inputs checked — decide anyway", "Accept checks") as set; an
        update withdraws those that do not cover its inputs (:mod:`.confirmation`)."""
        parameters = parameters or self.parameters()
        return RatioSettings(parameters.get("metric"), parameters.get("aggregate"), parameters.get("threshold"),
                             parameters.get("confirmConsistency"), accepted_checks(parameters.get("acceptChecks")))

    def confirmations_given_with_inputs(self) -> None:
        """The confirmations now set were given together with the inputs now selected (``ragaliv review
        --confirm-consistency / --accept`` on its command line, which ``ragaliv ratio`` takes for one invocation):
        the next decision computed binds them to its own failed checks, not to a decision shown before."""
        self._bind_to_next = True

    def withdraw_confirmations(self, parameters: Optional[LesionRatioParameters] = None) -> bool:
        """Un-tick "Inputs checked — decide anyway" and empty "Accept checks" (the panel calls this when a scene is
        loaded into the current one: the confirmations came with it, given for other inputs or another session);
        True when anything was withdrawn. Without ``parameters``, the module's parameter node if there is one."""
        if parameters is None:
            node = get_parameter_node(self.scene, create=False)
            if node is None:
                return False
            parameters = LesionRatioParameters(node)
        self._shown, self._bind_to_next, self._refusals_shown = None, False, {}
        withdrawn = Confirmations(parameters).withdraw()
        if withdrawn:
            self._confirmation_notes.append(
                f"{CONFIRM_BOX} was un-ticked and the ids removed from {ACCEPT_FIELD}: a scene was loaded; confirm "
                "again what is shown now.")
        return withdrawn

    # --- inputs --------------------------------------------------------------------------------------
    def _suv_image(self, volume_node, role: str) -> Volume:
        if volume_node is None:
            raise RagalivInputError(f"No {role} PET selected.", f"Select the {role} PET (SUV) volume.")
        unit = suv_volume_unit(volume_node)
        if unit is None:
            raise RagalivInputError(
                f"{volume_node.GetName()} is not an SUV image (it was not loaded with SUV conversion).",
                "Load the PET with 'Load PET (SUV) from DICOM' in this module, so that Ragaliv converts it to SUV.",
            )
        image = volume_node.GetImageData()
        key = (image.GetMTime() if image else 0, tuple(nodes.volume_geometry(volume_node).ijk_to_lps.ravel()))
        cached = self._suv.get(volume_node.GetID())
        if cached is None or cached[0] != key:
            volume = nodes.volume_from_node(volume_node, unit)
            self._suv[volume_node.GetID()] = (key, volume)
            for entry in self._segments.values():
                entry.stats.pop(volume_node.GetID(), None)
        return self._suv[volume_node.GetID()][1]

    def _current_masks(self, segmentation_node) -> tuple[list[str], list[str]]:
        """Segment IDs in order, and those whose mask changed since the last update.

        A mask is re-read when its labelmap changed (MTime), its name changed, another segmentation node
        was selected, or the segmentation's parent transform changed (the masks are in world coordinates).
        """
        segmentation = segmentation_node.GetSegmentation()
        ids = list(segmentation.GetSegmentIDs())
        for stale in set(self._segments) - set(ids):
            del self._segments[stale]
            self._mask_keys.pop(stale, None)
        world = tuple(np.round(nodes.parent_to_world_ras(segmentation_node), 9).ravel())

        def key(segment_id):
            return (segmentation_node.GetID(), nodes.segment_labelmap_mtime(segmentation_node, segment_id), world)

        keys = {sid: key(sid) for sid in ids}
        to_read = [sid for sid in ids
                   if sid not in self._segments
                   or self._mask_keys.get(sid) != keys[sid]
                   or self._segments[sid].mask.name != segmentation.GetSegment(sid).GetName()]
        changed = []
        for segment_id, mask in zip(to_read, nodes.segment_masks(segmentation_node, to_read)):
            self._mask_keys[segment_id] = keys[segment_id]
            previous = self._segments.get(segment_id)
            if previous is not None and _same_mask(previous.mask, mask):
                previous.mask.name = mask.name
                continue
            self._segments[segment_id] = _SegmentEntry(mask)
            changed.append(segment_id)
        return ids, changed

    # --- computation ---------------------------------------------------------------------------------
    def update(self, parameters: Optional[LesionRatioParameters] = None) -> RatioAnalysis:
        """Recompute what changed and refresh the table and chart nodes; returns the analysis."""
        started = time.perf_counter()
        parameters = parameters or self.parameters()
        settings = self.settings(parameters)
        segmentation_node = parameters.segmentation
        if segmentation_node is None:
            raise RagalivInputError("No segmentation selected.", "Select or create the lesion segmentation.")
        ia_node, iv_node = parameters.ia_pet, parameters.iv_pet
        ia, iv = self._suv_image(ia_node, "IA"), self._suv_image(iv_node, "IV")
        if ia.unit != iv.unit:
            raise RagalivInputError(
                f"IA PET is in {ia.unit}, IV PET in {iv.unit}.", "Load both with the same SUV normalisation."
            )
        same_normalization(ia_node, iv_node)
        confirmations = Confirmations(parameters)
        findings = self._input_findings(ia_node, iv_node, ia, iv)
        # refusals raise here, as in the CLI, unless an id in "Accept checks" was given for them
        settings, findings = self._screen_refusals(confirmations, parameters, settings, findings, ia_node, iv_node)
        ids, _ = self._current_masks(segmentation_node)
        recomputed = set()
        for segment_id in ids:
            entry = self._segments[segment_id]
            for node, suv in ((ia_node, ia), (iv_node, iv)):
                if node.GetID() not in entry.stats:
                    weights = segment_weights(entry.mask, suv.geometry)
                    entry.stats[node.GetID()] = uptake_statistics(suv, entry.mask, weights)
                    recomputed.add(segment_id)
        masks = [self._segments[sid].mask for sid in ids]
        ia_stats = [self._segments[sid].stats[ia_node.GetID()] for sid in ids]
        iv_stats = [self._segments[sid].stats[iv_node.GetID()] for sid in ids]
        for stats, mask in zip(ia_stats + iv_stats, masks + masks):
            stats.segment = mask.name
        rows = rows_from_stats(masks, ia_stats, iv_stats)
        # as ragaliv ratio: lesions drawn twice or over each other, a healthy-liver VOI over a lesion
        findings = findings + overlap_findings(masks)
        summary = summarise(rows, settings, findings)
        # Every failed consistency check (confirmed or not); the confirmations are honoured only for what they
        # were given for, else withdrawn and the decision summarised again without them.
        failed = list(dict.fromkeys(finding_key(item) for item in summary.consistency))
        pets = pair_identity(ia_node, iv_node)
        shown = Shown(pets, tuple(failed))
        bound, notes = confirmations.apply(settings, pets, failed, shown if self._bind_to_next else self._shown)
        if bound != settings:
            settings = bound
            rows = rows_from_stats(masks, ia_stats, iv_stats)  # fresh rows: summarise sets flags on them
            summary = summarise(rows, settings, findings)
        self._shown, self._bind_to_next = shown, False
        self._confirmation_notes.extend(notes)
        problem = overlap_problem(RatioAnalysis(rows, summary))
        if problem:
            summary.warnings.insert(0, problem)
        self._check_frames(summary, parameters)
        self.analysis = RatioAnalysis(rows, summary, ia.unit, self._scan_parameters(ia_node, iv_node))
        self._write_outputs(parameters)
        self.last_update = UpdateReport(
            [self._segments[sid].mask.name for sid in ids if sid in recomputed], time.perf_counter() - started
        )
        return self.analysis

    def live_update(self, parameters: Optional[LesionRatioParameters] = None) -> LiveStatus:
        """:meth:`update` for the live table: never raises. On *any* error (a Ragaliv input error or a bug) the
        table, chart and decision say "Not computed" with the reason, so a previous decision is never shown as
        current (a wrong number is worse than a crash)."""
        try:
            analysis = self.update(parameters)
        except Exception as error:  # any failure must clear the decision, not only RagalivError
            if isinstance(error, RagalivError):
                reason = str(error)
            else:
                logging.exception("RagalivLesionRatio: live update failed")
                reason = f"internal error ({type(error).__name__}: {error}); see the Python console"
            return self.mark_not_computed(reason, parameters)
        summary = analysis.summary
        report = self.last_update
        parameters = parameters or self.parameters()
        warnings = list(summary.warnings)
        for role, node in (("IA", parameters.ia_pet), ("IV", parameters.iv_pet)):
            warnings.extend(text for text in suv_warnings(node, role) if text not in warnings)
        hint = for_panel if self.panel_hints else (lambda text: text)
        consistency = [{**item, "hint": hint(item.get("hint", ""))} for item in summary.consistency]
        open_checks = list(dict.fromkeys(item["check"] for item in summary.consistency
                                         if item["status"] == "not confirmed"))
        confirm_hint = ""
        if open_checks:
            confirm_hint = (f"Check the inputs. If they are right, tick {CONFIRM_BOX} (all checks), or add "
                            f"{', '.join(open_checks)} to the {ACCEPT_FIELD} field (these checks only), to decide.")
        notes, self._confirmation_notes = self._confirmation_notes, []
        return LiveStatus(True, summary.decision_text, summary.settings.rule_text(), warnings,
                          recomputed_segments=list(report.recomputed_segments), seconds=report.seconds,
                          decision_status="determined" if summary.determined else "not determined",
                          consistency=consistency, confirm_hint=confirm_hint, confirmation_notes=notes)

    def missing_inputs(self, parameters: Optional[LesionRatioParameters] = None) -> Optional[str]:
        """What to select before a decision can be computed ("select the IV PET"), or None when all are set."""
        parameters = parameters or self.parameters()
        missing = [name for name, node in (("the IA PET", parameters.ia_pet), ("the IV PET", parameters.iv_pet),
                                           ("the segmentation", parameters.segmentation)) if node is None]
        if not missing:
            return None
        return "select " + (missing[0] if len(missing) == 1 else ", ".join(missing[:-1]) + " and " + missing[-1])

    def mark_not_computed(self, reason: str, parameters: Optional[LesionRatioParameters] = None) -> LiveStatus:
        """Empty the result table and chart data (columns kept) and set their decision to "Not computed" (after
        an error, or when an input was deselected: the last decision was for other inputs); returns the status
        the panel shows."""
        self.analysis, self.last_update = None, None
        self._shown = None  # no decision shown: a confirmation given now has nothing it could stand for
        decision = f"Not computed: {reason}"
        notes, self._confirmation_notes = self._confirmation_notes, []
        status = LiveStatus(False, decision, reason=reason, confirmation_notes=notes)
        try:
            parameters = parameters or self.parameters()
            table = parameters.get_node("ratioTable")
            chart_table = parameters.get_node("ratioChartTable")
        except Exception:  # no parameter node (scene closing): nothing is shown
            return status
        if table is not None:
            columns = [(key, title, "" if unit in ("SUV", "ratio") else unit) for key, title, unit in RATIO_COLUMNS]
            table.SetLocked(False)
            tables.write_table(table, columns, [], TEXT_COLUMNS)
            table.SetAttribute("Ragaliv.Decision", decision)
            table.SetAttribute("Ragaliv.DecisionStatus", "not computed")
            table.SetAttribute("Ragaliv.Rule", "")
            table.SetAttribute("Ragaliv.Warnings", "")
            table.SetAttribute("Ragaliv.Consistency", "[]")
            table.SetLocked(True)
        if chart_table is not None:
            chart_table.RemoveAllColumns()
            chart_table.SetAttribute("Ragaliv.ChartNote", decision)
        return status

    # --- input checks ----------------------------------------------------------------------------------
    def _input_findings(self, ia_node, iv_node, ia: Volume, iv: Volume) -> list[Finding]:
        """``ratio_input_findings`` of the PET pair, as ``ragaliv ratio`` runs them, cached with what they read: the
        SUV voxels (their key in the SUV cache: image MTime and geometry), and the SUV parameters and identities
        stored on each node."""
        identities = [(nodes.dicom_identity(node)[0], nodes.dicom_series_uid(node)) for node in (ia_node, iv_node)]
        key = tuple((node.GetID(), self._suv[node.GetID()][0], node.GetAttribute("Ragaliv.SuvParameters") or "",
                     identity) for node, identity in zip((ia_node, iv_node), identities))
        if self._checks is None or self._checks[0] != key:
            scans = [self._pet_scan(role, node, suv, patient, series)
                     for role, node, suv, (patient, series) in zip(("IA", "IV"), (ia_node, iv_node), (ia, iv),
                                                                   identities)]
            self._checks = (key, ratio_input_findings(scans[0], scans[1]))
        return list(self._checks[1])

    def _screen_refusals(self, confirmations: Confirmations, parameters: LesionRatioParameters,
                         settings: RatioSettings, findings: list[Finding], ia_node, iv_node
                         ) -> tuple[RatioSettings, list[Finding]]:
        """The refusals among ``findings`` by the rule of ``check_ratio_inputs`` (accepted ones become warnings, the
        others raise), where a plausibility id accepts only the refusals it was given for (:mod:`.confirmation`; an
        id that does not cover one is removed from the field, with a note); returns the settings without the ids
        removed, and the findings for ``summarise``."""
        pets = {"IA": ia_node, "IV": iv_node}
        keys = {}
        for finding in findings:
            if finding.severity == REFUSE:
                node = pets.get(finding.subject)
                identity = (nodes.dicom_identity(node)[0], nodes.dicom_series_uid(node)) if node else ("", "")
                keys[id(finding)] = refusal(finding.check, finding.subject, *identity, finding.message)
        found: dict[str, list[dict]] = {}
        for item in keys.values():
            found.setdefault(item["check"], []).append(item)
        # --accept given with the inputs (ragaliv review): they cover what this update finds, as in ragaliv ratio
        confirmations.bind_refusals(settings.accept, found if self._bind_to_next else self._refusals_shown)
        covered, notes = confirmations.screen(list(keys.values()), settings.accept, self._refusals_shown)
        confirmations.save()
        self._confirmation_notes.extend(notes)
        if notes:
            settings = dataclasses.replace(settings, accept=accepted_checks(parameters.get("acceptChecks")))
        try:
            return settings, accept_refusals(findings, lambda finding: keys[id(finding)] in covered)
        except RagalivInputError as error:
            raise panel_error(error) if self.panel_hints else error from None

    # --- PET conversion ---------------------------------------------------------------------------------
    def load_pet(self, files: Union[str, Sequence[str]], role: str, overrides: Optional[SuvOverrides] = None,
                 normalization: str = "bw", volume_node=None, parameters: Optional[LesionRatioParameters] = None):
        """The PET ``files`` as SUV into ``volume_node`` (re-conversion) or a new "<role> PET SUV" node, as
        :func:`~.pet_import.load_pet_node` stores it; returns (node, PetImage).

        A refused header value (weight, injected activity, ...) is accepted only when a plausibility id in "Accept
        checks" was given for that very refusal (:mod:`.confirmation`: this role, this PatientID and series, this
        value); otherwise the conversion is refused and such an id is removed from the field, with a note in the
        refusal. ``overrides.accept`` is not used (the field is). Nothing is stored when refused."""
        from ragaliv.pet.suv import load_pet

        parameters = parameters or self.parameters()
        accept = accepted_checks(parameters.get("acceptChecks"))
        confirmations = Confirmations(parameters)
        confirmations.bind_refusals(accept, self._refusals_shown)
        overrides = overrides or SuvOverrides()
        source = files if isinstance(files, str) else list(files)
        accepted: tuple[str, ...] = ()
        identity = None
        while True:  # a refusal accepted can uncover the next one (the BMI is checked once weight and height pass)
            try:
                pet = load_pet(source, dataclasses.replace(overrides, accept=accepted), normalization)
                break
            except RefusalError as error:
                identity = identity or _series_identity(source)
                refusals = [refusal(finding.check, role, *identity, finding.message) for finding in error.findings]
                covered, notes = confirmations.screen(refusals, accept, self._refusals_shown)
                new = tuple(dict.fromkeys(item["check"] for item in covered if item["check"] not in accepted))
                if len(covered) < len(refusals) or not new:
                    confirmations.save()
                    self._confirmation_notes.extend(notes)
                    refused = RagalivInputError(" ".join([error.message, *notes]), error.hint)
                    raise panel_error(refused) if self.panel_hints else refused from None
                accepted += new
            except RagalivInputError as error:
                raise panel_error(error) if self.panel_hints else error from None
        confirmations.save()
        return store_pet_node(self.scene, pet, files, f"{role} PET SUV", volume_node), pet

    @staticmethod
    def _pet_scan(role: str, node, suv: Volume, patient_id: str, series_uid: str) -> PetScan:
        """The :class:`PetScan` of a PET node: the SUV parameters ``load_pet_node`` stored (dose, weight, height,
        times, nuclide, normaliser, series UID and description), its PatientID and its SUV voxels. A PET converted
        elsewhere (PETDICOMExtension) has no parameters: only the checks its identity and voxels allow run."""
        text = node.GetAttribute("Ragaliv.SuvParameters")
        try:
            parameters = json.loads(text) if text else {}
        except ValueError:
            parameters = {}
        if not isinstance(parameters, dict):
            parameters = {}
        if not parameters.get("series_instance_uid"):
            parameters["series_instance_uid"] = series_uid
        parameters["patient_id"] = patient_id
        return PetScan(role, parameters, suv)

    @staticmethod
    def _check_frames(summary, parameters: LesionRatioParameters) -> None:
        """The frame-of-reference check of ``ragaliv ratio`` (``check_pet_pair``); the patients were compared by
        the input checks (a consistency check: NOT DETERMINED until confirmed, as in the CLI)."""
        frames = {"IA PET": nodes.dicom_identity(parameters.ia_pet)[1],
                  "IV PET": nodes.dicom_identity(parameters.iv_pet)[1],
                  "reference image": nodes.dicom_identity(parameters.mri)[1] if parameters.mri is not None else ""}
        check_pet_pair(summary, frames)

    @staticmethod
    def _scan_parameters(ia_node, iv_node) -> dict[str, object]:
        result = {}
        for key, node in (("ia", ia_node), ("iv", iv_node)):
            text = node.GetAttribute("Ragaliv.SuvParameters")
            result[key] = json.loads(text) if text else {"volume": node.GetName()}
        return result

    def _write_outputs(self, parameters: LesionRatioParameters) -> None:
        analysis = self.analysis
        table = plots.get_or_add(self.scene, "vtkMRMLTableNode", "IA-IV uptake ratios", parameters.node, "ratioTable")
        columns = [(key, title, analysis.suv_unit if unit == "SUV" else ("" if unit == "ratio" else unit))
                   for key, title, unit in RATIO_COLUMNS]
        rows = []
        for row in analysis.rows:
            values = row_values(row)
            for key in ("tumour_to_liver_ia", "tumour_to_liver_iv"):
                values[key] = "" if values[key] is None else f"{values[key]:.3f}"
            rows.append(values)
        tables.write_table(table, columns, rows, TEXT_COLUMNS)
        summary = analysis.summary
        table.SetAttribute("Ragaliv.Decision", summary.decision_text)
        table.SetAttribute("Ragaliv.DecisionStatus", "determined" if summary.determined else "not determined")
        table.SetAttribute("Ragaliv.Rule", summary.settings.rule_text())
        table.SetAttribute("Ragaliv.Warnings", "\n".join(summary.warnings))
        table.SetAttribute("Ragaliv.Consistency", json.dumps(summary.consistency))
        table.SetAttribute("Ragaliv.ConfirmConsistency", str(bool(summary.settings.confirm_consistency)))
        table.SetAttribute("Ragaliv.AcceptedChecks", ", ".join(summary.settings.accept))
        table.SetLocked(True)
        self._write_chart(parameters)

    def _write_chart(self, parameters: LesionRatioParameters) -> None:
        summary = self.analysis.summary
        settings = summary.settings
        lesions = list(summary.lesion_ratios)
        chart_table = plots.get_or_add(self.scene, "vtkMRMLTableNode", "Lesion ratio chart data",
                                       parameters.node, "ratioChartTable")
        # A lesion without a ratio and an undetermined aggregate are NaN (the plot series skip them, a 0 would
        # draw as a real ratio); the "note" column, the lesion label and the table attribute say why.
        metric_title = METRIC_TITLES[settings.metric]
        rows, notes = [], []
        for i, name in enumerate(lesions):
            ratio = summary.lesion_ratios[name]
            note = "" if ratio is not None else f"no {metric_title} IA/IV ratio: not plotted, not in the aggregate"
            if note:
                notes.append(f"{name}: {note}")
            rows.append({"index": float(i + 1), "lesion": name if ratio is not None else f"{name} (no ratio)",
                         "ratio": ratio, "threshold": settings.threshold, "aggregate": summary.lesion_ratio,
                         "note": note})
        if summary.lesion_ratio is None:
            notes.append(f"{settings.aggregate} ratio undetermined (no lesion has a valid ratio): not plotted")
        tables.write_table(chart_table, [("index", "#", ""), ("lesion", "Lesion", ""), ("ratio", "IA/IV", ""),
                                         ("threshold", "Threshold", ""), ("aggregate", settings.aggregate, ""),
                                         ("note", "Note", "")],
                           rows, ("lesion", "note"))
        chart_table.SetAttribute("Ragaliv.ChartNote", "\n".join(notes))
        bars = plots.series(self.scene, "Lesion IA/IV ratio", chart_table, "index", "ratio", "Bar",
                            (0.75, 0.22, 0.17), reference_node=parameters.node, role="ratioBarSeries")
        bars.SetLabelColumnName("lesion")
        threshold = plots.series(self.scene, f"Threshold {settings.threshold:g}", chart_table, "index", "threshold",
                                 "Line", (0.1, 0.1, 0.1), reference_node=parameters.node, role="ratioThresholdSeries")
        threshold.SetLineStyle(threshold.LineStyleDash)
        aggregate_name = f"{settings.aggregate} ratio" + (" undetermined" if summary.lesion_ratio is None else "")
        aggregate = plots.series(self.scene, aggregate_name, chart_table, "index", "aggregate", "Line",
                                 (0.16, 0.5, 0.73), reference_node=parameters.node, role="ratioAggregateSeries")
        plots.chart(self.scene, "Lesion IA/IV ratios", [bars, threshold, aggregate],
                    f"Lesion IA/IV {METRIC_TITLES[settings.metric]} - {summary.decision_text.split(':')[0]}",
                    "Lesion", f"IA/IV {METRIC_TITLES[settings.metric]}", parameters.node, "ratioChart")

    # --- editor and export -----------------------------------------------------------------------------
    def segment_editor_node(self):
        """The module's own segment editor node, so the embedded editor does not disturb the Segment
        Editor module (GUIDE §3)."""
        node = self.scene.GetSingletonNode(MODULE_NAME, "vtkMRMLSegmentEditorNode")
        if node is None:
            node = self.scene.CreateNodeByClass("vtkMRMLSegmentEditorNode")
            node.UnRegister(None)
            node.SetSingletonTag(MODULE_NAME)
            node = self.scene.AddNode(node)
        return node

    def export(self, directory: str, parameters: Optional[LesionRatioParameters] = None,
               source: str = DEFAULT_EXPORT_SOURCE) -> dict[str, str]:
        """ratios.csv, summary.json, lesion_ratios.png and provenance.json of the current analysis.

        ``source`` names the application (and, if wanted, the reader) in the provenance's parameters. The
        normalisation recorded is the one the PET nodes were converted with, not the panel's current choice."""
        parameters = parameters or self.parameters()
        analysis = self.update(parameters)
        inputs = {}
        for role, node in (("ia", parameters.ia_pet), ("iv", parameters.iv_pet)):
            files = json.loads(node.GetAttribute("Ragaliv.SourceFiles") or "[]") if node is not None else []
            if files:
                inputs[role] = files
        settings = analysis.summary.settings
        used = {"metric": settings.metric, "aggregate": settings.aggregate, "threshold": settings.threshold,
                "normalization": same_normalization(parameters.ia_pet, parameters.iv_pet),
                "confirm_consistency": settings.confirm_consistency, "accept": list(settings.accept),
                "source": source}
        return write_ratio_outputs(analysis, directory, inputs, used)

    def export_dicom(self, directory: str, reference_files: Sequence[str], deidentify: bool = False,
                     dose_rows: Optional[Sequence[dict]] = None,
                     parameters: Optional[LesionRatioParameters] = None) -> dict[str, str]:
        """DICOM SEG of the segmentation on the MRI series (``reference_files``, from the DICOM database) and
        the TID 1500 SR of the current analysis, referencing the PET series the SUVs came from."""
        from ragaliv.report.dicom_export import (
            SEG_FILENAME,
            SR_FILENAME,
            dose_measurements_from_rows,
            write_dicom_outputs,
        )
        from ragaliv.report.phi import Deidentifier

        parameters = parameters or self.parameters()
        analysis = self.update(parameters)
        pet_files = {}
        for role, node in (("IA", parameters.ia_pet), ("IV", parameters.iv_pet)):
            files = json.loads(node.GetAttribute("Ragaliv.SourceFiles") or "[]") if node is not None else []
            if not files:
                raise RagalivInputError(
                    f"The {role} PET was not loaded from DICOM by this module, so the SR cannot reference it.",
                    "Load the PET with 'Load from DICOM…'.",
                )
            pet_files[role] = files
        if not reference_files:
            raise RagalivInputError("The MRI has no DICOM files to reference.", "Load the MRI from the DICOM database.")
        segments = [self._segments[sid].mask for sid in parameters.segmentation.GetSegmentation().GetSegmentIDs()]
        doses = dose_measurements_from_rows(list(dose_rows)) if dose_rows else None
        exported = write_dicom_outputs(directory, segments, analysis, list(reference_files), pet_files["IA"],
                                       pet_files["IV"], Deidentifier() if deidentify else None, doses)
        self.last_export_warnings = exported["warnings"]
        return {"dicom_seg": os.path.join(directory, SEG_FILENAME), "dicom_sr": os.path.join(directory, SR_FILENAME)}

    def write_report(self, directory: str, deidentify: bool = False,
                     parameters: Optional[LesionRatioParameters] = None,
                     reviewer: Optional[str] = None) -> dict[str, str]:
        """The case report (HTML, PDF when Chromium is found) of the current analysis, with lesion snapshots
        on the MRI; the patient identity comes from the PET DICOM files the SUVs were computed from.
        ``reviewer`` pre-fills the report's first "Reviewed by" line (the reader of the images)."""
        from ragaliv.report.case_report import write_ratio_report
        from ragaliv.report.identity import merge_identities, read_series

        parameters = parameters or self.parameters()
        analysis = self.update(parameters)
        identities = []
        for role, node in (("IA PET", parameters.ia_pet), ("IV PET", parameters.iv_pet)):
            files = json.loads(node.GetAttribute("Ragaliv.SourceFiles") or "[]")
            if files:
                identities.append(read_series(files, role)[0])
        patient, _ = merge_identities(identities)
        segments = [self._segments[sid].mask for sid in parameters.segmentation.GetSegmentation().GetSegmentIDs()]
        mri = nodes.volume_from_node(parameters.mri) if parameters.mri is not None else None
        return write_ratio_report(
            analysis, segments, self._suv_image(parameters.ia_pet, "IA"), self._suv_image(parameters.iv_pet, "IV"),
            directory, deidentify=deidentify, reference_volume=mri, patient=patient, log=None, reviewer=reviewer,
        )

    # --- placing segments ----------------------------------------------------------------------------
    def _reference_geometry(self, parameters: LesionRatioParameters):
        reference = parameters.mri or parameters.ia_pet
        if reference is None:
            raise RagalivInputError("No MRI selected.", "Select the MRI the lesions are drawn on.")
        return nodes.volume_geometry(reference)

    def ensure_segmentation(self, parameters: Optional[LesionRatioParameters] = None):
        parameters = parameters or self.parameters()
        segmentation_node = parameters.segmentation
        if segmentation_node is None:
            segmentation_node = self.scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Lesions and organs")
            segmentation_node.CreateDefaultDisplayNodes()
            reference = parameters.mri or parameters.ia_pet
            if reference is not None:
                segmentation_node.SetReferenceImageGeometryParameterFromVolumeNode(reference)
            parameters.set_node("segmentation", segmentation_node)
        return segmentation_node

    def add_lesion(self, click_ras: Sequence[float], parameters: Optional[LesionRatioParameters] = None) -> str:
        """"Add lesion": a "Lesion n" segment at the click, sphere or automatic IA-PET contour."""
        parameters = parameters or self.parameters()
        # Inputs checked before a segmentation is created, so that a refusal leaves none behind.
        reference = self._reference_geometry(parameters)
        auto = parameters.get("placementMode") == "auto"
        ia = self._suv_image(parameters.ia_pet, "IA") if auto else None
        segmentation_node = self.ensure_segmentation(parameters)
        segmentation = segmentation_node.GetSegmentation()
        names = [segmentation.GetSegment(sid).GetName() for sid in segmentation.GetSegmentIDs()]
        name = next_lesion_name(names)
        click_lps = np.array([-click_ras[0], -click_ras[1], click_ras[2]], dtype=float)
        if auto:
            liver = next((sid for sid in segmentation.GetSegmentIDs()
                          if segmentation.GetSegment(sid).GetName().strip().lower() == "liver"), None)
            clip = nodes.segment_mask(segmentation_node, liver) if liver else None
            mask = auto_contour_segment(name, ia, click_lps, reference, parameters.get("contourPercent"),
                                        parameters.get("contourRadiusMm"), clip)
        else:
            mask = sphere_segment(name, click_lps, parameters.get("lesionDiameterMm"), reference)
        return nodes.add_segment(segmentation_node, mask, name, SEGMENT_COLORS["lesion"])

    def add_organ_voi(self, name: str, click_ras: Sequence[float],
                      parameters: Optional[LesionRatioParameters] = None) -> str:
        """Organ VOI sphere at the click (presets: 3 cm healthy liver, ...); "Bone marrow" accumulates
        one sphere per click (L2, L3, L4)."""
        if name not in VOI_PRESET_DIAMETERS_MM:
            raise RagalivInputError(f"Unknown organ VOI {name!r}.", f"Use one of {', '.join(VOI_PRESET_DIAMETERS_MM)}.")
        parameters = parameters or self.parameters()
        reference = self._reference_geometry(parameters)  # before creating a segmentation that would stay empty
        segmentation_node = self.ensure_segmentation(parameters)
        segmentation = segmentation_node.GetSegmentation()
        click_lps = np.array([-click_ras[0], -click_ras[1], click_ras[2]], dtype=float)
        mask = sphere_segment(name, click_lps, VOI_PRESET_DIAMETERS_MM[name], reference)
        existing = segmentation.GetSegmentIdBySegmentName(name)
        if existing and name == "Bone marrow":
            previous = nodes.segment_mask(segmentation_node, existing)
            mask = _union(previous, mask, reference)
            nodes.set_segment_mask(segmentation_node, existing, mask)
            return existing
        if existing:
            nodes.set_segment_mask(segmentation_node, existing, mask)
            return existing
        role = {"Healthy liver": "healthy_liver", "Spleen": "spleen", "Bone marrow": "bone_marrow"}.get(name, "kidney")
        return nodes.add_segment(segmentation_node, mask, name, SEGMENT_COLORS[role])


def _same_mask(first: SegmentMask, second: SegmentMask) -> bool:
    return (first.mask.shape == second.mask.shape
            and np.allclose(first.geometry.ijk_to_lps, second.geometry.ijk_to_lps, atol=1e-6)
            and np.array_equal(first.mask, second.mask))


def _on_grid(mask: SegmentMask, reference) -> np.ndarray:
    """``mask`` on the full ``reference`` grid: pasted when its crop is a sub-grid of ``reference``, else
    resampled by nearest lookup of the reference voxel centres (a segment drawn on another grid, or under a
    transform)."""
    from ragaliv.io.segmentation import paste_into

    try:
        return paste_into(mask, reference)
    except ValueError:
        pass
    full = np.zeros(reference.shape_kji, bool)
    corners = reference.lps_to_index(mask.geometry.corners_lps())  # (i, j, k) of the mask's outer corners
    size_ijk = np.array(reference.size_ijk)
    low = np.clip(np.floor(corners.min(axis=0)).astype(int), 0, size_ijk)
    high = np.clip(np.ceil(corners.max(axis=0)).astype(int) + 1, 0, size_ijk)
    if np.any(high <= low):
        return full  # entirely outside the reference grid
    i, j, k = np.meshgrid(*(np.arange(a, b) for a, b in zip(low, high)), indexing="ij")
    centres = reference.index_to_lps(np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1))
    source = np.rint(mask.geometry.lps_to_index(centres)).astype(np.int64)
    size_k, size_j, size_i = mask.mask.shape
    inside = ((source[:, 0] >= 0) & (source[:, 0] < size_i) & (source[:, 1] >= 0) & (source[:, 1] < size_j)
              & (source[:, 2] >= 0) & (source[:, 2] < size_k))
    values = np.zeros(len(source), bool)
    values[inside] = mask.mask[source[inside, 2], source[inside, 1], source[inside, 0]]
    full[k.ravel(), j.ravel(), i.ravel()] = values
    return full


def _union(first: SegmentMask, second: SegmentMask, reference) -> SegmentMask:
    """Union of two masks on the ``reference`` grid (a mask not on a sub-grid of it is resampled onto it)."""
    full = np.zeros(reference.shape_kji, bool)
    for mask in (first, second):
        if not mask.is_empty:
            full |= _on_grid(mask, reference)
    return SegmentMask.from_full_mask(second.name, full, reference)


def _series_identity(source: Union[str, list[str]]) -> tuple[str, str]:
    """(PatientID, SeriesInstanceUID) of the PET series a conversion read (what a refusal of it is bound to); an
    image file is its path."""
    from ragaliv.io.dicom_series import select_series
    from ragaliv.io.images import is_image_file
    from ragaliv.pet.dicom_values import dicom_text

    if isinstance(source, str) and is_image_file(source):
        return "", source
    try:
        series = select_series(source, ("PT",), "PET")
    except RagalivError:
        return "", ""
    return dicom_text(series.fast_headers[0], "PatientID"), series.series_instance_uid
