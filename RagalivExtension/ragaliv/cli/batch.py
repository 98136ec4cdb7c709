"""``ragaliv batch COHORT.csv -o OUTDIR``: ratio and/or dosimetry for a cohort, in parallel, resumable.

COHORT.csv has one row per patient (columns in :mod:`ragaliv.cohort.table`: ``patient_id``; ``ia``, ``iv``,
``segmentation`` [``labels``, ``reference``] for the IA/IV ratio; ``study`` for the 177Lu dosimetry; settings
``metric``, ``aggregate``, ``threshold``, ``normalization``; SUV overrides ``weight_kg``, ``height_cm``, ``sex``,
``half_life_s``, ``ia_/iv_dose_mbq``, ``ia_/iv_injection_time``, ``ia_/iv_scan_time``; ``comment``).

OUTDIR::

    cohort_summary.csv / .json   one row per patient: status, lesion ratio and decision, kidney/marrow/liver/
                                 spleen/lesion doses (Gy and Gy/GBq), kidney/liver/spleen/lesion-total TIA and
                                 TIAC (own fit and population), warnings, error; the JSON adds per-region values
                                 and what the population step did ("population": status, reason, regions)
    cohort_ratios.png            distribution of the lesion ratios with the threshold
    cohort_doses.png             doses per GBq by organ against literature ranges (dosimetry notes §7.2)
    cohort_tacs.csv              the finished patients' time-activity curves (input of ``ragaliv population``)
    population/                  population kinetics over the cohort (:mod:`ragaliv.cohort.population`): tia.csv,
                                 population.json, population.png, provenance.json, done.json [or error.txt]
    provenance.json              software, time, COHORT.csv hash, parameters, hashes of the files above and of
                                 every patient's done.json
    <patient>/ratio/             ratios.csv, summary.json, lesion_ratios.png, provenance.json (as ``ragaliv ratio``)
    <patient>/dosimetry/         tac/tia/dose.csv, tac.png, summary.json, provenance.json [dose_map.nrrd, dvh.csv]
    <patient>/done.json          written last: hashes of the patient's files, summary row, input fingerprint
    <patient>/error.txt          instead of the above when the patient failed (message; traceback for bugs)

* **Parallel**: ``--jobs N`` worker processes (0 = number of CPUs; 1 = in this process). Start method: the
  platform default, or ``RAGALIV_BATCH_START_METHOD`` (fork, forkserver, spawn). A worker exits when the batch
  process dies. One patient's failure (bad input or bug) never stops the others; a crashed worker (out of
  memory) is retried alone once.
* **Resume**: re-run the same command. A patient whose ``done.json`` is intact, whose result files match the
  hashes in it, and whose inputs (names, sizes, modification times), parameters and software version are
  unchanged is skipped; every other patient (failed, unfinished, changed) is computed again. Leftover
  ``.*.partial*`` files and folders of a killed run are deleted first. A lock file keeps two batches off one
  OUTDIR.
* **Atomic**: each patient is computed into ``OUTDIR/.<patient>.partial-XXXX/`` and renamed into place after its
  ``done.json``; every file is itself written to a temporary name and renamed. A killed run never leaves a
  half-written result.
* **De-identified by default** (``--no-deidentify`` keeps identities): patient folders and summary rows are named
  by a keyed pseudonym (``RGL-XXXXXXXXXX``, from ``patient_id`` and the site key ``--secret`` or
  ``$RAGALIV_SECRET``); in every result, dates are shifted by the patient's offset (intervals kept), names,
  IDs and accession numbers become the pseudonym, birth dates keep their year, DICOM UIDs are replaced by
  keyed ``2.25.`` UIDs, and input paths are withheld (provenance keeps input file hashes and file counts).
  Each patient's files are searched for the original identifiers before it is marked done. Console messages
  name patients by pseudonym and COHORT.csv line. OUTDIR remembers the mode and key: mixing is refused.
* **Population**: after the patients, the population (mixed-effects) kinetics of the finished patients with
  dosimetry, fitted as ``ragaliv population cohort_tacs.csv`` would (:mod:`ragaliv.cohort.population`: atomic,
  reused while the patients' done.json are unchanged, skipped with its reason when no region has 3 patients);
  its per-patient TIAs join the cohort summary beside each patient's own fit. ``--no-population`` skips it.
* **Exit code**: 0 when every patient (and the population fit) succeeded, 2 when any failed (they are listed; the
  summary covers all). A skipped population fit is not a failure.
"""

import contextlib
import hashlib
import hmac
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any, Optional, TextIO

from .. import __version__
from ..errors import RagalivInputError

EXIT_OK = 0
EXIT_FAILED = 2
SETTINGS_FILE = ".ragaliv-batch.json"
LOCK_FILE = ".ragaliv-batch.lock"
LOCK_WAIT_S = 5.0
START_METHOD_VARIABLE = "RAGALIV_BATCH_START_METHOD"
SECRET_VARIABLE = "RAGALIV_SECRET"


# --- progress ----------------------------------------------------------------------------------------------
class Progress:
    """Plain-text progress on stderr: a redrawn bar on a terminal, one line per finished patient otherwise."""

    BAR_WIDTH = 28

    def __init__(self, total: int, stream: Optional[TextIO] = None):
        self.stream = stream or sys.stderr
        self.total = total
        self.finished = 0
        self.failed = 0
        self.start = time.monotonic()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def _bar(self) -> str:
        filled = int(self.BAR_WIDTH * self.finished / self.total) if self.total else self.BAR_WIDTH
        elapsed = time.monotonic() - self.start
        left = elapsed / self.finished * (self.total - self.finished) if self.finished else None
        eta = f", ~{left:.0f} s left" if left is not None and self.finished < self.total else ""
        failed = f", {self.failed} failed" if self.failed else ""
        return (f"[{'#' * filled}{'-' * (self.BAR_WIDTH - filled)}] {self.finished}/{self.total} patients"
                f"{failed}, {elapsed:.0f} s{eta}")

    def show(self) -> None:
        if self.tty and self.total:
            self.stream.write("\r" + self._bar())
            self.stream.flush()

    def update(self, outcome: dict[str, Any], line: int) -> None:
        self.finished += 1
        failed = outcome["status"] != "done"
        self.failed += failed
        what = f"FAILED: {outcome['row'].get('error')}" if failed else f"done in {outcome['seconds']:.1f} s"
        text = f"{outcome['folder']} (line {line}) {what}"
        if self.tty:
            if failed:
                self.stream.write("\r\033[K" + text + "\n")
            self.show()
        else:
            self.stream.write(f"[{self.finished}/{self.total}] {text}\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty and self.total:
            self.stream.write("\n")
            self.stream.flush()


# --- OUTDIR: lock and settings -----------------------------------------------------------------------------
@contextlib.contextmanager
def _locked(output: str) -> Iterator[None]:
    """Exclusive POSIX record lock on OUTDIR/.ragaliv-batch.lock (released by the OS if the process dies; not
    inherited by forked workers). Without fcntl (Windows) there is no lock."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    handle = os.open(os.path.join(output, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RagalivInputError(f"Another `ragaliv batch` is writing {output}.",
                                            "Wait for it to finish, or use another output folder (-o).") from None
                time.sleep(0.2)
        yield
    finally:
        os.close(handle)


def _key_check(secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), b"ragaliv batch key check", hashlib.sha256).hexdigest()[:16]


def _check_settings(output: str, deidentify: bool, key_check: str) -> None:
    """Refuse to mix identified and de-identified results, or two keys, in one OUTDIR."""
    from ..io.results import write_json

    path = os.path.join(output, SETTINGS_FILE)
    wanted = {"deidentified": deidentify, "key_check": key_check if deidentify else None}
    try:
        with open(path, encoding="utf-8") as stream:
            recorded = json.load(stream)
    except (OSError, ValueError):
        recorded = None
    if isinstance(recorded, dict):
        if recorded.get("deidentified") != deidentify:
            state = "de-identified" if recorded.get("deidentified") else "identified (--no-deidentify)"
            raise RagalivInputError(f"{output} holds {state} results; this run would mix them.",
                                    "Use another output folder (-o), or the same de-identification setting.")
        if deidentify and recorded.get("key_check") != key_check:
            raise RagalivInputError(f"{output} was written with another de-identification key (--secret).",
                                    "Use the same --secret (or $RAGALIV_SECRET), or another output folder.")
        return
    write_json(path, wanted)


# --- patients ----------------------------------------------------------------------------------------------
def _folder_names(rows, deidentifier) -> list[str]:
    from ..cohort.population import POPULATION_FOLDER

    names = []
    for row in rows:
        if deidentifier.enabled:
            names.append(deidentifier.patient_id(row.patient_id))
        else:
            names.append(re.sub(r"[^A-Za-z0-9_-]+", "_", row.patient_id).strip("_") or "patient")
    seen: dict[str, int] = {}
    for row, name in zip(rows, names):
        if name.lower() == POPULATION_FOLDER:
            raise RagalivInputError(
                f"COHORT.csv line {row.line}: patient_id {row.patient_id!r} gives the output folder name {name!r}, "
                "which holds the cohort's population fit.", "Give that patient another patient_id.")
        if name.lower() in seen:
            raise RagalivInputError(
                f"COHORT.csv lines {seen[name.lower()]} and {row.line}: the patient IDs give the same output folder "
                f"name {name!r}.", "Make the patient_id values differ in letters or digits.")
        seen[name.lower()] = row.line
    return names


def _start_method() -> Optional[str]:
    method = os.environ.get(START_METHOD_VARIABLE, "").strip() or None
    if method is not None:
        import multiprocessing

        if method not in multiprocessing.get_all_start_methods():
            raise RagalivInputError(f"{START_METHOD_VARIABLE}={method!r} is not available here.",
                                    f"Use one of {', '.join(multiprocessing.get_all_start_methods())}.")
    return method


def _terminate_workers(pool) -> None:
    for process in list(getattr(pool, "_processes", {}).values()):  # private, but the only handle there is
        with contextlib.suppress(Exception):
            process.terminate()


def _run_pool(tasks: Sequence, jobs: int, progress: Progress, crash_retry: bool = True) -> dict[str, dict]:
    """Run the tasks in ``jobs`` worker processes; a task whose worker died is retried alone once."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    from ..cohort.worker import describe_failure, worker_init, write_failure

    context = multiprocessing.get_context(_start_method())
    outcomes: dict[str, dict] = {}
    crashed = []
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=context, initializer=worker_init)
    try:
        futures = {pool.submit(_call_worker, task): task for task in tasks}
        for future in as_completed(futures):
            task = futures[future]
            try:
                outcome = future.result()
            except BrokenProcessPool:
                crashed.append(task)
                continue
            except Exception as error:  # e.g. a result that could not be pickled back
                message, detail = describe_failure(error)
                outcome = _failed_outcome(task, message)
                write_failure(task, message, detail)
            outcomes[task.folder] = outcome
            progress.update(outcome, task.row.line)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        _terminate_workers(pool)
        raise
    pool.shutdown(wait=True)
    for task in crashed:
        if crash_retry:
            outcomes.update(_run_pool([task], 1, progress, crash_retry=False))
        else:
            message = ("internal error: the worker process died (crashed, or killed by the system - out of "
                       "memory?); run this patient alone with --jobs 1 to see more")
            write_failure(task, message)
            outcome = _failed_outcome(task, message)
            outcomes[task.folder] = outcome
            progress.update(outcome, task.row.line)
    return outcomes


def _call_worker(task):
    from ..cohort.worker import run_patient

    return run_patient(task)


def _failed_outcome(task, message: str) -> dict[str, Any]:
    from ..cohort.summary import empty_row

    row = empty_row(task.folder, task.row.line, task.row.analyses)
    row.update({"status": "failed", "error": message})
    return {"folder": task.folder, "status": "failed", "row": row, "regions": [], "seconds": 0.0}


def _run_tasks(tasks: Sequence, jobs: int, progress: Progress) -> dict[str, dict]:
    if not tasks:
        return {}
    if jobs == 1:
        from ..cohort.worker import run_patient

        outcomes = {}
        for task in tasks:
            outcome = run_patient(task)
            outcomes[task.folder] = outcome
            progress.update(outcome, task.row.line)
        return outcomes
    return _run_pool(tasks, jobs, progress)


def _refuse_stale_patients(output: str, folders: Sequence[str]) -> None:
    """OUTDIR must not hold patient folders of patients that are no longer in COHORT.csv: the cohort summary
    would not describe the folder (a result folder holds the results of one run)."""
    from ..cohort.population import POPULATION_FOLDER
    from ..cohort.worker import is_result_folder

    if not os.path.isdir(output):
        return
    wanted = {*folders, POPULATION_FOLDER}
    stale = sorted(name for name in os.listdir(output) if name not in wanted and not name.startswith(".")
                   and is_result_folder(os.path.join(output, name)))
    if stale:
        raise RagalivInputError(
            f"{output} holds results of {len(stale)} patient(s) not in this COHORT.csv ({', '.join(stale[:5])}"
            f"{' ...' if len(stale) > 5 else ''}): the cohort summary would not match the folder.",
            "Use a new output folder (-o), add those patients back to COHORT.csv, or delete their folders.")


# --- command -----------------------------------------------------------------------------------------------
def command(args) -> int:
    """The ``ragaliv batch`` command (arguments: cohort, output, jobs, no_deidentify, secret, no_population)."""
    from ..checks.outputs import check_output_folder
    from ..cohort.population import check_population_folder, run_population_step
    from ..cohort.summary import population_tia_values, write_cohort_outputs
    from ..cohort.table import read_cohort
    from ..cohort.worker import PatientTask, clean_partials, fingerprint, is_result_folder, read_done
    from ..report.phi import DEFAULT_SECRET, Deidentifier

    deidentify = not args.no_deidentify
    secret = args.secret or os.environ.get(SECRET_VARIABLE) or DEFAULT_SECRET
    if deidentify and secret == DEFAULT_SECRET:
        print("warning: de-identifying with Ragaliv's public default key: anyone who knows a patient ID can "
              f"recompute the pseudonym and date shift. Set a site key with --secret or ${SECRET_VARIABLE} before "
              "sharing these outputs.", file=sys.stderr)
    if args.jobs is not None and args.jobs < 0:
        raise RagalivInputError(f"--jobs {args.jobs} is negative.", "Give 0 (all CPUs) or a number of processes.")
    jobs = args.jobs or os.cpu_count() or 1
    output = check_output_folder(args.output, "batch", inputs=(args.cohort,))
    cohort = read_cohort(args.cohort, show_paths=not deidentify)
    deidentifier = Deidentifier(enabled=deidentify, secret=secret)
    folders = _folder_names(cohort.rows, deidentifier)
    os.makedirs(output, exist_ok=True)
    key_check = _key_check(secret)
    foreign = [name for name in folders
               if os.path.lexists(os.path.join(output, name)) and not is_result_folder(os.path.join(output, name))]
    if foreign:
        raise RagalivInputError(f"{output} already holds {', '.join(foreign[:5])} (not `ragaliv batch` patient "
                                "folders): they would be replaced.", "Give an empty or batch-only output folder (-o).")
    population_enabled = not getattr(args, "no_population", False)
    if population_enabled:
        check_population_folder(output)
    with _locked(output):
        _check_settings(output, deidentify, key_check)
        _refuse_stale_patients(output, folders)
        removed = clean_partials(output)
        tasks, resumed, every_task = [], {}, {}
        for row, folder in zip(cohort.rows, folders):
            task = PatientTask(row, folder, output, fingerprint(row, deidentify, key_check), deidentify, secret)
            every_task[folder] = task
            done = read_done(os.path.join(output, folder), task.fingerprint)
            if done is not None:
                resumed[folder] = {"folder": folder, "status": "done", "row": dict(done["row"], line=row.line),
                                   "regions": done.get("regions", [])}
            else:
                tasks.append(task)
        workers = min(jobs, len(tasks))
        message = f"ragaliv batch: {len(cohort.rows)} patient(s)"
        if resumed:
            message += f", {len(resumed)} already done (skipped)"
        if removed:
            message += f", {len(removed)} leftover(s) of an interrupted run removed"
        if tasks:
            message += f", {len(tasks)} to run in {'this process' if workers == 1 else f'{workers} processes'}"
        print(message, file=sys.stderr, flush=True)
        progress = Progress(len(tasks))
        progress.show()
        try:
            outcomes = _run_tasks(tasks, workers, progress)
        except KeyboardInterrupt:
            progress.close()
            print("ragaliv batch: interrupted; finished patients are kept - run the same command to resume",
                  file=sys.stderr)
            raise
        progress.close()
        outcomes.update(resumed)
        rows = [_summary_row(outcomes[folder]["row"]) for folder in folders]
        regions = {folder: outcomes[folder].get("regions", []) for folder in folders}
        population = run_population_step(output, rows, every_task, population_enabled)
        _report_population(population, output)
        for row in rows:
            row.update(population_tia_values(regions[row["patient"]], population.estimates.get(row["patient"])))
        parameters = {"jobs": jobs, "deidentified": deidentify,
                      "secret": "site key" if secret != DEFAULT_SECRET else "default project key",
                      "ragaliv": __version__, "start_method": _start_method() or "platform default",
                      "population": {"enabled": population_enabled, "model": "auto"}}
        paths = write_cohort_outputs(output, rows, regions, cohort.path, parameters, deidentify,
                                     population.document, population.files)
    failed = [row for row in rows if row["status"] != "done"]
    print(f"Cohort: {len(rows)} patient(s): {len(rows) - len(failed)} done ({len(resumed)} from an earlier run), "
          f"{len(failed)} failed")
    print(f"Summary: {paths['csv']}")
    if population.status == "done":
        print(f"Population: {os.path.join(output, 'population', 'tia.csv')}")
    if failed:
        print("ragaliv batch: failed patients (details in <OUTDIR>/<patient>/error.txt):", file=sys.stderr)
        for row in failed:
            print(f"  {row['patient']} (line {row['line']}): {row['error']}", file=sys.stderr)
    if population.failed:
        print(f"ragaliv batch: the population fit failed (details in <OUTDIR>/population/error.txt): "
              f"{population.reason}", file=sys.stderr)
    return EXIT_FAILED if failed or population.failed else EXIT_OK


def _summary_row(row: dict[str, Any]) -> dict[str, Any]:
    """A summary row with every column (a done.json of an earlier version may lack the newer ones)."""
    from ..cohort.summary import COLUMN_NAMES

    return {**dict.fromkeys(COLUMN_NAMES), **row}


def _report_population(population, output: str) -> None:
    """One line on what the population step did, then its notes (calibration, fit flags, unfitted regions)."""
    if population.status == "done":
        document = population.document
        what = "reused (the patients' results are unchanged)" if population.reused else "done"
        print(f"ragaliv batch: population fit of {len(document['patients'])} patient(s), "
              f"{len(document['regions'])} region(s): {what} -> {os.path.join(output, 'population')}",
              file=sys.stderr)
    elif population.status == "skipped":
        print(f"ragaliv batch: population fit skipped: {population.reason}", file=sys.stderr)
    else:
        print(f"ragaliv batch: population fit FAILED: {population.reason}", file=sys.stderr)
    for note in population.notes:
        print(f"warning: population: {note}", file=sys.stderr)
