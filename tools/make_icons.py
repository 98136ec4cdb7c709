"""Draw the project's 128x128 icons (extension and the two modules). Run: python tools/make_icons.py"""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Ellipse, FancyBboxPatch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _canvas():
    figure = plt.figure(figsize=(1.28, 1.28), dpi=100)
    axes = figure.add_axes([0, 0, 1, 1])
    axes.set_xlim(0, 128)
    axes.set_ylim(0, 128)
    axes.axis("off")
    axes.add_patch(FancyBboxPatch((4, 4), 120, 120, boxstyle="round,pad=0,rounding_size=18",
                                  facecolor="#1d2b3a", edgecolor="none"))
    return figure, axes


def _liver(axes, hot=True):
    axes.add_patch(Ellipse((58, 66), 84, 58, angle=-12, facecolor="#b5654a", edgecolor="#e8c1a0", linewidth=2))
    axes.add_patch(Ellipse((92, 74), 40, 24, angle=18, facecolor="#b5654a", edgecolor="#e8c1a0", linewidth=2))
    if hot:
        for x, y, r, c in ((40, 70, 10, "#ffd21f"), (64, 56, 7, "#ff8c1a"), (84, 76, 5, "#ffea70")):
            axes.add_patch(Ellipse((x, y), 2 * r, 2 * r, facecolor=c, edgecolor="white", linewidth=1))


def _save(figure, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    figure.savefig(path, dpi=100, transparent=True)
    plt.close(figure)


def lesion_ratio_icon(path):
    figure, axes = _canvas()
    _liver(axes)
    axes.text(64, 18, "IA/IV", ha="center", va="center", color="white", fontsize=13, fontweight="bold")
    _save(figure, path)


def dosimetry_icon(path):
    figure, axes = _canvas()
    t = np.linspace(0, 1, 100)
    y = 24 + 80 * (np.exp(-2.2 * t) - np.exp(-25 * t)) / 0.78
    axes.plot(16 + 96 * t, y, color="#ffd21f", linewidth=3)
    for tx in (0.04, 0.15, 0.45, 0.95):
        ty = 24 + 80 * (np.exp(-2.2 * tx) - np.exp(-25 * tx)) / 0.78
        axes.plot(16 + 96 * tx, ty, "o", color="white", markersize=5)
    axes.fill_between(16 + 96 * t, 24, y, color="#ff8c1a", alpha=0.35)
    axes.text(64, 12, "Gy", ha="center", va="center", color="white", fontsize=12, fontweight="bold")
    _save(figure, path)


def extension_icon(path):
    figure, axes = _canvas()
    _liver(axes)
    t = np.linspace(0, 1, 60)
    axes.plot(20 + 88 * t, 26 + 30 * np.exp(-2.5 * t), color="white", linewidth=2.5)
    _save(figure, path)


if __name__ == "__main__":
    lesion_ratio_icon(os.path.join(ROOT, "RagalivLesionRatio", "Resources", "Icons", "RagalivLesionRatio.png"))
    dosimetry_icon(os.path.join(ROOT, "RagalivSpectDosimetry", "Resources", "Icons", "RagalivSpectDosimetry.png"))
    extension_icon(os.path.join(ROOT, "Ragaliv.png"))
