"""Save and reload a scene with its data files, without the application (``slicer.util.saveScene``
needs the app). Every storable node gets its default storage node and a file next to the .mrml."""

import os
import re


def save_scene(scene, mrml_path: str) -> str:
    directory = os.path.dirname(os.path.abspath(mrml_path))
    os.makedirs(directory, exist_ok=True)
    used = set()
    for index in range(scene.GetNumberOfNodesByClass("vtkMRMLStorableNode")):
        node = scene.GetNthNodeByClass(index, "vtkMRMLStorableNode")
        if node.GetHideFromEditors() and not node.GetSaveWithScene():
            continue
        storage = node.GetStorageNode()
        if storage is None:
            storage = node.CreateDefaultStorageNode()
            if storage is None:
                continue
            scene.AddNode(storage)
            node.SetAndObserveStorageNodeID(storage.GetID())
        extension = storage.GetDefaultWriteFileExtension()
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", node.GetName() or node.GetID())
        name = f"{stem}.{extension}"
        counter = 1
        while name in used:
            counter += 1
            name = f"{stem}_{counter}.{extension}"
        used.add(name)
        storage.SetFileName(os.path.join(directory, name))
        if not storage.WriteData(node):
            raise OSError(f"could not write {node.GetName()} to {name}")
    scene.SetURL(os.path.abspath(mrml_path))
    if not scene.Commit():
        raise OSError(f"could not write the scene {mrml_path}")
    return mrml_path


def load_scene(mrml_path: str, scene=None):
    """Read a saved scene (and its data) into ``scene`` (a new headless one if None)."""
    if scene is None:
        from .headless import create_scene

        scene = create_scene()[0]
    scene.SetURL(os.path.abspath(mrml_path))
    if not scene.Connect():
        raise OSError(f"could not read the scene {mrml_path}")
    return scene
