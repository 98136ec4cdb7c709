"""Tests of the review web app (``make review-test``): server-side tests without a browser, and end-to-end
tests in real headless Chromium.

They need the optional review dependencies (requirements-review.txt) and, for the end-to-end tests,
Playwright and Chromium, so ``make test`` does not collect them (it passes ``--ignore=Testing/review``, and
this folder is ignored unless ``RAGALIV_REVIEW_TESTS=1``, which ``make review-test`` sets). Under
``make review-test`` nothing may be skipped: a skipped test fails the run.
"""

import os

import pytest

ENABLED = os.environ.get("RAGALIV_REVIEW_TESTS") == "1"
if not ENABLED:
    collect_ignore_glob = ["test_*.py"]

_skipped: list[str] = []


def pytest_runtest_logreport(report):
    if ENABLED and report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if ENABLED and _skipped:
        print(f"\nmake review-test: {len(_skipped)} test(s) skipped, which is a failure here: {', '.join(_skipped)}")
        session.exitstatus = 1


class ManualScheduler:
    """The app's scheduler without an event loop: callbacks wait until the test runs them."""

    class Handle:
        def __init__(self, callback):
            self.callback, self.cancelled = callback, False

        def cancel(self):
            self.cancelled = True

    def __init__(self):
        self.pending: list[ManualScheduler.Handle] = []

    def later(self, delay_s, callback):
        handle = self.Handle(callback)
        self.pending.append(handle)
        return handle

    def soon(self, callback):
        return self.later(0.0, callback)

    def run(self) -> int:
        """Run everything pending, and what that schedules; returns how many callbacks ran."""
        count = 0
        while self.pending:
            handle = self.pending.pop(0)
            if not handle.cancelled:
                handle.callback()
                count += 1
        return count


@pytest.fixture
def scheduler():
    return ManualScheduler()


def review_arguments(*argv):
    """``ragaliv review ARGV`` parsed by the real command-line parser."""
    from ragaliv.cli.parser import build_parser

    return build_parser().parse_args(["review", *map(str, argv)])


def inputs_for(*argv):
    from ragaliv_review.inputs import inputs_from_arguments

    return inputs_from_arguments(review_arguments(*argv))


def lesion_click_ras(truth, name):
    """RAS (mm) of a truth segment's centre (truth.json gives LPS)."""
    x, y, z = truth["segments"][name]["centre_lps_mm"]
    return [-x, -y, z]
