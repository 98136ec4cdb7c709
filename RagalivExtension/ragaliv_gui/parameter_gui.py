"""Connecting the .ui widgets to a ``@parameterNodeWrapper`` node the same way in Slicer 5.8, 5.10 and 5.12.

Two defects of the wrapper before 5.12 are worked around here (Base/Python/slicer/parameterNodeWrapper):

* ``connectParametersToGui`` adds a ModifiedEvent observer on the parameter node and, up to 5.10.0,
  ``disconnectGui`` does not remove it (fixed in 5.12.0 by commit 16069d367e, which keeps the tags in
  ``_guiVtkObserverTags``). Each reconnection (scene close, module reload) leaked an observer that keeps
  the old wrapper and writes to the old widgets. The tag is captured here and removed on disconnect.
* 5.8's ``QLineEditToStrConnector.write`` sets the text even when it is unchanged, which moves the cursor to
  the end on every keystroke (fixed in 5.10.0 by commit 5e290f9562). Line edits get a connector that writes
  only a changed text.

A line edit with the dynamic property ``RagalivCommitOnEditingFinished`` (true) sets its parameter when editing
is finished (Return, or the focus leaves it: ``QLineEdit::editingFinished``) instead of on every keystroke: a
half-typed value ("wei" for "weight") would otherwise be refused, and re-run what the parameter drives, at
each key.

No Qt or slicer import at module level: the Slicer classes are imported when a widget is connected.
"""

from typing import Optional


class KeepCursorWrite:
    """``write`` of the 5.10 line-edit connector: leave an unchanged text (and the cursor) alone."""

    def write(self, value: str) -> None:
        if value != self._widget.text:
            self._widget.text = value


COMMIT_ON_EDITING_FINISHED = "RagalivCommitOnEditingFinished"


class CommitOnEditingFinished:
    """``_connect``/``_disconnect`` of a line-edit connector that reports a change when editing is finished."""

    def _connect(self) -> None:
        self._widget.editingFinished.connect(self.changed)

    def _disconnect(self) -> None:
        self._widget.editingFinished.disconnect(self.changed)


def commitsOnEditingFinished(widget) -> bool:
    return bool(widget.property(COMMIT_ON_EDITING_FINISHED)) if hasattr(widget, "property") else False


def lineEditConnector(widget):
    from slicer.parameterNodeWrapper.guiConnectors import QLineEditToStrConnector

    class KeepCursorLineEditConnector(KeepCursorWrite, QLineEditToStrConnector):
        pass

    class CommitOnEditingFinishedLineEditConnector(CommitOnEditingFinished, KeepCursorLineEditConnector):
        pass

    if commitsOnEditingFinished(widget):
        return CommitOnEditingFinishedLineEditConnector(widget)
    return KeepCursorLineEditConnector(widget)


def isPlainLineEdit(widget) -> bool:
    """What the wrapper's QLineEditToStrConnector.canRepresent accepts (exactly a QLineEdit)."""
    import qt

    return type(widget) == qt.QLineEdit  # noqa: E721 - the wrapper's own test


class GuiConnection:
    """One ``connectParametersToGui`` connection; :meth:`disconnect` also removes its node observer."""

    def __init__(self, wrapper, mapping: dict, makeLineEditConnector=None, isLineEdit=None):
        self.wrapper = wrapper
        makeLineEditConnector = makeLineEditConnector or lineEditConnector
        isLineEdit = isLineEdit or isPlainLineEdit
        mapping = {name: makeLineEditConnector(widget) if isLineEdit(widget) else widget
                   for name, widget in mapping.items()}
        self.observerTags: list[int] = []
        capture = not hasattr(wrapper, "_guiVtkObserverTags")  # Slicer >= 5.12 removes its own observer
        if capture:
            classAddObserver = type(wrapper).AddObserver

            def addObserver(event, callback, priority=0.0):
                tag = classAddObserver(wrapper, event, callback, priority)
                self.observerTags.append(tag)
                return tag

            wrapper.AddObserver = addObserver  # instance attribute: seen by connectParametersToGui only
        try:
            self.tag: Optional[int] = wrapper.connectParametersToGui(mapping)
        finally:
            if capture:
                del wrapper.AddObserver

    def disconnect(self) -> None:
        if self.tag is None:
            return
        self.wrapper.disconnectGui(self.tag)
        for observerTag in self.observerTags:
            self.wrapper.parameterNode.RemoveObserver(observerTag)
        self.tag, self.observerTags = None, []
