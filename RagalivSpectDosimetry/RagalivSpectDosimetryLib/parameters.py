"""RagalivSpectDosimetry settings in its parameter node (names of the module's ``@parameterNodeWrapper``
class; see :mod:`ragaliv_mrml.parameters` for the string forms)."""

from ragaliv_mrml.parameters import ParameterView, get_module_parameter_node

MODULE_NAME = "RagalivSpectDosimetry"

NODE_ROLES = ("segmentation", "timepointTable", "resultsTable", "tacTable", "tacChart", "doseMap")
DEFAULTS = {
    "administeredMbq": 0.0,  # required: 0 = not entered (build_study refuses it; no silent 7.4 GBq)
    "injectionTime": "",
    "referenceTimepoint": 0,
    "model": "auto",
    "modelOverrides": "",  # "Kidney left=biexp-uptake; Lesion 1=trapezoid"
    "recoveryCoefficients": "",  # "Lesion 5=0.62; Lesion 4=0.8"
    "calibrationUncertainty": 0.0,
    "register": False,
    "voxelDosimetry": True,
    "kernelDirectory": "",
    "acceptChecks": "",  # ids of refused checks the user accepts (as --accept), recorded in the export
    "populationFile": "",  # a saved population.json: its prior gives TIAs beside the study's own fits (issue 9)
}


def get_parameter_node(scene, create: bool = True):
    return get_module_parameter_node(scene, MODULE_NAME, create)


class SpectDosimetryParameters(ParameterView):
    DEFAULTS = DEFAULTS

    @property
    def segmentation(self):
        return self.get_node("segmentation")
