"""Slicer GUI helpers shared by the two module widgets (need the Slicer application; not used headless).

``slicer`` is imported inside the functions, so that the Qt-free parts of this package
(:mod:`.optional_packages`, :mod:`.parameter_gui`) import and are tested without the application.
"""

import importlib
import os
import tempfile


def ensurePythonPackage(name: str, purpose: str) -> bool:
    """True if ``name`` can be used, else offer to pip-install the version pinned for this Slicer
    (:func:`ragaliv_gui.optional_packages.plan`), with every installed package held at its version."""
    import slicer
    from slicer.i18n import tr as _

    from .optional_packages import constraints_text, pip_arguments, plan

    try:
        importlib.import_module(name)
        return True
    except ImportError:
        pass
    decision = plan(name)
    if decision.requirement is None:
        slicer.util.errorDisplay(_("{purpose} needs the Python package {name}, which cannot be installed here: "
                                   "{reason}.").format(purpose=purpose, name=name, reason=decision.reason))
        return False
    question = _("{purpose} needs the Python package {requirement} ({reason}). Install it now? "
                 "Slicer's own packages are kept at their versions.").format(
        purpose=purpose, requirement=decision.requirement, reason=decision.reason)
    if not slicer.util.confirmOkCancelDisplay(question):
        return False
    handle, constraints = tempfile.mkstemp(prefix="ragaliv-constraints-", suffix=".txt")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(constraints_text())
        with slicer.util.tryWithErrorDisplay(_("Could not install {requirement}.").format(
                requirement=decision.requirement), waitCursor=True):
            slicer.util.pip_install(pip_arguments(decision.requirement, constraints))
            importlib.invalidate_caches()
            importlib.import_module(name)
    except Exception:  # shown by tryWithErrorDisplay (pip's resolver message included)
        return False
    finally:
        os.remove(constraints)
    return True


def showTableAndChart(tableNode, chartNode=None) -> None:
    """Switch to the four-up plot/table layout and show ``tableNode`` (and ``chartNode`` if given)."""
    import slicer

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
    import slicer
    from slicer.i18n import tr as _

    slicer.util.infoDisplay(_("Written:\n{files}").format(files="\n".join(paths.values())))


def dicomDatabase():
    """Slicer's DICOM database if the DICOM module created it and it is open, else None (the DICOM module
    sets ``slicer.dicomDatabase`` at start-up; disabled, it never exists)."""
    import slicer

    database = getattr(slicer, "dicomDatabase", None)
    return database if database is not None and database.isOpen else None
