"""177Lu time-activity curves: exponential fits with AICc selection, trapezoid, Hänscheid STP, voxel TIA maps,
and population (non-linear mixed-effects) kinetics across a cohort.

Activities are fitted as measured (not decay corrected) with lambda = lambda_phys + lambda_bio,
lambda_bio >= 0 (NUKFIT, Kletting 2013; Hardiansyah 2021); uncertainties follow the EANM guidance (Gear 2018).
"""

from .models import MODEL_NAMES
from .population import (
    PatientKinetics,
    PatientTac,
    PopulationFit,
    RegionPopulation,
    fit_population,
    fit_with_population_prior,
    load_population,
    population_from_document,
)
from .result import TacCandidate, TacFit, tiac_h
from .selection import fit_tac
from .validation import KineticsInputError
from .voxelwise import VoxelTiaResult, voxel_tia_map

__all__ = [
    "MODEL_NAMES",
    "KineticsInputError",
    "PatientKinetics",
    "PatientTac",
    "PopulationFit",
    "RegionPopulation",
    "TacCandidate",
    "TacFit",
    "VoxelTiaResult",
    "fit_population",
    "fit_tac",
    "fit_with_population_prior",
    "load_population",
    "population_from_document",
    "tiac_h",
    "voxel_tia_map",
]
