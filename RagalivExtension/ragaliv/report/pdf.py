"""HTML -> PDF (and PNG screenshots) with headless Chromium, when it is installed.

No converter is not an error: :func:`html_to_pdf` then returns None and a sentence saying so. The
browser runs with a throw-away profile, no network services, no sandbox (containers), and a time limit.
"""

import os
import shutil
import subprocess
import tempfile
from typing import Optional

from ..io.atomic import atomic_path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 120.0
NO_CONVERTER = ("no PDF written: no Chromium found on PATH (chromium, chromium-browser or google-chrome); "
                "open report.html in a browser and print it to PDF")


def find_chromium() -> Optional[str]:
    """Path of a Chromium/Chrome executable on PATH, or None."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _run_chromium(arguments: list[str], url: str) -> tuple[bool, str]:
    executable = find_chromium()
    if executable is None:
        return False, NO_CONVERTER
    with tempfile.TemporaryDirectory(prefix="ragaliv-chromium-") as profile:
        command = [
            executable, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={profile}", *arguments, url,
        ]
        try:
            completed = subprocess.run(command, capture_output=True, timeout=TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            return False, f"Chromium failed ({type(error).__name__}: {error})"
    if completed.returncode != 0:
        tail = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        return False, f"Chromium exited with {completed.returncode}: {' '.join(tail)}"
    return True, ""


class _Failed(Exception):
    pass


def _produce(path: str, arguments_for, url: str) -> tuple[Optional[str], str]:
    """Run Chromium writing to a temporary file beside ``path``; rename it into place on success."""
    try:
        with atomic_path(path) as temporary:
            done, reason = _run_chromium(arguments_for(temporary), url)
            if not done:
                raise _Failed(reason)
            if not os.path.isfile(temporary) or not os.path.getsize(temporary):
                raise _Failed("Chromium wrote an empty file")
    except _Failed as failure:
        return None, str(failure)
    return path, ""


def html_to_pdf(html_path: str, pdf_path: str) -> tuple[Optional[str], str]:
    """Print ``html_path`` to ``pdf_path`` (A4, page size from the CSS), atomically.

    Returns ``(pdf_path, "")`` on success, else ``(None, reason)``.
    """
    if find_chromium() is None:
        return None, NO_CONVERTER
    url = "file://" + os.path.abspath(html_path)
    return _produce(pdf_path, lambda temporary: ["--no-pdf-header-footer", "--print-to-pdf-no-header",
                                                 f"--print-to-pdf={temporary}"], url)


def screenshot(html_path: str, png_path: str, width_px: int = 1200, height_px: int = 2400) -> tuple[Optional[str], str]:
    """PNG screenshot of the rendered page (for documentation), or ``(None, reason)``."""
    if find_chromium() is None:
        return None, NO_CONVERTER
    url = "file://" + os.path.abspath(html_path)
    return _produce(png_path, lambda temporary: [f"--screenshot={temporary}",
                                                 f"--window-size={width_px},{height_px}"], url)
