"""Plausibility of a 177Lu SPECT study and of its time-activity results, against physics.

* the administered activity is a 177Lu therapy activity (not GBq or kBq typed as MBq);
* a STUDY.json ``time``/``hours`` agrees with the header acquisition time of that SPECT;
* no SPECT holds more activity than was administered (decayed to its time), and no time point lost a factor
  (a missing RescaleSlope: 60x low) against the others;
* no VOI or region holds more than the decayed administered activity at any time;
* no TIAC exceeds the physical maximum 1/lambda of 177Lu (230 h: all the activity, forever).

:func:`check_study` runs before the analysis, :func:`check_result` after it and before anything is written, in
``ragaliv dosimetry``, the batch and (through the same functions) the SpectDosimetry module; ``ragaliv tac``
uses :func:`tac_findings` and :func:`tiac_finding` on its CSV. The analysis modules themselves are not touched.
"""

import math
from collections.abc import Iterable, Sequence
from typing import Any, Optional

import numpy as np

from ..constants import BQ_PER_MBQ, LU177_HALF_LIFE_H
from .findings import REFUSE, WARN, Finding, apply_findings
from .pet_values import range_finding
from .ranges import (
    ACTIVITY_MARGIN,
    LU177_ACTIVITY_MBQ,
    LU177_MEAN_LIFE_H,
    SPECT_FRACTION_DROP,
    SPECT_FRACTION_LOW_WARN,
    SPECT_FRACTION_REFUSE,
    SPECT_FRACTION_WARN,
    SPECT_TIME_TOLERANCE_H,
    SPECT_TIME_TOLERANCE_REL,
    STP_MIN_TIME_H,
    STP_WINDOW_H,
    TAC_LAST_TIME_MAX_H,
    TAC_LAST_TIME_MIN_H,
)

STUDY_FIX = "Set 'administered_mbq' in STUDY.json to the administered activity in MBq (7.4 GBq = 7400)"


def decayed(administered_mbq: float, time_h: float, half_life_h: float = LU177_HALF_LIFE_H) -> float:
    return administered_mbq * 2.0 ** (-time_h / half_life_h)


def administered_finding(administered_mbq: Optional[float], source: str, fix: str = STUDY_FIX) -> Optional[Finding]:
    """The administered 177Lu activity against :data:`~ragaliv.checks.ranges.LU177_ACTIVITY_MBQ`."""
    return range_finding(LU177_ACTIVITY_MBQ, administered_mbq, source, fix,
                         ((1e-3, "GBq typed as MBq"), (1e3, "kBq typed as MBq")))


def spect_time_finding(key: str, given_h: float, header_h: float, given_source: str, header_source: str,
                       reference: str = "injection") -> Optional[Finding]:
    """REFUSE when the time of a time point given in STUDY.json and the header's differ beyond max(0.5 h, 5 %)
    (both in hours after ``reference``)."""
    tolerance = max(SPECT_TIME_TOLERANCE_H, SPECT_TIME_TOLERANCE_REL * abs(header_h))
    if abs(given_h - header_h) <= tolerance:
        return None
    return Finding(
        "spect-time", REFUSE,
        f"STUDY.json: {key}: {given_source} gives {given_h:.4g} h after {reference} but the SPECT header "
        f"acquisition time gives {header_h:.4g} h ({header_source}); they differ by {abs(given_h - header_h):.3g} h "
        f"(more than {tolerance:.2g} h). Every TIA depends on these times.",
        f"Remove {key}.time/{key}.hours to use the header, or correct it (or 'injection_time'); if the STUDY.json "
        "value is right and the scanner clock wrong, add --accept spect-time.")


def fraction_findings(totals: Sequence[tuple[str, float, float]], administered_mbq: float,
                      half_life_h: float = LU177_HALF_LIFE_H) -> list[Finding]:
    """``totals``: (time point label, time_h, activity in the field of view, MBq). Refuse a time point holding
    more than 1.5x the decayed administered activity, or less than 1/20 of the study's largest fraction."""
    fractions = [(label, time_h, total / decayed(administered_mbq, time_h, half_life_h))
                 for label, time_h, total in totals if math.isfinite(total)]
    if not fractions:
        return []
    findings = []
    hint = ("Check the administered activity (MBq) and the calibration/units of that SPECT (RescaleSlope, "
            "Units); if they are right, add --accept spect-activity.")
    largest = max(fraction for _, _, fraction in fractions)
    for label, time_h, fraction in fractions:
        text = (f"the SPECT of {label} ({time_h:.4g} h) holds {fraction:.3g} times the administered activity "
                f"{administered_mbq:g} MBq decayed to that time")
        if fraction > SPECT_FRACTION_REFUSE:
            findings.append(Finding("spect-activity", REFUSE, f"{text[0].upper()}{text[1:]}: impossible.", hint))
        elif fraction > SPECT_FRACTION_WARN:
            findings.append(Finding("spect-activity", WARN, f"{text[0].upper()}{text[1:]}: more than was given "
                                    "(calibration?)."))
        elif largest > 0 and fraction < largest / SPECT_FRACTION_DROP:
            findings.append(Finding(
                "spect-activity", REFUSE,
                f"{text[0].upper()}{text[1:]}, {largest / max(fraction, 1e-300):.3g} times less than another time "
                "point of the study: a lost scale factor (RescaleSlope, units, calibration)?", hint))
    if 0 < largest < SPECT_FRACTION_LOW_WARN:
        findings.append(Finding(
            "spect-activity", WARN,
            f"The SPECTs hold at most {largest:.2%} of the administered activity {administered_mbq:g} MBq (decayed to "
            "their times): a calibration or unit 10-100x too low, or the administered activity too large?"))
    return findings


def study_totals(study: Any) -> list[tuple[str, float, float]]:
    """(label, time_h, MBq in the field of view) of each time point of a :class:`~ragaliv.spect.SpectStudy`."""
    totals = []
    for index, point in enumerate(study.timepoints):
        values = np.asarray(point.activity.array, dtype=np.float64)
        total = float(np.nansum(values)) * float(point.activity.geometry.voxel_volume_ml) / BQ_PER_MBQ
        totals.append((f"timepoints[{index}]", float(point.time_h), total))
    return totals


def tac_findings(region: str, times_h: Sequence[float], activity_mbq: Sequence[Optional[float]],
                 administered_mbq: float, half_life_h: float = LU177_HALF_LIFE_H, where: str = "") -> list[Finding]:
    """REFUSE when a point of a region holds more than the decayed administered activity (+10 %)."""
    worst = None
    for time_h, value in zip(times_h, activity_mbq):
        if value is None or not math.isfinite(value):
            continue
        ratio = value / decayed(administered_mbq, time_h, half_life_h)
        if ratio > 1.0 + ACTIVITY_MARGIN and (worst is None or ratio > worst[2]):
            worst = (time_h, value, ratio)
    if worst is None:
        return []
    time_h, value, ratio = worst
    return [Finding(
        "tac-activity", REFUSE,
        f"{where}{region}: {value:.4g} MBq at {time_h:g} h is {ratio:.3g} times the administered "
        f"{administered_mbq:g} MBq decayed to that time: a region cannot hold more than was given (administered "
        "activity in GBq, or the activity in kBq?).",
        "Give the administered activity and the activities in MBq; if they are right, add --accept tac-activity.")]


def tac_time_finding(region: str, times_h: Sequence[float], where: str = "") -> Optional[Finding]:
    """REFUSE a TAC of two or more points that ends before 20 h (times typed in days, not hours), or any TAC that
    ends after 1000 h (times typed in minutes). A lone early point is :func:`stp_time_findings`' case."""
    finite = [t for t in times_h if t is not None and math.isfinite(t)]
    if not finite:
        return None
    last = max(finite)
    if last > TAC_LAST_TIME_MAX_H:
        return Finding(
            "tac-time", REFUSE,
            f"{where}{region}: the last time point is at {last:g} h ({last / 24.0:.3g} days); a 177Lu "
            "time-activity curve ends within days (4, 24, 72, 168 h in the protocol): were the times typed in "
            f"minutes ({last:g} min = {last / 60.0:.3g} h)?",
            "Give time_h in hours after the administration (minutes / 60); if they are right, add --accept "
            "tac-time.")
    if len(finite) < 2 or last >= TAC_LAST_TIME_MIN_H:
        return None
    return Finding(
        "tac-time", REFUSE,
        f"{where}{region}: the last time point is at {last:g} h; a 177Lu time-activity curve reaches days "
        "(4, 24, 72, 168 h in the protocol): were the times typed in days?",
        "Give time_h in hours after the administration; if they are right, add --accept tac-time.")


# Effective half-lives spanning 177Lu-DOTATATE kidneys (~50-60 h) and tumours (~70-100 h), dosimetry notes §7.2:
# the range of the Hänscheid error quoted in the messages.
_STP_TEFF_RANGE_H = (50.0, 100.0)
STP_FIX = ("Add later time points (the protocol images at 4, 24, 72 and 168 h; a single scan belongs at 72-96 h "
           "after the administration); if the study has them, the VOI had no usable value there (outside their field "
           "of view?)")


def hanscheid_error(time_h: float, effective_half_life_h: float) -> float:
    """Relative error of the Hänscheid TIA A(t)·2t/ln2 for a mono-exponential with ``effective_half_life_h``: its
    TIA is A(t)·e^(λt)/λ, so the estimate is off by (2t/ln2)·λ·e^(-λt) - 1 (dosimetry notes §4.1)."""
    from ..kinetics.models import hanscheid_factor_h  # the estimator itself (kinetics imported only here)

    decay_per_h = math.log(2.0) / effective_half_life_h
    return hanscheid_factor_h(time_h) * decay_per_h * math.exp(-decay_per_h * time_h) - 1.0


def _regions_label(where: str, names: Sequence[str], everyone: int) -> str:
    if len(names) == 1:
        return f"{where}{names[0]}"
    plural = f"{where.rstrip()}s"
    if everyone > 2 and len(names) == everyone:
        return f"{plural} (all {everyone})"
    return f"{plural} {', '.join(names)}"


def stp_time_findings(points: Sequence[tuple[str, float]], where: str = "", everyone: int = 0,
                      fix: str = STP_FIX, typed_times: bool = True) -> list[Finding]:
    """Single-time-point TIAs: ``points`` holds (region, time of the point the Hänscheid estimate used, h).

    A point before :data:`~ragaliv.checks.ranges.STP_MIN_TIME_H` (48 h) gives TIAs far too low (4 h: 85-92 %):
    REFUSE (``stp-time``), also when a population prior gives such a VOI a better TIA beside it: the dose shown
    and exported is the study's own (review of the adversarial fixes: 0.47 Gy for 4.7 Gy with only a warning).
    A point from 48 h but outside 72-96 h: WARN. Regions sharing a time give one
    finding (``everyone``: how many regions the study has, to say "all"). ``typed_times``: the times were typed
    (a TACS.csv), so a point before 20 h may be days typed as hours; said in the message."""
    by_time: dict[float, list[str]] = {}
    for region, time_h in points:
        if time_h is None or not math.isfinite(time_h):
            continue
        by_time.setdefault(float(time_h), []).append(region)
    findings = []
    for time_h, names in sorted(by_time.items()):
        label = _regions_label(where, names, everyone)
        errors = [hanscheid_error(time_h, half_life) for half_life in _STP_TEFF_RANGE_H]
        low, high = sorted(errors)
        teff = f"T_eff {_STP_TEFF_RANGE_H[0]:g}-{_STP_TEFF_RANGE_H[1]:g} h (177Lu-DOTATATE kidneys, tumours)"
        if time_h >= STP_MIN_TIME_H:
            if STP_WINDOW_H[0] <= time_h <= STP_WINDOW_H[1]:
                continue
            findings.append(Finding(
                "stp-time", WARN,
                f"{label}: the TIA comes from a single time point at {time_h:g} h, outside the "
                f"{STP_WINDOW_H[0]:g}-{STP_WINDOW_H[1]:g} h where the Hänscheid estimate A(t)·2t/ln2 is validated "
                f"(it assumes T_eff = t = {time_h:g} h; with {teff} it is off by {low:+.0%} to {high:+.0%}): a time "
                f"point near {STP_WINDOW_H[0]:g}-"
                f"{STP_WINDOW_H[1]:g} h would make it sound."))
            continue
        days = (f" (a time before {TAC_LAST_TIME_MIN_H:g} h: were the times typed in days?)"
                if typed_times and time_h < TAC_LAST_TIME_MIN_H else "")
        text = (f"{label}: the TIA comes from a single time point at {time_h:g} h{days}. One point gives a TIA only "
                f"by the Hänscheid estimate A(t)·2t/ln2, which assumes T_eff = t = {time_h:g} h; with {teff} the "
                f"TIA and dose come out {-high:.0%}-{-low:.0%} too low. A lone point must be at "
                f"{STP_MIN_TIME_H:g} h or later (best {STP_WINDOW_H[0]:g}-{STP_WINDOW_H[1]:g} h; Hänscheid et al. "
                "J Nucl Med 2018;59:75).")
        findings.append(Finding("stp-time", REFUSE, text,
                                f"{fix}; if the time is right and this error acceptable, add --accept stp-time."))
    return findings


def fit_stp_points(fits: Iterable[Any]) -> list[tuple[str, float]]:
    """(region, time of the point used) of every fit that is a single-time-point (Hänscheid) estimate."""
    return [(fit.region, float(fit.parameters["time_h"])) for fit in fits
            if fit is not None and fit.model == "stp"]


def tiac_finding(region: str, tiac_h: Optional[float], where: str = "") -> Optional[Finding]:
    """TIAC (h) against 1/lambda of 177Lu (230 h): refused above +10 %, warned above 1/lambda."""
    if tiac_h is None or not math.isfinite(tiac_h) or tiac_h <= LU177_MEAN_LIFE_H:
        return None
    text = (f"{where}{region}: TIAC {tiac_h:.4g} h is above the physical maximum 1/lambda = {LU177_MEAN_LIFE_H:.4g} h "
            "of 177Lu (all the activity, forever)")
    if tiac_h > LU177_MEAN_LIFE_H * (1.0 + ACTIVITY_MARGIN):
        return Finding("tiac", REFUSE, f"{text}: impossible; the administered activity is too small (GBq typed as "
                       "MBq?) or the activities too large.",
                       "Check the administered activity (MBq) and the calibration; if they are right, add "
                       "--accept tiac.")
    return Finding("tiac", WARN, f"{text} (within the calibration margin): check the administered activity.")


def study_findings(study: Any) -> list[Finding]:
    """Checks of a loaded study before the analysis (administered activity, activity in each SPECT)."""
    findings = []
    finding = administered_finding(study.administered_mbq, getattr(study, "administered_source", "") or "administered")
    if finding is not None:
        findings.append(finding)
    # The times before the activities (both refused: the times' message comes first).
    time_finding = tac_time_finding("time points", [point.time_h for point in study.timepoints], "study ")
    if time_finding is not None:
        findings.append(time_finding)
    findings.extend(fraction_findings(study_totals(study), study.administered_mbq, study.half_life_h))
    return findings


def result_findings(result: Any, stp_fix: str = STP_FIX) -> list[Finding]:
    """Checks of a :class:`~ragaliv.spect.StudyResult` (single-time-point TIAs, VOI activities, TIACs) before it
    is written."""
    administered = result.administered_mbq
    half_life_h = float(result.settings.get("half_life_h", LU177_HALF_LIFE_H))
    findings = stp_time_findings(fit_stp_points(region.fit for region in result.regions), "VOI ",
                                 len(result.regions), stp_fix, typed_times=False)
    for region in result.regions:
        findings.extend(tac_findings(region.region, region.tac.time_h, region.tac.activity_mbq, administered,
                                     half_life_h, "VOI "))
        if region.fit is not None:
            finding = tiac_finding(region.region, region.fit.tia_mbq_h / administered, "VOI ")
            if finding is not None:
                findings.append(finding)
    return findings


def check_study(study: Any, accept: Iterable[str] = ()) -> list[str]:
    """Refuse (RagalivInputError) or add the warnings to ``study.warnings`` (they reach the result); returns them.
    The times are checked first: minutes or days make the activity checks blame the activities."""
    findings = study_findings(study)
    texts = apply_findings([f for f in findings if f.check == "tac-time"], accept, study.warnings)
    return texts + apply_findings([f for f in findings if f.check != "tac-time"], accept, study.warnings)


def check_result(result: Any, accept: Iterable[str] = (), stp_fix: str = STP_FIX) -> list[str]:
    """Refuse (RagalivInputError) or add the warnings to ``result.warnings``; records the accepted checks in
    ``result.settings["accepted_checks"]`` (summary.json). Returns the warnings added. ``stp_fix``: see
    :func:`stp_time_findings` (the SpectDosimetry module's own wording)."""
    accepted = list(dict.fromkeys(accept))
    texts = apply_findings(result_findings(result, stp_fix), accepted, result.warnings)
    result.settings["accepted_checks"] = accepted
    return texts


def fit_notes(result: Any) -> list[str]:
    """Fit-quality flags and fit warnings of every region, for the console (they are in the CSV as well); a
    message shared by several regions is printed once with their names."""
    regions_by_note: dict[str, list[str]] = {}
    for region in result.regions:
        if region.fit is None:
            continue
        for kind, texts in (("fit flag", region.fit.flags), ("fit note", region.fit.warnings)):
            for text in texts:
                regions_by_note.setdefault(f"{kind}: {text}", []).append(region.region)
    everyone = len(result.regions)
    return [f"{note} ({'all ' + str(everyone) + ' regions' if len(names) == everyone > 2 else ', '.join(names)})"
            for note, names in regions_by_note.items()]
