"""Slicer GUI helpers shared by the two module widgets (needs the Slicer application; not used headless)."""

import importlib

import slicer
from slicer.i18n import tr as _


def ensurePythonPackage(name: str, purpose: str) -> bool:
    """True if ``name`` imports, else offer to pip-install it (not under a wait cursor)."""
    try:
        importlib.import_module(name)
        return True
    except ImportError:
        pass
    question = _("{purpose} needs the Python package {name}. Install it now?").format(purpose=purpose, name=name)
    if not slicer.util.confirmOkCancelDisplay(question):
        return False
    with slicer.util.tryWithErrorDisplay(_("Could not install {name}.").format(name=name), waitCursor=True):
        slicer.util.pip_install(name)
    importlib.invalidate_caches()
    return True


def showTableAndChart(tableNode, chartNode=None) -> None:
    """Switch to the four-up plot/table layout and show ``tableNode`` (and ``chartNode`` if given)."""
    layoutManager = slicer.app.layoutManager()
    if layoutManager is None or tableNode is None:
        return  # no main window (--no-main-window) or nothing computed yet
    layoutManager.setLayout(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpPlotTableView)
    applicationLogic = slicer.app.applicationLogic()
    selection = applicationLogic.GetSelectionNode()
    selection.SetActiveTableID(tableNode.GetID())
    applicationLogic.PropagateTableSelection()
    if chartNode is not None:
        selection.SetActivePlotChartID(chartNode.GetID())
        applicationLogic.PropagatePlotChartSelection()


def showWrittenFiles(paths) -> None:
    """Tell the user which files were written (``paths``: a mapping of role to path)."""
    slicer.util.infoDisplay(_("Written:\n{files}").format(files="\n".join(paths.values())))
