"""Project-wide quality gates: lint, UI files, widget names, and the layering of the core."""

import ast
import pathlib
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
MODULES = ("RagalivLesionRatio", "RagalivSpectDosimetry")
CORE = REPO / "RagalivExtension" / "ragaliv"


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(pathlib.Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is not installed (it is in requirements-dev.txt)")
    result = subprocess.run([ruff, "check", "--no-cache", str(REPO)], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def ui_files():
    return sorted(REPO.glob("*/Resources/UI/*.ui"))


def test_every_module_has_a_ui_file():
    names = {path.stem for path in ui_files()}
    assert set(MODULES) <= names


@pytest.mark.parametrize("path", ui_files(), ids=lambda path: path.name)
def test_ui_file_parses_and_names_are_unique(path):
    root = ElementTree.parse(path).getroot()
    names = [widget.get("name") for widget in root.iter("widget")]
    duplicates = {name for name in names if names.count(name) > 1}
    assert not duplicates, f"duplicate widget names in {path.name}: {duplicates}"


def widget_names(path):
    root = ElementTree.parse(path).getroot()
    return {element.get("name") for element in root.iter() if element.tag in ("widget", "layout", "spacer")}


@pytest.mark.parametrize("module", MODULES)
def test_ui_names_used_in_module_code_exist(module):
    ui_path = REPO / module / "Resources" / "UI" / f"{module}.ui"
    names = widget_names(ui_path)
    used = set()
    for source in [REPO / module / f"{module}.py", *sorted((REPO / module).glob(f"{module}Lib/*.py"))]:
        used |= set(re.findall(r"\bui\.([A-Za-z_]\w*)", source.read_text(encoding="utf-8")))
    missing = sorted(used - names)
    assert not missing, f"{module}: self.ui names missing from {ui_path.name}: {missing}"


@pytest.mark.parametrize("module", MODULES)
def test_parameter_names_in_ui_match_the_parameter_node(module):
    """Every SlicerParameterName in the .ui is a field of the module's parameterNodeWrapper class."""
    ui_path = REPO / module / "Resources" / "UI" / f"{module}.ui"
    bound = set()
    for prop in ElementTree.parse(ui_path).getroot().iter("property"):
        if prop.get("name") == "SlicerParameterName":
            bound.add(prop.find("string").text)
    tree = ast.parse((REPO / module / f"{module}.py").read_text(encoding="utf-8"))
    fields = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == f"{module}ParameterNode":
            fields = {item.target.id for item in node.body if isinstance(item, ast.AnnAssign)}
    assert fields, f"{module}ParameterNode not found"
    assert bound <= fields, f"unbound parameter names: {sorted(bound - fields)}"


def test_core_does_not_import_slicer_vtk_or_qt():
    offenders = []
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in ("slicer", "vtk", "vtkmodules", "qt", "ctk", "ragaliv_mrml", "ragaliv_gui"):
                    offenders.append(f"{path.relative_to(REPO)}: {name}")
    assert not offenders, offenders


def test_core_has_no_pep604_unions_or_match_statements():
    """Slicer 5.8 runs Python 3.9: no `X | None` annotations evaluated at run time, no `match`."""
    offenders = []
    extension = REPO / "RagalivExtension"
    roots = [CORE, extension / "ragaliv_mrml", extension / "ragaliv_gui", *(REPO / module for module in MODULES)]
    for root in roots:
        for path in root.rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if type(node).__name__ == "Match":
                    offenders.append(f"{path.name}:{node.lineno} match")
                annotation = getattr(node, "annotation", None) or getattr(node, "returns", None)
                if annotation is not None and any(
                    isinstance(part, ast.BinOp) and isinstance(part.op, ast.BitOr) for part in ast.walk(annotation)
                ):
                    offenders.append(f"{path.name}:{node.lineno} X | Y annotation")
    assert not offenders, offenders


def test_cli_starts_without_importing_slicer_or_heavy_modules():
    heavy = "('slicer', 'vtk', 'scipy', 'SimpleITK')"
    code = f"import sys, ragaliv.cli; print(sorted(m for m in {heavy} if m in sys.modules))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


# --- issue 10: the modules as Slicer 5.8-5.12 load them ---------------------------------------------------
def _module_level_imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("module", MODULES)
def test_module_files_import_no_numpy_scipy_pydicom_at_start_up(module):
    """Slicer executes each module file at start-up: its module-level imports must stay light (the Lib, with
    numpy/scipy/pydicom/SimpleITK, is imported on first use)."""
    names = _module_level_imports(REPO / module / f"{module}.py")
    ours = sorted({name for name in names if name.split(".")[0] in ("ragaliv", "ragaliv_gui", "ragaliv_mrml")
                   or name.startswith("Ragaliv")})
    assert set(ours) <= {"ragaliv.errors", "ragaliv_gui", "ragaliv_gui.parameter_gui"}, ours
    code = ("import sys; sys.path.insert(0, 'RagalivExtension'); import ragaliv.errors, ragaliv_gui, "
            "ragaliv_gui.parameter_gui; print(sorted(m for m in ('numpy', 'scipy', 'pydicom', 'SimpleITK', 'slicer')"
            " if m in sys.modules))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert output.stdout.strip() == "[]"


def _dependencies(module):
    tree = ast.parse((REPO / module / f"{module}.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Attribute)
                and node.targets[0].attr == "dependencies"):
            return {element.value for element in node.value.elts}
    return set()


def test_module_dependencies_name_the_modules_they_use():
    assert _dependencies("RagalivLesionRatio") == {"DICOM", "Markups", "Plots", "Segmentations", "Tables"}
    assert _dependencies("RagalivSpectDosimetry") == {"Plots", "Segmentations", "Tables"}


@pytest.mark.parametrize("module", MODULES)
def test_module_files_avoid_the_version_specific_pitfalls(module):
    source = (REPO / module / f"{module}.py").read_text(encoding="utf-8")
    assert "slicer.dicomDatabase" not in source  # absent when the DICOM module is disabled: ragaliv_gui.dicomDatabase
    assert ".connectGui(" not in source and ".disconnectGui(" not in source  # GuiConnection (5.8/5.10 leak)
    assert "pip_install(" not in source  # only ragaliv_gui.ensurePythonPackage, pinned and constrained


def test_lesion_ratio_editor_wiring_follows_segment_editor_py():
    source = (REPO / "RagalivLesionRatio" / "RagalivLesionRatio.py").read_text(encoding="utf-8")
    for needed in ("EndImportEvent", "effectRegistered(QString)", "turnOffLightboxes()",
                   "setAutoShowSourceVolumeNode(False)", "_selectSegmentEditorNode()", "ClickPlacement("):
        assert needed in source, needed


@pytest.mark.parametrize("module", MODULES)
def test_cmake_lists_every_lib_script(module):
    cmake = (REPO / module / "CMakeLists.txt").read_text(encoding="utf-8")
    listed = set(re.findall(r"\$\{MODULE_NAME\}Lib/(\w+\.py)", cmake))
    assert listed == {path.name for path in (REPO / module / f"{module}Lib").glob("*.py")}


def test_core_needs_no_package_that_slicer_lacks_at_import():
    """slicerio/pynrrd are never used; highdicom and matplotlib only inside functions or in the plot modules
    that their callers import lazily (Testing/slicer58 imports every core module without them)."""
    offenders = []
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
            offenders += [f"{path.relative_to(REPO)}: {n}" for n in names if n.split(".")[0] in ("slicerio", "nrrd")]
    assert not offenders, offenders


# --- second review of issue 10: widget-only fixes, checked statically -------------------------------------------
def _function_source(module, name):
    path = REPO / module / f"{module}.py"
    text = path.read_text(encoding="utf-8")
    node = next(item for item in ast.walk(ast.parse(text)) if isinstance(item, ast.FunctionDef) and item.name == name)
    return ast.get_source_segment(text, node)


def test_lesion_ratio_gates_every_placement_button_and_withdraws_a_stale_decision():
    """O10: the organ VOI buttons need a reference like "Add lesion"; O8: a deselected input withdraws the decision."""
    module = "RagalivLesionRatio"
    setup = _function_source(module, "setup")
    connected = set(re.findall(r"self\.ui\.(\w+Button), \"", setup)) | {"addLesionButton"}
    gated = set(re.findall(r"ui\.(\w+Button)", _function_source(module, "_placementButtons")))
    assert connected == gated, (connected, gated)
    modified = _function_source(module, "onParameterNodeModified")
    assert "self._placementButtons()" in modified
    assert "mark_not_computed(" in modified and "self._updateTimer.stop()" in modified


def test_spect_widget_resets_watches_and_prefills_through_the_lib():
    """O3 (result reset on scene close, re-run unless current), O2 (removed nodes marked), O5 (pre-fill only of
    empty fields, in the tested Lib), O9 (matplotlib optional)."""
    module = "RagalivSpectDosimetry"
    assert "self.logic.lib.reset()" in _function_source(module, "onSceneStartClose")
    assert "watch_scene()" in _function_source(module, "setup")
    assert "unwatch_scene()" in _function_source(module, "cleanup")
    assert "result_is_current()" in _function_source(module, "_currentResult")
    assert "prefill_from_header(" in _function_source(module, "onSpectSelected")
    for slot in ("onExport", "onReport"):
        source = _function_source(module, slot)
        assert "self._currentResult()" in source
        assert "not ensurePythonPackage" not in source  # without matplotlib, everything but the PNGs is written


def test_kernel_folder_placeholder_names_the_shipped_tables():
    ui_path = REPO / "RagalivSpectDosimetry" / "Resources" / "UI" / "RagalivSpectDosimetry.ui"
    root = ElementTree.parse(ui_path).getroot()
    widget = next(item for item in root.iter("widget") if item.get("name") == "kernelLineEdit")
    placeholder = next(prop for prop in widget.findall("property") if prop.get("name") == "placeholderText")
    text = placeholder.find("string").text
    assert "tables shipped with Ragaliv" in text and "shared data" not in text


# --- issue 8/9 wiring: the panels show the Lib's checks, checked statically ----------------------------------------
def _rich_text_labels(module):
    """Labels whose text the module sets as markup (escaped Lib text, <br>, <b>): they must be rich text in the .ui
    (Qt's AutoText takes a line without a tag for plain text and would show "&#x27;" literally)."""
    path = REPO / module / f"{module}.py"
    text = path.read_text(encoding="utf-8")
    labels = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = ast.get_source_segment(text, node.targets[0])
            match = re.fullmatch(r"self\.ui\.(\w+Label)\.text", target or "")
            value = ast.get_source_segment(text, node.value)
            if match and any(markup in value for markup in ("html.escape", "<br>", "<b>")):
                labels.add(match.group(1))
    return labels


@pytest.mark.parametrize("module", MODULES)
def test_labels_showing_escaped_lib_text_are_rich_text(module):
    root = ElementTree.parse(REPO / module / "Resources" / "UI" / f"{module}.ui").getroot()
    labels = _rich_text_labels(module)
    assert labels, module
    for name in labels:
        widget = next(item for item in root.iter("widget") if item.get("name") == name)
        formats = [prop.find("enum").text for prop in widget.findall("property") if prop.get("name") == "textFormat"]
        assert formats == ["Qt::RichText"], (module, name, formats)


def test_lesion_ratio_panel_passes_its_confirmations_to_the_lib():
    module = "RagalivLesionRatio"
    # D4 (fourth review): the PETs are converted by the Lib, which applies the "Accept checks" ids given for that
    # PET's refusals only (not the whole field, as SuvOverrides.accept would) and whose hints name the panel.
    assert "accept=" not in _function_source(module, "_overrides")
    for slot in ("onLoadPet", "onReapplySuv"):
        source = _function_source(module, slot)
        assert "self.logic.lib.load_pet(files, role, self._overrides(role)" in source, slot
        assert "load_pet_node" not in source, slot
    assert "panel_hints = True" in _function_source(module, "lib")
    status = _function_source(module, "_showStatus")
    for needed in ("status.consistency", "status.confirm_hint", "status.decision_status", "consistencyLabel",
                   "status.confirmation_notes"):
        assert needed in status, needed
    # N1 (third review): a scene loaded into this one brings confirmations given for other inputs: withdrawn,
    # whether or not the module is shown (before the isEntered branch).
    imported = _function_source(module, "onSceneEndImport")
    assert "self.logic.lib.withdraw_confirmations()" in imported
    assert imported.index("withdraw_confirmations()") < imported.index("self.parent.isEntered")
    ui = ElementTree.parse(REPO / module / "Resources" / "UI" / f"{module}.ui").getroot()
    accept = next(item for item in ui.iter("widget") if item.get("name") == "acceptChecksLineEdit")
    assert any(prop.get("name") == "RagalivCommitOnEditingFinished" for prop in accept.findall("property"))


def test_spect_panel_shows_fit_notes_and_passes_acquisition_times():
    module = "RagalivSpectDosimetry"
    # N3 (third review): warnings and fit notes come from the results table shown, on every parameter change, and
    # scene close clears them with the status line (never another scene's or run's messages).
    assert "self._showResultMessages(node.resultsTable)" in _function_source(module, "onParameterNodeModified")
    assert "result_messages(resultsTable)" in _function_source(module, "_showResultMessages")
    closing = _function_source(module, "onSceneStartClose")
    assert "self._showResultMessages(None)" in closing and 'self.ui.statusLabel.text = ""' in closing
    assert 'self.ui.statusLabel.text = ""' in _function_source(module, "onSceneEndImport")
    assert "warningsLabel" not in _function_source(module, "onRun")
    # N2: the acquisition time and its tags by the rule of ragaliv dosimetry, from every instance's header.
    added = _function_source(module, "onAddTimepoint")
    assert "header_acquisition_time(headers)" in added
    assert "acquisition_time=acquisitionTime, acquisition_source=acquisitionSource" in added
    assert "injection_time=header_injection_time(headers)" in added  # the injection-time check (W7)
    assert "prefill_from_header(headers," in _function_source(module, "onSpectSelected")
    assert "series_headers(" in _function_source(module, "_dicomHeaders")  # D2 (fourth review): a missing file said
    assert "populationBrowseButton" in _function_source(module, "setup")
    assert "panel_hints = True" in _function_source(module, "lib")
