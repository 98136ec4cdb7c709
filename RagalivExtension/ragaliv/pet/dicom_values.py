"""Reading DICOM values defensively: text, finite numbers and private elements by their creator."""

import math
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # pydicom only where a file is read: `ragaliv ratio` starts faster (issue 12)
    from pydicom.dataset import Dataset


def dicom_text(dataset: Optional["Dataset"], keyword: str) -> str:
    value = None if dataset is None else dataset.get(keyword)
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value).strip().strip("\x00").strip()


def dicom_number(dataset: Optional["Dataset"], keyword: str) -> Optional[float]:
    """A finite number from ``keyword``, or None when absent, empty or malformed."""
    value = None if dataset is None else dataset.get(keyword)
    return as_number(value)


def as_number(value: Any) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace").strip("\x00 ")
    if isinstance(value, str) and not value.strip():
        return None
    if not isinstance(value, str) and hasattr(value, "__len__"):
        if len(value) != 1:
            return None
        value = value[0]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def private_value(dataset: "Dataset", tag: tuple[int, int], creator: str) -> Any:
    """A private element by creator; the bare conventional slot is accepted when no creator is written.

    (The IBSI DROs write (0009,100D) and (7053,1000/1009) without their private creator element.)
    """
    group, element = tag
    offset = element & 0xFF
    for block in range(0x10, 0x100):
        creator_element = dataset.get((group, block))
        if creator_element is None:
            continue
        value = creator_element.value
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        if str(value).strip().strip("\x00") == creator:
            found = dataset.get((group, (block << 8) | offset))
            return None if found is None else found.value
    if (group, element >> 8) in dataset:  # the slot belongs to another creator
        return None
    found = dataset.get((group, element))
    return None if found is None else found.value

