"""RagalivSpectDosimetry settings in its parameter node (names and string forms of the module's
``@parameterNodeWrapper``: numbers as ``str(value)``, booleans "True"/"False", node references under
the field name), so widget and Qt-free logic share one node that is saved with the scene."""

from typing import Optional

MODULE_NAME = "RagalivSpectDosimetry"

NODE_ROLES = ("segmentation", "timepointTable", "resultsTable", "tacTable", "tacChart", "doseMap")
DEFAULTS = {
    "administeredMbq": 7400.0,
    "injectionTime": "",
    "referenceTimepoint": 0,
    "model": "auto",
    "modelOverrides": "",  # "Kidney left=biexp-uptake; Lesion 1=trapezoid"
    "recoveryCoefficients": "",  # "Lesion 5=0.62; Lesion 4=0.8"
    "calibrationUncertainty": 0.0,
    "register": False,
    "voxelDosimetry": True,
    "kernelDirectory": "",
}


def get_parameter_node(scene, create: bool = True):
    """The module's singleton ``vtkMRMLScriptedModuleNode`` (as ScriptedLoadableModuleLogic makes it)."""
    node = scene.GetSingletonNode(MODULE_NAME, "vtkMRMLScriptedModuleNode")
    if node is None and create:
        node = scene.CreateNodeByClass("vtkMRMLScriptedModuleNode")
        node.UnRegister(None)
        node.SetSingletonTag(MODULE_NAME)
        node.SetName(scene.GenerateUniqueName(MODULE_NAME))
        node.SetAttribute("ModuleName", MODULE_NAME)
        node = scene.AddNode(node)
    return node


class SpectDosimetryParameters:
    """Typed access to the parameter node without the parameterNodeWrapper (which needs the app)."""

    def __init__(self, node):
        self.node = node

    def get_node(self, role: str):
        return self.node.GetNodeReference(role)

    def set_node(self, role: str, value) -> None:
        self.node.SetParameter(role, "")
        self.node.SetNodeReferenceID(role, value.GetID() if value is not None else None)

    def get(self, name: str):
        default = DEFAULTS[name]
        text: Optional[str] = self.node.GetParameter(name) if self.node.HasParameter(name) else None
        if text in (None, ""):
            return default
        if isinstance(default, bool):
            return text == "True"
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        return text

    def set(self, name: str, value) -> None:
        if name not in DEFAULTS:
            raise KeyError(name)
        if isinstance(DEFAULTS[name], bool):
            value = "True" if value else "False"
        self.node.SetParameter(name, str(value))

    @property
    def segmentation(self):
        return self.get_node("segmentation")
