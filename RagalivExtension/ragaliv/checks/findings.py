"""Findings of the plausibility and consistency checks, and what happens to them.

A check never prints and never decides alone: it returns :class:`Finding` objects. Three severities:

* ``refuse``: the value is impossible or almost certainly a slip (unit, factor 10, wrong file); the run stops
  with exit 2 (:class:`~ragaliv.errors.RagalivInputError`) naming the tag, the value, why, and how to fix or
  override it. ``accept`` (``--accept CHECK``, COHORT.csv column ``accept``, the module's field) turns a
  refusal into a loud warning that is recorded with the results.
* ``undetermined``: the IA/IV pair (or a lesion) is inconsistent; the numbers are written, the decision is
  "NOT DETERMINED" with the reason (never ELIGIBLE / NOT eligible) until the user confirms
  (``--confirm-consistency``, or ``--accept CHECK`` for one check).
* ``warn``: unusual but possible; the run goes on and the warning travels into summary.json, the report and
  the Slicer panel.

Every check has a stable id (:data:`CHECKS`), the word the user types after ``--accept``.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Optional

from ..errors import RagalivInputError

REFUSE = "refuse"
UNDETERMINED = "undetermined"
WARN = "warn"

# id -> what the check protects (shown by `--accept` errors and in the README table).
PLAUSIBILITY_CHECKS = {
    "weight": "patient weight (kg) in the adult range",
    "height": "patient height (cm) in the adult range",
    "bmi": "weight and height together (body-mass index)",
    "injected-activity": "injected PET activity (MBq) for the nuclide",
    "half-life": "header half-life agrees with the nuclide named by the header",
    "nuclide": "the PETs are 68Ga (the trial tracer)",
    "uptake-time": "time from injection to the PET scan",
    "pet-activity": "activity in the PET image against the injected activity (absurd voxels, wrong dose)",
    "administered-activity": "administered 177Lu activity (MBq) in the therapeutic range",
    "spect-time": "STUDY.json time/hours against the SPECT header acquisition time",
    "injection-time": "STUDY.json injection_time against the SPECT header RadiopharmaceuticalStartDateTime",
    "spect-activity": "activity in each SPECT against the decayed administered activity",
    "tac-activity": "VOI/region activity against the decayed administered activity",
    "tac-time": "TAC times in hours (a last point before 20 h means days, after 1000 h minutes)",
    "stp-time": "a TIA from a single time point (Hänscheid) only from a point at 48 h or later",
    "tiac": "time-integrated activity coefficient against its physical maximum (1/lambda of 177Lu)",
}
CONSISTENCY_CHECKS = {
    "patient": "IA and IV PET belong to one patient (PatientID)",
    "same-series": "IA and IV are two different series",
    "same-pixels": "IA and IV hold different pixel data",
    "weight-mismatch": "IA and IV weights agree",
    "height-mismatch": "IA and IV heights agree",
    "scan-order": "the two 68Ga scans do not overlap in time (no residual tracer of the first)",
    "role-hint": "series descriptions do not contradict the IA/IV role given",
    "ratios-below-one": "not every lesion ratio is below 1 (IA and IV swapped?)",
    "voxel-outlier": "the lesion SUVmax is not an isolated voxel",
    "segment-overlap": "each metastasis is in one lesion segment only (no two lesion segments share voxels)",
    "lesion-not-avid": "each lesion segment is above healthy liver on at least one PET (on the metastasis)",
}
CHECKS = {**PLAUSIBILITY_CHECKS, **CONSISTENCY_CHECKS}


@dataclass(frozen=True)
class Finding:
    """One result of a check. ``hint`` says how to fix it (and how to override it); ``subject`` what it is about
    when one check can fail for several things ("Lesion 3 IA" for a lesion's voxel in one scan, "IA" for one PET;
    "" for the IA/IV pair), so that a confirmation can name the very finding it was given for."""

    check: str
    severity: str
    message: str
    hint: str = ""
    subject: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"check": self.check, "severity": self.severity, "message": self.message, "hint": self.hint}


class RefusalError(RagalivInputError):
    """The refusal of :func:`apply_findings`; ``findings`` are the refused findings (a caller that binds an
    acceptance to the very value it was given for, such as the lesion-ratio module, reads them)."""

    def __init__(self, message: str, hint: Optional[str], findings: Sequence[Finding]):
        super().__init__(message, hint)
        self.findings = tuple(findings)

    def __reduce__(self):  # picklable (a batch worker's error crosses processes)
        return type(self), (self.message, self.hint, self.findings)


def accept_hint(check: str) -> str:
    return f"if the value is right, add --accept {check}"


def normalise_accept(values: Optional[Iterable[str]]) -> tuple[str, ...]:
    """Check ids from ``--accept`` (repeatable; commas and spaces also separate); unknown ids are refused."""
    ids: list[str] = []
    for value in values or ():
        for part in str(value).replace(",", " ").replace(";", " ").split():
            key = part.strip().lower()
            if key and key not in ids:
                ids.append(key)
    unknown = [key for key in ids if key not in CHECKS]
    if unknown:
        raise RagalivInputError(
            f"Unknown check(s) to accept: {', '.join(unknown)}.",
            f"Use the id printed in the refusal; known: {', '.join(sorted(CHECKS))}.",
        )
    return tuple(ids)


def accepted_warning(finding: Finding, how: str = "--accept") -> str:
    return f"ACCEPTED BY THE USER ({how} {finding.check}): {finding.message}"


def apply_findings(findings: Sequence[Finding], accept: Iterable[str] = (), warnings: Optional[list] = None,
                   what: str = "") -> list[str]:
    """Raise (:class:`RefusalError`) for refusals not accepted; return (and append to ``warnings``) the warning texts.

    Accepted refusals become warnings that say so. ``undetermined`` findings are left to the decision (they
    are not turned into warnings here). ``what`` prefixes the messages (e.g. "IA PET").
    """
    accepted = set(accept)
    prefix = f"{what}: " if what else ""
    texts: list[str] = []
    refusals = []
    for finding in findings:
        if finding.severity == REFUSE:
            if finding.check in accepted:
                texts.append(prefix + accepted_warning(finding))
            else:
                refusals.append(finding)
        elif finding.severity == WARN:
            texts.append(prefix + finding.message)
    if refusals:
        message = " ".join(prefix + finding.message for finding in refusals)
        hint = " ".join(dict.fromkeys(finding.hint for finding in refusals if finding.hint))
        raise RefusalError(message, hint or None, refusals)
    if warnings is not None:
        for text in texts:
            if text not in warnings:
                warnings.append(text)
    return texts
