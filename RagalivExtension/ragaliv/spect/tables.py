"""Column contracts and row builders shared by ``ragaliv tac`` and ``ragaliv dosimetry``.

The first columns of each table are a contract (scripts read them by name and position); later columns
may be added. Empty cells are explained in ``flags``.
"""

from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from ..kinetics import TacFit, tiac_h

TIA_COLUMNS = (
    "region", "model", "tia_mbq_h", "tiac_h", "tia_rel_uncertainty", "effective_half_life_h",
    "tia_sigma_mbq_h", "aicc", "akaike_weight", "n_points", "flags", "warnings", "method",
)
TAC_COLUMNS = (
    "region", "time_h", "activity_mbq", "mean_concentration_bq_per_ml", "volume_ml", "recovery_coefficient",
    "fraction_outside_fov",
)
DOSE_COLUMNS = (
    "region", "mass_g", "method", "dose_gy", "dose_gy_per_gbq", "dose_rel_uncertainty", "source",
    "led_dose_gy", "bed_gy", "voxel_mean_dose_gy", "voxel_d2_gy", "voxel_d50_gy", "voxel_d98_gy", "role",
    "density_g_per_ml", "mass_source", "tia_mbq_h", "method_description", "flags",
)
DVH_COLUMNS = ("region", "dose_gy", "volume_fraction", "volume_ml")
FLAG_SEPARATOR = "; "


def join(items: Sequence[str]) -> str:
    return FLAG_SEPARATOR.join(dict.fromkeys(item for item in items if item))


def tia_row(
    region: str, fit: Optional[TacFit], administered_mbq: float, extra_flags: Sequence[str] = ()
) -> dict[str, Any]:
    """One ``tia.csv`` row; without a fit the numbers are empty and ``flags`` says why."""
    if fit is None:
        return {"region": region, "flags": join(extra_flags)}
    return {
        "region": region,
        "model": fit.model,
        "tia_mbq_h": fit.tia_mbq_h,
        "tiac_h": tiac_h(fit.tia_mbq_h, administered_mbq),
        "tia_rel_uncertainty": fit.tia_rel_uncertainty,
        "effective_half_life_h": fit.effective_half_life_h,
        "tia_sigma_mbq_h": fit.tia_sigma_mbq_h,
        "aicc": fit.aicc,
        "akaike_weight": fit.akaike_weight,
        "n_points": fit.n_points,
        "flags": join([*extra_flags, *fit.flags]),
        "warnings": join(fit.warnings),
        "method": fit.method_description,
    }


def fit_details(fit: TacFit, administered_mbq: float) -> dict[str, Any]:
    """Everything about one fit for ``tac_fits.json`` / ``summary.json``."""
    document = fit.to_dict()
    document["tiac_h"] = tiac_h(fit.tia_mbq_h, administered_mbq)
    return document


def plot_curve(region: str, times_h: Sequence[float], activity_mbq: Sequence[Optional[float]],
               fit: Optional[TacFit]) -> dict[str, Any]:
    """A curve for :func:`ragaliv.report.plots.plot_time_activity` (measured points and the fitted curve)."""
    points = [(t, a) for t, a in zip(times_h, activity_mbq) if a is not None and a > 0]
    curve: dict[str, Any] = {
        "region": region,
        "time_h": [t for t, _ in points],
        "activity_mbq": [a for _, a in points],
        "fit_time_h": [],
        "fit_activity_mbq": [],
        "model": "no fit" if fit is None else fit.model,
    }
    if fit is not None and points:
        last = max(t for t, _ in points)
        grid = np.linspace(min(0.5, last / 100.0), 1.25 * last, 240)
        values = np.asarray(fit.activity_mbq(grid), dtype=float)
        keep = np.isfinite(values) & (values > 0)
        curve["fit_time_h"] = grid[keep].tolist()
        curve["fit_activity_mbq"] = values[keep].tolist()
    return curve


def dvh_rows(region: str, dose_gy: np.ndarray, volume_fraction: np.ndarray, volume_ml: float) -> list[dict[str, Any]]:
    return [
        {"region": region, "dose_gy": float(d), "volume_fraction": float(v), "volume_ml": float(v) * volume_ml}
        for d, v in zip(dose_gy, volume_fraction)
    ]
