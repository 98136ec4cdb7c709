"""RagalivSpectDosimetry logic on a MRML scene (no Qt): time points + VOIs -> fits, doses, plots, dose map.

The time points live in a table node (what the user sees) and as node references on the parameter node
(which survive scene save/reload even when node IDs change). The analysis itself is the core's
``ragaliv.spect.analyse_study``, the same as ``ragaliv dosimetry`` runs on files.

Each time point's SPECT and CT have their own reference role ("timepointSpect0", "timepointCt0", ...), read
with the table row of the same index. A multi-valued reference would not do: when a referenced node is removed
(deleted, or not loaded with a saved scene), MRML erases its entry (``vtkMRMLScene::RemoveNode`` ->
``vtkMRMLNode::UpdateReferences``, 5.8-5.12) and every later SPECT would move onto an earlier time and CT. A row
whose SPECT (or CT) is gone is refused by the run, and marked in the table as soon as the node is removed.

A result is kept with a digest of the study it was computed from: export and report re-run the analysis unless
the scene's inputs still give that study, so they never write an earlier run's (or another patient's) numbers.

A run checks what ``ragaliv dosimetry`` checks (:mod:`ragaliv.checks.spect`): the administered activity, each time
point's hours against its DICOM acquisition time when the SPECT came from DICOM, the activity in each SPECT before
the analysis, VOI activities and TIACs after it. Refusals raise (the panel's "Accept checks" ids turn them into
recorded warnings); warnings reach the result, its table and the exports.

With a saved ``population.json`` (``ragaliv population``), every VOI the population knows also gets the TIA with
the population as prior (:func:`ragaliv.spect.analysis.population_prior_tias`, issue 9), shown beside the study's
own fit in ``population_*`` columns and recorded in summary.json; the study's own numbers, and the doses, stay
those of its own fits.
A study whose TIAs would come from one time point before 48 h is refused as by ``ragaliv dosimetry``, also with a
population prior (the doses shown and exported are the study's own): "Accept checks" ``stp-time`` runs it, each
such VOI warned, its population-prior TIA beside its own.
"""

import datetime
import hashlib
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
from ragaliv.checks.findings import Finding, apply_findings
from ragaliv.checks.spect import (
    STP_FIX,
    administered_finding,
    check_result,
    check_study,
    fit_notes,
    spect_time_finding,
)
from ragaliv.errors import RagalivError, RagalivInputError
from ragaliv.geometry import Volume
from ragaliv.io.user_time import parse_user_datetime
from ragaliv.spect import SpectStudy, SpectTimepoint, analyse_study, counts_to_bq_per_ml
from ragaliv.spect.result import StudyResult
from ragaliv.spect.study_json import SAME_INJECTION_S, header_dated_with_scan_day, injection_time_finding
from ragaliv_mrml import nodes, plots, tables
from ragaliv_mrml.panel_text import accepted_checks, panel_error

from .parameters import SpectDosimetryParameters, get_parameter_node

SPECT_ROLE, CT_ROLE = "timepointSpect", "timepointCt"
# A single time point before 48 h (checks.spect.stp_time_findings): with stp-time accepted, a population prior
# shows a sounder TIA beside the study's own (the dose stays the study's own).
STP_FIX_WITH_PRIOR = (f"{STP_FIX}. With only this scan, a cohort's population.json (ragaliv population) as "
                      "'Population prior' shows each VOI's TIA with the population as prior beside its own (the doses "
                      "stay those of its own TIA)")
# Scenes saved before the indexed roles kept the SPECTs (and earlier the CTs) as lists under SPECT_ROLE and
# CT_ROLE; they are still read when the list has one entry per table row, and rewritten with indexed roles.
NOT_IN_SCENE = " (not in the scene)"  # appended in the table to the name of a removed SPECT or CT


def spect_role(index: int) -> str:
    return f"{SPECT_ROLE}{index}"


def ct_role(index: int) -> str:
    return f"{CT_ROLE}{index}"


def _shown_name(name: str) -> str:
    return name[: -len(NOT_IN_SCENE)] if name.endswith(NOT_IN_SCENE) else name


TIMEPOINT_COLUMNS = (
    ("spect", "SPECT", ""), ("ct", "CT", ""), ("time_h", "Time", "h"), ("units", "Units", ""),
    ("calibration_cps_per_mbq", "Calibration", "cps/MBq"), ("duration_s", "Duration", "s"),
    ("acquisition_time", "Acquired (DICOM)", ""), ("acquisition_source", "Acquisition time from", ""),
    ("injection_time", "Injected (DICOM)", ""),
)
RESULT_COLUMNS = (
    ("region", "VOI", ""), ("model", "Model", ""), ("tia_mbq_h", "TIA", "MBq·h"), ("tiac_h", "TIAC", "h"),
    ("effective_half_life_h", "T eff", "h"), ("tia_rel_uncertainty", "u(TIA)", "rel."), ("mass_g", "Mass", "g"),
    ("method", "Dose method", ""), ("dose_gy", "Dose", "Gy"), ("dose_gy_per_gbq", "Dose/activity", "Gy/GBq"),
    ("dose_rel_uncertainty", "u(dose)", "rel."), ("bed_gy", "BED", "Gy"),
    ("voxel_mean_dose_gy", "Voxel mean dose", "Gy"), ("flags", "Flags", ""),
)
RESULT_TEXT_COLUMNS = ("region", "model", "method", "flags")
# Beside the study's own fit when a population.json is given (never in its place).
POPULATION_COLUMNS = (
    ("population_model", "Population model", ""), ("population_tia_mbq_h", "TIA (population prior)", "MBq·h"),
    ("population_tiac_h", "TIAC (population prior)", "h"),
    ("population_tia_rel_uncertainty", "u(TIA) (population prior)", "rel."),
    ("population_shrinkage", "Shrinkage to population", ""), ("population_note", "Population prior", ""),
)
POPULATION_TEXT_COLUMNS = ("population_model", "population_note")
ADMINISTERED_SOURCE = "'Administered 177Lu (MBq)' in the panel"
ADMINISTERED_FIX = "Enter the administered activity in MBq in 'Administered 177Lu (MBq)' (7.4 GBq = 7400)"
TIME_SOURCE = "'Time after injection (h)'"
DOSE_COLOR_NODE_ID = "vtkMRMLColorTableNodeRainbow"


@dataclass
class Timepoint:
    spect: Any  # None when the SPECT is no longer in the scene
    ct: Any  # None without a CT, or when it is no longer in the scene (then ``ct_name`` is set)
    time_h: float
    units: str = "Bq/mL"
    calibration_cps_per_mbq: Optional[float] = None
    duration_s: Optional[float] = None
    spect_name: str = ""  # as listed in the table
    ct_name: str = ""
    acquisition_time: str = ""  # ISO, from the SPECT's DICOM header when it was read (else "")
    acquisition_source: str = ""  # the header tags it was read from (ragaliv.spect.loading.acquisition_time)
    injection_time: str = ""  # ISO, the SPECT header's RadiopharmaceuticalStartDateTime (0018,1078) (else "")

    def problem(self, index: int) -> Optional[str]:
        """Why this time point cannot be analysed (its SPECT or CT left the scene), or None."""
        where = f"Time point {index + 1} ({self.time_h:g} h)"
        if self.spect is None:
            return f"{where}: its SPECT {_shown_name(self.spect_name)!r} is not in the scene (deleted, or not loaded " \
                   "with the saved scene)."
        if self.ct is None and self.ct_name:
            return f"{where}: its CT {_shown_name(self.ct_name)!r} is not in the scene (deleted, or not loaded with " \
                   "the saved scene)."
        return None


def study_digest(study: SpectStudy) -> str:
    """SHA-256 of everything a run reads from the scene (settings, times, voxels, geometry, VOI masks): two
    studies with the same digest give the same result."""
    digest = hashlib.sha256()

    def text(value) -> None:
        digest.update(repr(value).encode("utf-8"))
        digest.update(b"\0")

    def volume(image) -> None:
        if image is None:
            text(None)
            return
        array = np.ascontiguousarray(image.array)
        text((array.shape, array.dtype.str, np.round(image.geometry.ijk_to_lps, 9).tolist(), image.unit))
        digest.update(array.tobytes())

    text(sorted(study.settings().items(), key=lambda item: item[0]))
    text((study.kernel_directory, study.radiopharmaceutical))
    for point in study.timepoints:
        text((point.time_h, point.units, sorted(point.calibration.items()), point.source, point.ct_source))
        volume(point.activity)
        volume(point.ct)
    for segment in study.segments:
        text(segment.name)
        mask = np.ascontiguousarray(segment.mask)
        text((mask.shape, np.round(segment.geometry.ijk_to_lps, 9).tolist()))
        digest.update(np.packbits(mask).tobytes())
    return digest.hexdigest()


@dataclass
class PopulationPrior:
    """TIAs of the study's VOIs with a saved population as prior, and why the other VOIs have none."""

    path: str
    estimates: dict[str, Any] = field(default_factory=dict)  # region -> ragaliv.kinetics.PatientKinetics
    without: dict[str, str] = field(default_factory=dict)  # region -> reason

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.path,
                "use": "TIA of each VOI with the population as prior (empirical Bayes), reported beside the study's "
                       "own fit; the study's TIAs and doses are its own fits",
                "regions": {name: estimate.to_dict() for name, estimate in self.estimates.items()},
                "regions_without_prior": dict(self.without)}


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class RunCancelled(RagalivError):
    """The user cancelled the dosimetry run; the previous results (if any) are left as they were."""

    def __init__(self) -> None:
        super().__init__("Dosimetry cancelled: no result was written.")


def parse_assignments(text: str, what: str) -> dict[str, str]:
    """``"Kidney left=biexp; Lesion 1 = trapezoid"`` -> {"Kidney left": "biexp", "Lesion 1": "trapezoid"}."""
    result = {}
    for item in (text or "").replace("\n", ";").split(";"):
        if not item.strip():
            continue
        name, separator, value = item.partition("=")
        if not separator or not name.strip() or not value.strip():
            raise RagalivInputError(f"{what}: {item.strip()!r} is not 'VOI name = value'.",
                                    "Separate entries with ';', e.g. 'Kidney left=biexp-uptake; Lesion 1=mono'.")
        result[name.strip()] = value.strip()
    return result


def _number_or_none(text: str) -> Optional[float]:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


class SpectDosimetryLogic:
    def __init__(self, scene):
        self.scene = scene
        self.result: Optional[StudyResult] = None
        self.study: Optional[SpectStudy] = None
        self.result_digest: Optional[str] = None  # run digest (study, accepted checks, population) of the result
        self.population: Optional[PopulationPrior] = None  # of the result, when a population.json was given
        self.running = False
        self._watch_tags: list[int] = []
        # The module panel sets this: refusal hints name its fields ("add spect-time to the 'Accept checks'
        # field") instead of CLI flags.
        self.panel_hints = False

    def reset(self) -> None:
        """Forget the last result (scene closed: its numbers belong to another scene, perhaps another patient)."""
        self.result, self.study, self.result_digest, self.population = None, None, None, None

    # --- removed nodes -------------------------------------------------------------------------------
    def watch_scene(self) -> None:
        """Mark a time point whose SPECT or CT is removed from the scene in the table at once (the run refuses
        it anyway), or at the end of a batch (scene import, multiple deletions); until :meth:`unwatch_scene`."""
        if not self._watch_tags:
            self._watch_tags = [self.scene.AddObserver(event, self._on_scene_changed)
                                for event in (self.scene.NodeRemovedEvent, self.scene.EndBatchProcessEvent)]

    def unwatch_scene(self) -> None:
        for tag in self._watch_tags:
            self.scene.RemoveObserver(tag)
        self._watch_tags = []

    def _on_scene_changed(self, caller=None, event=None) -> None:
        if not self.scene.IsClosing() and not self.scene.IsBatchProcessing():
            self.mark_missing()

    def mark_missing(self, parameters: Optional[SpectDosimetryParameters] = None) -> int:
        """Rewrite the time point table when a SPECT or CT it lists is no longer in the scene (its name marked
        "not in the scene"); returns the number of such time points. Without ``parameters``, the module's
        parameter node if there is one (none is created)."""
        if parameters is None:
            node = get_parameter_node(self.scene, create=False)
            if node is None:
                return 0
            parameters = SpectDosimetryParameters(node)
        if parameters.get_node("timepointTable") is None:
            return 0
        points = self.timepoints(parameters)

        def unmarked(point: Timepoint) -> bool:
            return ((point.spect is None and not point.spect_name.endswith(NOT_IN_SCENE))
                    or (point.ct is None and bool(point.ct_name) and not point.ct_name.endswith(NOT_IN_SCENE)))

        if any(unmarked(point) for point in points):
            self._write_timepoints(parameters, points)
        return sum(1 for point in points if point.problem(0))

    def _refuse_while_running(self, what: str) -> None:
        if self.running:
            raise RagalivInputError(f"Cannot {what} while the dosimetry is running.",
                                    "Wait for it to finish, or cancel it.")

    def parameters(self) -> SpectDosimetryParameters:
        return SpectDosimetryParameters(get_parameter_node(self.scene))

    # --- time points ---------------------------------------------------------------------------------
    def _timepoint_table(self, parameters: SpectDosimetryParameters):
        return plots.get_or_add(self.scene, "vtkMRMLTableNode", "SPECT time points", parameters.node, "timepointTable")

    def timepoints(self, parameters: Optional[SpectDosimetryParameters] = None) -> list[Timepoint]:
        """The time points in table order, each with the SPECT and CT of its own index."""
        parameters = parameters or self.parameters()
        table = parameters.get_node("timepointTable")
        node = parameters.node
        columns = tables.read_table(table) if table is not None else {}
        count = len(columns.get("spect", []))
        # Before the indexed roles: lists, trusted only with one entry per row (else an entry was erased and
        # every later one moved up: no SPECT or CT of that list is taken, the run refuses the rows).
        legacy_spects = node.GetNumberOfNodeReferences(SPECT_ROLE)
        legacy_cts = node.GetNumberOfNodeReferences(CT_ROLE)
        indexed_cts = any(node.GetNodeReferenceID(ct_role(index)) for index in range(count))

        def referenced(role: str, nth: Optional[int] = None):
            found = node.GetNodeReference(role) if nth is None else node.GetNthNodeReference(role, nth)
            # Inside NodeRemovedEvent the reference still holds the removed node, already out of the scene.
            return found if found is not None and found.GetScene() is self.scene else None

        def spect(index):
            if legacy_spects:
                return referenced(SPECT_ROLE, index) if legacy_spects == count else None
            return referenced(spect_role(index))

        def ct(index):
            if legacy_cts and not indexed_cts:
                return referenced(CT_ROLE, index) if legacy_cts == count else None
            return referenced(ct_role(index))

        points = []
        for index in range(count):
            def column(key, default="", index=index):
                values = columns.get(key, [])
                return values[index] if index < len(values) else default

            points.append(Timepoint(
                spect=spect(index),
                ct=ct(index),
                time_h=float(column("time_h", "nan") or "nan"),
                units=column("units", "Bq/mL") or "Bq/mL",
                calibration_cps_per_mbq=_number_or_none(column("calibration_cps_per_mbq")),
                duration_s=_number_or_none(column("duration_s")),
                spect_name=column("spect"),
                ct_name=column("ct"),
                acquisition_time=column("acquisition_time"),
                acquisition_source=column("acquisition_source"),
                injection_time=column("injection_time"),
            ))
        return points

    def _write_timepoints(self, parameters: SpectDosimetryParameters, points: list[Timepoint]) -> None:
        node = parameters.node
        roles = [node.GetNthNodeReferenceRole(n) for n in range(node.GetNumberOfNodeReferenceRoles())]
        for role in roles:
            if role and role.startswith((SPECT_ROLE, CT_ROLE)):
                node.RemoveNodeReferenceIDs(role)
        rows = []
        for index, point in enumerate(points):
            if point.spect is not None:
                node.SetNodeReferenceID(spect_role(index), point.spect.GetID())
            if point.ct is not None:
                node.SetNodeReferenceID(ct_role(index), point.ct.GetID())

            def name(found, listed):
                if found is not None:
                    return found.GetName()
                return "" if not listed else _shown_name(listed) + NOT_IN_SCENE

            rows.append({"spect": name(point.spect, point.spect_name or "SPECT"), "ct": name(point.ct, point.ct_name),
                         "time_h": f"{point.time_h:g}", "units": point.units,
                         "calibration_cps_per_mbq": (
                             "" if point.calibration_cps_per_mbq is None else f"{point.calibration_cps_per_mbq:g}"),
                         "duration_s": "" if point.duration_s is None else f"{point.duration_s:g}",
                         "acquisition_time": point.acquisition_time or "",
                         "acquisition_source": point.acquisition_source or "",
                         "injection_time": point.injection_time or ""})
        tables.write_table(self._timepoint_table(parameters), TIMEPOINT_COLUMNS, rows,
                           [key for key, _, _ in TIMEPOINT_COLUMNS])

    def add_timepoint(self, spect_node, ct_node, time_h: float, units: str = "Bq/mL",
                      calibration_cps_per_mbq: Optional[float] = None, duration_s: Optional[float] = None,
                      parameters: Optional[SpectDosimetryParameters] = None,
                      acquisition_time: Optional[str] = None, acquisition_source: Optional[str] = None,
                      injection_time: Optional[str] = None) -> int:
        """Add (or replace, for the same SPECT volume) a time point; returns its index in time order.

        ``acquisition_time``: the SPECT's DICOM acquisition date-time (ISO) and ``acquisition_source`` the tags it
        was read from (both from ``header_acquisition_time``, the rule of ``ragaliv dosimetry``) when the SPECT came
        from DICOM: the run compares ``time_h`` with it (as ``ragaliv dosimetry`` does) and names the tags.
        ``injection_time``: the header's RadiopharmaceuticalStartDateTime (ISO; ``header_injection_time``): the run
        compares the injection time entered with it (the ``injection-time`` check of ``ragaliv dosimetry``)."""
        self._refuse_while_running("add a time point")
        parameters = parameters or self.parameters()
        if spect_node is None:
            raise RagalivInputError("No SPECT volume selected.", "Select the SPECT of this time point.")
        if units not in ("Bq/mL", "counts"):
            raise RagalivInputError(f"Unknown SPECT units {units!r}.", "Use 'Bq/mL' or 'counts'.")
        if acquisition_time:
            _iso_datetime(acquisition_time, "The SPECT's acquisition time")
        if injection_time:
            _iso_datetime(injection_time, "The SPECT header's injection time")
        points = [p for p in self.timepoints(parameters) if p.spect is None or p.spect.GetID() != spect_node.GetID()]
        points.append(Timepoint(spect_node, ct_node, float(time_h), units, calibration_cps_per_mbq, duration_s,
                                acquisition_time=acquisition_time or "",
                                acquisition_source=(acquisition_source or "") if acquisition_time else "",
                                injection_time=injection_time or ""))
        points.sort(key=lambda p: p.time_h)
        self._write_timepoints(parameters, points)
        return [p.spect.GetID() for p in points].index(spect_node.GetID())

    def remove_timepoint(self, index: int, parameters: Optional[SpectDosimetryParameters] = None) -> None:
        self._refuse_while_running("remove a time point")
        parameters = parameters or self.parameters()
        points = self.timepoints(parameters)
        if not 0 <= index < len(points):
            raise RagalivInputError(f"There is no time point {index + 1}.")
        del points[index]
        self._write_timepoints(parameters, points)

    # --- study ---------------------------------------------------------------------------------------
    def build_study(self, parameters: Optional[SpectDosimetryParameters] = None) -> SpectStudy:
        """The core study from the scene: every DICOM-derived value was set (and can be changed) in the panel."""
        parameters = parameters or self.parameters()
        administered = parameters.get("administeredMbq")
        if not (administered > 0):  # also NaN
            raise RagalivInputError(
                f"Administered activity (administeredMbq) is not set (got {administered:g} MBq).",
                "Enter the administered 177Lu activity in MBq (net of the residual in the syringe and lines) "
                "in 'Administered 177Lu (MBq)': TIAC and Gy/GBq are divided by it.",
            )
        points = self.timepoints(parameters)
        if not points:
            raise RagalivInputError("No time point.", "Add each SPECT/CT time point with its time after injection.")
        segmentation = parameters.segmentation
        if segmentation is None:
            raise RagalivInputError(
                "No VOI segmentation selected.", "Select the segmentation drawn on the reference CT."
            )
        for index, point in enumerate(points):
            problem = point.problem(index)
            if problem:
                self.mark_missing(parameters)
                raise RagalivInputError(problem, "Remove this time point and add it again with its SPECT and CT.")
        timepoints = []
        for index, point in enumerate(points):
            image = nodes.volume_from_node(point.spect)
            if point.units == "counts":
                if point.calibration_cps_per_mbq is None or point.duration_s is None:
                    raise RagalivInputError(
                        f"Time point {index + 1} is in counts without calibration (cps/MBq) and duration (s).",
                        "Enter the calibration factor and the acquisition duration of this time point.",
                    )
                array = counts_to_bq_per_ml(image.array, point.duration_s, point.calibration_cps_per_mbq,
                                            image.geometry.voxel_volume_ml)
                calibration = {"calibration_cps_per_mbq": point.calibration_cps_per_mbq,
                               "duration_s": point.duration_s}
            else:
                array, calibration = image.array.astype(np.float64), {}
            ct = nodes.volume_from_node(point.ct, "HU") if point.ct is not None else None
            timepoints.append(SpectTimepoint(
                time_h=point.time_h, activity=Volume(array, image.geometry, "Bq/mL"), ct=ct,
                source=point.spect.GetName(), description=point.spect.GetName(), units=point.units,
                calibration=calibration, time_source="entered in Slicer",
                ct_source=point.ct.GetName() if point.ct is not None else None,
            ))
        injection_text = parameters.get("injectionTime")
        try:  # the rule of ragaliv dosimetry: a date without a time of day is refused, not read as midnight
            injection = parse_user_datetime(injection_text) if injection_text else None
        except ValueError as error:
            raise RagalivInputError(f"Injection time (injectionTime): {error}.",
                                    "Enter the injection date and clock time, e.g. 2026-04-21T10:00:00.") from None
        kernel_directory = parameters.get("kernelDirectory") or None
        overrides = parse_assignments(parameters.get("modelOverrides"), "Per-VOI models")
        model = {"default": parameters.get("model"), **overrides} if overrides else parameters.get("model")
        recovery = {}
        for name, value in parse_assignments(parameters.get("recoveryCoefficients"), "Recovery coefficients").items():
            coefficient = _number_or_none(value)
            if coefficient is None:
                raise RagalivInputError(f"Recovery coefficient of {name!r} is not a number: {value!r}.")
            recovery[name] = coefficient
        return SpectStudy(
            administered_source=ADMINISTERED_SOURCE,
            administered_mbq=administered,
            timepoints=timepoints,
            segments=nodes.segment_masks(segmentation),
            injection_time=injection,
            reference_timepoint=parameters.get("referenceTimepoint"),
            register=parameters.get("register"),
            calibration_rel_uncertainty=parameters.get("calibrationUncertainty"),
            model=model,
            recovery_coefficients=recovery,
            kernel_directory=kernel_directory,
            voxel_dosimetry=parameters.get("voxelDosimetry"),
            radiopharmaceutical="177Lu-DOTATATE",
        )

    # --- run -----------------------------------------------------------------------------------------
    def run(self, parameters: Optional[SpectDosimetryParameters] = None,
            progress: Optional[Callable[[str], None]] = None,
            cancelled: Optional[Callable[[], bool]] = None) -> StudyResult:
        """Build the study from the scene, analyse it and write the result nodes.

        ``progress(message)`` is called at each step of the core pipeline (where Slicer processes events), and
        ``cancelled()`` is asked after each: when it says True, :class:`RunCancelled` is raised before anything
        is written, so the scene keeps the previous results. A run cannot start while one is running (a
        second click, or a slot reached through the progress dialog's event processing), and time points
        cannot be added or removed meanwhile.
        """
        self._refuse_while_running("start a dosimetry run")
        self.running = True
        try:
            def check() -> None:
                if cancelled is not None and cancelled():
                    raise RunCancelled()

            def step(message: str, *args) -> None:
                if progress is not None:
                    progress(message, *args)
                check()

            parameters = parameters or self.parameters()
            step("reading the time points and VOIs")
            accept = accepted_checks(parameters.get("acceptChecks"))
            population_path, document = self._population_document(parameters)  # a bad file: refused now
            study = self.build_study(parameters)
            digest = self._run_digest(study, accept, population_path, self.timepoints(parameters))
            try:
                self._check_study(study, accept, parameters)
                result = analyse_study(study, step)
                # A lone early point is refused with or without a population prior: the doses are the own fit's.
                check_result(result, accept, stp_fix=STP_FIX_WITH_PRIOR)
            except RagalivInputError as error:
                if not self.panel_hints:
                    raise
                raise panel_error(error) from None
            population = None
            if document is not None:
                step("TIAs with the population prior")
                population = self._population_prior(population_path, document, result, study)
                result.settings["population_prior"] = population.to_dict()
            step("writing the result tables and curves")
            self.study, self.result, self.result_digest, self.population = study, result, digest, population
            self._write_results(parameters)
            self._write_curves(parameters)
            self._write_dose_map(parameters)
            return self.result
        finally:
            self.running = False

    # --- checks (those of ragaliv dosimetry, with the panel's fields as sources) ----------------------------
    def _check_study(self, study: SpectStudy, accept, parameters: SpectDosimetryParameters) -> None:
        """Before the analysis: the administered activity, each time point's hours against its DICOM acquisition
        time, the activity in each SPECT (``check_study``). Refusals raise; warnings go into ``study.warnings``."""
        findings = [administered_finding(study.administered_mbq, ADMINISTERED_SOURCE, ADMINISTERED_FIX)]
        points = self.timepoints(parameters)
        findings += self._time_findings(study, points)
        findings += self._injection_findings(study, points)
        apply_findings([finding for finding in findings if finding is not None], accept, study.warnings)
        check_study(study, accept)

    @staticmethod
    def _time_findings(study: SpectStudy, points: list[Timepoint]) -> list[Finding]:
        """``spect_time_finding`` for each time point whose SPECT's DICOM acquisition time is known: against the
        injection time, or without one, the intervals from the first such time point (as STUDY.json's)."""
        findings, anchor = [], None
        for index, point in enumerate(points):
            if not point.acquisition_time:
                continue
            stamp = _iso_datetime(point.acquisition_time, f"Time point {index + 1}: the acquisition time")
            if study.injection_time is not None:
                header_h, given_h, reference = _hours(stamp, study.injection_time), point.time_h, "injection"
            elif anchor is None:
                anchor = (index, stamp, point.time_h)
                continue
            else:
                header_h, given_h = _hours(stamp, anchor[1]), point.time_h - anchor[2]
                reference = f"time point {anchor[0] + 1}"
            # The tags the time was read from, as ragaliv dosimetry names them ("DICOM AcquisitionDateTime ...").
            source = point.acquisition_source or "DICOM acquisition time"
            finding = spect_time_finding(f"Time point {index + 1}", given_h, header_h, TIME_SOURCE,
                                         f"{source} {stamp.isoformat()} of {point.spect_name}", reference)
            if finding is not None:
                findings.append(Finding(
                    finding.check, finding.severity, finding.message.replace("STUDY.json: ", "", 1),
                    "Remove the time point and add it again with the right time after injection, or correct the "
                    "injection time; if the time entered is right and the scanner clock wrong, add --accept "
                    "spect-time."))
        return findings

    @staticmethod
    def _injection_findings(study: SpectStudy, points: list[Timepoint]) -> list[Finding]:
        """The injection time entered against each time point's header RadiopharmaceuticalStartDateTime: the rule
        of ``ragaliv dosimetry`` for STUDY.json's ``injection_time`` (:func:`injection_time_finding`: more than
        1 h apart refused, check ``injection-time``, else warned). Hours pre-filled from a wrong injection time
        agree with it, so the ``spect-time`` check cannot see it: every time point would be shifted."""
        if study.injection_time is None:
            return []
        findings = []
        for index, point in enumerate(points):
            if not point.injection_time:
                continue
            header = _iso_datetime(point.injection_time, f"Time point {index + 1}: the header's injection time")
            acquired = (_iso_datetime(point.acquisition_time, f"Time point {index + 1}: the acquisition time")
                        if point.acquisition_time else None)
            gap_s = abs(_hours(header, study.injection_time)) * 3600.0
            if gap_s > SAME_INJECTION_S:  # header rounding
                findings.append(injection_time_finding(
                    gap_s, f"'Injection time' {study.injection_time.isoformat()}",
                    f"DICOM RadiopharmaceuticalStartDateTime (0018,1078) {header.isoformat()} of time point "
                    f"{index + 1} ({point.spect_name})",
                    "Correct 'Injection time' (date and clock time of the 177Lu injection)",
                    scan_dated=header_dated_with_scan_day(header, acquired, gap_s)))
        return findings

    # --- population prior (issue 9) -------------------------------------------------------------------------
    @staticmethod
    def _population_document(parameters: SpectDosimetryParameters) -> tuple[str, Optional[dict]]:
        """(absolute path, population.json document), or ("", None) when no file is given."""
        from ragaliv.kinetics import load_population

        path = (parameters.get("populationFile") or "").strip()
        if not path:
            return "", None
        path = os.path.abspath(os.path.expanduser(path))
        return path, load_population(path)

    @staticmethod
    def _population_prior(path: str, document: dict, result: StudyResult, study: SpectStudy) -> PopulationPrior:
        """Each VOI's TIA with the population as prior, from the study's own TAC (its usable points). A failure of
        the prior leaves the study's own results and says why; a prior TIAC above the physical maximum is a
        warning (the prior is shown, not used)."""
        from ragaliv.checks.spect import tiac_finding
        from ragaliv.spect.analysis import population_prior_tias

        name = os.path.basename(path)
        try:
            estimates, without = population_prior_tias([region.tac for region in result.regions],
                                                        study.administered_mbq, document,
                                                        study.calibration_rel_uncertainty, patient="this study")
        except RagalivInputError as error:
            result.warnings.append(f"Population prior {name}: no TIA ({error.message}); the study's own fits are "
                                   "unaffected.")
            return PopulationPrior(path, {}, {region.region: f"population prior failed: {error.message}"
                                              for region in result.regions})
        for region, estimate in estimates.items():
            finding = tiac_finding(region, estimate.tiac_h, f"Population prior {name}: VOI ")
            if finding is not None:
                result.warnings.append(finding.message)
        return PopulationPrior(path, estimates, without)

    def _run_digest(self, study: SpectStudy, accept, population_path: str, points: list[Timepoint]) -> str:
        """What a result depends on: the study, the accepted checks, the population file (path and content), and
        what the run's checks read beyond the study: each time point's DICOM acquisition time and its source (the
        ``spect-time`` check) and the SPECT names its messages give."""
        digest = hashlib.sha256(study_digest(study).encode("ascii"))
        digest.update(repr((tuple(accept), population_path)).encode("utf-8"))
        digest.update(repr([(point.acquisition_time, point.acquisition_source, point.injection_time, point.spect_name)
                            for point in points]).encode("utf-8"))
        if population_path:
            digest.update(file_sha256(population_path).encode("ascii"))
        return digest.hexdigest()

    def fit_notes(self) -> list[str]:
        """The fit-quality flags and fit notes of the last result, one line per message (``ragaliv dosimetry``
        prints them on the console)."""
        return fit_notes(self.result) if self.result is not None else []

    # --- result nodes --------------------------------------------------------------------------------
    def _write_results(self, parameters: SpectDosimetryParameters) -> None:
        result = self.result
        tia = {row["region"]: row for row in result.tia_rows()}
        rows = []
        for dose in result.dose_rows():
            row = dict(tia.get(dose["region"], {}))
            flags = [text for text in (row.get("flags"), dose.get("flags")) if text]
            row.update(dose)
            row["flags"] = "; ".join(dict.fromkeys("; ".join(flags).split("; "))) if flags else ""
            rows.append(row)
        columns, text_columns = RESULT_COLUMNS, RESULT_TEXT_COLUMNS
        population = self.population
        if population is not None:
            columns, text_columns = columns + POPULATION_COLUMNS, text_columns + POPULATION_TEXT_COLUMNS
            for row in rows:
                estimate = population.estimates.get(row["region"])
                if estimate is None:
                    reason = population.without.get(row["region"], "not computed")
                    row["population_note"] = f"no population TIA: {reason}"
                    continue
                row.update(population_model=estimate.model, population_tia_mbq_h=estimate.tia_mbq_h,
                           population_tiac_h=estimate.tiac_h,
                           population_tia_rel_uncertainty=estimate.tia_rel_uncertainty,
                           population_shrinkage=estimate.shrinkage,
                           population_note=f"{estimate.n_points} point(s); " + "; ".join(estimate.flags))
        table = plots.get_or_add(self.scene, "vtkMRMLTableNode", "Dosimetry results", parameters.node, "resultsTable")
        tables.write_table(table, columns, rows, text_columns)
        # The messages shown under the results travel with them (saved with the scene): the panel reads them back
        # from the table it shows (result_messages), so another scene's or run's are never shown beside these.
        table.SetAttribute("Ragaliv.Warnings", "\n".join(result.warnings))
        table.SetAttribute("Ragaliv.FitNotes", "\n".join(fit_notes(result)))
        table.SetAttribute("Ragaliv.PopulationFile", population.path if population is not None else "")
        table.SetAttribute("Ragaliv.AcceptedChecks", ", ".join(result.settings.get("accepted_checks") or []))
        table.SetLocked(True)

    def _write_curves(self, parameters: SpectDosimetryParameters) -> None:
        result = self.result
        times_h = list(result.regions[0].tac.time_h) if result.regions else []
        measured = {"time_h": times_h}
        grid = np.linspace(0.5, 1.25 * max(times_h or [1.0]), 240)
        fitted = {"time_h": grid.tolist()}
        columns_measured, columns_fitted = [("time_h", "Time", "h")], [("time_h", "Time", "h")]
        for index, region in enumerate(result.regions):
            key = f"r{index}"
            measured[key] = [a if a is not None else float("nan") for a in region.tac.activity_mbq]
            columns_measured.append((key, region.region, "MBq"))
            values = np.full(grid.shape, np.nan)
            if region.fit is not None:
                values = np.asarray(region.fit.activity_mbq(grid), dtype=float)
            fitted[key] = np.where(np.isfinite(values) & (values > 0), values, np.nan).tolist()
            columns_fitted.append((key, f"{region.region} fit", "MBq"))

        def as_rows(columns):
            length = len(next(iter(columns.values())))
            return [{key: values[i] for key, values in columns.items()} for i in range(length)]

        measured_table = plots.get_or_add(self.scene, "vtkMRMLTableNode", "TAC measured", parameters.node, "tacTable")
        tables.write_table(measured_table, columns_measured, as_rows(measured))
        fitted_table = plots.get_or_add(self.scene, "vtkMRMLTableNode", "TAC fitted", parameters.node, "tacFitTable")
        tables.write_table(fitted_table, columns_fitted, as_rows(fitted))
        colours = {segment.name: segment.color_rgb for segment in self.study.segments}
        series_nodes = []
        for index, region in enumerate(result.regions):
            colour = colours.get(region.region, (0.3, 0.3, 0.3))
            points = plots.series(self.scene, f"{region.region} measured", measured_table, "time_h", f"r{index}",
                                  "Scatter", colour, line=False, markers=True, reference_node=parameters.node,
                                  role=f"tacPoints{index}")
            model = region.fit.model if region.fit is not None else "no fit"
            curve = plots.series(self.scene, f"{region.region} ({model})", fitted_table, "time_h", f"r{index}",
                                 "Scatter", colour, line=True, markers=False, reference_node=parameters.node,
                                 role=f"tacCurve{index}")
            series_nodes.extend([points, curve])
        plots.chart(self.scene, "Time-activity curves", series_nodes, "VOI activity (not decay corrected)",
                    "Time after administration (h)", "Activity (MBq)", parameters.node, "tacChart", y_log=True)

    def _write_dose_map(self, parameters: SpectDosimetryParameters) -> None:
        voxel = self.result.voxel
        node = parameters.get_node("doseMap")
        if not voxel.performed:
            # Never leave an earlier run's map on screen beside new tables (as spect.outputs does with files).
            if node is not None:
                parameters.set_node("doseMap", None)
                self.scene.RemoveNode(node)
            return
        if node is None:
            node = nodes.add_volume_node(self.scene, voxel.dose_map, "Absorbed dose (Gy)", dtype="float32")
            parameters.set_node("doseMap", node)
        else:
            nodes.set_volume_node(node, voxel.dose_map, dtype="float32")
        node.SetAttribute("Ragaliv.Unit", "Gy")
        node.SetAttribute("Ragaliv.Method", voxel.method)
        display = node.GetDisplayNode()
        if display is not None and self.scene.GetNodeByID(DOSE_COLOR_NODE_ID) is not None:
            display.SetAndObserveColorNodeID(DOSE_COLOR_NODE_ID)

    # --- export --------------------------------------------------------------------------------------
    def write_report(self, directory: str, deidentify: bool = False,
                     parameters: Optional[SpectDosimetryParameters] = None) -> dict[str, str]:
        """Dosimetry case report (HTML, PDF when Chromium is found) beside the exported result files."""
        from ragaliv.report.case_report import write_dosimetry_report

        paths = self.export(directory, parameters)
        paths.update(write_dosimetry_report(self.result, self.study, directory, deidentify=deidentify, log=None))
        return paths

    def result_is_current(self, parameters: Optional[SpectDosimetryParameters] = None) -> bool:
        """True when the kept result was computed from what the scene holds now: the same study, accepted checks
        and population file (path and content)."""
        if self.result is None or self.result_digest is None:
            return False
        parameters = parameters or self.parameters()
        accept = accepted_checks(parameters.get("acceptChecks"))
        path = (parameters.get("populationFile") or "").strip()
        path = os.path.abspath(os.path.expanduser(path)) if path else ""
        if path and not os.path.isfile(path):
            return False  # the run says why
        study = self.build_study(parameters)
        return self._run_digest(study, accept, path, self.timepoints(parameters)) == self.result_digest

    def export(self, directory: str, parameters: Optional[SpectDosimetryParameters] = None) -> dict[str, str]:
        """The files of ``ragaliv dosimetry`` (tac.csv, tia.csv, dose.csv, plots, summary, provenance) of the
        scene's current inputs: the analysis is run again unless the kept result was computed from them.

        As ``ragaliv dosimetry -o``: the folder is checked first (not a file, writable, not another command's
        results), and the files an earlier export left there (report, PDF, dose map ...) are removed before
        writing. The accepted checks and the population file (with its SHA-256, in the provenance's inputs) are
        recorded."""
        from ragaliv.checks.outputs import check_output_folder, clear_previous_outputs
        from ragaliv.spect.outputs import write_study_outputs

        parameters = parameters or self.parameters()
        directory = check_output_folder(directory, "dosimetry", flag="Export folder")
        if not self.result_is_current(parameters):
            self.run(parameters)
        clear_previous_outputs(directory, "dosimetry")
        settings = dict(self.study.settings())
        settings["source"] = "Slicer module RagalivSpectDosimetry"
        used: dict[str, Any] = {"study": settings, "accept": list(self.result.settings.get("accepted_checks") or [])}
        inputs = {}
        if self.population is not None:
            used["population_prior"] = {"file": self.population.path, "use": self.population.to_dict()["use"]}
            inputs["population"] = self.population.path
        return write_study_outputs(self.result, directory, inputs, used)


def result_messages(table) -> tuple[list[str], list[str]]:
    """(warnings, fit-quality flags and fit notes) of a results table as the run stored them on it
    ("Ragaliv.Warnings", "Ragaliv.FitNotes", one message per line); ([], []) without a table. What the panel shows
    under the results table it shows."""
    if table is None:
        return [], []

    def lines(name: str) -> list[str]:
        return [line for line in (table.GetAttribute(name) or "").split("\n") if line.strip()]

    return lines("Ragaliv.Warnings"), lines("Ragaliv.FitNotes")


def _iso_datetime(text: str, what: str) -> datetime.datetime:
    try:
        return datetime.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise RagalivInputError(f"{what} {text!r} is not an ISO date-time.",
                                "Write it as 2026-04-21T10:00:00.") from None


def _hours(stamp: datetime.datetime, start: datetime.datetime) -> float:
    """Hours from ``start`` to ``stamp``; a UTC offset on one side only is dropped (both are local clocks)."""
    if (stamp.tzinfo is None) != (start.tzinfo is None):
        stamp, start = stamp.replace(tzinfo=None), start.replace(tzinfo=None)
    return (stamp - start).total_seconds() / 3600.0
