"""A module's parameter node, read and written the way Slicer's ``@parameterNodeWrapper`` serialises it.

Numbers are stored as ``str(value)``, booleans as "True"/"False", strings as they are, and nodes as node
references under the field name. The module widget (through the wrapper, which needs the application) and
the Qt-free Libs (through :class:`ParameterView`) therefore share one node that is saved with the scene.
"""

from typing import Any, Optional


def get_module_parameter_node(scene, module_name: str, create: bool = True):
    """The module's singleton ``vtkMRMLScriptedModuleNode``, made as ScriptedLoadableModuleLogic makes it."""
    node = scene.GetSingletonNode(module_name, "vtkMRMLScriptedModuleNode")
    if node is None and create:
        node = scene.CreateNodeByClass("vtkMRMLScriptedModuleNode")
        node.UnRegister(None)
        node.SetSingletonTag(module_name)
        node.SetName(scene.GenerateUniqueName(module_name))
        node.SetAttribute("ModuleName", module_name)
        node = scene.AddNode(node)
    return node


class ParameterView:
    """Typed access to a parameter node; subclasses set ``DEFAULTS`` (name -> default value and type)."""

    DEFAULTS: dict[str, Any] = {}

    def __init__(self, node):
        self.node = node

    def get_node(self, role: str):
        return self.node.GetNodeReference(role)

    def set_node(self, role: str, value) -> None:
        self.node.SetParameter(role, "")
        self.node.SetNodeReferenceID(role, value.GetID() if value is not None else None)

    def get(self, name: str):
        default = self.DEFAULTS[name]
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
        if name not in self.DEFAULTS:
            raise KeyError(name)
        if isinstance(self.DEFAULTS[name], bool):
            value = "True" if value else "False"
        self.node.SetParameter(name, str(value))
