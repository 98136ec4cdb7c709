"""Population (NLME) kinetics on a simulated 12-patient cohort with reduced time points (issue 9, item 3).

Cohort (fixed seeds, settings chosen before the first run): 4 regions with an uptake phase — kidney (uptake
half-time 1.5 h, effective half-life 55 h, TIAC 1.2 h), liver (2 h, 70 h, 4 h), spleen (1.5 h, 65 h, 1.5 h),
tumour (2.5 h, 90 h, 0.8 h); between-patient variability log-normal with CV 35 % (TIAC), 20 % (effective half-life)
and 40 % (uptake half-time); 7.4 GBq (every fourth patient 5.55 GBq); Gaussian noise of 5 % on every activity;
every scheduled time jittered by ±10 %. Patients 0-5: the full protocol 4, 24, 72, 168 h; 6-8: two points
(24 + 168 h, 72 + 168 h, 24 + 168 h); 9-11: one point (72, 96, 72 h: the single-time-point times of Hou 2021 and
Hänscheid 2018).

Acceptance (the issue's numbers): median |TIA error| ≤ 4 / 5 / 10 % and maximum ≤ 15 / 15 / 35 % for patients with
4 / 2 / 1 points, and better than fitting each patient alone ('auto' of fit_tac: uptake model, mono, Hänscheid). The
coverage of the stated 1σ TIA uncertainty is measured on three cohorts (144 patient-regions) and must lie in the
central 99 % of Binomial(144, 0.6827).

Measured, not asserted (30 further cohorts, seeds 1000-1029, same design): all acceptance criteria hold in 24 of 30
cohorts; the misses are one two-point maximum of 16 % and five cohorts where the sparse patients' population TIAs
are not better than their own fits (at 72-96 h the Hänscheid single point is already near its optimum); coverage
67 % over 1440 patient-regions. Designs with a weak baseline are harder (30 cohorts): 4 + 72 h median 4.8 %, worst
28 % (alone 15 %, 70 %); 24 + 72 h median 6.5 %, worst 36 % (alone 5.0 %, 33 %: here the population does not
help); one point at 24 h median 12 % (alone 44 %); one point at 168 h median 7.7 %, worst 146 % (alone 10 %,
78 %): a lone late low value cannot tell a small uptake from a fast clearance, which the flag on such patients
says.
"""

import json
import math

import numpy as np
import pytest
from ragaliv.kinetics import fit_tac
from ragaliv.kinetics.population import PatientTac, fit_population, fit_with_population_prior
from ragaliv.kinetics.uncertainty import ONE_SIGMA_COVERAGE
from scipy.stats import binom

REGIONS = {  # uptake half-time h, effective half-life h, TIAC h (medians)
    "Kidney": (1.5, 55.0, 1.2),
    "Liver": (2.0, 70.0, 4.0),
    "Spleen": (1.5, 65.0, 1.5),
    "Tumour": (2.5, 90.0, 0.8),
}
BETWEEN_PATIENT_CV = {"tiac": 0.35, "effective_half_life": 0.20, "uptake_half_time": 0.40}
NOISE = 0.05
FULL = (4.0, 24.0, 72.0, 168.0)
DESIGNS = [FULL] * 6 + [(24.0, 168.0), (72.0, 168.0), (24.0, 168.0)] + [(72.0,), (96.0,), (72.0,)]
ACCEPTANCE = {4: (0.04, 0.15), 2: (0.05, 0.15), 1: (0.10, 0.35)}  # (median, max) |relative TIA error|
COHORT_SEED = 9


def _lognormal(rng, median, cv):
    return median * math.exp(math.sqrt(math.log1p(cv * cv)) * rng.standard_normal())


def simulate_cohort(seed):
    """(PatientTac list, true TIA by (patient, region))."""
    rng = np.random.default_rng(seed)
    tacs, truth = [], {}
    for index, design in enumerate(DESIGNS):
        patient = f"P{index:02d}"
        administered = 5550.0 if index % 4 == 0 else 7400.0
        times = np.asarray(design) * rng.uniform(0.9, 1.1, len(design))
        for region, (uptake_h, effective_h, tiac_h) in REGIONS.items():
            uptake = math.log(2.0) / _lognormal(rng, uptake_h, BETWEEN_PATIENT_CV["uptake_half_time"])
            clearance = math.log(2.0) / min(_lognormal(rng, effective_h, BETWEEN_PATIENT_CV["effective_half_life"]),
                                            150.0)  # slower than physical decay (159.5 h) is not physical
            tia = _lognormal(rng, tiac_h, BETWEEN_PATIENT_CV["tiac"]) * administered
            clean = tia / (1.0 / clearance - 1.0 / uptake) * (np.exp(-clearance * times) - np.exp(-uptake * times))
            measured = clean * (1.0 + NOISE * rng.standard_normal(times.size))
            tacs.append(PatientTac(patient, region, times.tolist(), measured.tolist(), administered))
            truth[(patient, region)] = tia
    return tacs, truth


@pytest.fixture(scope="module")
def cohort():
    tacs, truth = simulate_cohort(COHORT_SEED)
    return tacs, truth, fit_population(tacs)


def _errors(tacs, truth, fit):
    population, individual = {1: [], 2: [], 4: []}, {1: [], 2: [], 4: []}
    by_key = {(tac.patient, tac.region): tac for tac in tacs}
    for estimate in fit.patients:
        tac = by_key[(estimate.patient, estimate.region)]
        true_tia = truth[(estimate.patient, estimate.region)]
        population[estimate.n_points].append(abs(estimate.tia_mbq_h / true_tia - 1.0))
        alone = fit_tac(tac.time_h, tac.activity_mbq)
        individual[estimate.n_points].append(abs(alone.tia_mbq_h / true_tia - 1.0))
    return population, individual


def test_population_tias_meet_the_acceptance_and_beat_individual_fits(cohort):
    tacs, truth, fit = cohort
    assert set(fit.regions) == set(REGIONS) and not fit.unfitted
    assert all(region.converged for region in fit.regions.values())
    population, individual = _errors(tacs, truth, fit)
    print()
    for n_points, (median_limit, max_limit) in ACCEPTANCE.items():
        errors, alone = np.array(population[n_points]), np.array(individual[n_points])
        print(f"{n_points} point(s), {errors.size} patient-regions: population median {np.median(errors):.1%} "
              f"max {errors.max():.1%} | each patient alone median {np.median(alone):.1%} max {alone.max():.1%}")
        assert np.median(errors) <= median_limit, n_points
        assert errors.max() <= max_limit, n_points
    sparse = np.array(population[1] + population[2])
    sparse_alone = np.array(individual[1] + individual[2])
    assert np.median(sparse) < np.median(sparse_alone)
    assert np.sqrt(np.mean(sparse**2)) < np.sqrt(np.mean(sparse_alone**2))
    everyone = np.concatenate([np.array(v) for v in population.values()])
    everyone_alone = np.concatenate([np.array(v) for v in individual.values()])
    assert np.sqrt(np.mean(everyone**2)) < np.sqrt(np.mean(everyone_alone**2))


def test_population_parameters_recover_the_simulation(cohort):
    _, _, fit = cohort
    for name, (_uptake_h, effective_h, tiac_h) in REGIONS.items():
        region = fit.regions[name]
        typical = region.typical()
        assert region.model == "biexp-uptake", name
        assert typical["tiac_h"] == pytest.approx(tiac_h, rel=0.25), name  # ~ CV 35 % / sqrt(12) x 2.5
        assert typical["effective_half_life_h"] == pytest.approx(effective_h, rel=0.20), name
        assert region.residual_sd == pytest.approx(NOISE, rel=0.5), name  # sigma from ~35 points
        cv = region.between_patient_cv()
        assert 0.15 < cv["tiac_h"] < 0.7, name


def test_uncertainty_coverage_over_three_cohorts():
    covered = []
    for seed in (COHORT_SEED, COHORT_SEED + 1, COHORT_SEED + 2):
        tacs, truth = simulate_cohort(seed)
        for estimate in fit_population(tacs).patients:
            error = math.log(estimate.tia_mbq_h / truth[(estimate.patient, estimate.region)])
            covered.append(abs(error) <= estimate.tia_rel_uncertainty)
    n = len(covered)
    low, high = binom.ppf(0.005, n, ONE_SIGMA_COVERAGE) / n, binom.ppf(0.995, n, ONE_SIGMA_COVERAGE) / n
    coverage = float(np.mean(covered))
    print(f"\npopulation TIA: coverage of the stated 1σ {coverage:.1%} over {n} patient-regions "
          f"(99 % binomial band {low:.1%}-{high:.1%})")
    assert low <= coverage <= high


def test_saved_population_as_prior_for_a_new_single_point_patient(cohort, tmp_path):
    """population.json round trip: a new patient with one 72 h point, MAP with the cohort as prior, against
    its truth (and against the Hänscheid estimate of the same point)."""
    from ragaliv.kinetics.population import load_population, population_from_document

    _, _, fit = cohort
    path = tmp_path / "population.json"
    path.write_text(json.dumps(fit.to_document()), encoding="utf-8")
    prior = population_from_document(load_population(str(path)), "Kidney")
    errors, hanscheid = [], []
    rng = np.random.default_rng(2024)
    for _ in range(20):
        effective = math.log(2.0) / _lognormal(rng, 55.0, 0.20)
        uptake = math.log(2.0) / _lognormal(rng, 1.5, 0.40)
        tia = _lognormal(rng, 1.2, 0.35) * 7400.0
        time_h = 72.0
        value = tia / (1 / effective - 1 / uptake) * (math.exp(-effective * time_h) - math.exp(-uptake * time_h))
        value *= 1.0 + NOISE * rng.standard_normal()
        estimate = fit_with_population_prior([time_h], [value], 7400.0, prior, calibration_rel_uncertainty=0.05)
        assert estimate.model == "biexp-uptake" and estimate.n_points == 1
        assert estimate.tia_rel_uncertainty > 0.05  # at least the calibration
        errors.append(abs(estimate.tia_mbq_h / tia - 1.0))
        hanscheid.append(abs(fit_tac([time_h], [value]).tia_mbq_h / tia - 1.0))
    print(f"\nnew single-point kidney patients: population prior median {np.median(errors):.1%} "
          f"(Hänscheid {np.median(hanscheid):.1%})")
    assert np.median(errors) < 0.10 and max(errors) < 0.35
    assert np.median(errors) <= np.median(hanscheid)


def test_a_reduced_spect_study_with_the_saved_population_as_prior(cohort):
    """ragaliv.spect.analysis.population_prior_tias (for the SpectDosimetry module): a new patient with SPECTs at
    24 and 168 h only; the VOIs named like the cohort's regions get the population-prior TIA, the others say why."""
    from ragaliv.spect.analysis import population_prior_tias
    from ragaliv.spect.tac import RegionTac

    _, _, fit = cohort
    document = json.loads(json.dumps(fit.to_document()))
    times = [24.0, 168.0]
    tacs, truth = [], {}
    for region, (uptake_h, effective_h, tiac_h) in REGIONS.items():
        if region == "Spleen":  # measured below with no usable point
            continue
        clearance, uptake = math.log(2.0) / effective_h, math.log(2.0) / uptake_h
        tia = tiac_h * 7400.0
        values = [tia / (1 / clearance - 1 / uptake) * (math.exp(-clearance * t) - math.exp(-uptake * t))
                  for t in times]
        tacs.append(RegionTac(region, "organ", 100.0, 1.0, times, values, [None, None], [0.0, 0.0]))
        truth[region] = tia
    tacs.append(RegionTac("Lesion 9", "lesion", 5.0, 1.0, times, [3.0, 1.0], [None, None], [0.0, 0.0]))
    tacs.append(RegionTac("Spleen", "organ", 100.0, 1.0, times, [None, 0.0], [None, None], [0.0, 0.0]))
    estimates, skipped = population_prior_tias(tacs, 7400.0, document, calibration_rel_uncertainty=0.05,
                                               patient="new")
    assert skipped == {"Lesion 9": "not a region of the population", "Spleen": "no time point with activity > 0"}
    assert set(estimates) == {"Kidney", "Liver", "Tumour"}
    for region, estimate in estimates.items():
        assert estimate.patient == "new" and estimate.n_points == 2
        assert estimate.tia_mbq_h == pytest.approx(truth[region], rel=0.10), region
