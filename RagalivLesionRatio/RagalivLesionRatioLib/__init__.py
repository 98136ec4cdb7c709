"""RagalivLesionRatio logic without Qt: MRML scene in, table/chart nodes out (tested on slicer-core)."""

from .live import LiveRatioUpdater
from .logic import (
    LesionRatioLogic,
    LiveStatus,
    UpdateReport,
    accepted_checks,
    suv_normalization,
    suv_volume_unit,
    suv_warnings,
)
from .parameters import DEFAULTS, MODULE_NAME, LesionRatioParameters, get_parameter_node
from .pet_import import load_pet_node

__all__ = [
    "DEFAULTS",
    "MODULE_NAME",
    "LesionRatioLogic",
    "LesionRatioParameters",
    "LiveRatioUpdater",
    "LiveStatus",
    "UpdateReport",
    "accepted_checks",
    "get_parameter_node",
    "load_pet_node",
    "suv_normalization",
    "suv_volume_unit",
    "suv_warnings",
]
