"""RagalivSpectDosimetry: multi-time-point 177Lu SPECT/CT -> time-activity curves, residence times, doses.

Thin Slicer wiring (Slicer's scripted-module template): all behaviour is in RagalivSpectDosimetryLib (MRML,
no Qt) and the ragaliv core, tested without the application. Slicer reads this file at start-up, so the
Lib (numpy, scipy, pydicom) is imported only when the module is first used.
"""

import html
import logging
import os
import sys
from typing import Annotated, Optional

import ctk
import qt
import slicer
import vtk
from slicer import vtkMRMLPlotChartNode, vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode, vtkMRMLTableNode
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

from ragaliv_gui import dicomDatabase, ensurePythonPackage, showTableAndChart, showWrittenFiles  # noqa: E402
from ragaliv_gui.parameter_gui import GuiConnection  # noqa: E402

MODELS = ["auto", "mono", "biexp-uptake", "biexp", "triexp", "trapezoid", "stp"]


#
# RagalivSpectDosimetry
#


class RagalivSpectDosimetry(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Ragaliv SPECT Dosimetry")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Nuclear Medicine")]
        # Node classes and logics come from these; DICOM is optional (header pre-fill only, guarded).
        self.parent.dependencies = ["Plots", "Segmentations", "Tables"]
        self.parent.contributors = ["Ragaliv team"]
        self.parent.helpText = _(
            "177Lu-DOTATATE dosimetry from several SPECT/CT time points: VOI time-activity curves, kinetic fits "
            "with model selection (AICc), time-integrated activity and its coefficient (residence time), "
            "absorbed doses (sphere model, organ S-values with mass scaling, local deposition, voxel S-value "
            "kernel) with uncertainties, kidney BED, a dose map and dose-volume histograms."
        )
        self.parent.acknowledgementText = _(
            "Ragaliv. 177Lu voxel S-values: Lanconelli et al. 2012 (Phys Med Biol 57:517); decay data ICRP-107."
        )


#
# RagalivSpectDosimetryParameterNode
#


@parameterNodeWrapper
class RagalivSpectDosimetryParameterNode:
    segmentation: vtkMRMLSegmentationNode
    timepointTable: vtkMRMLTableNode
    resultsTable: vtkMRMLTableNode
    tacTable: vtkMRMLTableNode
    tacChart: vtkMRMLPlotChartNode
    doseMap: vtkMRMLScalarVolumeNode
    administeredMbq: Annotated[float, WithinRange(0.0, 100000.0)] = 0.0  # required: 0 = not entered
    injectionTime: str = ""
    referenceTimepoint: Annotated[int, WithinRange(0, 20)] = 0
    model: Annotated[str, Choice(MODELS)] = "auto"
    modelOverrides: str = ""
    recoveryCoefficients: str = ""
    calibrationUncertainty: Annotated[float, WithinRange(0.0, 0.5)] = 0.0
    register: bool = False
    voxelDosimetry: bool = True
    kernelDirectory: str = ""
    acceptChecks: str = ""  # ids of refused checks the user accepts (ragaliv dosimetry --accept)
    populationFile: str = ""  # a saved population.json: prior-based TIAs beside the study's own fits


#
# RagalivSpectDosimetryWidget
#


class RagalivSpectDosimetryWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._guiConnection = None
        self._progressDialog = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/RagalivSpectDosimetry.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = RagalivSpectDosimetryLogic()
        # A deleted SPECT or CT is marked in the time point table at once (the run refuses it anyway).
        self.logic.lib.watch_scene()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndImportEvent, self.onSceneEndImport)
        self.ui.spectSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.onSpectSelected)
        self.ui.addTimepointButton.connect("clicked(bool)", self.onAddTimepoint)
        self.ui.removeTimepointButton.connect("clicked(bool)", self.onRemoveTimepoint)
        self.ui.populationBrowseButton.connect("clicked(bool)", self.onBrowsePopulation)
        self.ui.runButton.connect("clicked(bool)", self.onRun)
        self.ui.showInLayoutButton.connect("clicked(bool)", self.onShowInLayout)
        self.ui.showDoseMapButton.connect("clicked(bool)", self.onShowDoseMap)
        self.ui.exportButton.connect("clicked(bool)", self.onExport)
        self.ui.reportButton.connect("clicked(bool)", self.onReport)
        self.initializeParameterNode()

    def cleanup(self) -> None:
        self.logic.lib.unwatch_scene()
        self.setParameterNode(None)
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def onSceneStartClose(self, caller, event) -> None:
        self._requestCancel()  # a run in progress stops before writing into the closing scene
        self.logic.lib.reset()  # its result belongs to the closing scene (perhaps another patient)
        self.setParameterNode(None)
        # Its messages too: the next scene's are read from its own results table (onParameterNodeModified).
        self.ui.statusLabel.text = ""
        self._showResultMessages(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def onSceneEndImport(self, caller, event) -> None:
        self.ui.statusLabel.text = ""  # the results shown may now be the imported scene's
        if self.parent.isEntered:
            self.setParameterNode(None)  # the imported singleton node's values replace the current ones
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        parameterNode = self.logic.getParameterNode()
        if self._parameterNode is not None and self._parameterNode.parameterNode is parameterNode.parameterNode:
            return  # already connected to this node (enter() again: do not stack GUI connections)
        self.setParameterNode(parameterNode)

    def _parameterWidgets(self) -> dict:
        """The .ui widgets bound to parameters through their "SlicerParameterName" dynamic property."""
        widgets = {}
        for widget in vars(self.ui).values():
            name = widget.property("SlicerParameterName") if hasattr(widget, "property") else None
            if name:
                widgets[name] = widget
        return widgets

    def setParameterNode(self, inputParameterNode: Optional[RagalivSpectDosimetryParameterNode]) -> None:
        if self._parameterNode:
            if self._guiConnection is not None:
                self._guiConnection.disconnect()
            self.removeObserver(
                self._parameterNode.parameterNode, vtk.vtkCommand.ModifiedEvent, self.onParameterNodeModified
            )
        self._parameterNode = inputParameterNode
        self._guiConnection = None
        if self._parameterNode:
            # connectGui() returns None up to Slicer 5.8, disconnectGui() leaves the node observer behind up to
            # 5.10, and 5.8's line-edit connector moves the cursor on every keystroke: GuiConnection
            # (ragaliv_gui.parameter_gui) handles all three in every version.
            self._guiConnection = GuiConnection(self._parameterNode, self._parameterWidgets())
            self.addObserver(
                self._parameterNode.parameterNode, vtk.vtkCommand.ModifiedEvent, self.onParameterNodeModified
            )
            self.onParameterNodeModified()

    def onParameterNodeModified(self, caller=None, event=None) -> None:
        node = self._parameterNode
        if node is None:
            return
        self.ui.timepointTableView.setMRMLTableNode(node.timepointTable)
        self.ui.resultsTableView.setMRMLTableNode(node.resultsTable)
        self.ui.runButton.enabled = bool(node.segmentation and node.timepointTable) and not self.logic.lib.running
        self.ui.exportButton.enabled = node.resultsTable is not None
        self.ui.reportButton.enabled = node.resultsTable is not None
        self.ui.showDoseMapButton.enabled = node.doseMap is not None
        self._showResultMessages(node.resultsTable)

    def _showResultMessages(self, resultsTable) -> None:
        """The warnings and fit notes of the results table shown, as the Lib stored them on it (a scene loaded from
        file shows its own), or none without a table: never those of an earlier scene or run."""
        from RagalivSpectDosimetryLib import result_messages

        warnings, notes = result_messages(resultsTable)
        # Rich-text labels: "CV < 50 %" in a kinetics warning would open a tag and hide the rest unless escaped.
        self.ui.warningsLabel.text = "<br>".join(f"⚠ {html.escape(warning)}" for warning in warnings)
        # Fit-quality flags (warnings) and fit notes, as `ragaliv dosimetry` prints them on the console.
        self.ui.fitNotesLabel.text = "<br>".join(
            f"{'⚠' if note.startswith('fit flag') else 'ⓘ'} {html.escape(note)}" for note in notes)

    # --- time points ------------------------------------------------------------------------------------
    def _dicomHeaders(self, volumeNode) -> list:
        """The DICOM headers of a volume loaded through Slicer's DICOM module (the first file's whole header, the
        time tags of every other file), or [] (not from DICOM, or a file missing: said on the status line)."""
        uids = (volumeNode.GetAttribute("DICOM.instanceUIDs") or "").split()
        database = dicomDatabase()  # None when the DICOM module is disabled or its database is not open
        if not uids or database is None:
            return []
        from RagalivSpectDosimetryLib.header_prefill import series_headers

        headers, problem = series_headers([database.fileForInstance(uid) for uid in uids], volumeNode.GetName())
        if problem:
            self.ui.statusLabel.text = problem
            logging.warning("RagalivSpectDosimetry: " + problem)
        return headers

    def onSpectSelected(self, volumeNode) -> None:
        """Fill units, time, injection and activity from the DICOM header: only fields still empty, each value
        on its own (RagalivSpectDosimetryLib.header_prefill; all editable, headers are often wrong)."""
        node = self._parameterNode
        if volumeNode is None or node is None:
            return
        headers = self._dicomHeaders(volumeNode)
        if not headers:
            return
        from RagalivSpectDosimetryLib.header_prefill import prefill_from_header

        # Times read as `ragaliv dosimetry` reads them (ragaliv.spect.loading.acquisition_time).
        prefill = prefill_from_header(headers, node.injectionTime, node.administeredMbq)
        self.ui.unitsComboBox.currentText = prefill.units
        if prefill.injection_time is not None:
            node.injectionTime = prefill.injection_time
        if prefill.administered_mbq is not None:
            node.administeredMbq = prefill.administered_mbq
        if prefill.time_h is not None:
            self.ui.timeSpinBox.value = prefill.time_h
        if prefill.notes:
            self.ui.statusLabel.text = "; ".join(prefill.notes)
            logging.info("RagalivSpectDosimetry: DICOM header pre-fill: " + "; ".join(prefill.notes))

    def onAddTimepoint(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not add the time point."), waitCursor=True):
            from RagalivSpectDosimetryLib.header_prefill import header_acquisition_time, header_injection_time

            counts = self.ui.unitsComboBox.currentText == "counts"
            spect = self.ui.spectSelector.currentNode()
            headers = self._dicomHeaders(spect) if spect is not None else []
            # the run compares the hours entered with the SPECT's DICOM acquisition time (spect-time check), read
            # by the rule of ragaliv dosimetry, and names the tags it came from
            acquisitionTime, acquisitionSource = header_acquisition_time(headers)
            self.logic.lib.add_timepoint(
                spect, self.ui.ctSelector.currentNode(), self.ui.timeSpinBox.value,
                self.ui.unitsComboBox.currentText,
                self.ui.calibrationSpinBox.value if counts and self.ui.calibrationSpinBox.value > 0 else None,
                self.ui.durationSpinBox.value if counts and self.ui.durationSpinBox.value > 0 else None,
                acquisition_time=acquisitionTime, acquisition_source=acquisitionSource,
                # the run compares the injection time entered with the header's (injection-time check)
                injection_time=header_injection_time(headers),
            )
            self.onParameterNodeModified()

    def onRemoveTimepoint(self) -> None:
        view = self.ui.timepointTableView
        proxy = view.sortFilterProxyModel()  # the view may be sorted: map to rows of the table node
        rows = {proxy.mapToSource(index).row() for index in view.selectionModel().selectedIndexes()}
        with slicer.util.tryWithErrorDisplay(_("Could not remove the time point."), waitCursor=True):
            for row in sorted(rows, reverse=True):
                self.logic.lib.remove_timepoint(row)

    # --- analysis ---------------------------------------------------------------------------------------
    def onBrowsePopulation(self) -> None:
        path = qt.QFileDialog.getOpenFileName(slicer.util.mainWindow(), _("Population prior (population.json)"),
                                              "", _("Ragaliv population (*.json)"))
        if path and self._parameterNode is not None:
            self._parameterNode.populationFile = path

    def _requestCancel(self) -> None:
        if self._progressDialog is not None:
            self._progressDialog.cancel()

    def onRun(self) -> bool:
        """Modal progress (nothing else in Slicer can be clicked meanwhile) whose Cancel the Lib checks at every
        pipeline step; the Lib also refuses a second run and time point changes while one runs. True when a
        result was computed."""
        from RagalivSpectDosimetryLib import RunCancelled

        if self.logic.lib.running:
            return False
        self.ui.runButton.enabled = False
        progressDialog = slicer.util.createProgressDialog(
            labelText=_("Computing dosimetry…"), maximum=0, windowModality=qt.Qt.ApplicationModal,
            autoClose=False, autoReset=False)
        progressDialog.setCancelButtonText(_("Cancel"))
        progressDialog.show()
        self._progressDialog = progressDialog
        result = None
        try:
            def progress(message, *args):
                progressDialog.labelText = _("Computing dosimetry: {step}…").format(step=message)
                slicer.app.processEvents()  # paints the dialog and takes its Cancel click

            with slicer.util.tryWithErrorDisplay(_("Dosimetry failed."), waitCursor=True):
                try:
                    result = self.logic.lib.run(progress=progress, cancelled=lambda: progressDialog.wasCanceled)
                except RunCancelled:  # not an error: no dialog
                    self.ui.statusLabel.text = _("Dosimetry cancelled: the previous results are unchanged.")
        finally:
            self._progressDialog = None
            progressDialog.close()
            progressDialog.deleteLater()
            self.onParameterNodeModified()
        if result is not None:
            # The warnings and fit notes were shown from the results table by onParameterNodeModified above.
            status = _("{count} VOIs, {points} time points").format(count=len(result.regions),
                                                                  points=len(result.timepoints))
            population = self.logic.lib.population
            if population is not None:
                status += " — " + _("population prior: TIAs of {count} VOI(s) in the population columns").format(
                    count=len(population.estimates))
            self.ui.statusLabel.text = status
            self.onShowInLayout()
        return result is not None

    def onShowInLayout(self) -> None:
        node = self._parameterNode
        if node is not None:
            showTableAndChart(node.resultsTable, node.tacChart)

    def onShowDoseMap(self) -> None:
        node = self._parameterNode
        if node is None or node.doseMap is None:
            return
        points = self.logic.lib.timepoints()
        reference = points[min(node.referenceTimepoint, len(points) - 1)].ct if points else None
        slicer.util.setSliceViewerLayers(background=reference or node.doseMap, foreground=node.doseMap,
                                         foregroundOpacity=0.5)

    def _currentResult(self) -> bool:
        """The kept result if it was computed from the scene's current inputs, else a new run (with its progress
        dialog and Cancel): export and report never write an earlier run's numbers."""
        with slicer.util.tryWithErrorDisplay(_("The inputs cannot be analysed."), waitCursor=True):
            current = self.logic.lib.result_is_current()  # an error is shown, then raised: nothing is written
        return current or self.onRun()

    def _figuresAvailable(self, purpose: str) -> None:
        """matplotlib draws the PNG figures only: offered, and without it everything else is still written."""
        if not ensurePythonPackage("matplotlib", purpose):
            slicer.util.showStatusMessage(_("matplotlib is not available: the PNG figures are left out, the tables "
                                            "and the report are written."), 5000)
            self.ui.statusLabel.text = _("Without matplotlib: the PNG figures are left out.")

    def onExport(self) -> None:
        directory = ctk.ctkFileDialog.getExistingDirectory(slicer.util.mainWindow(), _("Export dosimetry to"))
        if not directory or not self._currentResult():
            return
        self._figuresAvailable(_("The dosimetry export's tac.png"))
        paths = None
        with slicer.util.tryWithErrorDisplay(_("Export failed."), waitCursor=True):
            paths = self.logic.lib.export(directory)
        if paths:
            showWrittenFiles(paths)

    def onReport(self) -> None:
        directory = ctk.ctkFileDialog.getExistingDirectory(slicer.util.mainWindow(), _("Write the report to"))
        if not directory or not self._currentResult():
            return
        self._figuresAvailable(_("The dosimetry report's figures"))
        paths = None
        with slicer.util.tryWithErrorDisplay(_("The case report failed."), waitCursor=True):
            paths = self.logic.lib.write_report(directory)
        if paths:
            showWrittenFiles(paths)


#
# RagalivSpectDosimetryLogic
#


class RagalivSpectDosimetryLogic(ScriptedLoadableModuleLogic):
    """Module logic: the parameter node, and the scene-based Lib that does the work."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self._lib = None

    def getParameterNode(self):
        return RagalivSpectDosimetryParameterNode(super().getParameterNode())

    @property
    def lib(self):
        """RagalivSpectDosimetryLib.SpectDosimetryLogic on the application's scene (imported on first use)."""
        if self._lib is None or self._lib.scene is not slicer.mrmlScene:
            from RagalivSpectDosimetryLib import SpectDosimetryLogic

            self._lib = SpectDosimetryLogic(slicer.mrmlScene)
            self._lib.panel_hints = True  # fix hints name this panel's fields, not CLI flags
        return self._lib


#
# RagalivSpectDosimetryTest
#


class RagalivSpectDosimetryTest(ScriptedLoadableModuleTest):
    """The whole workflow on the synthetic patient's SPECT/CT study (DICOM), numbers against its truth."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_RagalivSpectDosimetry_syntheticPatient()

    def test_RagalivSpectDosimetry_syntheticPatient(self):
        import json
        import tempfile

        from ragaliv.io.dicom_series import load_volume, select_series
        from ragaliv.phantom import generate
        from ragaliv.spect import load_study
        from ragaliv_mrml import nodes

        self.delayDisplay("Writing the synthetic patient")
        folder = tempfile.mkdtemp(prefix="ragaliv-test-")
        paths = generate(folder, seed=0)
        with open(paths["truth"], encoding="utf-8") as stream:
            truth = json.load(stream)["spect"]
        study = load_study(paths["spect_study"])  # reads the NM/CT DICOM and their acquisition times

        scene = slicer.mrmlScene
        logic = RagalivSpectDosimetryLogic()
        parameterNode = logic.getParameterNode()
        parameterNode.administeredMbq = study.administered_mbq
        parameterNode.injectionTime = study.injection_time.isoformat()
        parameterNode.voxelDosimetry = False
        spectFolder = os.path.dirname(paths["spect_study"])
        with open(paths["spect_study"], encoding="utf-8") as stream:
            entries = json.load(stream)["timepoints"]
        for point, entry in zip(study.timepoints, entries):
            spect = nodes.add_volume_node(scene, point.activity, f"SPECT {point.time_h:g} h")
            ctVolume = load_volume(select_series(os.path.join(spectFolder, entry["ct"]), ("CT",), "CT"))
            ct = nodes.add_volume_node(scene, ctVolume, f"CT {point.time_h:g} h")
            logic.lib.add_timepoint(spect, ct, point.time_h)
        parameterNode.segmentation = slicer.util.loadSegmentation(paths["spect_segmentation"])

        self.delayDisplay("Fitting and dosimetry")
        result = logic.lib.run()
        for region in result.regions:
            expected = truth["regions"][region.region]
            for measured, true in zip(region.tac.activity_mbq, expected["tac_mbq"]):
                self.assertAlmostEqual(measured / true, 1.0, delta=0.01)
            self.assertEqual(region.fit.model, "biexp-uptake")  # 4 points with an uptake phase, in auto (issue 9)
            self.assertAlmostEqual(region.fit.tia_mbq_h / expected["tia_mbq_h"], 1.0, delta=0.03)
        self.assertIsNotNone(parameterNode.resultsTable)
        self.assertEqual(parameterNode.tacChart.GetNumberOfPlotSeriesNodes(), 2 * len(truth["regions"]))
        self.delayDisplay("Test passed")
