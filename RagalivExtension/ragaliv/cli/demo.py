"""``make demo``: the synthetic patient through the whole Ragaliv workflow, results under ``out/demo/``.

out/demo/patient/     the synthetic patient (DICOM, segmentations, truth.json)
out/demo/dosimetry/   177Lu SPECT/CT dosimetry (tac.csv, tia.csv, dose.csv, plots, dose map, provenance)
out/demo/ratio/       IA/IV uptake ratios and the decision (ratios.csv, summary.json, plot, provenance),
                      DICOM SEG (segmentation.seg.dcm) and TID 1500 SR with the doses (measurements.sr.dcm)
out/demo/report.html  the case report (ratio + dosimetry; report.pdf too when Chromium is installed)
out/demo/summary.json measured against truth, side by side
"""

import csv
import json
import os
import time
from collections.abc import Callable

from ..io.results import write_json
from .dosimetry import run_dosimetry
from .phantom import run_phantom
from .ratio import run_ratio
from .report import run_report


def _steps(output: str, seed: int) -> list[tuple[str, Callable[[], int]]]:
    """(the equivalent command line, the call) of each step."""
    patient = os.path.join(output, "patient")
    dosimetry = os.path.join(output, "dosimetry")
    ratio = os.path.join(output, "ratio")
    study = os.path.join(patient, "spect", "study.json")
    pets = os.path.join(patient, "pet_ia"), os.path.join(patient, "pet_iv")
    segmentation, mri = os.path.join(patient, "segmentation.seg.nrrd"), os.path.join(patient, "mri")
    report = os.path.join(output, "report.html")
    return [
        (f"phantom {patient} --seed {seed}", lambda: run_phantom(patient, seed)),
        (f"dosimetry {study} -o {dosimetry}", lambda: run_dosimetry(study, dosimetry)),
        (f"ratio --ia {pets[0]} --iv {pets[1]} --segmentation {segmentation} --reference {mri} --plot --dicom "
         f"--dosimetry {dosimetry} -o {ratio}",
         lambda: run_ratio(*pets, segmentation, ratio, reference=mri, plot=True, dicom=True, dosimetry=dosimetry)),
        (f"report --ratio {ratio} --dosimetry {dosimetry} -o {report}", lambda: run_report(ratio, dosimetry, report)),
    ]


def _read_csv(path: str) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as stream:
        return {row["region"]: row for row in csv.DictReader(stream)}


def compare_with_truth(output: str) -> dict:
    """Measured numbers next to the synthetic patient's truth."""
    with open(os.path.join(output, "patient", "truth.json"), encoding="utf-8") as stream:
        truth = json.load(stream)
    with open(os.path.join(output, "ratio", "summary.json"), encoding="utf-8") as stream:
        ratio = json.load(stream)
    tia = _read_csv(os.path.join(output, "dosimetry", "tia.csv"))
    dose = _read_csv(os.path.join(output, "dosimetry", "dose.csv"))
    regions = {}
    for name, expected in truth["spect"]["regions"].items():
        regions[name] = {
            "tia_mbq_h": {"measured": float(tia[name]["tia_mbq_h"]), "truth": expected["tia_mbq_h"]},
            "tiac_h": {"measured": float(tia[name]["tiac_h"]), "truth": expected["tiac_h"]},
            "dose_gy": float(dose[name]["dose_gy"]),
            "dose_method": dose[name]["method"],
        }
    return {
        "lesion_ratio": {"measured": ratio["lesion_ratio"], "truth": truth["ratio"]["lesion_ratio"]},
        "eligible": {"measured": ratio["eligible"], "truth": truth["ratio"]["eligible"]},
        "decision": ratio["decision"],
        "dosimetry": regions,
    }


def run_demo(output: str, seed: int = 0) -> int:
    from ..checks.outputs import check_output_folder

    output = check_output_folder(output, "demo", "OUTPUT", marker=os.path.join("patient", "truth.json"))
    started = time.time()
    for command_line, step in _steps(output, seed):
        print(f"\n$ ragaliv {command_line}", flush=True)
        code = step()
        if code != 0:
            return code
    summary = {"seed": seed, **compare_with_truth(output), "seconds": round(time.time() - started, 1)}
    write_json(os.path.join(output, "summary.json"), summary)
    print(f"\nDecision: {summary['decision']}")
    print(f"Demo outputs under {output}; measured vs truth in {os.path.join(output, 'summary.json')}")
    return 0


def command(args) -> int:
    return run_demo(args.output, seed=args.seed)
