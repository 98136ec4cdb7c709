"""Issue 9 in the SpectDosimetry module: a saved population.json (``ragaliv population``) as the prior of a single
patient's reduced-time-point study. The prior-based TIAs are shown beside the study's own fits (never in their
place) and recorded in the export.

Cohort (fixed seed, settings as Testing/validation/test_kinetics_population_cohort.py): 10 patients with the full
protocol (4, 24, 72, 168 h, each time jittered by ±10 %), 7.4 GBq, for four regions named as the synthetic
patient's VOIs, with medians at that patient's truth (uptake half-time 2.5 h, its tissues' effective half-lives and
TIACs) and between-patient CVs of 35 % (TIAC), 20 % (effective half-life), 40 % (uptake half-time); 5 % noise.
The study: the slow-uptake synthetic patient (2.5 h uptake, noise-free) with two time points, 4 h and 72 h.

Tolerance: every population TIA within 10 % of the truth and the median within 5 % (the issue's acceptance for 2
points: median ≤ 5 %, worst ≤ 15 %). Measured with seeds 3, 4, 5, 11: worst 2.4 %, 2.4 %, 4.1 %, 3.9 %; the
study's own 2-point fits (mono) are 23-59 % high.
"""

import csv
import hashlib
import json
import math
import statistics

import numpy as np
import pytest
from ragaliv.cli import main
from ragaliv.errors import RagalivInputError
from ragaliv_mrml import nodes
from test_spect_dosimetry_lib import rows_by_region  # Testing/lib

pytestmark = pytest.mark.mrml

POPULATION_REGIONS = ("Kidney left", "Spleen", "Healthy liver", "Lesion 1")
FULL_PROTOCOL_H = (4.0, 24.0, 72.0, 168.0)
CV = {"tiac": 0.35, "effective_half_life": 0.20, "uptake_half_time": 0.40}
NOISE = 0.05
SEED = 3
STUDY_TIMEPOINTS = (0, 2)  # 4 h and 72 h


def _lognormal(rng, median, cv):
    return median * math.exp(math.sqrt(math.log1p(cv * cv)) * rng.standard_normal())


@pytest.fixture(scope="module")
def population_json(slow_uptake_patient, tmp_path_factory):
    """population.json of `ragaliv population` on the simulated cohort TACs."""
    truth = slow_uptake_patient.truth["spect"]["regions"]
    rng = np.random.default_rng(SEED)
    rows = []
    for index in range(10):
        administered = 7400.0
        times = np.asarray(FULL_PROTOCOL_H) * rng.uniform(0.9, 1.1, len(FULL_PROTOCOL_H))
        for region in POPULATION_REGIONS:
            uptake = math.log(2.0) / _lognormal(rng, 2.5, CV["uptake_half_time"])
            clearance = math.log(2.0) / min(_lognormal(rng, truth[region]["effective_half_life_h"],
                                                       CV["effective_half_life"]), 150.0)
            tia = _lognormal(rng, truth[region]["tiac_h"], CV["tiac"]) * administered
            clean = tia / (1.0 / clearance - 1.0 / uptake) * (np.exp(-clearance * times) - np.exp(-uptake * times))
            measured = clean * (1.0 + NOISE * rng.standard_normal(times.size))
            rows += [[f"C{index}", region, t, a, administered] for t, a in zip(times, measured)]
    folder = tmp_path_factory.mktemp("cohort")
    with open(folder / "tacs.csv", "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["patient", "region", "time_h", "activity_mbq", "administered_mbq"])
        writer.writerows(rows)
    assert main(["population", str(folder / "tacs.csv"), "-o", str(folder / "population")]) == 0
    return folder / "population" / "population.json"


def reduced_study(scene, patient, indices=STUDY_TIMEPOINTS):
    """The patient's SPECT/CT study with only the time points ``indices`` (a reduced-time-point study)."""
    from RagalivSpectDosimetryLib import SpectDosimetryLogic

    logic = SpectDosimetryLogic(scene)
    parameters = logic.parameters()
    for index in indices:
        point = patient.spect[index]
        spect = nodes.add_volume_node(scene, point.activity, f"SPECT {point.time_h:g} h")
        ct = nodes.add_volume_node(scene, point.ct, f"CT {point.time_h:g} h")
        logic.add_timepoint(spect, ct, point.time_h, parameters=parameters)
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "VOIs")
    for segment in patient.spect_segments:
        nodes.add_segment(segmentation, segment, segment.name, segment.color_rgb)
    parameters.set_node("segmentation", segmentation)
    parameters.set("administeredMbq", patient.administered_mbq)
    parameters.set("injectionTime", patient.spect_injection_time.isoformat())
    parameters.set("voxelDosimetry", False)
    return logic, parameters


def test_population_prior_tias_of_a_two_point_study_are_within_tolerance(mrml_scene, slow_uptake_patient,
                                                                        population_json):
    truth = slow_uptake_patient.truth["spect"]["regions"]
    logic, parameters = reduced_study(mrml_scene, slow_uptake_patient)
    own = {region.region: region.fit.tia_mbq_h for region in logic.run(parameters).regions}
    own_doses = rows_by_region(parameters.get_node("resultsTable"))
    parameters.set("populationFile", str(population_json))
    result = logic.run(parameters)
    estimates = logic.population.estimates
    assert set(estimates) == set(POPULATION_REGIONS)
    errors = {name: estimates[name].tia_mbq_h / truth[name]["tia_mbq_h"] - 1.0 for name in POPULATION_REGIONS}
    assert max(abs(error) for error in errors.values()) <= 0.10, errors
    assert statistics.median(abs(error) for error in errors.values()) <= 0.05, errors
    for name in POPULATION_REGIONS:  # better than the study's own two points
        assert abs(errors[name]) < abs(own[name] / truth[name]["tia_mbq_h"] - 1.0), name

    # beside the study's own numbers, never in their place
    rows = rows_by_region(parameters.get_node("resultsTable"))
    table = parameters.get_node("resultsTable")
    assert table.GetColumnUnitLabel("population_tia_mbq_h") == "MBq·h"
    assert table.GetColumnUnitLabel("population_tiac_h") == "h"
    assert table.GetAttribute("Ragaliv.PopulationFile") == str(population_json)
    for region in result.regions:
        row = rows[region.region]
        assert region.fit.tia_mbq_h == own[region.region] and row["tia_mbq_h"] == pytest.approx(own[region.region])
        assert row["dose_gy"] == pytest.approx(own_doses[region.region]["dose_gy"])
        if region.region in estimates:
            estimate = estimates[region.region]
            assert row["population_tia_mbq_h"] == pytest.approx(estimate.tia_mbq_h)
            assert row["population_tiac_h"] == pytest.approx(estimate.tia_mbq_h / slow_uptake_patient.administered_mbq)
            assert row["population_model"] in ("biexp-uptake", "mono")
            assert 0.0 < row["population_tia_rel_uncertainty"] < 0.5 and 0.0 <= row["population_shrinkage"] <= 1.0
            assert row["population_note"].startswith("2 point(s)")
        else:
            assert math.isnan(row["population_tia_mbq_h"])
            assert row["population_note"] == "no population TIA: not a region of the population"


def test_population_use_is_recorded_in_the_export(mrml_scene, slow_uptake_patient, population_json, tmp_path):
    logic, parameters = reduced_study(mrml_scene, slow_uptake_patient)
    parameters.set("populationFile", str(population_json))
    paths = logic.export(str(tmp_path / "with"), parameters)  # runs the analysis (no result yet)
    summary = json.loads(open(paths["summary"], encoding="utf-8").read())
    provenance = json.loads(open(paths["provenance"], encoding="utf-8").read())
    prior = summary["settings"]["population_prior"]
    assert prior["file"] == str(population_json) and "beside the study's own fit" in prior["use"]
    assert set(prior["regions"]) == set(POPULATION_REGIONS)
    assert prior["regions"]["Spleen"]["tia_mbq_h"] == pytest.approx(logic.population.estimates["Spleen"].tia_mbq_h)
    assert prior["regions_without_prior"]["Kidney right"] == "not a region of the population"
    assert provenance["parameters"]["population_prior"]["file"] == str(population_json)
    assert provenance["inputs"]["population"]["sha256"] == hashlib.sha256(population_json.read_bytes()).hexdigest()
    # without the file the export re-runs: nothing of the prior is left
    parameters.set("populationFile", "")
    assert not logic.result_is_current(parameters)
    paths = logic.export(str(tmp_path / "without"), parameters)
    assert "population_prior" not in json.loads(open(paths["summary"], encoding="utf-8").read())["settings"]
    assert "population_tia_mbq_h" not in rows_by_region(parameters.get_node("resultsTable"))["Spleen"]
    assert logic.population is None


def test_an_unusable_population_file_is_refused_before_the_analysis(mrml_scene, slow_uptake_patient, tmp_path):
    logic, parameters = reduced_study(mrml_scene, slow_uptake_patient)
    bad = tmp_path / "population.json"
    bad.write_text("{not json", encoding="utf-8")
    parameters.set("populationFile", str(bad))
    steps = []
    with pytest.raises(RagalivInputError, match="is not a readable JSON file"):
        logic.run(parameters, progress=steps.append)
    assert steps == ["reading the time points and VOIs"] and logic.result is None
    bad.write_text(json.dumps({"format": "something else"}), encoding="utf-8")
    with pytest.raises(RagalivInputError, match="is not a Ragaliv population document"):
        logic.run(parameters)
    parameters.set("populationFile", str(tmp_path / "absent.json"))
    with pytest.raises(RagalivInputError, match="population file not found"):
        logic.run(parameters)


def test_a_single_4_h_time_point_is_refused_with_or_without_a_population(mrml_scene, slow_uptake_patient,
                                                                         population_json):
    """One SPECT at 4 h: every own TIA is a Hänscheid estimate 85-92 % low (ragaliv dosimetry refuses it). A
    population prior does not lift the refusal: the doses shown and exported are the study's own (review of the
    adversarial fixes: Kidney left 0.47 Gy for 4.7 Gy, with only a warning). With 'stp-time' accepted the run
    goes through, every such VOI recorded as accepted, its population-prior TIA beside its own."""
    logic, parameters = reduced_study(mrml_scene, slow_uptake_patient, indices=(0,))
    with pytest.raises(RagalivInputError) as refused:
        logic.run(parameters)
    assert "VOIs (all 11): the TIA comes from a single time point at 4 h" in refused.value.message
    assert "Add later time points" in refused.value.hint and "'Population prior'" in refused.value.hint
    assert logic.result is None and parameters.get_node("resultsTable") is None

    parameters.set("populationFile", str(population_json))
    with pytest.raises(RagalivInputError) as refused:
        logic.run(parameters)
    assert "VOIs (all 11): the TIA comes from a single time point at 4 h" in refused.value.message
    assert logic.result is None

    parameters.set("acceptChecks", "stp-time")
    result = logic.run(parameters)
    accepted = [text for text in result.warnings if text.startswith("ACCEPTED BY THE USER (--accept stp-time)")]
    assert len(accepted) == 1 and "VOIs (all 11)" in accepted[0], result.warnings
    assert set(logic.population.estimates) == set(POPULATION_REGIONS)
    assert table_warnings(parameters) == result.warnings


def table_warnings(parameters):
    return parameters.get_node("resultsTable").GetAttribute("Ragaliv.Warnings").split("\n")
