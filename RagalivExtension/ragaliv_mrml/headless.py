"""A Slicer scene without the application: application logic plus the module logics the Libs use.

Mirrors what trame-slicer's ``SlicerApp`` does on the ``slicer-core`` wheel: a ``vtkMRMLScene``, a
``vtkSlicerApplicationLogic`` and the Colors, Volumes, Segmentations, Tables, Markups, Plots and
SubjectHierarchy logics registered with it. Used by the tests and for headless batch runs.
"""

import os
import tempfile

import slicer

MODULE_LOGICS = (
    ("Colors", "vtkSlicerColorLogic"),
    ("SubjectHierarchy", "vtkSlicerSubjectHierarchyModuleLogic"),
    ("Volumes", "vtkSlicerVolumesLogic"),
    ("Segmentations", "vtkSlicerSegmentationsModuleLogic"),
    ("Tables", "vtkSlicerTablesLogic"),
    ("Markups", "vtkSlicerMarkupsLogic"),
    ("Plots", "vtkSlicerPlotsLogic"),
)


def create_scene() -> tuple["slicer.vtkMRMLScene", "slicer.vtkSlicerApplicationLogic", dict[str, object]]:
    """New scene with the application logic and module logics; returns (scene, app_logic, logics)."""
    scene = slicer.vtkMRMLScene()
    app_logic = slicer.vtkSlicerApplicationLogic()
    home = tempfile.mkdtemp(prefix="ragaliv-slicer-home-")
    # The colour logic looks for user colour files in <home>/<share>/ColorFiles; give it an empty one.
    os.makedirs(os.path.join(home, "share", "ColorFiles"))
    app_logic.SetHomeDirectory(home)
    app_logic.SetShareDirectory("share")
    app_logic.SetTemporaryPath(home)
    app_logic.SetMRMLScene(scene)
    logics: dict[str, object] = {}
    for name, class_name in MODULE_LOGICS:
        logic = getattr(slicer, class_name)()
        logic.SetMRMLApplicationLogic(app_logic)
        logic.SetMRMLScene(scene)
        app_logic.SetModuleLogic(name, logic)
        logics[name] = logic
    logics["Colors"].AddDefaultColorNodes()
    # The logics observe the scene: they must live as long as it does (a markups edit after the markups
    # logic was garbage-collected crashes), so the scene's Python object keeps them.
    scene.ragalivLogics = (app_logic, logics)
    return scene, app_logic, logics
