"""The module's settings as stored in its parameter node (names of the module's ``@parameterNodeWrapper``
class; see :mod:`ragaliv_mrml.parameters` for the string forms)."""

from ragaliv_mrml.parameters import ParameterView, get_module_parameter_node

MODULE_NAME = "RagalivLesionRatio"

NODE_ROLES = ("mriVolume", "iaPetVolume", "ivPetVolume", "segmentation", "ratioTable", "ratioChart")
DEFAULTS = {
    "metric": "suvmax",
    "aggregate": "mean",
    "threshold": 3.0,
    "placementMode": "sphere",
    "lesionDiameterMm": 20.0,
    "contourPercent": 40.0,
    "contourRadiusMm": 25.0,
    "normalization": "bw",
    # "Inputs checked — decide anyway" (--confirm-consistency) and the checks accepted (--accept, comma/space
    # separated ids of ragaliv.checks.findings.CHECKS), both recorded in the exports.
    "confirmConsistency": False,
    "acceptChecks": "",
    # What each of those confirms: the failed checks shown and the IA/IV pair when it was given (JSON, written by
    # the Lib, RagalivLesionRatioLib.confirmation); not a panel control.
    "consistencyConfirmations": "",
}


def get_parameter_node(scene, create: bool = True):
    return get_module_parameter_node(scene, MODULE_NAME, create)


class LesionRatioParameters(ParameterView):
    DEFAULTS = DEFAULTS

    @property
    def mri(self):
        return self.get_node("mriVolume")

    @property
    def ia_pet(self):
        return self.get_node("iaPetVolume")

    @property
    def iv_pet(self):
        return self.get_node("ivPetVolume")

    @property
    def segmentation(self):
        return self.get_node("segmentation")
