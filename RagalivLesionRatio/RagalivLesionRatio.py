"""RagalivLesionRatio: IA vs IV 68Ga PET uptake of five liver metastases and the organs at risk.

Thin Slicer wiring (Slicer's scripted-module template): all behaviour is in RagalivLesionRatioLib (MRML,
no Qt) and the ragaliv core, which are tested without the application. Slicer reads this file at start-up,
so the Lib (numpy, scipy, pydicom) is imported only when the module is first used.
"""

import datetime
import html
import json
import os
import sys
from typing import Annotated, Optional

import ctk
import qt
import slicer
import vtk
from slicer import (
    vtkMRMLPlotChartNode,
    vtkMRMLScalarVolumeNode,
    vtkMRMLSegmentationNode,
    vtkMRMLTableNode,
)
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import *
from slicer.util import VTKObservationMixin


def _makeRagalivCoreImportable():
    """The ragaliv core sits beside the module in a built extension, and in RagalivExtension/ in a checkout."""
    here = os.path.dirname(os.path.abspath(__file__))
    for folder in (here, os.path.normpath(os.path.join(here, "..", "RagalivExtension"))):
        if os.path.isdir(os.path.join(folder, "ragaliv")) and folder not in sys.path:
            sys.path.insert(0, folder)


_makeRagalivCoreImportable()

from ragaliv.errors import RagalivError  # noqa: E402 - light: no numpy/scipy/pydicom
from ragaliv_gui import dicomDatabase, ensurePythonPackage, showTableAndChart, showWrittenFiles  # noqa: E402
from ragaliv_gui.parameter_gui import GuiConnection  # noqa: E402

LIVE_UPDATE_DELAY_MS = 100  # debounce: one recompute after a burst of paint events


#
# RagalivLesionRatio
#


class RagalivLesionRatio(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Ragaliv Lesion Ratio")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Nuclear Medicine")]
        # Node classes, logics and the segment editor widget come from these; the PETs are loaded from the
        # DICOM database (which the DICOM module creates).
        self.parent.dependencies = ["DICOM", "Markups", "Plots", "Segmentations", "Tables"]
        self.parent.contributors = ["Ragaliv team"]
        self.parent.helpText = _(
            "Intra-arterial (IA) vs intravenous (IV) 68Ga-DOTA-peptide PET uptake of liver metastases. "
            "Load the co-registered MRI and both PETs (converted to SUV with the QIBA rules), place five "
            "lesions and the organ VOIs, and read the live IA/IV ratio table and the eligibility decision "
            "for an intra-arterial fifth cycle (rule, metric and threshold are shown with the decision)."
        )
        self.parent.acknowledgementText = _(
            "Ragaliv. SUV validated on the IBSI SUV digital reference objects (Vácha et al., CC BY 4.0)."
        )


#
# RagalivLesionRatioParameterNode
#


@parameterNodeWrapper
class RagalivLesionRatioParameterNode:
    mriVolume: vtkMRMLScalarVolumeNode
    iaPetVolume: vtkMRMLScalarVolumeNode
    ivPetVolume: vtkMRMLScalarVolumeNode
    segmentation: vtkMRMLSegmentationNode
    ratioTable: vtkMRMLTableNode
    ratioChart: vtkMRMLPlotChartNode
    metric: Annotated[str, Choice(["suvmax", "suvmean", "suvpeak"])] = "suvmax"
    aggregate: Annotated[str, Choice(["mean", "median"])] = "mean"
    threshold: Annotated[float, WithinRange(1.01, 10.0)] = 3.0  # what ragaliv.ratio.decision.check_threshold accepts
    normalization: Annotated[str, Choice(["bw", "lbm", "lbm-james", "bsa", "ibw"])] = "bw"
    placementMode: Annotated[str, Choice(["sphere", "auto"])] = "sphere"
    lesionDiameterMm: Annotated[float, WithinRange(2.0, 100.0)] = 20.0
    contourPercent: Annotated[float, WithinRange(5.0, 95.0)] = 40.0
    contourRadiusMm: Annotated[float, WithinRange(5.0, 100.0)] = 25.0
    # "Inputs checked — decide anyway" (ragaliv ratio --confirm-consistency) and "Accept checks" (--accept ids):
    # read by the Lib, recorded in the exports. The Lib binds each to what was shown when it was given (its own
    # "consistencyConfirmations" parameter: the failed checks and the IA/IV pair; a plausibility id the refusal) and
    # un-ticks it (removes the id) for anything else (RagalivLesionRatioLib/confirmation.py).
    confirmConsistency: bool = False
    acceptChecks: str = ""


#
# RagalivLesionRatioWidget
#


class RagalivLesionRatioWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._guiConnection = None
        self._live = None
        self._updateTimer = None
        self._placement = None
        self._effectFactory = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/RagalivLesionRatio.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = RagalivLesionRatioLogic()
        from RagalivLesionRatioLib import LiveRatioUpdater
        from RagalivLesionRatioLib.placement import ClickPlacement

        self._updateTimer = qt.QTimer()
        self._updateTimer.setSingleShot(True)
        self._updateTimer.setInterval(LIVE_UPDATE_DELAY_MS)
        self._updateTimer.connect("timeout()", self.onLiveUpdateTimer)
        self._live = LiveRatioUpdater(lambda: self.logic.lib.live_update(), self._updateTimer.start)
        applicationLogic = slicer.app.applicationLogic()
        self._placement = ClickPlacement(slicer.mrmlScene, applicationLogic.GetSelectionNode(),
                                         applicationLogic.GetInteractionNode(),
                                         lambda function: qt.QTimer.singleShot(0, function))

        # The editor gets its own vtkMRMLSegmentEditorNode, set before the scene (qMRMLSegmentEditorWidget.h:
        # "The empty parameter set node should be set before the MRML scene"); the .ui has no mrmlSceneChanged
        # connection to it, so uiWidget.setMRMLScene above did not reach it.
        editor = self.ui.segmentEditorWidget
        editor.setMRMLSegmentEditorNode(self.logic.lib.segment_editor_node())
        editor.setMRMLScene(slicer.mrmlScene)
        editor.setSegmentationNodeSelectorVisible(False)
        editor.setSourceVolumeNodeSelectorVisible(False)
        editor.setMaximumNumberOfUndoStates(10)
        # The editor would put the MRI alone in every slice view whenever its source volume is set or the
        # layout changes (qMRMLSegmentEditorWidget::showSourceVolumeInSliceViewers), replacing the PET fusion.
        editor.setAutoShowSourceVolumeNode(False)
        # Effects registered after this widget was made (extensions) must show up (as SegmentEditor.py does).
        self._effectFactory = slicer.qSlicerSegmentEditorEffectFactory.instance()
        self._effectFactory.connect("effectRegistered(QString)", self.onEffectRegistered)

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndImportEvent, self.onSceneEndImport)

        self.ui.loadIaPetButton.connect("clicked(bool)", lambda: self.onLoadPet("IA"))
        self.ui.loadIvPetButton.connect("clicked(bool)", lambda: self.onLoadPet("IV"))
        self.ui.reapplySuvButton.connect("clicked(bool)", self.onReapplySuv)
        self.ui.showIaFusionButton.connect("clicked(bool)", lambda: self.showFusion("IA"))
        self.ui.showIvFusionButton.connect("clicked(bool)", lambda: self.showFusion("IV"))
        self.ui.addLesionButton.connect("clicked(bool)", self.onAddLesion)
        for button, name in (
            (self.ui.healthyLiverButton, "Healthy liver"),
            (self.ui.spleenButton, "Spleen"),
            (self.ui.kidneyLeftButton, "Kidney left"),
            (self.ui.kidneyRightButton, "Kidney right"),
            (self.ui.boneMarrowButton, "Bone marrow"),
        ):
            button.connect("clicked(bool)", lambda checked=False, voi=name: self.onAddOrganVoi(voi))
        self.ui.updateButton.connect("clicked(bool)", self.onUpdateButton)
        self.ui.showInLayoutButton.connect("clicked(bool)", self.onShowInLayout)
        self.ui.exportButton.connect("clicked(bool)", self.onExport)
        self.ui.dicomExportButton.connect("clicked(bool)", self.onExportDicom)
        self.ui.reportButton.connect("clicked(bool)", self.onReport)
        self.initializeParameterNode()

    def cleanup(self) -> None:
        self._live.stop()
        self._updateTimer.stop()
        self._updateTimer.disconnect("timeout()", self.onLiveUpdateTimer)
        self._placement.cancel()
        self._effectFactory.disconnect("effectRegistered(QString)", self.onEffectRegistered)
        self.setParameterNode(None)
        self.removeObservers()

    def onEffectRegistered(self) -> None:
        self.ui.segmentEditorWidget.updateEffectList()

    def _selectSegmentEditorNode(self) -> None:
        """The module's own editor node (re-created after a scene close or import), as SegmentEditor.py's
        selectParameterNode does."""
        editorNode = self.logic.lib.segment_editor_node()
        if self.ui.segmentEditorWidget.mrmlSegmentEditorNode() is not editorNode:
            self.ui.segmentEditorWidget.setMRMLSegmentEditorNode(editorNode)

    def enter(self) -> None:
        # As Slicer's SegmentEditor module widget does (Modules/Scripted/SegmentEditor/SegmentEditor.py).
        editor = self.ui.segmentEditorWidget
        # Slicer 5.8's editor cannot work on light-box slice views (5.10 supports them and deprecates the call).
        if (slicer.app.majorVersion, slicer.app.minorVersion) < (5, 10) and editor.turnOffLightboxes():
            slicer.util.warningDisplay(_("The segment editor is not compatible with slice viewers in light box "
                                         "mode. Views are being reset."), windowTitle=_("Ragaliv Lesion Ratio"))
        editor.installKeyboardShortcuts()
        self._selectSegmentEditorNode()
        self.initializeParameterNode()
        editor.updateWidgetFromMRML()

    def exit(self) -> None:
        self._placement.cancel()
        self.ui.segmentEditorWidget.setActiveEffect(None)
        self.ui.segmentEditorWidget.uninstallKeyboardShortcuts()
        self.ui.segmentEditorWidget.removeViewObservations()

    def onSceneStartClose(self, caller, event) -> None:
        self._live.stop()
        self._live.pending = False
        self._updateTimer.stop()
        self._placement.cancel()
        self.logic.lib.reset()  # cached voxels, masks and statistics of the closing scene
        self.ui.segmentEditorWidget.setSegmentationNode(None)
        self.ui.segmentEditorWidget.removeViewObservations()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self._selectSegmentEditorNode()
            self.initializeParameterNode()
            self.ui.segmentEditorWidget.updateWidgetFromMRML()

    def onSceneEndImport(self, caller, event) -> None:
        """A scene loaded into this one may bring this module's parameter and editor nodes (SegmentEditor.py), and
        with them confirmations given for other inputs or in another session: withdrawn (the box un-ticked)."""
        self.logic.lib.withdraw_confirmations()
        if self.parent.isEntered:
            self._selectSegmentEditorNode()
            self.setParameterNode(None)  # the imported singleton node's values replace the current ones
            self.initializeParameterNode()
            self.ui.segmentEditorWidget.updateWidgetFromMRML()

    # --- parameter node ----------------------------------------------------------------------------
    def initializeParameterNode(self) -> None:
        parameterNode = self.logic.getParameterNode()
        if self._parameterNode is not None and self._parameterNode.parameterNode is parameterNode.parameterNode:
            return  # already connected to this node (enter() after exit(): do not stack GUI connections)
        self.setParameterNode(parameterNode)

    def _parameterWidgets(self) -> dict:
        """The .ui widgets bound to parameters through their "SlicerParameterName" dynamic property."""
        widgets = {}
        for widget in vars(self.ui).values():
            name = widget.property("SlicerParameterName") if hasattr(widget, "property") else None
            if name:
                widgets[name] = widget
        return widgets

    def setParameterNode(self, inputParameterNode: Optional[RagalivLesionRatioParameterNode]) -> None:
        if self._parameterNode:
            if self._guiConnection is not None:
                self._guiConnection.disconnect()
            self.removeObserver(
                self._parameterNode.parameterNode, vtk.vtkCommand.ModifiedEvent, self.onParameterNodeModified
            )
        self._parameterNode = inputParameterNode
        self._guiConnection = None
        if self._parameterNode:
            # connectGui() returns None up to Slicer 5.8, and disconnectGui() leaves the node observer behind
            # up to 5.10: GuiConnection (ragaliv_gui.parameter_gui) returns and removes both in every version.
            self._guiConnection = GuiConnection(self._parameterNode, self._parameterWidgets())
            self.addObserver(
                self._parameterNode.parameterNode, vtk.vtkCommand.ModifiedEvent, self.onParameterNodeModified
            )
            self.onParameterNodeModified()

    def onParameterNodeModified(self, caller=None, event=None) -> None:
        node = self._parameterNode
        segmentation = node.segmentation if node else None
        # Segment edits, and moving the segmentation or a PET (parent transform) or re-converting a PET, update live.
        self._live.observe(segmentation, [node.iaPetVolume, node.ivPetVolume] if node else [])
        editor = self.ui.segmentEditorWidget
        if editor.segmentationNode() is not segmentation:
            editor.setSegmentationNode(segmentation)
        # setSourceVolumeNode without a segmentation logs an error (qMRMLSegmentEditorWidget 5.8,
        # vtkSlicerSegmentEditorLogic 5.10+): set it only with one, and only when it changes.
        source = node.mriVolume if node and segmentation is not None else None
        if source is not None and editor.sourceVolumeNode() is not source:
            editor.setSourceVolumeNode(source)
        missing = self.logic.lib.missing_inputs() if node else None
        ready = bool(node) and missing is None
        self.ui.updateButton.enabled = ready
        self.ui.exportButton.enabled = ready
        self.ui.dicomExportButton.enabled = ready
        self.ui.reportButton.enabled = ready
        # A lesion or organ VOI needs a reference grid (the MRI, else the IA PET): checked before a click is armed.
        for button in self._placementButtons():
            button.enabled = bool(node and (node.mriVolume or node.iaPetVolume))
        self._showSuvParameters()
        if ready:
            self._live.pending = True
            self._updateTimer.start()
        elif node is not None:
            # An input was deselected: the last decision is for inputs no longer selected, so it is withdrawn.
            self._updateTimer.stop()
            self._live.pending = False
            self._showStatus(self.logic.lib.mark_not_computed(missing))

    def _placementButtons(self) -> list:
        ui = self.ui
        return [ui.addLesionButton, ui.healthyLiverButton, ui.spleenButton, ui.kidneyLeftButton,
                ui.kidneyRightButton, ui.boneMarrowButton]

    # --- live table -------------------------------------------------------------------------------------
    def _showStatus(self, status) -> None:
        """The Lib's LiveStatus: the decision with its rule and status, the failed consistency checks and how to
        confirm them, the warnings; or "Not computed" and why, a refusal in red (never a stale decision)."""
        if status is None:
            return
        # Rich-text labels: every text from the Lib is escaped ("CV < 50 %" would open a tag and hide the rest).
        if status.computed:
            self.ui.decisionLabel.text = (f"<b>{html.escape(status.decision_text)}</b><br>"
                                          f"Rule: {html.escape(status.rule_text)}<br>"
                                          + _("Decision status: {status}").format(
                                              status=html.escape(status.decision_status)))
            self.ui.statusLabel.text = _("Updated {count} segment(s) in {ms:.0f} ms").format(
                count=len(status.recomputed_segments), ms=1000 * status.seconds)
        else:
            self.ui.decisionLabel.text = ('<span style="color:#b00020">'
                                          + _("<b>Not computed</b>: {reason}").format(
                                              reason=html.escape(status.reason)) + "</span>")
            self.ui.statusLabel.text = ""
        lines = []
        for item in status.consistency:
            confirmed = item["status"] != "not confirmed"
            text = f"{'✓' if confirmed else '✗'} [{html.escape(item['check'])}] {html.escape(item['message'])}"
            if confirmed:
                text += f" <i>({html.escape(item['status'])})</i>"
            elif item.get("hint"):
                text += f"<br>&nbsp;&nbsp;{html.escape(item['hint'])}"
            lines.append(text)
        if status.confirm_hint:
            lines.append(f"<b>{html.escape(status.confirm_hint)}</b>")
        # A confirmation withdrawn by this update (another PET pair, a new failed check): why the box is un-ticked.
        lines.extend(f"<b>⚠ {html.escape(note)}</b>" for note in status.confirmation_notes)
        self.ui.consistencyLabel.text = "<br>".join(lines)
        self.ui.warningsLabel.text = "<br>".join(f"⚠ {html.escape(warning)}" for warning in status.warnings)
        table = self._parameterNode.ratioTable if self._parameterNode else None
        if table is not None:
            self.ui.ratioTableView.setMRMLTableNode(table)

    def onLiveUpdateTimer(self) -> None:
        # live edits: the reason goes in the panel, no modal dialog on every stroke
        self._showStatus(self._live.flush())

    def onUpdateButton(self) -> None:
        self._live.pending = True
        with slicer.util.WaitCursor():
            status = self._live.flush()
        self._showStatus(status)
        if status is not None and not status.computed:
            slicer.util.errorDisplay(_("Failed to compute the uptake ratios: {reason}").format(reason=status.reason))

    # --- PET loading --------------------------------------------------------------------------------------
    def _overrides(self, role: str):
        """The "SUV parameters" panel fields (the ones ragaliv.pet.suv's error hints name) as SuvOverrides, when
        "Override DICOM values" is ticked; 0 / "DICOM header" keeps the header value. (A refused header value is
        accepted by the Lib's conversion, with the "Accept checks" ids given for that refusal.)"""
        use = self.ui.overrideCheckBox.checked

        def positive(spinBox):
            return spinBox.value if use and spinBox.value > 0 else None

        def dateTimeOrHeader(edit):
            # The .ui sets the minimum date-time (1900-01-01, shown as "DICOM header") as the default.
            if not use or edit.dateTime == edit.minimumDateTime:
                return None
            text = edit.dateTime.toString("yyyy-MM-dd HH:mm:ss")
            return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")

        from ragaliv.pet.suv import SuvOverrides

        ia = role == "IA"
        sex = self.ui.sexComboBox.currentText
        return SuvOverrides(
            weight_kg=positive(self.ui.weightSpinBox),
            height_cm=positive(self.ui.heightSpinBox),
            sex=sex if use and sex in ("M", "F", "O") else None,
            injected_dose_mbq=positive(self.ui.iaDoseSpinBox if ia else self.ui.ivDoseSpinBox),
            injection_time=dateTimeOrHeader(self.ui.iaInjectionDateTimeEdit if ia else self.ui.ivInjectionDateTimeEdit),
            scan_time=dateTimeOrHeader(self.ui.iaScanDateTimeEdit if ia else self.ui.ivScanDateTimeEdit),
            half_life_s=positive(self.ui.halfLifeSpinBox),
        )

    def _choosePetSeries(self, role: str):
        database = dicomDatabase()
        if database is None:
            raise RagalivError(_("The DICOM database is not open (or the DICOM module is disabled): import the PET "
                                 "series in the DICOM module first."))
        labels, seriesUids = [], []
        for patient in database.patients():
            for study in database.studiesForPatient(patient):
                for series in database.seriesForStudy(study):
                    files = database.filesForSeries(series, 1)
                    if not files or database.fileValue(files[0], "0008,0060") != "PT":
                        continue
                    fields = [database.fileValue(files[0], tag)
                              for tag in ("0010,0010", "0008,0021", "0008,0031", "0008,103e")]
                    # Numbered: two series may share patient, date, time and description.
                    labels.append(f"{len(labels) + 1}. " + " | ".join(fields))
                    seriesUids.append(series)
        if not labels:
            raise RagalivError(_("No PET (PT) series in the DICOM database. Import the PET series first."))
        # Not qt.QInputDialog.getItem: on Cancel it returns the current item (qinputdialog.cpp), and PythonQt
        # cannot return its "bool* ok", so Cancel would load the first series.
        dialog = qt.QInputDialog(slicer.util.mainWindow())
        dialog.setWindowTitle(_("Choose the {role} PET").format(role=role))
        dialog.setLabelText(_("PET series:"))
        dialog.setComboBoxItems(labels)
        dialog.setComboBoxEditable(False)
        accepted = dialog.exec_()
        label = dialog.textValue()
        dialog.deleteLater()
        if not accepted or label not in labels:
            return None
        return database.filesForSeries(seriesUids[labels.index(label)])

    def onLoadPet(self, role: str) -> None:
        message = _("Failed to load the {role} PET.").format(role=role)
        files = None
        with slicer.util.tryWithErrorDisplay(message):  # no wait cursor over the series dialog
            files = self._choosePetSeries(role)
        if not files:
            return
        with slicer.util.tryWithErrorDisplay(message, waitCursor=True):
            # The Lib's conversion: panel hints, and the "Accept checks" ids given for this PET's refusals only.
            node, _pet = self.logic.lib.load_pet(files, role, self._overrides(role), self._parameterNode.normalization)
            if role == "IA":
                self._parameterNode.iaPetVolume = node
            else:
                self._parameterNode.ivPetVolume = node
            self._showSuvParameters()
            self.showFusion(role)

    def onReapplySuv(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to re-convert the PETs to SUV."), waitCursor=True):
            for role, node in (("IA", self._parameterNode.iaPetVolume), ("IV", self._parameterNode.ivPetVolume)):
                files = json.loads(node.GetAttribute("Ragaliv.SourceFiles") or "[]") if node else []
                if files:
                    self.logic.lib.load_pet(files, role, self._overrides(role), self._parameterNode.normalization,
                                            volume_node=node)
            self._showSuvParameters()
        if self.ui.updateButton.enabled:
            self.onUpdateButton()

    def _showSuvParameters(self) -> None:
        lines = []
        node = self._parameterNode
        for role, volume in (("IA", node.iaPetVolume if node else None), ("IV", node.ivPetVolume if node else None)):
            text = volume.GetAttribute("Ragaliv.SuvParameters") if volume else None
            if not text:
                continue
            used = json.loads(text)
            lines.append(
                f"<b>{role}</b>: {used.get('suv_quantity')} — weight {used.get('weight_kg')} kg, "
                f"injected {(used.get('injected_dose_bq') or 0) / 1e6:.1f} MBq at {used.get('injection_time')}, "
                f"scan {used.get('scan_reference_time')}, T½ {used.get('half_life_s')} s"
            )
            lines.extend(f"&nbsp;&nbsp;⚠ {html.escape(str(warning))}" for warning in used.get("warnings", []))
        self.ui.suvParametersLabel.text = "<br>".join(lines) or _("Load the PETs to see the SUV parameters used.")

    def showFusion(self, role: str) -> None:
        node = self._parameterNode
        pet = (node.iaPetVolume if role == "IA" else node.ivPetVolume) if node else None
        if pet is None:
            return  # setSliceViewerLayers(foreground=None) would clear the layer
        slicer.util.setSliceViewerLayers(background=node.mriVolume or pet, foreground=pet, foregroundOpacity=0.5)

    # --- placing by click -----------------------------------------------------------------------------------
    def _placeByClick(self, action, what: str) -> None:
        """One click in a view runs ``action(ras)``; Esc, right-click or any other end of Place mode cancels
        (RagalivLesionRatioLib.placement.ClickPlacement, tested on MRML)."""

        def onClick(ras):
            with slicer.util.tryWithErrorDisplay(_("Could not place the segment."), waitCursor=True):
                action(ras)
            self.ui.statusLabel.text = ""

        def onCancel():
            if not self._placement.armed:  # superseded by a newer request: keep its "click on it" prompt
                self.ui.statusLabel.text = _("{what}: cancelled (no click).").format(what=what)

        self._placement.arm(onClick, onCancel)
        self.ui.statusLabel.text = _("{what}: click on it in a slice view (Esc cancels).").format(what=what)

    def onAddLesion(self) -> None:
        self._placeByClick(lambda ras: self.logic.lib.add_lesion(ras), _("Add lesion"))

    def onAddOrganVoi(self, name: str) -> None:
        self._placeByClick(lambda ras: self.logic.lib.add_organ_voi(name, ras), name)

    # --- results ---------------------------------------------------------------------------------------------
    def onShowInLayout(self) -> None:
        node = self._parameterNode
        if node is not None:
            showTableAndChart(node.ratioTable, node.ratioChart)

    def onExport(self) -> None:
        directory = ctk.ctkFileDialog.getExistingDirectory(slicer.util.mainWindow(), _("Export ratio results to"))
        if not directory:
            return
        paths = None
        with slicer.util.tryWithErrorDisplay(_("Export failed."), waitCursor=True):
            paths = self.logic.lib.export(directory)
        if not paths:
            return
        showWrittenFiles(paths)

    def _mriFiles(self):
        """DICOM files of the MRI (from Slicer's DICOM database), which the SEG is defined on."""
        mri = self._parameterNode.mriVolume
        uids = (mri.GetAttribute("DICOM.instanceUIDs") or "").split() if mri else []
        database = dicomDatabase()
        files = [database.fileForInstance(uid) for uid in uids] if uids and database is not None else []
        if not files or not all(files):
            raise RagalivError(_("The MRI was not loaded from the DICOM database, so a DICOM SEG cannot reference it."))
        return files

    def onExportDicom(self) -> None:
        directory = ctk.ctkFileDialog.getExistingDirectory(slicer.util.mainWindow(), _("Write DICOM SEG and SR to"))
        if not directory or not ensurePythonPackage("highdicom", _("DICOM export")):
            return
        paths = None
        with slicer.util.tryWithErrorDisplay(_("DICOM export failed."), waitCursor=True):
            paths = self.logic.lib.export_dicom(directory, self._mriFiles(), self.ui.deidentifyCheckBox.checked)
        if not paths:
            return
        showWrittenFiles(paths)

    def onReport(self) -> None:
        directory = ctk.ctkFileDialog.getExistingDirectory(slicer.util.mainWindow(), _("Write the case report to"))
        if not directory:
            return
        paths = None
        with slicer.util.tryWithErrorDisplay(_("The case report failed."), waitCursor=True):
            paths = self.logic.lib.write_report(directory, self.ui.deidentifyCheckBox.checked)
        if not paths:
            return
        showWrittenFiles(paths)
        qt.QDesktopServices.openUrl(qt.QUrl.fromLocalFile(paths["report"]))


#
# RagalivLesionRatioLogic
#


class RagalivLesionRatioLogic(ScriptedLoadableModuleLogic):
    """Module logic: the parameter node, and the scene-based Lib that does the work."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self._lib = None

    def getParameterNode(self):
        return RagalivLesionRatioParameterNode(super().getParameterNode())

    @property
    def lib(self):
        """RagalivLesionRatioLib.LesionRatioLogic on the application's scene (imported on first use)."""
        if self._lib is None or self._lib.scene is not slicer.mrmlScene:
            from RagalivLesionRatioLib import LesionRatioLogic

            self._lib = LesionRatioLogic(slicer.mrmlScene)
            self._lib.panel_hints = True  # fix hints name this panel's fields, not CLI flags
        return self._lib


#
# RagalivLesionRatioTest
#


class RagalivLesionRatioTest(ScriptedLoadableModuleTest):
    """The whole workflow on the synthetic patient (written as DICOM), numbers against its truth."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_RagalivLesionRatio_syntheticPatient()

    def test_RagalivLesionRatio_syntheticPatient(self):
        import tempfile

        from ragaliv.io.dicom_series import load_volume, select_series
        from ragaliv.phantom import generate
        from ragaliv.ratio.placement import sphere_segment
        from ragaliv_mrml import nodes
        from RagalivLesionRatioLib import load_pet_node

        self.delayDisplay("Writing the synthetic patient")
        folder = tempfile.mkdtemp(prefix="ragaliv-test-")
        paths = generate(folder, seed=0)
        with open(paths["truth"], encoding="utf-8") as stream:
            truth = json.load(stream)

        scene = slicer.mrmlScene
        mri = nodes.add_volume_node(scene, load_volume(select_series(paths["mri"], ("MR",), "MRI")), "MRI")
        ia, _pet = load_pet_node(scene, paths["pet_ia"], "IA PET SUV")
        iv, _pet = load_pet_node(scene, paths["pet_iv"], "IV PET SUV")
        segmentation = slicer.util.loadSegmentation(paths["segmentation"])

        logic = RagalivLesionRatioLogic()
        parameterNode = logic.getParameterNode()
        parameterNode.mriVolume, parameterNode.iaPetVolume, parameterNode.ivPetVolume = mri, ia, iv
        parameterNode.segmentation = segmentation
        self.delayDisplay("Computing the ratio table")
        analysis = logic.lib.update()
        for name, expected in truth["segments"].items():
            row = analysis.row(name)
            self.assertAlmostEqual(row.ia.suvmax / expected["ia"]["suvmax"], 1.0, delta=0.01)
            self.assertAlmostEqual(row.iv.suvpeak / expected["iv"]["suvpeak"], 1.0, delta=0.01)
            self.assertAlmostEqual(row.ratio("suvmean") / expected["ratio"], 1.0, delta=0.01)
        self.assertAlmostEqual(analysis.summary.lesion_ratio / truth["ratio"]["lesion_ratio"], 1.0, delta=0.01)
        self.assertEqual(analysis.summary.eligible, truth["ratio"]["eligible"])

        self.delayDisplay("Two patients: NOT DETERMINED until confirmed (as ragaliv ratio)")
        patientId, frame = nodes.dicom_identity(iv)
        nodes.set_dicom_identity(iv, "SOMEONE-ELSE", frame)
        self.assertIsNone(logic.lib.update().summary.eligible)
        parameterNode.confirmConsistency = True
        self.assertEqual(logic.lib.update().summary.eligible, truth["ratio"]["eligible"])
        self.delayDisplay("The confirmation covers that pair only: a third patient is NOT DETERMINED, box un-ticked")
        nodes.set_dicom_identity(iv, "A-THIRD-PATIENT", frame)
        self.assertIsNone(logic.lib.update().summary.eligible)
        self.assertFalse(parameterNode.confirmConsistency)
        nodes.set_dicom_identity(iv, patientId, frame)

        self.delayDisplay("Editing Lesion 2 through MRML: only its row changes")
        lesionId = segmentation.GetSegmentation().GetSegmentIdBySegmentName("Lesion 2")
        before = {row.segment: row.ia.suvmean for row in analysis.rows}
        centre = truth["segments"]["Lesion 2"]["centre_lps_mm"]
        edge = [centre[0] + truth["segments"]["Lesion 2"]["diameter_mm"] / 2 + 9.0, centre[1], centre[2]]
        edited = sphere_segment("Lesion 2", edge, 12.0, nodes.volume_geometry(mri))
        nodes.set_segment_mask(segmentation, lesionId, edited)
        analysis = logic.lib.update()
        self.assertEqual(logic.lib.last_update.recomputed_segments, ["Lesion 2"])
        self.assertLess(analysis.row("Lesion 2").ia.suvmean, before["Lesion 2"])
        self.assertEqual(analysis.row("Kidney left").ia.suvmean, before["Kidney left"])

        self.delayDisplay("Adding a lesion by click position")
        logic.lib.add_lesion([-centre[0], -centre[1], centre[2]])
        analysis = logic.lib.update()
        self.assertEqual(analysis.summary.lesion_count, 6)
        self.delayDisplay("Test passed")
