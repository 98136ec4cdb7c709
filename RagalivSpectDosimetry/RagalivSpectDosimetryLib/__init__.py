"""RagalivSpectDosimetry logic without Qt: MRML scene in, result tables/plots/dose map out (tested on
slicer-core)."""

from .logic import PopulationPrior, RunCancelled, SpectDosimetryLogic, Timepoint, result_messages
from .parameters import DEFAULTS, MODULE_NAME, SpectDosimetryParameters, get_parameter_node

__all__ = ["DEFAULTS", "MODULE_NAME", "PopulationPrior", "RunCancelled", "SpectDosimetryLogic",
           "SpectDosimetryParameters", "Timepoint", "get_parameter_node", "result_messages"]
