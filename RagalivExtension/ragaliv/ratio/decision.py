"""IA/IV uptake ratios per segment, tumour-to-liver ratios and the eligibility decision (GUIDE §4 "Ratios").

Rule (PET notes §2.5; Kratochwil 2010 reports a 3.75-fold mean increase): for each lesion, ER = metric_IA /
metric_IV; the patient's ratio is the mean (or median) of the lesion ratios; eligible for an
intra-arterial fifth cycle when it reaches the threshold. Metric, aggregate and threshold are settings,
and they are always printed next to the decision.

The decision is "NOT DETERMINED" (``eligible`` None, never ELIGIBLE / NOT eligible) while a consistency check of
the inputs fails (:mod:`ragaliv.checks.pair`: same series, other patient, weights that disagree ...; here: every
lesion ratio below 1, an isolated hot voxel as the lesion SUVmax) and the user has not confirmed it
(``RatioSettings.confirm_consistency``, or the check id in ``RatioSettings.accept``). Confirmations are recorded
in the summary.
"""

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

from ..checks.findings import UNDETERMINED, WARN, Finding, normalise_accept
from ..checks.lesions import avidity_findings
from ..checks.ranges import LESION_SUVMAX_WARN, SUVMAX_OVER_SUVPEAK_OUTLIER
from ..constants import (
    DEFAULT_RATIO_AGGREGATE,
    DEFAULT_RATIO_METRIC,
    DEFAULT_RATIO_THRESHOLD,
    EXPECTED_LESION_COUNT,
)
from ..errors import RagalivInputError
from ..roles import ORGANS_AT_RISK, role_of
from .uptake import UptakeStats

METRICS = ("suvmax", "suvmean", "suvpeak")
METRIC_TITLES = {"suvmax": "SUVmax", "suvmean": "SUVmean", "suvpeak": "SUVpeak"}
AGGREGATES = ("mean", "median")
NOT_DETERMINED = "NOT DETERMINED"


# Plausible eligibility thresholds on the IA/IV ratio: above 1 (at or below 1 a lesion no more avid on the IA scan
# than on the IV scan would count as "enhanced", i.e. every patient eligible) and at most 10 (the trial protocol uses
# 3; Kratochwil 2010 reports a 3.75-fold mean increase, PET notes §2.1/§2.5; a larger value is a slip, e.g. 30 for
# 3.0). Adversarial CLI test W9: --threshold inf, 1e9, 30 and 0.5 were accepted.
THRESHOLD_MIN_EXCLUSIVE = 1.0
THRESHOLD_MAX = 10.0


def check_threshold(value: object) -> float:
    """The eligibility threshold as a float, or RagalivInputError naming ``--threshold`` and the protocol value."""
    fix = (f"Use the trial protocol's threshold {DEFAULT_RATIO_THRESHOLD:g} (--threshold {DEFAULT_RATIO_THRESHOLD:g}, "
           "the default; 'Threshold' in the LesionRatio module)")
    try:
        threshold = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RagalivInputError(f"Eligibility threshold (--threshold) {value!r} is not a number.", fix) from None
    if not math.isfinite(threshold):
        raise RagalivInputError(f"Eligibility threshold (--threshold) must be a finite number, got {value!r}.", fix)
    if not threshold > THRESHOLD_MIN_EXCLUSIVE:
        raise RagalivInputError(
            f"Eligibility threshold (--threshold) {threshold:g} is at or below {THRESHOLD_MIN_EXCLUSIVE:g}: an IA/IV "
            "ratio threshold <= 1 makes every lesion with equal IA and IV uptake 'enhanced' (the trial protocol "
            f"uses {DEFAULT_RATIO_THRESHOLD:g}).", fix)
    if threshold > THRESHOLD_MAX:
        raise RagalivInputError(
            f"Eligibility threshold (--threshold) {threshold:g} is above {THRESHOLD_MAX:g}: implausible for an IA/IV "
            f"uptake ratio (trial protocol {DEFAULT_RATIO_THRESHOLD:g}; Kratochwil 2010 reports a 3.75-fold mean "
            "increase).", fix)
    return threshold


def threshold_warning(threshold: float) -> Optional[str]:
    """A threshold other than the protocol's is allowed (research use) but recorded with the decision."""
    if threshold == DEFAULT_RATIO_THRESHOLD:
        return None
    return (f"Eligibility threshold {threshold:g} (--threshold) differs from the trial protocol's "
            f"{DEFAULT_RATIO_THRESHOLD:g}: the decision is not the protocol's.")


@dataclass
class RatioSettings:
    """The decision rule, and which failed consistency checks the user has confirmed (``confirm_consistency``:
    all of them; ``accept``: check ids, see :data:`ragaliv.checks.findings.CHECKS`)."""

    metric: str = DEFAULT_RATIO_METRIC
    aggregate: str = DEFAULT_RATIO_AGGREGATE
    threshold: float = DEFAULT_RATIO_THRESHOLD
    confirm_consistency: bool = False
    accept: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.accept = normalise_accept(self.accept)
        if self.metric not in METRICS:
            raise RagalivInputError(
                f"Unknown ratio metric {self.metric!r}.", f"Use one of {', '.join(METRICS)} (--metric)."
            )
        if self.aggregate not in AGGREGATES:
            raise RagalivInputError(
                f"Unknown aggregate {self.aggregate!r}.", f"Use one of {', '.join(AGGREGATES)} (--aggregate)."
            )
        self.threshold = check_threshold(self.threshold)

    def rule_text(self) -> str:
        return (
            f"{self.aggregate} of lesion {METRIC_TITLES[self.metric]} ratios (IA/IV) "
            f">= {self.threshold:g}"
        )


@dataclass
class RatioRow:
    """One segment: its uptake in both PETs and the IA/IV ratio of each metric."""

    segment: str
    role: str
    volume_ml: float
    ia: UptakeStats
    iv: UptakeStats
    ratios: dict[str, Optional[float]]
    tumour_to_liver_ia: Optional[float] = None
    tumour_to_liver_iv: Optional[float] = None
    flags: list[str] = field(default_factory=list)

    def ratio(self, metric: str) -> Optional[float]:
        return self.ratios.get(metric)


@dataclass
class RatioSummary:
    settings: RatioSettings
    lesion_count: int
    lesion_ratios: dict[str, Optional[float]]
    lesion_ratio: Optional[float]
    eligible: Optional[bool]
    decision_text: str
    organs_ia_above_iv: list[str]
    warnings: list[str]
    # Failed consistency checks: {"check", "message", "hint", "status": "not confirmed" | "confirmed by the user",
    # "subject": what failed when a check can fail for several things ("Lesion 3 IA" for voxel-outlier; "" for the
    # IA/IV pair)}.
    consistency: list[dict[str, str]] = field(default_factory=list)

    @property
    def determined(self) -> bool:
        """A decision was made: ELIGIBLE or NOT eligible. Not while a consistency check is open, nor without any
        lesion ratio ("UNDETERMINED: no lesion has a valid IA/IV ratio")."""
        return self.eligible is not None

    def to_dict(self) -> dict[str, object]:
        return {
            "metric": self.settings.metric,
            "aggregate": self.settings.aggregate,
            "threshold": self.settings.threshold,
            "lesion_count": self.lesion_count,  # lesion segments
            # of them, those with a ratio (the decision's "n lesion(s)"; an empty or unmeasurable one is left out)
            "lesions_in_decision": sum(value is not None for value in self.lesion_ratios.values()),
            "lesion_ratio": self.lesion_ratio,
            "eligible": self.eligible,
            "decision": self.decision_text,
            "rule": self.settings.rule_text(),
            "lesion_ratios": dict(self.lesion_ratios),
            "organs_ia_above_iv": list(self.organs_ia_above_iv),
            "warnings": list(self.warnings),
            "decision_status": "determined" if self.determined else "not determined",
            "consistency": [dict(item) for item in self.consistency],
            "confirm_consistency": self.settings.confirm_consistency,
            "accepted_checks": list(self.settings.accept),
        }


def _ratio(ia: Optional[float], iv: Optional[float]) -> Optional[float]:
    if ia is None or iv is None or not iv > 0 or ia < 0:
        return None
    return ia / iv


def ratio_row(segment: str, ia: UptakeStats, iv: UptakeStats) -> RatioRow:
    """IA/IV ratio of each metric; a ratio is None only with a flag saying why."""
    row = RatioRow(
        segment=segment,
        role=role_of(segment),
        volume_ml=ia.volume_ml,
        ia=ia,
        iv=iv,
        ratios={metric: _ratio(ia.value(metric), iv.value(metric)) for metric in METRICS},
    )
    row.flags.extend(f"IA: {flag}" for flag in ia.flags)
    row.flags.extend(f"IV: {flag}" for flag in iv.flags)
    for metric in METRICS:
        ia_value, iv_value = ia.value(metric), iv.value(metric)
        if row.ratios[metric] is None and ia_value is not None and iv_value is not None:
            reason = f"IV value {iv_value:.3g} <= 0" if not iv_value > 0 else f"IA value {ia_value:.3g} < 0"
            row.flags.append(f"{METRIC_TITLES[metric]} ratio undefined ({reason})")
    return row


def _lesion_sort_key(row: RatioRow):
    match = re.search(r"(\d+)", row.segment)
    return (int(match.group(1)) if match else 10**6, row.segment)


def summarise(rows: Sequence[RatioRow], settings: RatioSettings, findings: Sequence[Finding] = ()) -> RatioSummary:
    """Lesion aggregate, decision, tumour-to-liver ratios (set on the rows) and organ-at-risk flags.

    ``findings``: results of the input checks (:func:`ragaliv.checks.pair.ratio_input_findings`); the
    ``undetermined`` ones (and those found here on the lesion values) make the decision NOT DETERMINED unless
    confirmed in ``settings``; ``warn`` ones are added to the warnings.
    """
    warnings: list[str] = [finding.message for finding in findings if finding.severity == WARN]
    not_protocol = threshold_warning(settings.threshold)
    if not_protocol is not None:
        warnings.append(not_protocol)
    lesions = sorted((row for row in rows if row.role == "lesion"), key=_lesion_sort_key)
    if len(lesions) != EXPECTED_LESION_COUNT:
        others = [row.segment for row in rows if row.role == "other"]
        warnings.append(
            f"{len(lesions)} lesion segment(s) found; the protocol expects {EXPECTED_LESION_COUNT} "
            "(segments named 'Lesion 1' ... 'Lesion 5')."
            + (f" Segments of no known role (named neither 'Lesion n' nor an organ): {', '.join(others)}."
               if others else "")
        )

    livers = [row for row in rows if row.role == "healthy_liver"]
    if len(livers) > 1:
        warnings.append("Several healthy-liver segments; tumour-to-liver ratios use the first one.")
    liver = livers[0] if livers else None
    if liver is None:
        warnings.append("No 'Healthy liver' segment: tumour-to-liver ratios are not computed.")
    metric = settings.metric
    for row in rows:
        if row.role in ("lesion", "extrahepatic") and liver is not None:
            row.tumour_to_liver_ia = _ratio(row.ia.value(metric), liver.ia.suvmean)
            row.tumour_to_liver_iv = _ratio(row.iv.value(metric), liver.iv.suvmean)

    lesion_ratios: dict[str, Optional[float]] = {}
    for row in lesions:
        lesion_ratios[row.segment] = row.ratio(metric)
        if row.ratio(metric) is None:
            reasons = "; ".join(row.flags) or "no value"
            warnings.append(f"{row.segment} has no {METRIC_TITLES[metric]} ratio and is left out ({reasons}).")
        elif row.flags:
            warnings.append(f"{row.segment}: {'; '.join(row.flags)}")
    valid = [value for value in lesion_ratios.values() if value is not None]
    if valid:
        aggregate = statistics.mean(valid) if settings.aggregate == "mean" else statistics.median(valid)
        eligible: Optional[bool] = aggregate >= settings.threshold
        verdict = "ELIGIBLE" if eligible else "NOT eligible"
        decision = (
            f"{verdict} for an intra-arterial 5th cycle: {settings.aggregate} {METRIC_TITLES[metric]} "
            f"IA/IV ratio of {len(valid)} lesion(s) = {aggregate:.2f} "
            f"({'>=' if eligible else '<'} threshold {settings.threshold:g})"
        )
    else:
        aggregate, eligible = None, None
        decision = "UNDETERMINED: no lesion has a valid IA/IV ratio"
        warnings.append(decision)

    organs = []
    for row in rows:
        if row.role in ORGANS_AT_RISK:
            value = row.ratio(metric)
            if value is not None and value > 1.0:
                row.flags.append(f"IA > IV ({METRIC_TITLES[metric]} ratio {value:.2f})")
                organs.append(row.segment)
    if organs:
        warnings.append(f"Organs at risk with higher uptake on IA than IV: {', '.join(organs)}.")

    failed = [finding for finding in findings if finding.severity == UNDETERMINED]
    failed.extend(_lesion_findings(lesions, lesion_ratios, settings, warnings))
    failed.extend(avidity_findings(lesions, liver))  # a lesion VOI not on an avid metastasis
    consistency = _consistency(failed, settings, warnings)
    open_items = [item for item in consistency if item["status"] == "not confirmed"]
    if open_items and eligible is not None:
        eligible = None
        decision = (f"{NOT_DETERMINED}: {' '.join(item['message'] for item in open_items)} Check the inputs; if they "
                    "are right, confirm them (--confirm-consistency) to decide.")
        warnings.insert(0, decision)

    return RatioSummary(
        settings=settings,
        lesion_count=len(lesions),
        lesion_ratios=lesion_ratios,
        lesion_ratio=aggregate,
        eligible=eligible,
        decision_text=decision,
        organs_ia_above_iv=organs,
        warnings=warnings,
        consistency=consistency,
    )


def _lesion_findings(lesions: Sequence[RatioRow], lesion_ratios: dict[str, Optional[float]], settings: RatioSettings,
                     warnings: list[str]) -> list[Finding]:
    """Consistency findings from the lesion values themselves; unusual SUVs become warnings."""
    findings = []
    valid = [value for value in lesion_ratios.values() if value is not None]
    if len(valid) >= 2 and all(value < 1.0 for value in valid):
        findings.append(Finding(
            "ratios-below-one", UNDETERMINED,
            f"Every lesion {METRIC_TITLES[settings.metric]} ratio is below 1 ({', '.join(f'{v:.2f}' for v in valid)}): "
            "IA raises lesion uptake in almost every liver metastasis (96 %, Kratochwil 2010), so IA and IV are "
            "probably swapped.", "Check --ia and --iv (swapped?)."))
    for row in lesions:
        for scan, stats in (("IA", row.ia), ("IV", row.iv)):
            if stats.suvmax is None:
                continue
            if stats.suvmax > LESION_SUVMAX_WARN:
                warnings.append(f"{row.segment}: {scan} SUVmax {stats.suvmax:.4g} is above {LESION_SUVMAX_WARN:g}, far "
                                "beyond reported 68Ga-SSTR lesion uptake (IV liver lesions average SUVmax 28.7): check "
                                "the image and the SUV parameters.")
            if stats.suvpeak and stats.suvmax > SUVMAX_OVER_SUVPEAK_OUTLIER * stats.suvpeak:
                factor = stats.suvmax / stats.suvpeak
                message = (f"{row.segment}: the {scan} SUVmax {stats.suvmax:.4g} is {factor:.3g} times its SUVpeak "
                           f"{stats.suvpeak:.4g}: an isolated hot voxel, not uptake (corrupt voxel?).")
                if settings.metric == "suvmax":
                    findings.append(Finding("voxel-outlier", UNDETERMINED, message,
                                            "Check the PET at that voxel, or use --metric suvpeak.",
                                            f"{row.segment} {scan}"))
                else:
                    warnings.append(message)
    return findings


def _consistency(failed: Sequence[Finding], settings: RatioSettings, warnings: list[str]) -> list[dict[str, str]]:
    """The failed consistency checks with their status; confirmed ones are also warnings that say so."""
    items = []
    for finding in failed:
        confirmed = settings.confirm_consistency or finding.check in settings.accept
        how = "--confirm-consistency" if settings.confirm_consistency else f"--accept {finding.check}"
        items.append({"check": finding.check, "message": finding.message, "hint": finding.hint,
                      "status": "confirmed by the user" if confirmed else "not confirmed", "subject": finding.subject})
        if confirmed:
            warnings.append(f"CONFIRMED BY THE USER ({how}): {finding.message}")
    return items
