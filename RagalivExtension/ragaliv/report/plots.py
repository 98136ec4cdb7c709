"""PNG plots for reports and the CLI (matplotlib, headless Agg backend; imported only when needed)."""

import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ..io.atomic import atomic_path
from ..ratio.decision import METRIC_TITLES


def plot_lesion_ratios(analysis, path: str) -> None:
    """Bar chart of lesion IA/IV ratios with the threshold and the patient aggregate."""
    summary = analysis.summary
    settings = summary.settings
    names = list(summary.lesion_ratios)
    values = [summary.lesion_ratios[name] for name in names]
    figure, axes = plt.subplots(figsize=(6.0, 3.6), dpi=110)
    colours = ["#c0392b" if value is not None and value >= settings.threshold else "#7f8c8d" for value in values]
    axes.bar(names, [math.nan if value is None else value for value in values], color=colours)
    for index, value in enumerate(values):
        if value is None:  # no bar of height 0 for an undefined ratio: say it
            axes.annotate("no ratio", (index, 0.0), ha="center", va="bottom", fontsize=7, rotation=90)
    axes.axhline(settings.threshold, color="black", linestyle="--", linewidth=1,
                 label=f"threshold {settings.threshold:g}")
    if summary.lesion_ratio is not None:
        axes.axhline(summary.lesion_ratio, color="#2980b9", linewidth=1.5,
                     label=f"{settings.aggregate} {summary.lesion_ratio:.2f}")
    axes.set_ylabel(f"IA/IV {METRIC_TITLES[settings.metric]}")
    axes.set_title("Lesion enhancement ratios")
    axes.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    save_figure(figure, path)


def plot_time_activity(curves: Sequence[dict], path: str, title: str = "Time-activity curves") -> None:
    """Measured points and fitted curve per region: ``curves`` items have region, time_h, activity_mbq,
    fit_time_h, fit_activity_mbq, model."""
    figure, axes = plt.subplots(figsize=(7.0, 4.2), dpi=110)
    for index, curve in enumerate(curves):
        colour = plt.cm.tab20(index % 20)
        axes.plot(curve["time_h"], curve["activity_mbq"], "o", color=colour)
        axes.plot(curve["fit_time_h"], curve["fit_activity_mbq"], "-", color=colour,
                  label=f"{curve['region']} ({curve['model']})")
    axes.set_xlabel("time after administration (h)")
    axes.set_ylabel("activity (MBq)")
    axes.set_yscale("log")
    axes.set_title(title)
    axes.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    save_figure(figure, path)


def save_figure(figure, path: str) -> None:
    """Write ``figure`` as PNG atomically (an interrupted run leaves no half-written image) and close it."""
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png")
    plt.close(figure)


def plot_population(fit, curves, path: str) -> None:
    """Individual points and curves (thin) and the typical population curve (thick) per region, activity per
    administered activity (needs matplotlib, imported here only)."""
    import numpy as np

    from ..kinetics.population_models import curve_mbq

    regions = list(fit.regions)
    columns = min(2, len(regions))
    rows = math.ceil(len(regions) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(6.0 * columns, 3.8 * rows), dpi=100, squeeze=False)
    by_key = {(curve.patient, curve.region): curve for curve in curves}
    for axis, name in zip(axes.ravel(), regions):
        region = fit.regions[name]
        model = region.population_model
        last = max(max(curve.time_h) for curve in curves if curve.region == name)
        grid = np.linspace(0.25, 1.2 * last, 300)
        for index, estimate in enumerate(region.patients):
            colour = plt.cm.tab20(index % 20)
            curve = by_key[(estimate.patient, name)]
            phi = np.array([estimate.parameters[key] for key in model.parameter_names])
            percent = 100.0 / curve.administered_mbq
            axis.plot(grid, curve_mbq(model, phi, grid, curve.administered_mbq) * percent, "-", color=colour,
                      linewidth=0.8)
            axis.plot(curve.time_h, [value * percent for value in curve.activity_mbq], "o", color=colour,
                      markersize=4, label=f"{estimate.patient} ({estimate.n_points} pt)")
        axis.plot(grid, curve_mbq(model, region.population_mean, grid, 1.0) * 100.0, "-", color="black",
                  linewidth=2.5, label="population (typical)")
        axis.set_yscale("log")
        axis.set_title(f"{name}: {region.model}, {region.n_patients} patients")
        axis.set_xlabel("time after administration (h)")
        axis.set_ylabel("activity (% of administered, not decay corrected)")
        axis.legend(fontsize=6, ncol=2)
    for axis in axes.ravel()[len(regions):]:
        axis.set_visible(False)
    figure.tight_layout()
    save_figure(figure, path)
    return True
