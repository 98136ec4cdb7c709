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

from .cli import main as cli_main
from .results_io import write_json


def _steps(output: str, seed: int) -> list[list[str]]:
    patient = os.path.join(output, "patient")
    dosimetry = os.path.join(output, "dosimetry")
    ratio = os.path.join(output, "ratio")
    return [
        ["phantom", patient, "--seed", str(seed)],
        ["dosimetry", os.path.join(patient, "spect", "study.json"), "-o", dosimetry],
        ["ratio", "--ia", os.path.join(patient, "pet_ia"), "--iv", os.path.join(patient, "pet_iv"),
         "--segmentation", os.path.join(patient, "segmentation.seg.nrrd"),
         "--reference", os.path.join(patient, "mri"), "--plot", "--dicom", "--dosimetry", dosimetry, "-o", ratio],
        ["report", "--ratio", ratio, "--dosimetry", dosimetry, "-o", os.path.join(output, "report.html")],
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
    started = time.time()
    for step in _steps(output, seed):
        print(f"\n$ ragaliv {' '.join(step)}", flush=True)
        code = cli_main(step)
        if code != 0:
            return code
    summary = {"seed": seed, **compare_with_truth(output), "seconds": round(time.time() - started, 1)}
    write_json(os.path.join(output, "summary.json"), summary)
    print(f"\nDecision: {summary['decision']}")
    print(f"Demo outputs under {output}; measured vs truth in {os.path.join(output, 'summary.json')}")
    return 0
