"""Result types of a time-activity fit, and the time-integrated activity coefficient."""

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

import numpy as np

from .models import EXPONENTIAL_MODELS, hanscheid_activity_mbq, trapezoid_activity_mbq
from .validation import KineticsInputError, check_positive_number


@dataclass
class TacCandidate:
    """One model tried during selection (or the one requested)."""

    model: str
    converged: bool
    aicc: Optional[float]
    akaike_weight: Optional[float]
    tia_mbq_h: Optional[float]
    acceptable: bool
    reason: str
    aic: Optional[float] = None


@dataclass
class TacFit:
    """Fitted (or integrated) time-activity curve of one region; activities not decay corrected.

    ``parameters`` hold amplitudes (``*_mbq``) and biological rates (``*_bio_per_h``; the exponent is
    ``lambda_phys + lambda_bio``) for exponential models, the partial areas for ``trapezoid`` and the
    point used for ``stp``. ``tia_sigma_mbq_h`` (and ``tia_rel_uncertainty``) is the half-width of the
    68.27 % coverage interval: the GUM standard uncertainty ``tia_standard_uncertainty_mbq_h`` times the
    coverage factor ``tia_coverage_factor`` = t_0.8413(``tia_uncertainty_dof``) when the noise scale was
    estimated from the residuals (1 when sigma was known; dof None = infinite).
    ``flags`` are fit-quality findings (a number they concern may be unreliable);
    ``warnings`` explain choices made for the user (fallbacks, assumptions). ``tia_sigma_mbq_h`` is None
    only when no uncertainty component is available (a flag says why).

    ``effective_half_life_h``: exponential models, ln2 / (lambda_phys + lambda1_bio) of the terminal
    (slowest) clearance component; trapezoid, the physical half-life assumed for the tail; stp, the
    Hänscheid assumption T_eff = t (the time of the point used).
    """

    region: str
    model: str
    parameters: dict[str, float]
    parameter_sigma: dict[str, float]
    correlation: Optional[list[list[float]]]
    tia_mbq_h: float
    tia_sigma_mbq_h: Optional[float]
    tia_rel_uncertainty: Optional[float]
    effective_half_life_h: float
    aicc: Optional[float]
    akaike_weight: Optional[float]
    n_points: int
    n_parameters: int
    flags: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    candidates: list[TacCandidate] = field(default_factory=list)
    method_description: str = ""
    time_h: list[float] = field(default_factory=list)
    measured_activity_mbq: list[float] = field(default_factory=list)
    sigma_mbq: Optional[list[float]] = None
    half_life_h: float = float("nan")
    calibration_rel_uncertainty: float = 0.0
    weighting: str = ""
    aic: Optional[float] = None
    selection_criterion: str = ""
    tia_standard_uncertainty_mbq_h: Optional[float] = None
    tia_coverage_factor: Optional[float] = None
    tia_uncertainty_dof: Optional[float] = None

    @property
    def lambda_phys_per_h(self) -> float:
        return math.log(2.0) / self.half_life_h

    def activity_mbq(self, time_h) -> np.ndarray:
        """The fitted curve (MBq, not decay corrected) at ``time_h`` (h), for plots.

        Exponential models: the fitted function; trapezoid: piecewise linear from (0, 0) plus the physical
        tail; stp: the mono-exponential with T_eff = t implied by the Hänscheid formula.
        """
        query = np.asarray(time_h, dtype=float)
        if self.model in EXPONENTIAL_MODELS:
            model = EXPONENTIAL_MODELS[self.model]
            params = np.array([self.parameters[name] for name in model.parameter_names])
            return np.where(query < 0.0, 0.0, model.evaluate(params, query, self.lambda_phys_per_h))
        if self.model == "trapezoid":
            return trapezoid_activity_mbq(
                query, np.array(self.time_h), np.array(self.measured_activity_mbq), self.lambda_phys_per_h
            )
        return hanscheid_activity_mbq(query, self.parameters["time_h"], self.parameters["activity_at_t_mbq"])

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dictionary."""
        return asdict(self)


def tiac_h(tia_mbq_h: float, administered_mbq: float) -> float:
    """Time-integrated activity coefficient (residence time, h) = TIA / administered activity."""
    administered = check_positive_number(administered_mbq, "administered_mbq")
    try:
        tia = float(tia_mbq_h)
    except (TypeError, ValueError):
        raise KineticsInputError(f"tia_mbq_h must be a number, got {tia_mbq_h!r}.") from None
    if not math.isfinite(tia) or tia < 0.0:
        raise KineticsInputError(f"tia_mbq_h must be a finite number >= 0, got {tia_mbq_h!r}.")
    return tia / administered
