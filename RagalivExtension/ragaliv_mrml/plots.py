"""Plot series/chart nodes for lesion-ratio bars and time-activity curves (Slicer Plots, no Qt)."""

from typing import Optional


def get_or_add(scene, class_name: str, name: str, reference_node=None, role: Optional[str] = None):
    """Node referenced by ``reference_node`` under ``role``, else a new one (and reference it).

    The reference is written as the module's ``@parameterNodeWrapper`` writes node fields (an empty
    parameter of the same name beside the reference); without it the wrapper would take the field for
    unset and clear the reference when the module opens the scene."""
    node = reference_node.GetNodeReference(role) if reference_node is not None and role else None
    if node is None:
        node = scene.AddNewNodeByClass(class_name, name)
        if reference_node is not None and role:
            reference_node.SetParameter(role, "")
            reference_node.SetNodeReferenceID(role, node.GetID())
    return node


def series(scene, name: str, table_node, x_column: str, y_column: str, plot_type: str = "Scatter",
           colour=(0.2, 0.4, 0.8), line: bool = True, markers: bool = False, reference_node=None,
           role: Optional[str] = None):
    node = get_or_add(scene, "vtkMRMLPlotSeriesNode", name, reference_node, role)
    node.SetName(name)
    node.SetAndObserveTableNodeID(table_node.GetID())
    node.SetXColumnName(x_column)
    node.SetYColumnName(y_column)
    node.SetPlotType(getattr(node, f"PlotType{plot_type}"))
    node.SetColor(*colour)
    node.SetLineStyle(node.LineStyleSolid if line else node.LineStyleNone)
    node.SetMarkerStyle(node.MarkerStyleCircle if markers else node.MarkerStyleNone)
    return node


def chart(scene, name: str, series_nodes, title: str, x_title: str, y_title: str, reference_node=None,
          role: Optional[str] = None, y_log: bool = False):
    node = get_or_add(scene, "vtkMRMLPlotChartNode", name, reference_node, role)
    node.SetName(name)
    node.RemoveAllPlotSeriesNodeIDs()
    for series_node in series_nodes:
        node.AddAndObservePlotSeriesNodeID(series_node.GetID())
    node.SetTitle(title)
    node.SetXAxisTitle(x_title)
    node.SetYAxisTitle(y_title)
    node.SetYAxisLogScale(y_log)
    return node
