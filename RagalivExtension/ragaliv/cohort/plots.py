"""Cohort plots (matplotlib, Agg): distribution of lesion ratios, and doses per GBq against literature ranges."""

from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from ..report.plots import save_figure

_CATEGORIES = (("kidney", "Kidneys"), ("bone_marrow", "Bone marrow"), ("liver", "Liver (healthy)"),
               ("spleen", "Spleen"), ("lesion", "Lesions"))
_ELIGIBLE, _NOT_ELIGIBLE, _NEUTRAL = "#c0392b", "#7f8c8d", "#2c3e50"


def plot_cohort_ratios(rows: Sequence[dict[str, Any]], path: str) -> None:
    """Histogram of the patients' aggregate lesion ratios, and the sorted ratios per patient, with the
    eligibility threshold(s)."""
    done = [row for row in rows if row.get("lesion_ratio") is not None]
    figure, (histogram, bars) = plt.subplots(1, 2, figsize=(10.0, 4.0), dpi=110,
                                             gridspec_kw={"width_ratios": [1, 1.6]})
    thresholds = sorted({float(row["threshold"]) for row in done if row.get("threshold") is not None})
    if not done:
        for axes in (histogram, bars):
            axes.text(0.5, 0.5, "no ratio results", ha="center", va="center", transform=axes.transAxes)
    else:
        values = [float(row["lesion_ratio"]) for row in done]
        histogram.hist(values, bins=max(5, min(20, len(values))), color=_NEUTRAL, alpha=0.8)
        histogram.set_xlabel("aggregate IA/IV lesion ratio")
        histogram.set_ylabel("patients")
        histogram.yaxis.set_major_locator(MaxNLocator(integer=True))
        ordered = sorted(done, key=lambda row: (float(row["lesion_ratio"]), row["patient"]))
        colours = [_ELIGIBLE if row.get("eligible") else _NOT_ELIGIBLE for row in ordered]
        positions = list(range(len(ordered)))
        bars.bar(positions, [float(row["lesion_ratio"]) for row in ordered], color=colours)
        if len(ordered) <= 40:
            bars.set_xticks(positions)
            bars.set_xticklabels([row["patient"] for row in ordered], rotation=60, ha="right", fontsize=7)
        else:
            bars.set_xticks([])
            bars.set_xlabel(f"{len(ordered)} patients, sorted")
        bars.set_ylabel("aggregate IA/IV lesion ratio")
        for threshold in thresholds:
            for axes in (histogram, bars):
                line = axes.axvline if axes is histogram else axes.axhline
                line(threshold, color="black", linestyle="--", linewidth=1)
        handles = [Line2D([], [], color="black", linestyle="--",
                          label="threshold " + ", ".join(f"{t:g}" for t in thresholds)),
                   Patch(color=_ELIGIBLE, label="eligible"), Patch(color=_NOT_ELIGIBLE, label="not eligible")]
        bars.legend(handles=handles, fontsize=8, loc="upper left")
    histogram.set_title("Distribution of lesion ratios")
    bars.set_title(f"Per patient ({len(done)} with a ratio)")
    figure.tight_layout()
    save_figure(figure, path)


def plot_cohort_doses(rows: Sequence[dict[str, Any]], regions: dict[str, list], ranges: dict[str, tuple],
                      path: str) -> None:
    """Absorbed dose per administered activity (Gy/GBq) of every VOI by organ, over the literature range."""
    figure, axes = plt.subplots(figsize=(8.0, 4.5), dpi=110)
    order = [row["patient"] for row in rows if row.get("status") == "done"]
    any_point = False
    for index, (category, _) in enumerate(_CATEGORIES):
        low, high = ranges[category]
        axes.fill_between([index - 0.4, index + 0.4], low, high, color="#27ae60", alpha=0.18, linewidth=0,
                          label="literature range (IV, dosimetry notes §7.2)" if index == 0 else None)
        points = [item["dose_gy_per_gbq"] for patient in order for item in regions.get(patient, [])
                  if item.get("category") == category and item.get("dose_gy_per_gbq")]
        if points:
            any_point = True
            count = len(points)
            offsets = [(-0.3 + 0.6 * k / (count - 1)) if count > 1 else 0.0 for k in range(count)]
            axes.plot([index + offset for offset in offsets], points, "o", color=_NEUTRAL, markersize=4,
                      label="patient VOIs" if not any(line.get_label() == "patient VOIs" for line in axes.lines)
                      else None)
    axes.set_xticks(range(len(_CATEGORIES)))
    axes.set_xticklabels([title for _, title in _CATEGORIES])
    axes.set_yscale("log")
    axes.set_ylabel("absorbed dose per activity (Gy/GBq)")
    axes.set_title("177Lu absorbed doses per GBq" + ("" if any_point else " (no dosimetry results)"))
    axes.legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    save_figure(figure, path)

