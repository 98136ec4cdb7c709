"""The module's settings as stored in its parameter node.

Names and string forms are exactly those of the module's ``@parameterNodeWrapper`` class (numbers as
``str(value)``, strings as is, node references under the field name), so the widget and this Qt-free
logic read and write the same node, and the settings are saved with the scene.
"""

from typing import Optional

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


class LesionRatioParameters:
    """Typed access to the parameter node without the parameterNodeWrapper (which needs the app)."""

    def __init__(self, node):
        self.node = node

    # nodes
    def get_node(self, role: str):
        return self.node.GetNodeReference(role)

    def set_node(self, role: str, value) -> None:
        self.node.SetParameter(role, "")
        self.node.SetNodeReferenceID(role, value.GetID() if value is not None else None)

    # values
    def get(self, name: str):
        default = DEFAULTS[name]
        text: Optional[str] = self.node.GetParameter(name) if self.node.HasParameter(name) else None
        if text in (None, ""):
            return default
        return float(text) if isinstance(default, float) else text

    def set(self, name: str, value) -> None:
        if name not in DEFAULTS:
            raise KeyError(name)
        self.node.SetParameter(name, str(value))

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
