"""The core and the CLI with only the packages Slicer 5.8 bundles (GUIDE §5, tier 4).

``make test`` runs this folder a second time in ``.venv-slicer58`` (Python 3.9, numpy 1.26.4, scipy 1.13.1,
SimpleITK 2.3.1, pydicom 2.4.4, nothing else) with ``RAGALIV_SLICER58_TIER=1``. The acceptance of issue 10:
there, the synthetic patient is written, and ``ratio`` and ``dosimetry`` give the truth's numbers and decision.
The MRML half of the module self-tests needs slicer-core, which has no Python 3.9 wheel; it runs in Testing/lib.
"""

import csv
import importlib
import importlib.util
import json
import os
import pathlib
import pkgutil
import sys

import pytest
from ragaliv.cli import main

IN_TIER = os.environ.get("RAGALIV_SLICER58_TIER") == "1"
SLICER_58_VERSIONS = {"numpy": "1.26.4", "scipy": "1.13.1", "pydicom": "2.4.4"}
NOT_IN_SLICER = ("slicerio", "nrrd", "highdicom", "matplotlib")
# Core modules that need a package installed on demand (matplotlib); their importers catch the ImportError.
ON_DEMAND_MODULES = {"ragaliv.report.plots": "matplotlib", "ragaliv.cohort.plots": "matplotlib"}
REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not IN_TIER, reason="checks the .venv-slicer58 environment (make test runs it there)")
def test_environment_holds_only_slicer_58_packages():
    import numpy
    import pydicom
    import scipy
    import SimpleITK

    assert sys.version_info[:2] == (3, 9)
    found = {"numpy": numpy.__version__, "scipy": scipy.__version__, "pydicom": pydicom.__version__}
    assert found == SLICER_58_VERSIONS
    assert SimpleITK.Version_VersionString().startswith("2.3.1")
    assert [name for name in NOT_IN_SLICER if importlib.util.find_spec(name) is not None] == []


def test_every_core_module_imports_with_slicer_packages_only():
    """Everything but the matplotlib plots imports; those fail only for matplotlib (installed on demand)."""
    import ragaliv

    failures = {}
    for module in pkgutil.walk_packages(ragaliv.__path__, "ragaliv."):
        if module.name.endswith(".__main__"):  # runs the command line when imported
            continue
        try:
            importlib.import_module(module.name)
        except ModuleNotFoundError as error:
            failures[module.name] = error.name.split(".")[0]
    if importlib.util.find_spec("matplotlib") is not None:
        assert failures == {}
    else:
        assert failures == ON_DEMAND_MODULES


def test_synthetic_patient_and_ratio_give_the_truths_decision(synthetic_patient_dir, tmp_path):
    patient = synthetic_patient_dir
    truth = json.loads((patient / "truth.json").read_text())
    output = tmp_path / "ratio"
    code = main(["ratio", "--ia", str(patient / "pet_ia"), "--iv", str(patient / "pet_iv"), "--segmentation",
                 str(patient / "segmentation.seg.nrrd"), "--plot", "-o", str(output)])
    assert code == 0
    summary = json.loads((output / "summary.json").read_text())
    assert summary["eligible"] is truth["ratio"]["eligible"]
    assert summary["lesion_count"] == 5
    assert summary["lesion_ratio"] == pytest.approx(truth["ratio"]["lesion_ratio"], rel=1e-3)
    with open(output / "ratios.csv", newline="", encoding="utf-8") as stream:
        rows = {row["segment"]: row for row in csv.DictReader(stream)}
    assert set(rows) == set(truth["segments"])
    for name, expected in truth["segments"].items():
        assert float(rows[name]["ia_suvmax"]) == pytest.approx(expected["ia"]["suvmax"], rel=1e-3), name
        assert float(rows[name]["ratio_suvmean"]) == pytest.approx(expected["ratio"], rel=1e-3), name
    # --plot without matplotlib: the tables are written and the plot is left out, not a crash.
    assert (output / "lesion_ratios.png").exists() is (importlib.util.find_spec("matplotlib") is not None)


def test_dosimetry_gives_the_truths_time_activity_and_tia(synthetic_patient_dir, tmp_path):
    truth = json.loads((synthetic_patient_dir / "truth.json").read_text())["spect"]["regions"]
    output = tmp_path / "dosimetry"
    assert main(["dosimetry", str(synthetic_patient_dir / "spect" / "study.json"), "-o", str(output)]) == 0
    with open(output / "tac.csv", newline="", encoding="utf-8") as stream:
        tac = {}
        for row in csv.DictReader(stream):
            tac.setdefault(row["region"], []).append(float(row["activity_mbq"]))
    with open(output / "tia.csv", newline="", encoding="utf-8") as stream:
        tia = {row["region"]: float(row["tia_mbq_h"]) for row in csv.DictReader(stream)}
    with open(output / "dose.csv", newline="", encoding="utf-8") as stream:
        doses = {row["region"]: row for row in csv.DictReader(stream)}
    assert set(tia) == set(truth) == set(doses)
    for region, expected in truth.items():
        assert tac[region] == pytest.approx(expected["tac_mbq"], rel=0.01), region  # uint16 storage
        assert tia[region] == pytest.approx(expected["tia_mbq_h"], rel=0.03), region  # mono fit of a bi-exp
        assert float(doses[region]["dose_gy"]) > 0.0, region


def test_self_tests_import_only_what_slicer_ships_or_installs_on_demand():
    """The imports inside the module self-tests (run in Slicer by `Slicer --testing`) resolve here, except
    Slicer's own (slicer, vtk, qt, ctk) and the MRML adapters that need them."""
    import ast

    slicer_side = {"slicer", "vtk", "qt", "ctk", "ragaliv_mrml", "ragaliv_gui"}
    missing = []
    for module in ("RagalivLesionRatio", "RagalivSpectDosimetry"):
        tree = ast.parse((REPO / module / f"{module}.py").read_text(encoding="utf-8"))
        test_class = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == f"{module}Test")
        for node in ast.walk(test_class):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            for name in names:
                if name.split(".")[0] not in slicer_side and importlib.util.find_spec(name) is None:
                    missing.append(f"{module}Test: {name}")
    assert missing == []
