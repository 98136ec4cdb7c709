# Two commands for a new user: `make demo` and `make test`.
# Each creates .venv/ in the repository root if missing and installs the pinned dependencies.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean venv review review-test review-venv

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ragaliv demo out/demo

# pytest exits 5 when it collects no test: that is a failure here, never a silent pass.
# Testing/review needs the optional review app (make review-test): not part of this suite.
test: $(STAMP)
	@$(BIN)/python -m pytest --ignore=Testing/review $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests - failing"; exit 1; fi; exit $$rc

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

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
