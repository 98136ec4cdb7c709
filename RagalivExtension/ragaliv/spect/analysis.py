"""The study pipeline: registration → VOI TACs → masses → fits and TIAs → doses → voxel dosimetry.

:func:`analyse_study` never lets one VOI stop the others: a VOI whose TAC cannot be fitted gets empty
numbers, a flag saying why and a study warning naming it; inputs that make the whole study wrong raise
:class:`~ragaliv.errors.RagalivInputError` earlier (in :class:`~ragaliv.spect.study.SpectStudy`).
"""

from collections.abc import Sequence
from typing import Any, Callable, Optional

from ..errors import RagalivInputError
from ..kinetics import PatientKinetics, fit_tac, fit_with_population_prior, population_from_document
from ..roles import role_of
from .dose import region_dose
from .mass import voi_mass
from .registration import RigidRegistration, identity, register_rigid
from .result import RegionResult, StudyResult
from .study import SpectStudy
from .tac import RegionTac, measure_tacs
from .voxel import voxel_dosimetry

Progress = Optional[Callable[[str], None]]


def register_study(study: SpectStudy, progress: Progress = None) -> list[RigidRegistration]:
    """Reference → time point transforms (identity for the reference, and for all when register is off)."""
    registrations = [identity(index) for index in range(len(study.timepoints))]
    if not study.register:
        return registrations
    settings = study.registration_settings()
    fixed = study.reference.ct
    for index, point in enumerate(study.timepoints):
        if index == study.reference_timepoint:
            continue
        if progress:
            progress(f"registering the CT at {point.time_h:g} h to the reference CT")
        registrations[index] = register_rigid(fixed, point.ct, index, settings["metric"], settings["iterations"])
    return registrations


def fit_region(study: SpectStudy, tac: RegionTac):
    """(TacFit or None, flags) for one VOI."""
    times, values, notes = tac.usable_points()
    flags = [*tac.flags, *[n for n in notes if "no value" not in n]]  # measure_tacs flagged those already
    if not times:
        return None, [*flags, "no TIA: no time point with activity > 0"]
    try:
        fit = fit_tac(
            times,
            values,
            model=study.model_for(tac.region),
            half_life_h=study.half_life_h,
            calibration_rel_uncertainty=study.calibration_rel_uncertainty,
            region=tac.region,
        )
    except RagalivInputError as error:
        return None, [*flags, f"no TIA: {error.message}"]
    return fit, flags


def no_dose_warning(region: RegionResult) -> str:
    """A VOI without a dose is a study warning (summary.json, report, panel), not only a note in dose.csv: an organ
    at risk without a dose must not look like a complete result. A VOI without activity at any time point is said
    to be probably misplaced (in air, outside the body or the SPECT), with its CT density."""
    reasons = [flag for flag in region.flags if flag.startswith(("no TIA:", "no dose:"))]
    text = f"VOI {region.region}: no dose ({'; '.join(reasons) or 'no TIA'})"
    if not any(value is not None and value > 0.0 for value in region.tac.activity_mbq):
        text += ": no activity at any time point. Is the VOI in air, outside the body or outside the SPECT?"
        if region.mass is not None and region.mass.source == "CT":
            text += f" Its mean CT density is {region.mass.density_g_per_ml:.3g} g/mL."
    return text


def population_prior_tias(
    tacs: Sequence[RegionTac],
    administered_mbq: float,
    population_document: dict[str, Any],
    calibration_rel_uncertainty: float = 0.0,
    patient: str = "",
) -> tuple[dict[str, PatientKinetics], dict[str, str]]:
    """TIAs of a study's VOIs with a saved cohort population (``population.json``) as prior (issue 9).

    For a reduced-time-point study (1-3 SPECTs): every VOI whose name is a region of the population gets the
    empirical-Bayes (MAP) TIA of :func:`ragaliv.kinetics.fit_with_population_prior` from its usable points. Returns
    ({region: PatientKinetics}, {region: why it has none}); VOIs the population does not know, or without a point
    > 0, are in the second dict. The study's own fits (:func:`fit_region`) are not replaced: the caller shows both.
    """
    estimates, skipped = {}, {}
    regions = (population_document or {}).get("regions") or {}
    for tac in tacs:
        if tac.region not in regions:
            skipped[tac.region] = "not a region of the population"
            continue
        times, values, _ = tac.usable_points()
        if not times:
            skipped[tac.region] = "no time point with activity > 0"
            continue
        population = population_from_document(population_document, tac.region)
        estimates[tac.region] = fit_with_population_prior(
            times, values, administered_mbq, population, patient=patient,
            calibration_rel_uncertainty=calibration_rel_uncertainty,
        )
    return estimates, skipped


def analyse_study(study: SpectStudy, progress: Progress = None) -> StudyResult:
    """Run the whole pipeline on a loaded study (see the module docstring)."""
    warnings = list(study.warnings)
    registrations = register_study(study, progress)
    for registration in registrations:
        warnings.extend(registration.warnings)
    if progress:
        progress("measuring the VOI time-activity curves")
    tacs = measure_tacs(study, registrations)
    reference_ct = study.reference.ct
    if reference_ct is None:
        warnings.append("no CT at the reference time point: VOI masses use the default soft-tissue density")

    regions = []
    for segment, tac in zip(study.segments, tacs):
        if progress:  # one call per VOI: a cancel (the module's progress dialog) takes effect within one fit
            progress(f"fitting {segment.name}")
        mass = voi_mass(segment, reference_ct, study.mass_rel_uncertainty)
        fit, flags = fit_region(study, tac)
        region = RegionResult(segment.name, role_of(segment.name), study.model_for(segment.name), tac, mass,
                              fit, flags=flags)
        if fit is not None:
            try:
                region.dose = region_dose(
                    segment.name, fit.tia_mbq_h, fit.tia_rel_uncertainty, mass.mass_g, mass.mass_rel_uncertainty,
                    study.administered_mbq, fit.effective_half_life_h, fit.model,
                )
            except RagalivInputError as error:
                region.flags.append(f"no dose: {error.message}")
        if region.dose is None:
            warnings.append(no_dose_warning(region))
        regions.append(region)

    if progress:
        progress("voxel dosimetry")
    voxel = voxel_dosimetry(study, registrations)
    warnings.extend(voxel.warnings)
    for region in regions:
        region.voxel = voxel.regions.get(region.region)

    return StudyResult(
        settings=study.settings(),
        timepoints=[point.summary() for point in study.timepoints],
        regions=regions,
        registrations=registrations,
        voxel=voxel,
        warnings=list(dict.fromkeys(warnings)),
    )
