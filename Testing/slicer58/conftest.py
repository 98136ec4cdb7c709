"""The Slicer 5.8 tier runs in its own environment (``make test-slicer58``, part of ``make test``); the main
suite does not collect it again (its numbers are checked there by Testing/cli)."""

import os

if os.environ.get("RAGALIV_SLICER58_TIER") != "1":
    collect_ignore_glob = ["test_*.py"]
