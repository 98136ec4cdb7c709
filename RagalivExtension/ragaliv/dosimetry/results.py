"""Absorbed-dose result record and GUM combination of relative uncertainties.

Uncertainty (dosimetry notes §5.1; EANM guidance, Gear et al. EJNMMI 2018;45:2456): D = TIA·S(m). For
self-dose S ∝ 1/m, so u(S)/S ≈ u(m)/m, and with TIA and mass independent the law of propagation of
uncertainty (GUM) gives u(D)/D = sqrt((u(TIA)/TIA)² + (u(m)/m)²).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import RagalivInputError


# --- input checks shared by the dose modules: a bad number becomes a RagalivInputError with a fix ---
def finite_float(value: Any, name: str, hint: str) -> float:
    """``value`` as a finite float, or RagalivInputError naming ``name``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RagalivInputError(f"{name} must be a number, got {value!r}.", hint) from None
    if not math.isfinite(number):
        raise RagalivInputError(f"{name} must be finite, got {number!r}.", hint)
    return number


def positive_float(value: Any, name: str, hint: str) -> float:
    number = finite_float(value, name, hint)
    if number <= 0.0:
        raise RagalivInputError(f"{name} must be > 0, got {number!r}.", hint)
    return number


def non_negative_float(value: Any, name: str, hint: str) -> float:
    number = finite_float(value, name, hint)
    if number < 0.0:
        raise RagalivInputError(f"{name} must be >= 0, got {number!r}.", hint)
    return number


UNCERTAINTY_METHOD = (
    "GUM quadrature of independent relative uncertainties (Gear et al. EJNMMI 2018): "
    "u(D)/D = sqrt(u(TIA)²/TIA² + u(m)²/m²) for self-dose (S ∝ 1/m)"
)


def combine_relative_uncertainties(*relative_uncertainties: float) -> float:
    """Quadrature sum sqrt(Σ u_i²) of independent relative (fractional, not %) uncertainties (GUM)."""
    total = 0.0
    for index, value in enumerate(relative_uncertainties):
        u = non_negative_float(
            value,
            f"relative uncertainty #{index + 1}",
            "Give fractional uncertainties (0.1 for 10 %), each >= 0; leave unknown terms out.",
        )
        total += u * u
    return math.sqrt(total)


def self_dose_relative_uncertainty(
    tia_rel_uncertainty: Optional[float], mass_rel_uncertainty: Optional[float] = None
) -> Optional[float]:
    """u(D)/D for a self-dose D ∝ TIA/m; None when the TIA uncertainty is unknown; mass term optional."""
    if tia_rel_uncertainty is None:
        return None
    terms = [tia_rel_uncertainty]
    if mass_rel_uncertainty is not None:
        terms.append(mass_rel_uncertainty)
    return combine_relative_uncertainties(*terms)


@dataclass
class DoseResult:
    """Mean absorbed dose of one region, with the method and data source that produced it."""

    region: str
    mass_g: Optional[float]
    method: str
    dose_gy: float
    dose_gy_per_gbq: Optional[float]
    dose_rel_uncertainty: Optional[float]
    source: str
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary (floats, strings, list)."""
        return {
            "region": self.region,
            "mass_g": None if self.mass_g is None else float(self.mass_g),
            "method": self.method,
            "dose_gy": float(self.dose_gy),
            "dose_gy_per_gbq": None if self.dose_gy_per_gbq is None else float(self.dose_gy_per_gbq),
            "dose_rel_uncertainty": (
                None if self.dose_rel_uncertainty is None else float(self.dose_rel_uncertainty)
            ),
            "source": self.source,
            "warnings": list(self.warnings),
        }


def make_dose_result(
    region: str,
    method: str,
    source: str,
    dose_gy: float,
    mass_g: Optional[float] = None,
    administered_activity_mbq: Optional[float] = None,
    tia_rel_uncertainty: Optional[float] = None,
    mass_rel_uncertainty: Optional[float] = None,
    warnings: Sequence[str] = (),
) -> DoseResult:
    """Build a :class:`DoseResult`; Gy/GBq when the administered activity is given, GUM uncertainty."""
    dose_gy = non_negative_float(dose_gy, f"dose of {region!r} (Gy)", "A dose is >= 0 Gy.")
    if mass_g is not None:
        mass_g = positive_float(mass_g, f"mass of {region!r} (g)", "Give the region mass in grams.")
    per_gbq = None
    if administered_activity_mbq is not None:
        activity_mbq = positive_float(
            administered_activity_mbq,
            "administered activity (MBq)",
            "Give the administered 177Lu activity in MBq (e.g. 7400).",
        )
        per_gbq = dose_gy / (activity_mbq / 1000.0)
    if tia_rel_uncertainty is not None:
        finite_float(tia_rel_uncertainty, "TIA relative uncertainty", "Give a fraction, e.g. 0.1.")
    uncertainty = self_dose_relative_uncertainty(tia_rel_uncertainty, mass_rel_uncertainty)
    return DoseResult(
        region=region,
        mass_g=mass_g,
        method=method,
        dose_gy=dose_gy,
        dose_gy_per_gbq=per_gbq,
        dose_rel_uncertainty=uncertainty,
        source=source,
        warnings=list(warnings),
    )
