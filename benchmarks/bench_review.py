"""Ragaliv Review (`ragaliv review`) as a reader meets it, on the synthetic patient, in headless Chromium.

Figures:
  (a) app start to first image: from starting the `ragaliv review` process (DICOM loaded and converted to
      SUV, the scene and views built) to both slice views showing their first image in the browser, which
      was open and waiting; also the time until the server answers HTTP;
  (b) lesion click to updated table: from the mouse click in the axial view (placement armed) to the new
      row in the page's state, for each of the five lesions, and the Lib's own update time for it.
Targets (issue 11): (a) < 15 s, (b) < 2 s, on 2 cores.

Needs the review-test environment (`make review-test` installs it).
Run: .venv/bin/python benchmarks/bench_review.py [--patient DIR] [--repeat N]
"""

import argparse
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "Testing" / "review"))

from review_page import CHROMIUM_ARGS, ReviewPage, ReviewServer, chromium_path  # noqa: E402

START_TARGET_S = 15.0
CLICK_TARGET_S = 2.0
LESIONS = ("Lesion 1", "Lesion 2", "Lesion 3", "Lesion 4", "Lesion 5")


def lesion_ras(truth, name):
    x, y, z = truth["segments"][name]["centre_lps_mm"]
    return [-x, -y, z]


def one_reading(browser, patient: pathlib.Path, work: pathlib.Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    page = ReviewPage(browser.new_page(viewport={"width": 1600, "height": 1000}))
    started = time.perf_counter()
    server = ReviewServer(patient, work / "readings", work / "server.log", "--no-segmentation")
    try:
        server.wait_until_answering()
        answering_s = time.perf_counter() - started
        page.page.goto(server.url)
        page.wait_for_first_images(60.0)
        first_image_s = time.perf_counter() - started
        truth = json.loads((patient / "truth.json").read_text())
        clicks = []
        for number, name in enumerate(LESIONS, start=1):
            ras = lesion_ras(truth, name)
            page.go_to_axial(ras[2])
            page.arm("add-lesion", f"Lesion {number}")
            clicked = time.perf_counter()
            page.click_and_wait_for_row(f"Lesion {number}", ras)
            clicks.append((time.perf_counter() - clicked, page.state("update_seconds")))
        return {"answering_s": answering_s, "first_image_s": first_image_s, "clicks": clicks}
    finally:
        page.page.close()
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patient", help="patient folder (default: the synthetic patient, written once)")
    parser.add_argument("--repeat", type=int, default=3, help="readings (server starts) to time")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="ragaliv-bench-review-") as temporary:
        work = pathlib.Path(temporary)
        patient = pathlib.Path(args.patient) if args.patient else work / "patient"
        if not args.patient:
            from ragaliv.phantom import generate

            generate(str(patient), seed=0)
        print(f"ragaliv review on {patient.name}, {os.cpu_count()} CPU(s), {args.repeat} reading(s)")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            readings = [one_reading(browser, patient, work / f"run{index}") for index in range(args.repeat)]
            browser.close()
    starts = [reading["first_image_s"] for reading in readings]
    answering = [reading["answering_s"] for reading in readings]
    clicks = [seconds for reading in readings for seconds, _ in reading["clicks"]]
    updates = [update for reading in readings for _, update in reading["clicks"]]
    print(f"(a) app start to first image : median {statistics.median(starts):6.2f} s, max {max(starts):6.2f} s "
          f"(server answering after {statistics.median(answering):.2f} s)   target < {START_TARGET_S:g} s: "
          f"{'met' if max(starts) < START_TARGET_S else 'NOT MET'}")
    print(f"(b) lesion click to table     : median {statistics.median(clicks):6.2f} s, max {max(clicks):6.2f} s "
          f"over {len(clicks)} clicks (Lib update median {1000 * statistics.median(updates):.0f} ms)   "
          f"target < {CLICK_TARGET_S:g} s: {'met' if max(clicks) < CLICK_TARGET_S else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
