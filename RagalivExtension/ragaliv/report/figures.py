"""Report figures as PNG bytes, drawn from the result documents (``summary.json`` content).

Drawing from the documents, not from live objects, makes the report from the module logic and the one
rebuilt from result folders (``ragaliv report``) identical. matplotlib is optional (it is not part of
Slicer): without it these functions return None and the report says the figure is missing.
"""

import os
import tempfile
from dataclasses import fields
from types import SimpleNamespace
from typing import Any, Callable, Optional

MISSING_MATPLOTLIB = "figure not drawn: matplotlib is not installed (pip install matplotlib)"


def _png(draw: Callable[[str], None]) -> bytes:
    with tempfile.TemporaryDirectory(prefix="ragaliv-figure-") as directory:
        path = os.path.join(directory, "figure.png")
        draw(path)
        with open(path, "rb") as stream:
            return stream.read()


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def lesion_ratio_chart(ratio_document: dict[str, Any]) -> Optional[bytes]:
    """The lesion IA/IV bar chart of ``ragaliv ratio --plot`` (threshold and aggregate drawn)."""
    if not matplotlib_available() or not ratio_document.get("lesion_ratios"):
        return None
    from ..ratio.decision import RatioSettings
    from .plots import plot_lesion_ratios

    settings = RatioSettings(ratio_document["metric"], ratio_document["aggregate"], ratio_document["threshold"])
    summary = SimpleNamespace(settings=settings, lesion_ratios=dict(ratio_document["lesion_ratios"]),
                              lesion_ratio=ratio_document.get("lesion_ratio"))
    return _png(lambda path: plot_lesion_ratios(SimpleNamespace(summary=summary), path))


def tac_fit(fit_document: Optional[dict[str, Any]]):
    """A :class:`~ragaliv.kinetics.TacFit` rebuilt from its ``summary.json`` entry (for drawing the curve)."""
    if not fit_document:
        return None
    from ..kinetics import TacFit

    names = {item.name for item in fields(TacFit)}
    values = {key: value for key, value in fit_document.items() if key in names and key != "candidates"}
    try:
        fit = TacFit(**values)
        fit.activity_mbq([1.0])  # a document from another version may lack what the curve needs
    except (TypeError, KeyError, ValueError, ZeroDivisionError):
        return None
    return fit


def _curves(dosimetry_document: dict[str, Any]) -> list[dict[str, Any]]:
    from ..spect.tables import plot_curve

    curves = []
    for name, region in dosimetry_document.get("regions", {}).items():
        tac = region.get("tac") or {}
        curve = plot_curve(name, tac.get("time_h", []), tac.get("activity_mbq", []), tac_fit(region.get("fit")))
        fit = region.get("fit") or {}
        curve["effective_half_life_h"] = fit.get("effective_half_life_h")
        curves.append(curve)
    return curves


def tac_overview(dosimetry_document: dict[str, Any]) -> Optional[bytes]:
    """All VOI time-activity curves on one log axis (the ``tac.png`` of ``ragaliv dosimetry``)."""
    if not matplotlib_available() or not dosimetry_document.get("regions"):
        return None
    from .plots import plot_time_activity

    curves = _curves(dosimetry_document)
    return _png(lambda path: plot_time_activity(curves, path, "VOI time-activity curves (not decay corrected)"))


def tac_panels(dosimetry_document: dict[str, Any], columns: int = 4) -> Optional[bytes]:
    """One small panel per VOI: measured activity (points) and the selected fit (line), linear axes."""
    if not matplotlib_available() or not dosimetry_document.get("regions"):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io.atomic import atomic_path

    curves = _curves(dosimetry_document)
    rows = (len(curves) + columns - 1) // columns

    def draw(path: str) -> None:
        figure, axes = plt.subplots(rows, columns, figsize=(7.6, 1.9 * rows), dpi=110, squeeze=False)
        for index, axis in enumerate(axes.ravel()):
            if index >= len(curves):
                axis.set_visible(False)
                continue
            curve = curves[index]
            colour = f"C{index % 10}"
            axis.plot(curve["fit_time_h"], curve["fit_activity_mbq"], "-", color=colour, linewidth=1.2)
            axis.plot(curve["time_h"], curve["activity_mbq"], "o", color="black", markersize=3)
            half_life = curve.get("effective_half_life_h")
            suffix = "" if half_life is None else f", T_eff {half_life:.3g} h"
            axis.set_title(f"{curve['region']}\n{curve['model']}{suffix}", fontsize=7, linespacing=1.1)
            axis.tick_params(labelsize=6)
            axis.set_ylim(bottom=0)
            axis.set_xlim(left=0)
            if index % columns == 0:
                axis.set_ylabel("MBq", fontsize=7)
            if index >= len(curves) - columns:
                axis.set_xlabel("h after injection", fontsize=7)
        figure.tight_layout(pad=0.4, h_pad=0.6, w_pad=0.4)
        with atomic_path(path) as temporary:
            figure.savefig(temporary, format="png")
        plt.close(figure)

    return _png(draw)
