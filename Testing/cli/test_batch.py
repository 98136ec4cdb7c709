"""``ragaliv batch``: six synthetic patients (``ragaliv.phantom.generate``, real DICOM), one broken.

Checks the acceptance of the cohort batch: the five good patients finish with their truth, the broken one is
reported clearly, a re-run skips finished patients and after the fix computes only the fixed one, the
outputs carry no identity, and a run killed mid-way leaves only complete result files and resumes.
The population step over the finished patients' dosimetry: its TIAs equal those of ``ragaliv population`` on the
written ``cohort_tacs.csv`` and the phantom's truth, it is reused while the patients are unchanged and fitted
again when one is added; a failed fit keeps the patients, fewer than 3 patients skip it with the reason.
Voxel dosimetry is switched off in the studies (``voxel_dosimetry: false``) to keep the runtime short; one patient
(REDUCED_SEED) missed the 4 h and 72 h scans (a reduced-time-point study, where the population helps).
"""

import contextlib
import csv
import datetime
import io
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import pydicom
import pytest
from ragaliv.cli import main
from ragaliv.cohort.table import read_cohort
from ragaliv.errors import RagalivInputError
from ragaliv.report.phi import Deidentifier
from ragaliv.report.provenance import file_sha256

SEEDS = range(1, 7)
BROKEN_SEED = 4  # its IA PET loses PatientWeight; fixed by the weight_kg column
REDUCED_SEED = 6  # its SPECT study keeps the 24 h and 168 h time points only
POPULATION_FILES = ("tia.csv", "population.json", "population.png", "provenance.json", "done.json")
ORGAN_S_TIMES_MASS = 7.76e-5 * 310.0  # kidney self S (mGy/(MBq·s)) x reference mass (g), dosimetry notes
RESULT_NAMES = {"ratios.csv", "summary.json", "provenance.json", "tac.csv", "tia.csv", "dose.csv"}


def patient_id(seed: int) -> str:
    return f"RGL-SYN-{seed:03d}"


def pseudonym(seed: int) -> str:
    return Deidentifier().patient_id(patient_id(seed))


def _generate(arguments) -> None:
    from ragaliv.phantom import generate

    directory, seed = arguments
    generate(directory, seed=seed)


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("cohort")
    with ProcessPoolExecutor(max_workers=2) as pool:
        list(pool.map(_generate, [(str(root / f"p{seed}"), seed) for seed in SEEDS]))
    for seed in SEEDS:
        study = root / f"p{seed}" / "spect" / "study.json"
        document = json.loads(study.read_text(encoding="utf-8"))
        document["voxel_dosimetry"] = False
        if seed == REDUCED_SEED:
            document["timepoints"] = [document["timepoints"][1], document["timepoints"][3]]
        study.write_text(json.dumps(document, indent=2), encoding="utf-8")
    for path in sorted((root / f"p{BROKEN_SEED}" / "pet_ia").iterdir()):
        dataset = pydicom.dcmread(path)
        del dataset.PatientWeight
        dataset.save_as(path)
    return root


def write_cohort(root: pathlib.Path, name: str = "cohort.csv", fixed: bool = False) -> pathlib.Path:
    lines = ["patient_id,ia,iv,segmentation,study,weight_kg,comment"]
    for seed in SEEDS:
        weight = ""
        if fixed and seed == BROKEN_SEED:
            weight = str(truth(root, seed)["patient"]["weight_kg"])
        lines.append(f"{patient_id(seed)},p{seed}/pet_ia,p{seed}/pet_iv,p{seed}/segmentation.seg.nrrd,"
                     f"p{seed}/spect/study.json,{weight},seed {seed}")
    path = root / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def truth(root: pathlib.Path, seed: int) -> dict:
    return json.loads((root / f"p{seed}" / "truth.json").read_text(encoding="utf-8"))


def run(*args) -> tuple[int, str]:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = main(["batch", *map(str, args)])
    return code, stderr.getvalue()


def summary_rows(output: pathlib.Path) -> dict[str, dict]:
    with open(output / "cohort_summary.csv", newline="", encoding="utf-8") as stream:
        return {row["patient"]: row for row in csv.DictReader(stream)}


def done_mtimes(output: pathlib.Path) -> dict[str, int]:
    return {path.parent.name: path.stat().st_mtime_ns for path in output.glob("*/done.json")
            if path.parent.name != "population"}


@pytest.fixture(scope="module")
def first_run(cohort_dir, tmp_path_factory):
    output = tmp_path_factory.mktemp("batch") / "out"
    code, stderr = run(write_cohort(cohort_dir), "-o", output, "--jobs", "2")
    return code, stderr, output


# --- COHORT.csv -------------------------------------------------------------------------------------------
def test_cohort_file_is_checked_with_line_numbers(tmp_path):
    (tmp_path / "pet").mkdir()
    (tmp_path / "seg.nrrd").write_text("x")
    path = tmp_path / "c.csv"

    def read(text):
        path.write_text(text, encoding="utf-8")
        return read_cohort(str(path))

    with pytest.raises(RagalivInputError, match="patient_id"):
        read("ia,iv\npet,pet\n")
    with pytest.raises(RagalivInputError, match=r"unknown column.*'treshold'"):
        read("patient_id,ia,iv,segmentation,treshold\nP1,pet,pet,seg.nrrd,3\n")
    with pytest.raises(RagalivInputError, match="line 3: patient_id 'P1' already used on line 2"):
        read("patient_id,ia,iv,segmentation\nP1,pet,pet,seg.nrrd\nP1,pet,pet,seg.nrrd\n")
    cohort = read("\ufeffPatient ID;IA;IV;Segmentation;Metric;Threshold;IA-injection-time\n"
                  "# skipped;;;;;;\n"
                  "P1;pet;pet;seg.nrrd;SUVpeak;3.5;2026-03-10T09:12:00\n"
                  "P2;pet;;seg.nrrd;suvmaxx;-1;yesterday\n"
                  "P3;;;;;;\n"
                  "P4;missing;pet;seg.nrrd;;;\n")
    rows = {row.patient_id: row for row in cohort.rows}
    assert list(rows) == ["P1", "P2", "P3", "P4"]
    good = rows["P1"]
    assert not good.problems and good.analyses == ["ratio"]
    assert good.value("metric") == "suvpeak" and good.value("threshold") == 3.5
    assert good.value("aggregate") == "mean" and good.values["ia"] == str(tmp_path / "pet")
    assert good.values["ia_injection_time"].isoformat() == "2026-03-10T09:12:00"
    problems = " | ".join(rows["P2"].problems)
    assert "line 4" in problems and "'suvmaxx' is not one of suvmax, suvmean, suvpeak" in problems
    assert "must be a positive number" in problems and "not an ISO 8601 date and time" in problems
    assert "iv is empty" in problems
    assert "nothing to compute" in rows["P3"].problems[0]
    assert "column 'ia': file or folder not found" in rows["P4"].problems[0]


def test_a_data_folder_is_never_replaced(tmp_path):
    (tmp_path / "P1").mkdir()
    (tmp_path / "P1" / "scan.dcm").write_text("patient data")
    cohort = tmp_path / "c.csv"
    cohort.write_text("patient_id,study\nP1,P1/scan.dcm\n", encoding="utf-8")
    code, stderr = run(cohort, "-o", tmp_path, "--no-deidentify", "--jobs", "1")
    assert code == 2 and "not `ragaliv batch` patient folders" in stderr
    assert (tmp_path / "P1" / "scan.dcm").read_text() == "patient data"


# --- the first run -----------------------------------------------------------------------------------------
def test_good_patients_finish_with_their_truth_and_the_broken_one_is_reported(first_run, cohort_dir):
    code, stderr, output = first_run
    assert code == 2
    rows = summary_rows(output)
    assert list(rows) == [pseudonym(seed) for seed in SEEDS]
    for seed in SEEDS:
        row = rows[pseudonym(seed)]
        assert row["line"] == str(seed + 1) and row["analyses"] == "ratio+dosimetry"
        if seed == BROKEN_SEED:
            continue
        expected = truth(cohort_dir, seed)
        assert row["status"] == "done" and row["error"] == ""
        assert float(row["lesion_ratio"]) == pytest.approx(expected["ratio"]["lesion_ratio"], rel=1e-3)
        assert row["eligible"] == ("true" if expected["ratio"]["eligible"] else "false")
        assert (row["metric"], row["aggregate"], float(row["threshold"])) == ("suvmax", "mean", 3.0)
        assert row["lesion_count"] == "5"
        for side in ("left", "right"):
            region = expected["spect"]["regions"][f"Kidney {side}"]
            dose_gy = region["tia_mbq_h"] * 3600.0 * ORGAN_S_TIMES_MASS / region["mass_g"] / 1000.0
            assert float(row[f"kidney_{side}_dose_gy"]) == pytest.approx(dose_gy, rel=0.035)
            assert float(row[f"kidney_{side}_dose_gy_per_gbq"]) == pytest.approx(dose_gy / 7.4, rel=0.035)
        with open(output / pseudonym(seed) / "dosimetry" / "dose.csv", newline="", encoding="utf-8") as stream:
            doses = {item["region"]: item for item in csv.DictReader(stream)}
        assert row["bone_marrow_dose_gy"] == doses["Bone marrow"]["dose_gy"]
        lesions = [float(item["dose_gy"]) for name, item in doses.items() if name.startswith("Lesion")]
        assert float(row["lesion_dose_max_gy"]) == pytest.approx(max(lesions), rel=1e-5)
        assert float(row["lesion_dose_mean_gy"]) == pytest.approx(sum(lesions) / len(lesions), rel=1e-5)
        assert (output / pseudonym(seed) / "ratio" / "ratios.csv").is_file()
    broken = rows[pseudonym(BROKEN_SEED)]
    assert broken["status"] == "failed" and broken["lesion_ratio"] == ""
    assert "IA PET" in broken["error"] and "PatientWeight (0010,1030)" in broken["error"]
    assert "COHORT.csv column 'weight_kg'" in broken["error"]
    folder = output / pseudonym(BROKEN_SEED)
    assert sorted(path.name for path in folder.iterdir()) == ["error.txt"]
    assert "PatientWeight" in (folder / "error.txt").read_text(encoding="utf-8")
    assert f"{pseudonym(BROKEN_SEED)} (line {BROKEN_SEED + 1}): IA PET" in stderr
    document = json.loads((output / "cohort_summary.json").read_text(encoding="utf-8"))
    assert document["counts"] == {"patients": 6, "done": 5, "failed": 1}
    assert document["literature_gy_per_gbq"]["kidney"] == [0.3, 0.9]
    for name in ("cohort_ratios.png", "cohort_doses.png"):
        assert (output / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    provenance = json.loads((output / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["patients"][pseudonym(BROKEN_SEED)] == {"status": "failed"}
    marker = output / pseudonym(1) / "done.json"
    assert provenance["patients"][pseudonym(1)]["done_json_sha256"] == file_sha256(str(marker))
    assert set(provenance["outputs"]) == {"cohort_summary.csv", "cohort_summary.json", "cohort_ratios.png",
                                          "cohort_doses.png", "cohort_tacs.csv",
                                          *(f"population/{name}" for name in POPULATION_FILES)}
    assert provenance["outputs"]["population/tia.csv"] == file_sha256(str(output / "population" / "tia.csv"))


def _csv(path: pathlib.Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def test_population_over_the_cohort_equals_the_population_command_and_the_truth(first_run, cohort_dir, tmp_path,
                                                                                monkeypatch):
    import ragaliv.cli.population

    _, stderr, output = first_run
    done = [seed for seed in SEEDS if seed != BROKEN_SEED]
    assert "ragaliv batch: population fit of 5 patient(s), 11 region(s): done" in stderr
    assert all((output / "population" / name).is_file() for name in POPULATION_FILES)
    # cohort_tacs.csv holds every finished patient's tac.csv points (read here independently)
    expected = sorted((pseudonym(seed), item["region"], float(item["time_h"]), float(item["activity_mbq"]), 7400.0)
                      for seed in done for item in _csv(output / pseudonym(seed) / "dosimetry" / "tac.csv"))
    written = sorted((item["patient"], item["region"], float(item["time_h"]), float(item["activity_mbq"]),
                      float(item["administered_mbq"])) for item in _csv(output / "cohort_tacs.csv"))
    assert written == expected and len(written) == 4 * 4 * 11 + 2 * 11
    # the same numbers as `ragaliv population` run on that file with the studies' calibration uncertainty (5 %)
    monkeypatch.setattr(ragaliv.cli.population, "matplotlib_available", lambda: False)  # the plot is not compared
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["population", str(output / "cohort_tacs.csv"), "-o", str(tmp_path / "alone"),
                     "--calibration-uncertainty", "0.05"]) == 0
    for name in ("tia.csv", "population.json"):
        assert (output / "population" / name).read_bytes() == (tmp_path / "alone" / name).read_bytes(), name
    # ... and the phantom's truth: noise-free, identical organ kinetics per mL, so the population TIA is exact
    # (0.5 %), also for the patient with 2 time points, whose own fit (mono) is off by ~1 %
    population = {(item["patient"], item["region"]): item for item in _csv(output / "population" / "tia.csv")}
    assert {item["method"] for item in population.values()} == {"population (NLME, empirical Bayes)"}
    rows = summary_rows(output)
    for seed in done:
        regions = truth(cohort_dir, seed)["spect"]["regions"]
        own = {item["region"]: item for item in _csv(output / pseudonym(seed) / "dosimetry" / "tia.csv")}
        for region, expected_region in regions.items():
            estimate = float(population[(pseudonym(seed), region)]["tia_mbq_h"])
            assert estimate == pytest.approx(expected_region["tia_mbq_h"], rel=0.005), (seed, region)
        row = rows[pseudonym(seed)]
        for side in ("left", "right"):
            region = f"Kidney {side}"
            estimate = population[(pseudonym(seed), region)]
            assert float(row[f"kidney_{side}_population_tia_mbq_h"]) == pytest.approx(float(estimate["tia_mbq_h"]))
            assert float(row[f"kidney_{side}_population_tiac_h"]) == pytest.approx(float(estimate["tiac_h"]))
            assert float(row[f"kidney_{side}_tia_mbq_h"]) == pytest.approx(float(own[region]["tia_mbq_h"]))
            assert float(row[f"kidney_{side}_tiac_h"]) == pytest.approx(float(own[region]["tiac_h"]))
            if seed == REDUCED_SEED:
                true_tia = regions[region]["tia_mbq_h"]
                assert (abs(float(estimate["tia_mbq_h"]) - true_tia)
                        < abs(float(own[region]["tia_mbq_h"]) - true_tia) / 10), region
        assert float(row["liver_population_tia_mbq_h"]) == pytest.approx(
            float(population[(pseudonym(seed), "Healthy liver")]["tia_mbq_h"]))
        lesions = [name for name in regions if name.startswith("Lesion")]
        assert float(row["lesion_total_population_tia_mbq_h"]) == pytest.approx(
            sum(float(population[(pseudonym(seed), name)]["tia_mbq_h"]) for name in lesions), rel=1e-5)
        assert float(row["lesion_total_tia_mbq_h"]) == pytest.approx(
            sum(float(own[name]["tia_mbq_h"]) for name in lesions), rel=1e-5)
    assert rows[pseudonym(BROKEN_SEED)]["kidney_left_population_tia_mbq_h"] == ""
    document = json.loads((output / "cohort_summary.json").read_text(encoding="utf-8"))["population"]
    assert document["status"] == "done" and document["reason"] is None and document["model"] == "auto"
    assert document["patients"] == [pseudonym(seed) for seed in done]
    assert document["calibration_rel_uncertainty"] == 0.05
    assert len(document["regions"]) == 11 and all(item["converged"] for item in document["regions"].values())
    provenance = json.loads((output / "population" / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["inputs"]["tacs"] == {"path": "../cohort_tacs.csv",
                                            "sha256": file_sha256(str(output / "cohort_tacs.csv"))}
    assert provenance["inputs"]["patients"] == {
        pseudonym(seed): {"done_json_sha256": file_sha256(str(output / pseudonym(seed) / "done.json"))}
        for seed in done}


def _identifiers(cohort_dir: pathlib.Path, seed: int) -> tuple[set, set]:
    """(identifying strings, real dates) of one patient, from its DICOM headers."""
    strings, dates = {patient_id(seed), f"SYNTHETIC{seed:03d}", str(cohort_dir)}, set()
    for folder in sorted((cohort_dir / f"p{seed}").rglob("*")):
        files = sorted(folder.glob("*.dcm")) if folder.is_dir() else []
        if files:
            header = pydicom.dcmread(files[0], stop_before_pixels=True)
            strings.update({str(header.PatientName), header.PatientBirthDate, header.SeriesInstanceUID,
                            header.StudyInstanceUID, header.AccessionNumber})
            dates.update({header.StudyDate, header.SeriesDate, header.AcquisitionDate})
    return strings, dates


def test_outputs_are_deidentified(first_run, cohort_dir):
    _, stderr, output = first_run
    files = [path for path in output.rglob("*") if path.is_file()]
    assert {output / "cohort_tacs.csv", *(output / "population" / name for name in POPULATION_FILES)} <= set(files)
    texts = {path: path.read_bytes().decode("latin-1") for path in files}
    for seed in SEEDS:
        strings, dates = _identifiers(cohort_dir, seed)
        shift = Deidentifier().date_shift_days(patient_id(seed))
        real = {f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in dates} | dates
        shifted = set()
        for d in dates:
            moment = datetime.date(int(d[:4]), int(d[4:6]), int(d[6:])) - datetime.timedelta(days=shift)
            shifted.update({moment.isoformat(), moment.strftime("%Y%m%d")})
        for token in strings | (real - shifted):
            assert token not in stderr, token
            for path, text in texts.items():
                assert token.lower() not in text.lower(), (token, path)
    seed = 1
    summary = json.loads((output / pseudonym(seed) / "ratio" / "summary.json").read_text(encoding="utf-8"))
    real_injection = truth(cohort_dir, seed)["pet"]["ia"]["injection_time"]
    expected = Deidentifier().shift_iso(real_injection, patient_id(seed))
    assert summary["suv_parameters"]["ia"]["injection_time"] == expected != real_injection
    assert summary["suv_parameters"]["ia"]["series_instance_uid"].startswith("2.25.")
    provenance = json.loads((output / pseudonym(seed) / "ratio" / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["inputs"]["ia"]["path"] == "<path withheld>" and len(provenance["inputs"]["ia"]["sha256"]) == 64


# --- resume ------------------------------------------------------------------------------------------------
def test_rerun_skips_finished_patients_and_the_fix_runs_only_the_broken_one(first_run, cohort_dir, tmp_path):
    _, _, first = first_run
    output = tmp_path / "out"
    shutil.copytree(first, output)  # copy2 keeps the modification times
    before = done_mtimes(output)
    assert len(before) == 5
    population_before = (output / "population" / "done.json").stat().st_mtime_ns
    code, stderr = run(write_cohort(cohort_dir), "-o", output, "--jobs", "2")
    assert code == 2 and "5 already done (skipped), 1 to run" in stderr
    assert done_mtimes(output) == before
    assert "population fit of 5 patient(s), 11 region(s): reused" in stderr  # the same patients: not fitted again
    assert (output / "population" / "done.json").stat().st_mtime_ns == population_before
    for name in ("cohort_summary.csv", "cohort_summary.json", "cohort_tacs.csv", "population/tia.csv"):
        assert (output / name).read_bytes() == (first / name).read_bytes(), name  # resumed: the same bytes
    code, stderr = run(write_cohort(cohort_dir, "fixed.csv", fixed=True), "-o", output, "--jobs", "2")
    assert code == 0, stderr
    assert "5 already done (skipped), 1 to run" in stderr and "[1/1]" in stderr
    assert "population fit of 6 patient(s), 11 region(s): done" in stderr  # a patient added: fitted again
    population = json.loads((output / "population" / "population.json").read_text(encoding="utf-8"))
    assert population["regions"]["Kidney left"]["n_patients"] == 6
    after = done_mtimes(output)
    assert {name: after[name] for name in before} == before and pseudonym(BROKEN_SEED) in after
    rows = summary_rows(output)
    assert all(row["status"] == "done" for row in rows.values())
    fixed = rows[pseudonym(BROKEN_SEED)]
    expected = truth(cohort_dir, BROKEN_SEED)["ratio"]
    assert float(fixed["lesion_ratio"]) == pytest.approx(expected["lesion_ratio"], rel=1e-3)
    assert not (output / pseudonym(BROKEN_SEED) / "error.txt").exists()
    assert float(fixed["kidney_left_population_tia_mbq_h"]) == pytest.approx(
        truth(cohort_dir, BROKEN_SEED)["spect"]["regions"]["Kidney left"]["tia_mbq_h"], rel=0.005)


def test_identified_run_in_process(cohort_dir, tmp_path):
    cohort = tmp_path / "one.csv"
    cohort.write_text(f"patient_id,ia,iv,segmentation\n{patient_id(1)},{cohort_dir}/p1/pet_ia,{cohort_dir}/p1/pet_iv,"
                      f"{cohort_dir}/p1/segmentation.seg.nrrd\n", encoding="utf-8")
    code, stderr = run(cohort, "-o", tmp_path / "out", "--jobs", "1", "--no-deidentify")
    assert code == 0, stderr
    summary = json.loads((tmp_path / "out" / patient_id(1) / "ratio" / "summary.json").read_text(encoding="utf-8"))
    assert summary["suv_parameters"]["ia"]["injection_time"] == truth(cohort_dir, 1)["pet"]["ia"]["injection_time"]
    code, stderr = run(cohort, "-o", tmp_path / "out", "--jobs", "1")  # mixing modes in one folder is refused
    assert code == 2 and "would mix them" in stderr


def test_a_bug_is_reported_as_internal_error_with_its_traceback(cohort_dir, tmp_path, monkeypatch):
    import ragaliv.ratio.analysis

    def broken(*args, **kwargs):
        raise ZeroDivisionError("synthetic bug")

    monkeypatch.setattr(ragaliv.ratio.analysis, "analyse", broken)
    cohort = tmp_path / "one.csv"
    cohort.write_text(f"patient_id,ia,iv,segmentation\n{patient_id(2)},{cohort_dir}/p2/pet_ia,{cohort_dir}/p2/pet_iv,"
                      f"{cohort_dir}/p2/segmentation.seg.nrrd\n", encoding="utf-8")
    code, stderr = run(cohort, "-o", tmp_path / "out", "--jobs", "1")
    assert code == 2 and "internal error: ZeroDivisionError" in stderr
    row = summary_rows(tmp_path / "out")[pseudonym(2)]
    assert row["status"] == "failed" and row["error"] == "internal error: ZeroDivisionError: synthetic bug"
    error = (tmp_path / "out" / pseudonym(2) / "error.txt").read_text(encoding="utf-8")
    assert "Traceback" in error and "ragaliv/cohort/worker.py" in error and str(cohort_dir) not in error


def test_population_failure_opt_out_and_too_few_patients(first_run, cohort_dir, tmp_path, monkeypatch):
    """On a copy of the first run without the broken patient (so only the population can fail): a patient whose
    study changed (calibration uncertainty 10 % instead of 5 %) is recomputed and the population fitted again with
    the largest uncertainty, said; without matplotlib the plot is skipped and said; a fit refused for bad input,
    and one whose error would leak an identifier, fail the batch (exit 2) but keep every patient;
    --no-population removes the earlier population; two patients skip it with the reason (exit 0)."""
    import ragaliv.cli.population
    from ragaliv.errors import RagalivInputError as InputError

    _, _, first = first_run
    output = tmp_path / "out"
    shutil.copytree(first, output)
    shutil.rmtree(output / pseudonym(BROKEN_SEED))
    cohort = write_cohort(cohort_dir, "five.csv")
    lines = cohort.read_text(encoding="utf-8").splitlines()
    lines[BROKEN_SEED] = "#" + lines[BROKEN_SEED]  # the broken patient left out, the line numbers kept
    changed = tmp_path / "p2_spect"
    shutil.copytree(cohort_dir / "p2" / "spect", changed)
    study = json.loads((changed / "study.json").read_text(encoding="utf-8"))
    study["calibration_rel_uncertainty"] = 0.10
    (changed / "study.json").write_text(json.dumps(study), encoding="utf-8")
    lines[2] = lines[2].replace("p2/spect/study.json", str(changed / "study.json"))
    cohort.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(ragaliv.cli.population, "matplotlib_available", lambda: False)
    code, stderr = run(cohort, "-o", output, "--jobs", "1")
    assert code == 0 and "4 already done (skipped), 1 to run" in stderr, stderr
    assert "population fit of 5 patient(s), 11 region(s): done" in stderr  # a patient changed: fitted again
    assert ("warning: population: the studies state different calibration uncertainties (0.05 (4 patient(s)), "
            "0.1 (1 patient(s))): the population fit uses the largest, 0.1") in stderr
    assert json.loads((output / "cohort_summary.json").read_text(encoding="utf-8"))["population"][
        "calibration_rel_uncertainty"] == 0.1
    assert min(float(item["tia_rel_uncertainty"]) for item in _csv(output / "population" / "tia.csv")) >= 0.1
    assert "warning: population: matplotlib is not installed: population.png skipped" in stderr
    assert sorted(path.name for path in (output / "population").iterdir()) == sorted(
        set(POPULATION_FILES) - {"population.png"})
    before = done_mtimes(output)

    def refuse(message):
        def fit(*args, **kwargs):
            raise InputError(message, "Check the TACs.")
        return fit

    shutil.rmtree(output / "population")
    monkeypatch.setattr(ragaliv.cli.population, "fit_population_csv", refuse("synthetic bad TAC"))
    code, stderr = run(cohort, "-o", output, "--jobs", "1")
    assert code == 2 and "population fit FAILED: synthetic bad TAC Fix: Check the TACs." in stderr
    assert sorted(path.name for path in (output / "population").iterdir()) == ["error.txt"]
    assert "synthetic bad TAC" in (output / "population" / "error.txt").read_text(encoding="utf-8")
    assert (output / "cohort_tacs.csv").is_file()  # kept to reproduce the failure with `ragaliv population`
    assert done_mtimes(output) == before and all(row["status"] == "done" for row in summary_rows(output).values())
    assert summary_rows(output)[pseudonym(1)]["kidney_left_population_tia_mbq_h"] == ""
    document = json.loads((output / "cohort_summary.json").read_text(encoding="utf-8"))["population"]
    assert document["status"] == "failed" and document["reason"] == "synthetic bad TAC Fix: Check the TACs."

    monkeypatch.setattr(ragaliv.cli.population, "fit_population_csv", refuse(f"patient {patient_id(1)} is odd"))
    code, stderr = run(cohort, "-o", output, "--jobs", "1")  # a failure is not reused: fitted again
    assert code == 2 and "de-identification check failed (patient ID in population/error.txt)" in stderr
    assert patient_id(1) not in stderr and not (output / "cohort_tacs.csv").exists()
    for path in (output / "population" / "error.txt", output / "cohort_summary.json"):
        assert patient_id(1) not in path.read_text(encoding="utf-8"), path
    monkeypatch.undo()

    code, stderr = run(cohort, "-o", output, "--jobs", "1", "--no-population")
    assert code == 0 and "population fit skipped: --no-population" in stderr
    assert "the population result of an earlier run was removed (population/): it does not describe" in stderr
    assert not (output / "population").exists() and not (output / "cohort_tacs.csv").exists()
    document = json.loads((output / "cohort_summary.json").read_text(encoding="utf-8"))["population"]
    assert (document["status"], document["reason"]) == ("skipped", "--no-population")

    for seed in (3, 5, 6):
        shutil.rmtree(output / pseudonym(seed))
    lines = [line if not line.startswith(tuple(patient_id(seed) for seed in (3, 5, 6))) else "#" + line
             for line in lines]
    cohort.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, stderr = run(cohort, "-o", output, "--jobs", "1")
    reason = ("fewer than 3 patients with dosimetry in every region (2 finished patient(s) with dosimetry); a "
              "population fit needs at least 3")
    assert code == 0 and f"population fit skipped: {reason}" in stderr
    document = json.loads((output / "cohort_summary.json").read_text(encoding="utf-8"))["population"]
    assert (document["status"], document["reason"]) == ("skipped", reason)
    assert not (output / "population").exists()
    assert {item["patient"] for item in _csv(output / "cohort_tacs.csv")} == {pseudonym(1), pseudonym(2)}
    row = summary_rows(output)[pseudonym(1)]
    assert row["kidney_left_population_tia_mbq_h"] == "" and float(row["kidney_left_tia_mbq_h"]) > 0


def test_tia_columns_of_the_main_regions():
    """Own-fit and population TIA columns: kidneys by side, one healthy-liver/spleen VOI (two samples give no
    single TIA), the lesions summed (population only when every lesion has a population estimate)."""
    from ragaliv.cohort.summary import own_tia_values, population_tia_values

    def item(region, role, category, tia):
        return {"region": region, "role": role, "category": category, "tia_mbq_h": tia, "tiac_h": tia / 7400.0}

    regions = [item("Kidney left", "kidney", "kidney", 3700.0), item("Kidney right", "kidney", "kidney", 3500.0),
               item("Liver sample 1", "healthy_liver", "liver", 100.0),
               item("Liver sample 2", "healthy_liver", "liver", 120.0), item("Spleen", "spleen", "spleen", 7000.0),
               item("Lesion 1", "lesion", "lesion", 10000.0), item("Lesion 2", "lesion", "lesion", 5000.0)]
    own = own_tia_values(regions)
    assert own["kidney_left_tia_mbq_h"] == 3700.0 and own["kidney_right_tiac_h"] == pytest.approx(3500.0 / 7400.0)
    assert own["liver_tia_mbq_h"] is None and own["spleen_tia_mbq_h"] == 7000.0
    assert own["lesion_total_tia_mbq_h"] == 15000.0 and own["lesion_total_tiac_h"] == pytest.approx(15000 / 7400)
    estimates = {"Kidney left": {"tia_mbq_h": 3650.0, "tiac_h": 0.49}, "Spleen": {"tia_mbq_h": 6900.0, "tiac_h": 0.9},
                 "Lesion 1": {"tia_mbq_h": 9900.0, "tiac_h": 1.3}}
    population = population_tia_values(regions, estimates)
    assert population["kidney_left_population_tia_mbq_h"] == 3650.0
    assert population["kidney_left_population_tiac_h"] == 0.49
    assert population["kidney_right_population_tia_mbq_h"] is None and population["liver_population_tiac_h"] is None
    assert population["spleen_population_tia_mbq_h"] == 6900.0
    assert population["lesion_total_population_tia_mbq_h"] is None  # Lesion 2 has no population estimate
    estimates["Lesion 2"] = {"tia_mbq_h": 5100.0, "tiac_h": 0.7}
    assert population_tia_values(regions, estimates)["lesion_total_population_tia_mbq_h"] == 15000.0


# --- kill -------------------------------------------------------------------------------------------------
def _group_alive(group: int) -> bool:
    """Any live (not zombie) process of the process group (Linux /proc; False elsewhere)."""
    proc = pathlib.Path("/proc")
    if not proc.is_dir():
        return False
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            return True
    return False


def _assert_complete(output: pathlib.Path) -> None:
    """Every visible CSV/JSON parses, every done.json matches its files, every patient folder is finished."""
    for path in output.rglob("*"):
        if any(part.startswith(".") for part in path.relative_to(output).parts) or not path.is_file():
            continue
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".csv":
            rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
            assert rows and len({len(row) for row in rows}) == 1, path
    for folder in output.iterdir():
        if folder.is_dir() and not folder.name.startswith("."):
            marker = folder / "done.json"
            assert marker.is_file() or (folder / "error.txt").is_file(), folder
            if marker.is_file():
                for relative, digest in json.loads(marker.read_text(encoding="utf-8"))["outputs"].items():
                    assert file_sha256(str(folder / relative)) == digest, (folder, relative)


def test_killed_run_leaves_no_partial_result_and_resumes(first_run, cohort_dir, tmp_path):
    _, _, first = first_run
    cohort = write_cohort(cohort_dir, "fixed.csv", fixed=True)
    output = tmp_path / "out"
    environment = dict(os.environ, RAGALIV_BATCH_START_METHOD="spawn")  # the pool must work with spawn too
    process = subprocess.Popen([sys.executable, "-m", "ragaliv.cli", "batch", str(cohort), "-o", str(output),
                                "--jobs", "2", "--no-population"], env=environment, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list(output.glob("*/done.json")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, process.stderr.read().decode()
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stderr.close()
    deadline = time.monotonic() + 10
    while _group_alive(process.pid) and time.monotonic() < deadline:  # workers exit when the batch dies
        time.sleep(0.1)
    assert not _group_alive(process.pid)
    _assert_complete(output)
    finished = done_mtimes(output)
    assert 1 <= len(finished) < 6
    assert not (output / "cohort_summary.csv").exists()

    code, stderr = run(cohort, "-o", output, "--jobs", "2", "--no-population")  # the population: tested above
    assert code == 0, stderr
    assert f"{len(finished)} already done (skipped)" in stderr
    assert {name: mtime for name, mtime in done_mtimes(output).items() if name in finished} == finished
    assert not [path for path in output.rglob("*") if ".partial" in path.name]
    _assert_complete(output)
    assert all(row["status"] == "done" for row in summary_rows(output).values())
    for seed in SEEDS:  # the same inputs give byte-identical results (fork vs spawn, first run vs resumed)
        if seed == BROKEN_SEED:
            continue
        for path in (first / pseudonym(seed)).rglob("*"):
            if path.is_file() and path.name in RESULT_NAMES - {"provenance.json"}:
                twin = output / path.relative_to(first)
                assert twin.read_bytes() == path.read_bytes(), path.relative_to(first)
