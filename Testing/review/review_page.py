"""Driving ``ragaliv review`` from outside, as a reader does: the server in its own process, the page in
headless Chromium (Playwright, the system's Chromium). Shared by the end-to-end tests and
``benchmarks/bench_review.py``.

Button clicks and view events reach the server by separate paths (trame state updates, and the remote view's
mouse events), so every step waits for the page state it causes: polling with a deadline, never a fixed
sleep. ``TimeoutError`` names what did not happen.
"""

import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Callable, Optional

import numpy as np

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
STEP_TIMEOUT_S = 30.0


def chromium_path() -> str:
    path = os.environ.get("RAGALIV_CHROMIUM", "/usr/bin/chromium")
    if not os.path.exists(path):
        raise FileNotFoundError(f"Chromium not found at {path}: `make review-test` installs the Debian package "
                                "chromium (or set RAGALIV_CHROMIUM)")
    return path


def wait_for(check: Callable, what: str, timeout_s: float = STEP_TIMEOUT_S, pause=lambda: time.sleep(0.05)):
    """Poll ``check()`` until it returns something true (and return that); ``TimeoutError`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        pause()
    raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ReviewServer:
    """``ragaliv review PATIENT ARGS`` in its own process (one reader), on a free local port."""

    def __init__(self, patient, readings, log_path, *args):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.readings = pathlib.Path(readings)
        self.log_path = pathlib.Path(log_path)
        command = [sys.executable, "-m", "ragaliv.cli", "review", str(patient), "-o", str(readings),
                   "--host", "127.0.0.1", "--port", str(self.port), *map(str, args)]
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"ragaliv review exited with {self.process.returncode}:\n"
                               f"{self.log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(self.url, timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def wait_until_answering(self, timeout_s: float = 120.0) -> None:
        wait_for(self._answers, "the review server to answer", timeout_s, lambda: time.sleep(0.05))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)


class ReviewPage:
    """The reading's page in the browser: its state, its views, and the reader's gestures."""

    def __init__(self, page):
        self.page = page

    def state(self, name: str):
        return self.page.evaluate(
            "(name) => window.trame && window.trame.state ? window.trame.state.get(name) : null", name)

    def poll(self, check: Callable, what: str, timeout_s: float = STEP_TIMEOUT_S):
        return wait_for(check, what, timeout_s, lambda: self.page.wait_for_timeout(20))

    def rows(self) -> dict:
        return {row["segment"]: row for row in self.state("rows") or []}

    def view_image(self, view: str):
        """The image of a slice view ("Red": axial, "Green": coronal)."""
        return self.page.locator(f'[data-view="{view}"]').locator("xpath=..").locator("img")

    def wait_for_first_images(self, timeout_s: float = STEP_TIMEOUT_S) -> None:
        for view in ("Red", "Green"):
            self.poll(lambda view=view: self.view_image(view).count()
                      and self.view_image(view).evaluate("(image) => image.naturalWidth > 0"),
                      f"the first image of the {view} view", timeout_s)
        self.poll(lambda: self.state("view_geometry"), "the views' geometry", timeout_s)

    def client_point(self, ras, view: str = "Red") -> tuple[float, float]:
        """Where on the page the view shows ``ras``: the server's slice geometry (pixels from the bottom-left
        of the view's image to patient coordinates), scaled to the image's size on the page."""
        geometry = self.state("view_geometry")[view]
        xy = np.linalg.solve(np.array(geometry["xy_to_ras"]).reshape(4, 4), np.array([*ras, 1.0]))
        width, height = geometry["size"]
        box = self.view_image(view).bounding_box()
        return box["x"] + xy[0] * box["width"] / width, box["y"] + (height - xy[1]) * box["height"] / height

    def go_to_axial(self, s_mm: float) -> None:
        field = self.page.get_by_test_id("axial-mm").locator("input")
        field.fill(f"{s_mm:g}")
        field.press("Enter")
        self.poll(lambda: abs(self.state("view_geometry")["Red"]["offset_mm"] - s_mm) < 0.01,
                  f"the axial view to move to S = {s_mm} mm")

    def arm(self, button_testid: str, label: str) -> None:
        self.page.get_by_test_id(button_testid).click()
        self.poll(lambda: self.state("armed") == label, f"the page to wait for the click placing {label}")

    def click_and_wait_for_row(self, label: str, ras, timeout_s: float = STEP_TIMEOUT_S) -> Optional[dict]:
        """Click ``ras`` in the axial view (a placement is armed) and wait for the row of ``label``."""
        count = len(self.state("rows"))
        self.page.mouse.click(*self.client_point(ras))
        self.poll(lambda: len(self.state("rows")) == count + 1 and label in self.rows(), f"the row of {label}",
                  timeout_s)
        return self.rows()[label]

    def place(self, button_testid: str, label: str, ras) -> dict:
        """Arm a placement with a button, then click ``ras`` in the axial view; returns the new row."""
        self.arm(button_testid, label)
        return self.click_and_wait_for_row(label, ras)
