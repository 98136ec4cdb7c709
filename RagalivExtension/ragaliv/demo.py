"""``make demo``: the synthetic patient through the whole Ragaliv workflow, results under ``out/demo/``."""

import json
import os
import time

from .cli import main as cli_main
from .results_io import write_json


def run_demo(output: str, seed: int = 0) -> int:
    started = time.time()
    patient_dir = os.path.join(output, "patient")
    steps = [
        ["phantom", patient_dir, "--seed", str(seed)],
        ["ratio", "--ia", os.path.join(patient_dir, "pet_ia"), "--iv", os.path.join(patient_dir, "pet_iv"),
         "--segmentation", os.path.join(patient_dir, "segmentation.seg.nrrd"),
         "--reference", os.path.join(patient_dir, "mri"), "-o", os.path.join(output, "ratio")],
    ]
    for step in steps:
        print(f"\n$ ragaliv {' '.join(step)}")
        code = cli_main(step)
        if code != 0:
            return code
    with open(os.path.join(patient_dir, "truth.json"), encoding="utf-8") as stream:
        truth = json.load(stream)
    with open(os.path.join(output, "ratio", "summary.json"), encoding="utf-8") as stream:
        ratio = json.load(stream)
    summary = {
        "seed": seed,
        "lesion_ratio": {"measured": ratio["lesion_ratio"], "truth": truth["ratio"]["lesion_ratio"]},
        "eligible": {"measured": ratio["eligible"], "truth": truth["ratio"]["eligible"]},
        "decision": ratio["decision"],
        "seconds": round(time.time() - started, 1),
    }
    write_json(os.path.join(output, "summary.json"), summary)
    print(f"\nDemo summary written to {os.path.join(output, 'summary.json')}")
    return 0
