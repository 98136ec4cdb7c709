"""The SUV override flags of ``suv`` and ``ratio`` (``--weight-kg``, ``--ia-dose-mbq`` ...) and loading a PET
with them, so that every message names the flag the user typed.

Patient values (weight, height, sex, half-life) are shared by both scans of ``ratio``; dose, injection and
scan time are per scan (``--ia-...``, ``--iv-...``).
"""

import argparse
import datetime
from typing import Any, Optional

from ..errors import RagalivInputError
from ..io.user_time import parse_user_datetime

PATIENT_KEYS = ("weight_kg", "height_cm", "sex", "half_life_s")
SCAN_KEYS = ("dose_mbq", "injection_time", "scan_time")


def iso_datetime(text: str) -> datetime.datetime:
    """An ISO date-time with a time of day (:func:`ragaliv.io.user_time.parse_user_datetime`); argparse names
    the flag in the error."""
    try:
        return parse_user_datetime(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def ratio_threshold(text: str) -> float:
    """``--threshold``: :func:`ragaliv.ratio.decision.check_threshold` at parse time (nothing runs, nothing is
    written; ``review`` refuses before serving)."""
    from ..ratio.decision import check_threshold

    try:
        return check_threshold(text)
    except RagalivInputError as error:
        raise argparse.ArgumentTypeError(f"{error.message} {error.hint}") from None


def add_suv_flags(parser: argparse.ArgumentParser, prefix: str = "", scan: str = "") -> None:
    """Per-scan (``--ia-dose-mbq``) or plain (``--dose-mbq``) SUV overrides."""
    label = f" of the {scan} scan" if scan else ""
    group = parser.add_argument_group(f"SUV values{label} (override the DICOM header)")
    if not prefix or prefix == "ia-":
        # Patient values are shared by both scans.
        group.add_argument("--weight-kg", type=positive, help="patient weight (kg) (0010,1030)")
        group.add_argument("--height-cm", type=positive, help="patient height (cm) (0010,1020, in m)")
        group.add_argument("--sex", choices=("M", "F", "O"), help="patient sex (0010,0040)")
        group.add_argument("--half-life-s", type=positive, help="radionuclide half-life (s) (0018,1075)")
    group.add_argument(f"--{prefix}dose-mbq", type=positive,
                       help=f"injected activity{label} in MBq (0018,1074 holds Bq)")
    group.add_argument(f"--{prefix}injection-time", type=iso_datetime,
                       help=f"injection date-time{label}, ISO (0018,1078)")
    group.add_argument(f"--{prefix}scan-time", type=iso_datetime,
                       help=f"scan reference date-time{label}, ISO (0008,0021/0031)")


def add_accept_flag(parser: argparse.ArgumentParser) -> None:
    """``--accept CHECK`` (repeatable): run although the plausibility check CHECK refused a value."""
    parser.add_argument("--accept", action="append", default=[], metavar="CHECK",
                        help="accept a value a plausibility check refused (the id printed in the refusal, e.g. "
                        "weight, injected-activity, half-life); repeatable; recorded in the results")


def suv_values(args: argparse.Namespace, prefixes: tuple[str, ...] = ("",)) -> dict[str, Any]:
    """The flat SUV values of parsed arguments (``weight_kg``, ``ia_dose_mbq`` ...), None where not given."""
    keys = list(PATIENT_KEYS)
    for prefix in prefixes:
        keys += [prefix.replace("-", "_") + key for key in SCAN_KEYS]
    values = {key: getattr(args, key, None) for key in keys}
    values["accept"] = tuple(getattr(args, "accept", None) or ())
    return values


def overrides(values: dict[str, Any], prefix: str = ""):
    """:class:`ragaliv.pet.suv.SuvOverrides` of one scan from flat SUV values."""
    from ..pet.suv import SuvOverrides

    key = prefix.replace("-", "_")
    return SuvOverrides(
        weight_kg=values.get("weight_kg"),
        height_cm=values.get("height_cm"),
        sex=values.get("sex"),
        injected_dose_mbq=values.get(f"{key}dose_mbq"),
        injection_time=values.get(f"{key}injection_time"),
        scan_time=values.get(f"{key}scan_time"),
        half_life_s=values.get("half_life_s"),
        accept=tuple(values.get("accept") or ()),
    )


def load_pet(path: str, values: dict[str, Any], normalization: str, prefix: str = "", what: str = "PET"):
    """:func:`ragaliv.pet.suv.load_pet` with per-scan flag names in the messages (``--ia-dose-mbq`` rather
    than ``--dose-mbq``)."""
    from ..pet.suv import load_pet as load

    try:
        return load(path, overrides(values, prefix), normalization)
    except RagalivInputError as error:
        if not prefix:
            raise
        raise for_scan(error, prefix, what) from None


def for_scan(error: RagalivInputError, prefix: str, what: str) -> RagalivInputError:
    """``error`` of one scan's SUV, with that scan's flags (``--ia-dose-mbq``) and its name (``IA PET: ...``)."""
    message = f"{what}: {error.message}"
    hint: Optional[str] = error.hint or ""
    for flag in SCAN_KEYS:
        flag = flag.replace("_", "-")
        hint = hint.replace(f"--{flag}", f"--{prefix}{flag}")
        message = message.replace(f"--{flag}", f"--{prefix}{flag}")
    return RagalivInputError(message, hint or None)
