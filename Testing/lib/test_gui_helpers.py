"""The Qt-free parts of ragaliv_gui: pinned optional installs, and the parameter-node GUI connection that
neither leaks observers (Slicer 5.8/5.10 disconnectGui) nor moves a line edit's cursor (5.8)."""

import importlib.metadata

import pytest
import slicer
import vtk
from ragaliv_gui.optional_packages import constraints_text, pip_arguments, plan
from ragaliv_gui.parameter_gui import GuiConnection, KeepCursorWrite

# What each Slicer bundles (SuperBuild at the tags v5.8.1, v5.10.0, v5.12.3).
SLICER_5_8 = ((3, 9), {"numpy": "1.26.4", "scipy": "1.13.1", "pydicom": "2.4.4", "pillow": "10.3.0"})
SLICER_5_10 = ((3, 12), {"numpy": "2.0.2", "scipy": "1.13.1", "pydicom": "2.4.4", "pillow": "11.2.1"})
SLICER_5_12 = ((3, 12), {"numpy": "2.4.6", "scipy": "1.17.1", "pydicom": "3.0.2", "highdicom": "0.27.0",
                         "pillow": "12.2.0"})


@pytest.mark.parametrize(("slicer_version", "expected", "reason"), [
    (SLICER_5_8, "highdicom==0.22.0", "for pydicom 2.4.4"),
    (SLICER_5_10, None, "uses np.float_, removed in numpy 2.0"),  # pydicom 2.4.4 with numpy 2.0.2
    (SLICER_5_12, None, "0.27.0 is already installed")])
def test_highdicom_pin_follows_the_bundled_pydicom_and_numpy(slicer_version, expected, reason):
    python, installed = slicer_version
    decision = plan("highdicom", installed, python)
    assert decision.requirement == expected
    assert reason in decision.reason


def test_highdicom_for_pydicom_3_without_it_and_never_a_replacement():
    python, installed = SLICER_5_12
    without = {k: v for k, v in installed.items() if k != "highdicom"}
    assert plan("highdicom", without, python).requirement == "highdicom==0.27.0"
    broken = dict(SLICER_5_8[1], highdicom="0.28.2")  # needs pydicom 3: Ragaliv will not swap it
    decision = plan("highdicom", broken, SLICER_5_8[0])
    assert decision.requirement is None and "uninstall it first" in decision.reason
    assert plan("highdicom", {"numpy": "1.26.4"}, (3, 9)).requirement is None  # no pydicom: nothing to pin to


@pytest.mark.parametrize(("slicer_version", "expected"), [
    (SLICER_5_8, "matplotlib==3.9.4"), (SLICER_5_10, "matplotlib==3.10.8"), (SLICER_5_12, "matplotlib==3.10.8")])
def test_matplotlib_pin_follows_python(slicer_version, expected):
    python, installed = slicer_version
    assert plan("matplotlib", installed, python).requirement == expected
    assert plan("matplotlib", dict(installed, matplotlib="3.8.0"), python).requirement is None


def test_constraints_hold_every_installed_package_at_its_version(tmp_path):
    text = constraints_text(dict(SLICER_5_8[1], **{"odd-build": "2.3.1-slicer", "simpleitk": "2.3.1"}))
    lines = text.splitlines()
    assert "numpy==1.26.4" in lines and "pydicom==2.4.4" in lines and "simpleitk==2.3.1" in lines
    assert not any(line.startswith("odd-build") for line in lines)  # not a PEP 440 version: left out
    here = constraints_text()  # this environment
    assert f"numpy=={importlib.metadata.version('numpy')}" in here.splitlines()
    assert pip_arguments("highdicom==0.22.0", "/tmp/c.txt") == ["--constraint", "/tmp/c.txt", "highdicom==0.22.0"]


class Slicer58Wrapper:
    """The parts of Slicer 5.8.1's parameterNodeWrapper (wrapper.py) that matter here, line for line:
    ``AddObserver`` is a class attribute, ``_connectParametersToGui`` adds a ModifiedEvent observer and drops
    its tag, ``_disconnectGui`` only removes the widget callbacks."""

    AddObserver = (lambda self, event, callback, priority=0.0:  # noqa: E731 - as wrapper.py's checkedSetAttr
                   self.parameterNode.AddObserver(event, callback, priority))

    def __init__(self, parameterNode):
        self.parameterNode = parameterNode
        self._parameterGUIs = {}
        self._nextParameterGUIsTag = 0
        self.updates = 0

    def connectParametersToGui(self, mapping):
        tag = self._nextParameterGUIsTag
        self._nextParameterGUIsTag += 1
        self._parameterGUIs[tag] = mapping
        self.AddObserver(vtk.vtkCommand.ModifiedEvent, lambda caller, event: self._update())
        return tag

    def _update(self):
        self.updates += 1

    def disconnectGui(self, guiTag):
        self._parameterGUIs.pop(guiTag, None)


class Slicer512Wrapper(Slicer58Wrapper):
    """5.12.0 and later: the observer tag is kept and removed by disconnectGui."""

    def __init__(self, parameterNode):
        super().__init__(parameterNode)
        self._guiVtkObserverTags = {}

    def connectParametersToGui(self, mapping):
        tag = self._nextParameterGUIsTag
        self._nextParameterGUIsTag += 1
        self._parameterGUIs[tag] = mapping
        self._guiVtkObserverTags[tag] = self.AddObserver(vtk.vtkCommand.ModifiedEvent,
                                                         lambda caller, event: self._update())
        return tag

    def disconnectGui(self, guiTag):
        self._parameterGUIs.pop(guiTag, None)
        if guiTag in self._guiVtkObserverTags:
            self.parameterNode.RemoveObserver(self._guiVtkObserverTags.pop(guiTag))


@pytest.mark.parametrize("wrapperClass", [Slicer58Wrapper, Slicer512Wrapper])
def test_reconnecting_leaves_no_observer_behind(wrapperClass):
    node = slicer.vtkMRMLScriptedModuleNode()
    wrappers = []
    for _ in range(3):  # three scene closes / module reloads
        wrapper = wrapperClass(node)
        connection = GuiConnection(wrapper, {"threshold": object()}, isLineEdit=lambda widget: False)
        assert connection.tag == 0
        node.Modified()
        assert wrapper.updates == 1  # connected: the GUI follows the node
        connection.disconnect()
        assert "AddObserver" not in vars(wrapper)  # the capture was temporary
        wrappers.append(wrapper)
    node.Modified()
    assert [w.updates for w in wrappers] == [1, 1, 1]  # nobody listens any more
    assert not node.HasObserver(vtk.vtkCommand.ModifiedEvent)


def test_line_edits_get_the_cursor_keeping_connector():
    node = slicer.vtkMRMLScriptedModuleNode()
    lineEdit, spinBox = object(), object()
    made = []
    connection = GuiConnection(Slicer58Wrapper(node), {"injectionTime": lineEdit, "threshold": spinBox},
                               makeLineEditConnector=lambda widget: made.append(widget) or ("connector", widget),
                               isLineEdit=lambda widget: widget is lineEdit)
    assert made == [lineEdit]
    assert connection.wrapper._parameterGUIs[0] == {"injectionTime": ("connector", lineEdit), "threshold": spinBox}
    connection.disconnect()


def test_keep_cursor_write_sets_only_a_changed_text():
    class Widget:
        def __init__(self):
            self._text, self.assignments = "2026-04-21T10:00", 0

        @property
        def text(self):
            return self._text

        @text.setter
        def text(self, value):  # QLineEdit.setText moves the cursor to the end
            self._text, self.assignments = value, self.assignments + 1

    class Connector(KeepCursorWrite):
        def __init__(self, widget):
            self._widget = widget

    widget = Widget()
    connector = Connector(widget)
    connector.write("2026-04-21T10:00")  # the echo of the user's own keystroke
    assert widget.assignments == 0
    connector.write("2026-04-21T11:00")
    assert widget.assignments == 1 and widget.text == "2026-04-21T11:00"


def test_commit_on_editing_finished_connects_that_signal_only():
    """A line edit marked RagalivCommitOnEditingFinished reports a change when editing is finished, not per key."""
    from ragaliv_gui.parameter_gui import COMMIT_ON_EDITING_FINISHED, CommitOnEditingFinished, commitsOnEditingFinished

    class Signal:
        def __init__(self):
            self.slots = []

        def connect(self, slot):
            self.slots.append(slot)

        def disconnect(self, slot):
            self.slots.remove(slot)

    class Widget:
        def __init__(self, marked):
            self.editingFinished, self.textChanged = Signal(), Signal()
            self._marked = marked

        def property(self, name):
            return self._marked if name == COMMIT_ON_EDITING_FINISHED else None

    class Connector(CommitOnEditingFinished):
        def __init__(self, widget):
            self._widget = widget

        def changed(self):
            pass

    widget = Widget(True)
    connector = Connector(widget)
    connector._connect()
    assert widget.editingFinished.slots == [connector.changed] and widget.textChanged.slots == []
    connector._disconnect()
    assert widget.editingFinished.slots == []
    assert commitsOnEditingFinished(Widget(True)) and not commitsOnEditingFinished(Widget(None))
    assert not commitsOnEditingFinished(object())


def test_panel_text_names_the_panel_controls_and_keeps_the_message():
    from ragaliv.errors import RagalivInputError
    from ragaliv_mrml.panel_text import accepted_checks, for_panel, panel_error

    assert for_panel("if the value is right, add --accept weight.") == \
        "if the value is right, add weight to the 'Accept checks' field."
    assert for_panel("check the inputs; if they are right, confirm with --confirm-consistency.") == \
        "check the inputs; if they are right, confirm with the 'Inputs checked — decide anyway' box."
    assert for_panel("Give --iv-dose-mbq MBQ") == "Give the IV injected activity field of the \"SUV parameters\" panel"
    assert for_panel("--sex M|F|O (CLI) or the sex field of the Slicer panel") == "the sex field of the Slicer panel"
    error = panel_error(RagalivInputError("Weight 780 kg (--weight-kg) is implausible.", "add --accept weight"))
    assert error.message == "Weight 780 kg (--weight-kg) is implausible." and error.hint == \
        "add weight to the 'Accept checks' field"
    assert accepted_checks(" Weight,  spect-time;weight ") == ("weight", "spect-time")
    assert accepted_checks("") == ()
    with pytest.raises(RagalivInputError, match="'Accept checks' field: Unknown check"):
        accepted_checks("weigth")
