"""The cohort summary: one row per patient (``cohort_summary.csv``/``.json``), plots and cohort provenance.

Per-patient values are computed by the worker from the in-memory results and stored in the patient's
``done.json``, so a resumed batch rebuilds the table without reading the result tables again. Files carry
no timestamp (the cohort ``provenance.json`` has it): the same cohort gives byte-identical summaries.
"""

import os
from collections.abc import Sequence
from typing import Any, Optional

from ..io.results import write_csv, write_json

# Time-integrated activities of the main regions: the patient's own fit (``ragaliv dosimetry``) beside its
# population estimate (``ragaliv batch`` population step, ``population/tia.csv``; empty when the region had no
# population fit). (prefix, role category, kidney side, meaning).
TIA_GROUPS: tuple[tuple[str, str, Optional[str], str], ...] = (
    ("kidney_left", "kidney", "left", "left kidney"),
    ("kidney_right", "kidney", "right", "right kidney"),
    ("liver", "liver", None, "healthy liver (empty when the patient has several healthy-liver VOIs)"),
    ("spleen", "spleen", None, "spleen (empty when the patient has several spleen VOIs)"),
    ("lesion_total", "lesion", None, "sum over the patient's lesions (population: empty unless every lesion has a "
                                     "population estimate)"),
)
TIA_SUMMARY_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    column
    for prefix, _, _, meaning in TIA_GROUPS
    for column in (
        (f"{prefix}_tia_mbq_h", f"MBq·h, {meaning}: the patient's own fit"),
        (f"{prefix}_tiac_h", f"h (TIA / administered activity), {meaning}: the patient's own fit"),
        (f"{prefix}_population_tia_mbq_h", f"MBq·h, {meaning}: population (NLME, empirical Bayes) estimate"),
        (f"{prefix}_population_tiac_h", f"h, {meaning}: population (NLME, empirical Bayes) estimate"),
    )
)

# (column, unit or meaning) - the order of cohort_summary.csv.
SUMMARY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("patient", "pseudonym (de-identified) or patient_id; the patient's output folder"),
    ("line", "line of the patient in COHORT.csv"),
    ("status", "done | failed"),
    ("analyses", "ratio, dosimetry or ratio+dosimetry"),
    ("lesion_count", "lesions in the ratio analysis"),
    ("lesion_ratio", "aggregate IA/IV lesion ratio"),
    ("metric", "suvmax | suvmean | suvpeak"),
    ("aggregate", "mean | median"),
    ("threshold", "eligibility threshold"),
    ("eligible", "lesion_ratio >= threshold"),
    ("administered_mbq", "177Lu administered activity (MBq)"),
    ("kidney_left_dose_gy", "Gy"),
    ("kidney_left_dose_gy_per_gbq", "Gy/GBq"),
    ("kidney_left_bed_gy", "Gy (BED, LQ)"),
    ("kidney_right_dose_gy", "Gy"),
    ("kidney_right_dose_gy_per_gbq", "Gy/GBq"),
    ("kidney_right_bed_gy", "Gy (BED, LQ)"),
    ("bone_marrow_dose_gy", "Gy"),
    ("bone_marrow_dose_gy_per_gbq", "Gy/GBq"),
    ("liver_dose_gy", "Gy (healthy liver)"),
    ("liver_dose_gy_per_gbq", "Gy/GBq"),
    ("spleen_dose_gy", "Gy"),
    ("spleen_dose_gy_per_gbq", "Gy/GBq"),
    ("lesion_dose_max_gy", "Gy, highest lesion"),
    ("lesion_dose_mean_gy", "Gy, mean over lesions"),
    ("lesion_dose_max_gy_per_gbq", "Gy/GBq"),
    ("lesion_dose_mean_gy_per_gbq", "Gy/GBq"),
    *TIA_SUMMARY_COLUMNS,
    ("warnings", "warnings of the analyses"),
    ("error", "why the patient failed"),
)
COLUMN_NAMES = tuple(name for name, _ in SUMMARY_COLUMNS)

# Plausibility ranges of 177Lu-DOTATATE absorbed dose per administered activity (Gy/GBq), from the project
# notes ../shared/reference/dosimetry.md §7.2 ("Literature ranges often quoted"): kidneys 0.5-0.9 planar,
# ~0.3-0.6 SPECT (hence 0.3-0.9); liver ~0.2-0.5; spleen ~0.5-1.3; bone marrow ~0.02-0.07; tumour 1-10+.
# Intravenous administration: none of the values is specific to intra-arterial injection (§7.2).
LITERATURE_GY_PER_GBQ: dict[str, tuple[float, float]] = {
    "kidney": (0.3, 0.9),
    "bone_marrow": (0.02, 0.07),
    "liver": (0.2, 0.5),
    "spleen": (0.5, 1.3),
    "lesion": (1.0, 10.0),
}
LITERATURE_SOURCE = ("dosimetry notes §7.2 (../shared/reference/dosimetry.md), typical published 177Lu-DOTATATE "
                     "values after IV administration; plausibility ranges, not limits")
# The liver columns are the healthy liver only: a whole-"Liver" VOI holds the metastases too (other method, other
# meaning), so it is not averaged in.
_CATEGORY_BY_ROLE = {"kidney": "kidney", "bone_marrow": "bone_marrow", "healthy_liver": "liver",
                     "spleen": "spleen", "lesion": "lesion"}


def empty_row(patient: str, line: int, analyses: Sequence[str]) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMN_NAMES)
    row.update({"patient": patient, "line": line, "analyses": "+".join(analyses)})
    return row


def ratio_values(analysis) -> dict[str, Any]:
    """Summary columns of a :class:`ragaliv.ratio.analysis.RatioAnalysis`."""
    summary = analysis.summary
    settings = summary.settings
    return {"lesion_count": summary.lesion_count, "lesion_ratio": summary.lesion_ratio, "metric": settings.metric,
            "aggregate": settings.aggregate, "threshold": settings.threshold, "eligible": summary.eligible}


def _side(region: str) -> Optional[str]:
    lowered = region.lower()
    for side in ("left", "right"):
        if side in lowered:
            return side
    return None


def _mean(values: Sequence[float]) -> Optional[float]:
    return sum(values) / len(values) if values else None


def dosimetry_values(result) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    """(summary columns, per-region doses for the plot and JSON, notes) of a :class:`StudyResult`.

    Several VOIs of one organ (two marrow samples) are averaged; a kidney VOI without 'left'/'right' in its
    name is listed in the regions and the notes, not in the kidney columns.
    """
    regions, notes = [], []
    for region in result.regions:
        if region.dose is None:
            notes.append(f"{region.region}: no dose ({'; '.join(region.flags[-1:])})")
            continue
        dose = region.dose.primary
        regions.append({
            "region": region.region, "role": region.role, "category": _CATEGORY_BY_ROLE.get(region.role),
            "method": region.dose.method_key, "dose_gy": dose.dose_gy, "dose_gy_per_gbq": dose.dose_gy_per_gbq,
            "bed_gy": None if region.dose.bed is None else region.dose.bed.bed_gy,
            "tia_mbq_h": None if region.fit is None else region.fit.tia_mbq_h,
            "tiac_h": region.tiac_h(result.administered_mbq),
        })
    values: dict[str, Any] = {"administered_mbq": result.administered_mbq}
    for item in regions:
        if item["role"] == "kidney":
            side = _side(item["region"])
            if side is None:
                notes.append(f"kidney VOI {item['region']!r} names no side: not in the kidney_left/right columns")
                continue
            if values.get(f"kidney_{side}_dose_gy") is not None:
                notes.append(f"several {side} kidney VOIs: the first is in the summary")
                continue
            values[f"kidney_{side}_dose_gy"] = item["dose_gy"]
            values[f"kidney_{side}_dose_gy_per_gbq"] = item["dose_gy_per_gbq"]
            values[f"kidney_{side}_bed_gy"] = item["bed_gy"]
    for category, prefix in (("bone_marrow", "bone_marrow"), ("liver", "liver"), ("spleen", "spleen")):
        chosen = [item for item in regions if item["category"] == category]
        values[f"{prefix}_dose_gy"] = _mean([item["dose_gy"] for item in chosen])
        values[f"{prefix}_dose_gy_per_gbq"] = _mean([item["dose_gy_per_gbq"] for item in chosen])
    lesions = [item for item in regions if item["category"] == "lesion"]
    if lesions:
        values["lesion_dose_max_gy"] = max(item["dose_gy"] for item in lesions)
        values["lesion_dose_mean_gy"] = _mean([item["dose_gy"] for item in lesions])
        values["lesion_dose_max_gy_per_gbq"] = max(item["dose_gy_per_gbq"] for item in lesions)
        values["lesion_dose_mean_gy_per_gbq"] = _mean([item["dose_gy_per_gbq"] for item in lesions])
    values.update(own_tia_values(regions))
    return values, regions, notes


def _group_members(regions: Sequence[dict[str, Any]], category: str, side: Optional[str]) -> list[dict[str, Any]]:
    if category == "kidney":  # the first VOI of the side, as in the dose columns
        chosen = [item for item in regions if item.get("role") == "kidney" and _side(item["region"]) == side]
        return chosen[:1]
    chosen = [item for item in regions if item.get("category") == category]
    if category == "lesion":
        return chosen
    return chosen if len(chosen) == 1 else []  # several samples of an organ: their TIAs neither add nor average


def _total(values: Sequence[Optional[float]]) -> Optional[float]:
    if not values or any(value is None for value in values):
        return None
    return float(sum(values))


def own_tia_values(regions: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The patient's own-fit TIA columns (:data:`TIA_GROUPS`) from its per-region list (worker side: stored in
    the row of ``done.json``, so a resumed patient gives the same bytes)."""
    values: dict[str, Any] = {}
    for prefix, category, side, _ in TIA_GROUPS:
        members = _group_members(regions, category, side)
        values[f"{prefix}_tia_mbq_h"] = _total([item.get("tia_mbq_h") for item in members])
        values[f"{prefix}_tiac_h"] = _total([item.get("tiac_h") for item in members])
    return values


def population_tia_values(regions: Sequence[dict[str, Any]], estimates: Optional[dict[str, dict[str, float]]]
                          ) -> dict[str, Any]:
    """The population TIA columns of one patient from its per-region list and its population estimates
    ({region: {"tia_mbq_h", "tiac_h"}}, population-method rows of ``population/tia.csv`` only)."""
    estimates = estimates or {}
    values: dict[str, Any] = {}
    for prefix, category, side, _ in TIA_GROUPS:
        found = [estimates.get(item["region"]) for item in _group_members(regions, category, side)]
        complete = bool(found) and all(item is not None for item in found)
        values[f"{prefix}_population_tia_mbq_h"] = _total([e["tia_mbq_h"] for e in found]) if complete else None
        values[f"{prefix}_population_tiac_h"] = _total([e["tiac_h"] for e in found]) if complete else None
    return values


def counts(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    return {"patients": len(rows), "done": sum(row["status"] == "done" for row in rows),
            "failed": sum(row["status"] != "done" for row in rows)}


def write_cohort_outputs(output: str, rows: Sequence[dict[str, Any]], regions: dict[str, list],
                         cohort_path: str, parameters: dict[str, Any], deidentified: bool,
                         population: Optional[dict[str, Any]] = None, population_files: Sequence[str] = ()
                         ) -> dict[str, str]:
    """cohort_summary.csv/.json, cohort_ratios.png, cohort_doses.png and provenance.json (last).

    ``population``: what the population step did (``cohort_summary.json`` "population"); ``population_files``:
    the files it published (hashed in the cohort provenance)."""
    paths = {"csv": os.path.join(output, "cohort_summary.csv"), "json": os.path.join(output, "cohort_summary.json")}
    write_csv(paths["csv"], COLUMN_NAMES, rows)
    document = {
        "counts": counts(rows),
        "columns": dict(SUMMARY_COLUMNS),
        "deidentified": deidentified,
        "literature_gy_per_gbq": {key: list(value) for key, value in LITERATURE_GY_PER_GBQ.items()},
        "literature_source": LITERATURE_SOURCE,
        "population": population,
        "patients": [dict(row, regions=regions.get(row["patient"], [])) for row in rows],
    }
    write_json(paths["json"], document)
    try:
        from .plots import plot_cohort_doses, plot_cohort_ratios
    except ImportError:  # matplotlib absent: tables only
        for name in ("cohort_ratios.png", "cohort_doses.png"):
            stale = os.path.join(output, name)
            if os.path.isfile(stale):
                os.remove(stale)
    else:
        paths["ratios_plot"] = os.path.join(output, "cohort_ratios.png")
        plot_cohort_ratios(rows, paths["ratios_plot"])
        paths["doses_plot"] = os.path.join(output, "cohort_doses.png")
        plot_cohort_doses(rows, regions, LITERATURE_GY_PER_GBQ, paths["doses_plot"])
    hashed = [*paths.values(), *population_files]
    paths["provenance"] = write_cohort_provenance(output, cohort_path, parameters, hashed, rows, deidentified)
    return paths


def write_cohort_provenance(output: str, cohort_path: str, parameters: dict[str, Any], outputs: Sequence[str],
                            rows: Sequence[dict[str, Any]], deidentified: bool) -> str:
    """``provenance.json`` of the cohort: software, time, COHORT.csv hash, parameters, output hashes, and the
    hash of every patient's ``done.json`` (which lists the hashes of that patient's result files)."""
    import datetime

    from ..report.provenance import describe_input, file_sha256, software_versions

    cohort = describe_input(cohort_path)
    if deidentified:  # the cohort file holds real IDs and paths: its hash only
        cohort["path"] = "<path withheld>"
    patients = {}
    for row in rows:
        marker = os.path.join(output, row["patient"], "done.json")
        patients[row["patient"]] = ({"status": "done", "done_json_sha256": file_sha256(marker)}
                                    if row["status"] == "done" and os.path.isfile(marker) else {"status": "failed"})
    document = {
        "software": software_versions(),
        "computed_at_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "inputs": {"cohort": cohort},
        "parameters": parameters,
        "outputs": {os.path.relpath(path, output).replace(os.sep, "/"): file_sha256(path) for path in outputs
                    if os.path.isfile(path)},
        "patients": patients,
    }
    path = os.path.join(output, "provenance.json")
    write_json(path, document)
    return path
