# Two commands for a new user: `make demo` and `make test`.
# Each creates .venv/ in the repository root if missing and installs the pinned dependencies.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Tier "Slicer 5.8 packages only": Python 3.9 with exactly the numpy/scipy/SimpleITK/pydicom that Slicer 5.8.1
# bundles (Testing/slicer58/requirements.txt), so that an import Slicer lacks fails in CI.
SLICER58_PYTHON ?= $(firstword $(wildcard /root/.pyenv/versions/3.9.*/bin/python) $(shell command -v python3.9 2>/dev/null))
VENV58  := .venv-slicer58
STAMP58 := $(VENV58)/.installed

.PHONY: demo test test-slicer58 lint bench clean venv review review-test review-screenshot review-venv

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

$(STAMP58): Testing/slicer58/requirements.txt
	@$(SLICER58_PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 9)' 2>/dev/null || \
		{ echo "make: Python 3.9 (Slicer 5.8's) not found; set SLICER58_PYTHON=/path/to/python3.9"; exit 1; }
	@test -x $(VENV58)/bin/python || $(SLICER58_PYTHON) -m venv $(VENV58)
	$(VENV58)/bin/python -m pip install --quiet --disable-pip-version-check -r Testing/slicer58/requirements.txt
	@touch $(STAMP58)

demo: $(STAMP)
	$(BIN)/ragaliv demo out/demo

# pytest exits 5 when it collects no test: that is a failure here, never a silent pass.
# Testing/review needs the optional review app (make review-test); Testing/slicer58 runs in its own tier below.
test: $(STAMP) $(STAMP58)
	@$(BIN)/python -m pytest --ignore=Testing/review --ignore=Testing/slicer58 $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests - failing"; exit 1; fi; \
	if [ $$rc -ne 0 ]; then exit $$rc; fi
	@$(MAKE) --no-print-directory test-slicer58

test-slicer58: $(STAMP58)
	@echo "== tier: Slicer 5.8 bundled packages only ($(VENV58))"
	@RAGALIV_SLICER58_TIER=1 PYTHONPATH=RagalivExtension $(VENV58)/bin/python -m pytest -p no:cacheprovider \
		Testing/slicer58; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test-slicer58: pytest collected no tests - failing"; exit 1; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_lesion_ratio.py
	$(BIN)/python benchmarks/bench_voxel_dosimetry.py

# --- Ragaliv Review: the reading in a web browser (optional; requirements-review.txt) -------------------------
REVIEW_STAMP      := $(VENV)/.review-installed
REVIEW_TEST_STAMP := $(VENV)/.review-test-installed
REVIEW_PATIENT    := out/review/patient
REVIEW_PORT       ?= 8080
CHROMIUM          ?= /usr/bin/chromium

review-venv: $(REVIEW_STAMP)

$(REVIEW_STAMP): $(STAMP) requirements-review.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-review.txt
	$(BIN)/python -m pip check
	@touch $@

$(REVIEW_TEST_STAMP): $(REVIEW_STAMP) requirements-review-test.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-review-test.txt
	$(BIN)/python -m pip check
	@touch $@

$(REVIEW_PATIENT)/truth.json: $(STAMP)
	$(BIN)/ragaliv phantom $(REVIEW_PATIENT)

# The synthetic patient, read from scratch: open http://127.0.0.1:$(REVIEW_PORT)/ ; readings go to out/review/readings.
review: $(REVIEW_STAMP) $(REVIEW_PATIENT)/truth.json
	$(BIN)/ragaliv review $(REVIEW_PATIENT) --no-segmentation -o out/review/readings --port $(REVIEW_PORT)

# Chromium from the system's package manager when missing (Playwright drives it; no browser download).
$(CHROMIUM):
	@echo "Chromium not found at $(CHROMIUM): installing the Debian package chromium"
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium
	@test -x $(CHROMIUM) || { echo "make review-test: no Chromium at $(CHROMIUM) after installing; set CHROMIUM=PATH"; exit 1; }

# Server-side tests and end-to-end tests in headless Chromium; a skipped test fails the run.
review-test: $(REVIEW_TEST_STAMP) $(CHROMIUM)
	@RAGALIV_REVIEW_TESTS=1 RAGALIV_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest Testing/review $(PYTEST_ARGS); \
	rc=$$?; if [ $$rc -eq 5 ]; then echo "make review-test: pytest collected no tests - failing"; exit 1; fi; exit $$rc

# The README's docs/review.png, taken by the end-to-end screenshot test (a plain review-test leaves docs/ alone).
review-screenshot: $(REVIEW_TEST_STAMP) $(CHROMIUM)
	@RAGALIV_REVIEW_TESTS=1 RAGALIV_CHROMIUM=$(CHROMIUM) RAGALIV_REVIEW_SCREENSHOT=$(CURDIR)/docs/review.png \
	$(BIN)/python -m pytest Testing/review/test_review_e2e.py -k screenshot $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(VENV58) out .pytest_cache .ruff_cache
