"""What a confirmation of the IA/IV consistency checks, or an accepted refusal, stands for (third review of issue 10,
N1; fourth review, D1 and D4).

``ragaliv ratio --confirm-consistency`` (or ``--accept patient``) confirms the checks of one invocation: the user
read them, then ran the command again with the flag. In the panel the box ("Inputs checked — decide anyway") and
the "Accept checks" field live on in the parameter node, saved with the scene; a box ticked for one pair must not
decide for another pair, nor for a check that failed after it was ticked.

So each confirmation is bound to what it was given for:

* the failed consistency checks of the decision shown when it was given (:class:`Shown`), each named by its id
  and, for a check raised per lesion and scan (``voxel-outlier``), its subject ("voxel-outlier (Lesion 3 IA)",
  :func:`finding_key`): a hot voxel confirmed in Lesion 1 does not confirm one in a Lesion 3 drawn later, and
* the IA/IV pair: for each PET its node, its voxels (image MTime: a re-conversion or an edit makes new voxels), its
  PatientID and SeriesInstanceUID, its SUV normalisation and the SUV parameters it was converted with (SHA-256).

It is honoured while every failed finding it would confirm was failing when it was given and the pair is unchanged;
otherwise the box is un-ticked (the id removed from "Accept checks") and the decision is NOT DETERMINED again until
the user confirms what is shown now.

A plausibility id in "Accept checks" (weight, injected-activity, pet-activity, ...) accepts refusals, which stop a
PET's SUV conversion (:meth:`~RagalivLesionRatioLib.logic.LesionRatioLogic.load_pet`: weight, height, bmi,
injected-activity, half-life, nuclide, uptake-time) or the decision (the image checks of the update: pet-activity,
nuclide). It is bound to the latest refusal of its check that the Lib showed before it was added, by a
conversion or an update (each refused finding as a :func:`refusal`: the check, the role the PET was converted or
used as, its PatientID and SeriesInstanceUID, and the message, which names the value and where it came from), and
accepts those findings only. A refusal of that check for anything else (another value, another patient or series,
the other role) is refused as if the id were absent, and the id is removed with a note; adding it again, after
reading the refusal, accepts the new refusal and those it accepted before. An id added before any refusal of its
check was shown accepts nothing. A PET converted while its refusal was accepted
keeps that acceptance (its SUV parameters' warnings say so); the id only decides about later conversions and
updates. (``ragaliv review`` passes ``--accept`` with its inputs: bound to the refusals of the first update, as
``ragaliv ratio`` accepts those of its one invocation; the PETs are converted with the flags before.)

The bindings are kept in the parameter node (JSON). A scene loaded into the current one comes back with the box
un-ticked and the field empty (:meth:`Confirmations.withdraw`); one saved and reloaded otherwise (new voxels, new
MTimes) comes back unconfirmed.
"""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from ragaliv.checks.findings import CONSISTENCY_CHECKS, PLAUSIBILITY_CHECKS
from ragaliv.ratio.decision import RatioSettings
from ragaliv_mrml import nodes
from ragaliv_mrml.panel_text import ACCEPT_FIELD, CONFIRM_BOX

PARAMETER = "consistencyConfirmations"  # the bindings, JSON, in the module's parameter node
ROLES = ("IA", "IV")


def pet_identity(node) -> dict[str, object]:
    """What a confirmation is bound to for one PET node (see the module docstring)."""
    from .logic import suv_normalization  # (logic imports this module)

    image = node.GetImageData()
    suv_parameters = node.GetAttribute("Ragaliv.SuvParameters") or ""
    return {"node": node.GetID(), "voxels_mtime": int(image.GetMTime()) if image is not None else 0,
            "patient_id": nodes.dicom_identity(node)[0], "series_instance_uid": nodes.dicom_series_uid(node),
            "normalization": suv_normalization(node) or "",
            "suv_parameters_sha256": hashlib.sha256(suv_parameters.encode("utf-8")).hexdigest()}


def pair_identity(ia_node, iv_node) -> dict[str, dict[str, object]]:
    return {"IA": pet_identity(ia_node), "IV": pet_identity(iv_node)}


def finding_key(item: dict) -> str:
    """What a confirmation names of a failed consistency check (an item of ``summary.consistency``): its id, and
    its subject when the check fails per lesion and scan ("voxel-outlier (Lesion 3 IA)"); a pair check is its id."""
    subject = item.get("subject") or ""
    return f"{item['check']} ({subject})" if subject else item["check"]


def key_check(key: str) -> str:
    """The check id of a :func:`finding_key` (ids have no spaces)."""
    return key.split(" ", 1)[0]


def refusal(check: str, role: str, patient_id: str, series_instance_uid: str, message: str) -> dict[str, str]:
    """What a plausibility id accepts of one refused finding: the check, the role of the PET ("IA"/"IV"), its
    PatientID and SeriesInstanceUID, and the message (the value and its source)."""
    return {"check": check, "pet": role, "patient_id": patient_id or "",
            "series_instance_uid": series_instance_uid or "", "message": message}


def _pets_named(refusals: Sequence[dict]) -> str:
    """The PETs of ``refusals`` in the panel's words: "the IA PET (PatientID 'A', series 1.2.3)"."""
    names = dict.fromkeys(f"the {item['pet']} PET (PatientID {item['patient_id'] or '(none)'!r}, series "
                          f"{item['series_instance_uid'] or '(none)'})" for item in refusals)
    return " and ".join(names)


@dataclass(frozen=True)
class Shown:
    """A computed decision: the pair it was computed for and its failed consistency checks (confirmed or not), as
    :func:`finding_key` keys."""

    pets: dict
    failed: tuple[str, ...]


def _changes(before: dict, after: dict) -> str:
    """How a PET differs from when the confirmation was given, in the panel's words."""
    if before.get("node") != after.get("node"):
        return "another volume was selected"
    if before.get("patient_id") != after.get("patient_id"):
        return f"its PatientID is now {after.get('patient_id') or '(none)'!r}"
    if before.get("series_instance_uid") != after.get("series_instance_uid"):
        return "it is another series"
    if (before.get("suv_parameters_sha256"), before.get("normalization")) != \
            (after.get("suv_parameters_sha256"), after.get("normalization")):
        return "it was re-converted with other SUV parameters"
    return "it was re-converted or its voxels changed"


def binding_problem(binding: dict, pets: dict, failed: list[str]) -> Optional[str]:
    """Why ``binding`` does not cover the current pair and failed checks (:func:`finding_key` keys of those it would
    confirm), or None."""
    bound = binding.get("pets") or {}
    if not bound:
        return "it was given while no decision was shown for these inputs; tick it (add the id) again after reading " \
               "the checks"
    changed = [f"the {role} PET ({_changes(bound.get(role) or {}, pets[role])})" for role in ROLES
               if bound.get(role) != pets[role]]
    if changed:
        return f"{' and '.join(changed)} since it was confirmed"
    new = [check for check in failed if check not in (binding.get("checks") or [])]
    if new:
        return f"{', '.join(new)} failed since it was confirmed"
    return None


class Confirmations:
    """The bindings of the box and of the ids in "Accept checks", read from and written to the parameter node
    (``parameters``: a :class:`~RagalivLesionRatioLib.parameters.LesionRatioParameters`)."""

    def __init__(self, parameters):
        self.parameters = parameters
        try:
            record = json.loads(parameters.get(PARAMETER) or "{}")
        except ValueError:
            record = {}
        self.record = record if isinstance(record, dict) else {}
        accept = self.record.get("accept")
        self.record["accept"] = {check: binding for check, binding in accept.items() if isinstance(binding, dict)} \
            if isinstance(accept, dict) else {}
        self.changed = False

    def save(self) -> None:
        if self.changed:
            record = {key: value for key, value in self.record.items() if value}
            self.parameters.set(PARAMETER, json.dumps(record, sort_keys=True) if record else "")

    def apply(self, settings: RatioSettings, pets: dict, failed: list[str],
              given_for: Optional[Shown]) -> tuple[RatioSettings, list[str]]:
        """The settings to decide with, and what was withdrawn and why (for the panel).

        A confirmation without a binding yet was given since the last computation: it is bound to ``given_for``
        (the decision shown when it was given; None when none was shown). One that does not cover ``pets`` and
        ``failed`` any more is withdrawn from the parameters (the box un-ticked, the id removed)."""
        notes = []
        confirm = bool(settings.confirm_consistency)
        box = self.record.get("box")
        if confirm:
            if not box:
                box = self._binding(given_for, list(given_for.failed) if given_for else [])
                self.record["box"] = box
                self.changed = True
            problem = binding_problem(box, pets, failed)
            if problem:
                notes.append(f"{CONFIRM_BOX} was un-ticked: {problem}.")
                self.parameters.set("confirmConsistency", False)
                self.record.pop("box", None)
                self.changed, confirm = True, False
        elif box:
            self.record.pop("box", None)
            self.changed = True

        bindings = self.record["accept"]
        for check in [check for check in bindings if check not in settings.accept]:
            del bindings[check]
            self.changed = True
        kept = []
        for check in settings.accept:
            if check not in CONSISTENCY_CHECKS:
                kept.append(check)
                continue
            if check not in bindings:
                bindings[check] = self._binding(
                    given_for, [key for key in (given_for.failed if given_for else ()) if key_check(key) == check])
                self.changed = True
            problem = binding_problem(bindings[check], pets, [key for key in failed if key_check(key) == check])
            if problem:
                notes.append(f"{check} was removed from {ACCEPT_FIELD}: {problem}.")
                del bindings[check]
                self.changed = True
            else:
                kept.append(check)
        if kept != list(settings.accept):
            self.parameters.set("acceptChecks", ", ".join(kept))
        self.save()
        return RatioSettings(settings.metric, settings.aggregate, settings.threshold, confirm, tuple(kept)), notes

    def bind_refusals(self, accept: Sequence[str], shown: dict[str, list[dict]]) -> None:
        """Bind each plausibility id of ``accept`` (the field) that has no binding yet to the refusals of its check in
        ``shown`` (:func:`refusal` dicts by check id: those the Lib showed); drop the bindings of the plausibility ids
        no longer in the field."""
        bindings = self.record["accept"]
        for check in [check for check in bindings if check in PLAUSIBILITY_CHECKS and check not in accept]:
            del bindings[check]
            self.changed = True
        for check in accept:
            if check in PLAUSIBILITY_CHECKS and check not in bindings:
                bindings[check] = {"refusals": [dict(item) for item in shown.get(check, [])]}
                self.changed = True

    def screen(self, refusals: Sequence[dict], accept: Sequence[str],
               shown: dict[str, list[dict]]) -> tuple[list[dict], list[str]]:
        """The ``refusals`` (:func:`refusal` dicts) the plausibility ids of ``accept`` were given for, and notes on
        the ids removed from the field.

        The refusals not covered are the refusal the user sees now: for each of their checks they replace that
        check's refusals in ``shown`` (an id added next is given for this refusal, not for one read earlier). An id
        with a refusal of its check it does not cover is removed from "Accept checks"; the refusals it was given for
        join the new ones in ``shown``, so that adding it again accepts both (re-converting both PETs cannot ask for
        it in turn for each)."""
        bindings = self.record["accept"]
        covered, notes, refused, withdrawn = [], [], {}, []
        for item in refusals:
            binding = bindings.get(item["check"]) if item["check"] in accept else None
            if binding is not None and item in (binding.get("refusals") or []):
                covered.append(item)
                continue
            if item not in refused.setdefault(item["check"], []):
                refused[item["check"]].append(dict(item))
            if binding is not None and item["check"] not in withdrawn:
                withdrawn.append(item["check"])
        for check, items in refused.items():
            given = (bindings.pop(check).get("refusals") or []) if check in withdrawn else []
            shown[check] = [dict(item) for item in given if item not in items] + items
            if check not in withdrawn:
                continue
            if given:
                notes.append(f"{check} was removed from {ACCEPT_FIELD}: it was given for the refusal of "
                             f"{_pets_named(given)} only, not for this one of {_pets_named(items)} (another PET, role "
                             f"or value). If that value is right too, add {check} again.")
            else:
                notes.append(f"{check} was removed from {ACCEPT_FIELD}: it was added before any refusal of it was "
                             f"shown, so it accepts none; {_pets_named(items)} is refused now. If that value is "
                             f"right, add {check} again.")
            self.changed = True
        if withdrawn:
            self.parameters.set("acceptChecks", ", ".join(check for check in accept if check not in withdrawn))
        return covered, notes

    def withdraw(self) -> bool:
        """Un-tick the box and empty "Accept checks" (a scene was loaded into this one: its confirmations were given
        elsewhere); True when anything was withdrawn."""
        withdrawn = False
        if self.parameters.get("confirmConsistency"):
            self.parameters.set("confirmConsistency", False)
            withdrawn = True
        if self.parameters.get("acceptChecks"):
            self.parameters.set("acceptChecks", "")
            withdrawn = True
        if self.parameters.get(PARAMETER):
            self.parameters.set(PARAMETER, "")
        return withdrawn

    @staticmethod
    def _binding(given_for: Optional[Shown], checks: list[str]) -> dict:
        return {"pets": dict(given_for.pets) if given_for else {}, "checks": sorted(checks)}

