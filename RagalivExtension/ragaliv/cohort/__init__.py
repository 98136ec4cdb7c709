"""Cohort batch (``ragaliv batch COHORT.csv -o OUTDIR``): the parts behind :func:`ragaliv.cli.batch.command`.

Modules: :mod:`.table` (COHORT.csv → rows, validation), :mod:`.scrub` (de-identification of result files),
:mod:`.worker` (one patient, in a worker process, staged and marked done), :mod:`.summary` (cohort table,
JSON, provenance), :mod:`.plots` (ratio distribution, doses per GBq against literature ranges).
"""
