"""RagalivSpectDosimetryLib never analyses or writes numbers of other inputs (second review of issue 10,
O2/O3/O5/O6/O9): a removed SPECT or CT never moves later time points onto earlier times and CTs; export and
report never write an earlier run's result; the header pre-fill never replaces a typed activity; an earlier
run's dose map does not stay; export and report work without matplotlib."""

import csv
import sys

import pytest
from ragaliv.errors import RagalivInputError
from ragaliv_mrml import nodes, tables
from ragaliv_mrml.scene_io import load_scene, save_scene
from test_spect_dosimetry_lib import study_scene  # Testing/lib

pytestmark = pytest.mark.mrml


def _names(points, what):
    return [getattr(point, what).GetName() if getattr(point, what) is not None else None for point in points]


def _table_column(parameters, key):
    return tables.read_table(parameters.get_node("timepointTable"))[key]


# --- O2: a removed SPECT or CT ------------------------------------------------------------------------------------
def test_deleting_a_spect_never_moves_later_time_points(mrml_scene, synthetic_patient):
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    logic.watch_scene()
    spect_24h = logic.timepoints(parameters)[1].spect
    mrml_scene.RemoveNode(spect_24h)  # the user deletes it in the Data module
    points = logic.timepoints(parameters)
    assert [point.time_h for point in points] == [4.0, 24.0, 72.0, 168.0]
    assert _names(points, "spect") == ["SPECT 4 h", None, "SPECT 72 h", "SPECT 168 h"]
    assert _names(points, "ct") == ["CT 4 h", "CT 24 h", "CT 72 h", "CT 168 h"]
    # The table says so at once (NodeRemovedEvent), and the run refuses the time point.
    assert _table_column(parameters, "spect")[1] == "SPECT 24 h (not in the scene)"
    with pytest.raises(RagalivInputError, match=r"Time point 2 \(24 h\): its SPECT 'SPECT 24 h' is not in the scene"):
        logic.run(parameters)
    logic.remove_timepoint(1, parameters)
    result = logic.run(parameters)
    assert [point["time_h"] for point in result.timepoints] == [4.0, 72.0, 168.0]
    assert [point.ct_source for point in logic.study.timepoints] == ["CT 4 h", "CT 72 h", "CT 168 h"]
    assert [point.source for point in logic.study.timepoints] == ["SPECT 4 h", "SPECT 72 h", "SPECT 168 h"]
    logic.unwatch_scene()


def test_deleting_a_ct_is_refused_not_ignored(mrml_scene, synthetic_patient):
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    logic.watch_scene()
    mrml_scene.RemoveNode(logic.timepoints(parameters)[2].ct)
    assert _names(logic.timepoints(parameters), "ct") == ["CT 4 h", "CT 24 h", None, "CT 168 h"]
    assert _table_column(parameters, "ct")[2] == "CT 72 h (not in the scene)"
    with pytest.raises(RagalivInputError, match=r"Time point 3 \(72 h\): its CT 'CT 72 h' is not in the scene"):
        logic.build_study(parameters)
    # Removed within a batch (a scene import, several nodes deleted at once): marked when the batch ends.
    mrml_scene.StartState(mrml_scene.BatchProcessState)
    mrml_scene.RemoveNode(logic.timepoints(parameters)[3].ct)
    assert _table_column(parameters, "ct")[3] == "CT 168 h"
    mrml_scene.EndState(mrml_scene.BatchProcessState)
    assert _table_column(parameters, "ct")[3] == "CT 168 h (not in the scene)"
    logic.unwatch_scene()
    # Not watched (e.g. before the module was opened): the run still refuses, and marks the table then.
    mrml_scene.RemoveNode(logic.timepoints(parameters)[0].ct)
    with pytest.raises(RagalivInputError, match=r"Time point 1 \(4 h\): its CT 'CT 4 h'"):
        logic.build_study(parameters)
    assert _table_column(parameters, "ct")[0] == "CT 4 h (not in the scene)"


def test_saved_scene_without_one_spect_keeps_the_others_at_their_times(mrml_scene, synthetic_patient, tmp_path):
    """A SPECT not saved with the scene (or removed from the .mrml): MRML drops its reference on load."""
    from RagalivSpectDosimetryLib import SpectDosimetryLogic

    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    logic.timepoints(parameters)[1].spect.SetSaveWithScene(False)
    save_scene(mrml_scene, str(tmp_path / "scene.mrml"))
    reloaded = SpectDosimetryLogic(load_scene(str(tmp_path / "scene.mrml")))
    parameters2 = reloaded.parameters()
    points = reloaded.timepoints(parameters2)
    assert _names(points, "spect") == ["SPECT 4 h", None, "SPECT 72 h", "SPECT 168 h"]
    assert _names(points, "ct") == ["CT 4 h", "CT 24 h", "CT 72 h", "CT 168 h"]
    with pytest.raises(RagalivInputError, match=r"Time point 2 \(24 h\): its SPECT 'SPECT 24 h'"):
        reloaded.run(parameters2)


def test_scenes_with_the_old_spect_list_are_read_only_when_complete(mrml_scene, synthetic_patient):
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    node = parameters.node
    spects = [point.spect for point in logic.timepoints(parameters)]
    for index in range(len(spects)):
        node.RemoveNodeReferenceIDs(f"timepointSpect{index}")
    for spect in spects:
        node.AddNodeReferenceID("timepointSpect", spect.GetID())
    assert _names(logic.timepoints(parameters), "spect") == ["SPECT 4 h", "SPECT 24 h", "SPECT 72 h", "SPECT 168 h"]
    mrml_scene.RemoveNode(spects[1])  # the list loses an entry: which row lost it is unknown, none is trusted
    assert _names(logic.timepoints(parameters), "spect") == [None] * 4
    with pytest.raises(RagalivInputError, match="Time point 1"):
        logic.build_study(parameters)


# --- O3: export and report write the current inputs' result ---------------------------------------------------------
def _dose_rows(path):
    with open(path, newline="", encoding="utf-8") as stream:
        return {row["region"]: row for row in csv.DictReader(stream)}


def test_export_reruns_when_the_inputs_changed_after_the_run(mrml_scene, synthetic_patient, tmp_path):
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    first = logic.run(parameters)
    parameters.set("administeredMbq", 2 * synthetic_patient.administered_mbq)
    paths = logic.export(str(tmp_path / "changed"), parameters)
    exported = _dose_rows(paths["dose"])
    spleen = first.region("Spleen").dose.primary
    # Same activity in the VOI, twice the administered activity: same Gy, half the Gy/GBq.
    assert float(exported["Spleen"]["dose_gy"]) == pytest.approx(spleen.dose_gy, rel=1e-6)
    assert float(exported["Spleen"]["dose_gy_per_gbq"]) == pytest.approx(spleen.dose_gy / (
        2 * synthetic_patient.administered_mbq / 1000.0), rel=1e-5)
    assert logic.result is not first and logic.result_is_current(parameters)
    second = logic.result
    logic.export(str(tmp_path / "same"), parameters)
    assert logic.result is second  # nothing changed since: not run again
    parameters.set("modelOverrides", "Spleen=stp")
    assert not logic.result_is_current(parameters)


def test_export_after_the_scene_was_replaced_never_writes_the_earlier_patient(mrml_scene, synthetic_patient,
                                                                              tmp_path):
    """Patient A analysed; the scene closed and patient B (here: A's study without its last time point and with
    another activity) loaded; Export must write B."""
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    logic.run(parameters)
    mrml_scene.Clear(False)
    _, parameters_b = study_scene(mrml_scene, synthetic_patient)
    logic.remove_timepoint(3, parameters_b)
    parameters_b.set("administeredMbq", 5000.0)
    paths = logic.export(str(tmp_path / "b"), parameters_b)
    with open(paths["tac"], newline="", encoding="utf-8") as stream:
        times = sorted({float(row["time_h"]) for row in csv.DictReader(stream)})
    assert times == [4.0, 24.0, 72.0]
    assert logic.study.administered_mbq == 5000.0


def test_a_kept_result_is_forgotten_on_reset_and_never_current_for_other_voxels(mrml_scene, synthetic_patient):
    logic, parameters = study_scene(mrml_scene, synthetic_patient, hu_offsets={0: 300.0})
    logic.run(parameters)
    assert logic.result_is_current(parameters)
    mrml_scene.Clear(False)
    _, parameters_b = study_scene(mrml_scene, synthetic_patient)  # same node names and IDs, other CT voxels
    assert not logic.result_is_current(parameters_b)
    logic.reset()  # what the module does on scene close
    assert logic.result is None and logic.study is None and not logic.result_is_current(parameters_b)


# --- O6: the dose map of an earlier run ------------------------------------------------------------------------------
def test_a_run_without_voxel_dosimetry_removes_the_earlier_dose_map(mrml_scene, synthetic_patient):
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    parameters.set("voxelDosimetry", True)
    logic.run(parameters)
    dose_map = parameters.get_node("doseMap")
    assert dose_map is not None
    parameters.set("voxelDosimetry", False)
    assert not logic.run(parameters).voxel.performed
    assert parameters.get_node("doseMap") is None
    assert dose_map.GetScene() is None  # no "Absorbed dose (Gy)" of the earlier run left to show
    assert mrml_scene.GetFirstNodeByName("Absorbed dose (Gy)") is None


# --- O9: without matplotlib -------------------------------------------------------------------------------------------
def test_export_and_report_without_matplotlib_write_everything_but_the_figures(mrml_scene, synthetic_patient, tmp_path,
                                                                               monkeypatch):
    from ragaliv.report.figures import MISSING_MATPLOTLIB

    for name in [name for name in sys.modules if name == "matplotlib" or name.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.delitem(sys.modules, "ragaliv.report.plots", raising=False)
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    result = logic.run(parameters)
    paths = logic.write_report(str(tmp_path), parameters=parameters)
    assert "plot" not in paths and not (tmp_path / "tac.png").exists()
    exported = _dose_rows(paths["dose"])
    assert float(exported["Spleen"]["dose_gy"]) == pytest.approx(result.region("Spleen").dose.primary.dose_gy,
                                                                 rel=1e-6)
    html = open(paths["report"], encoding="utf-8").read()
    assert "Spleen" in html and MISSING_MATPLOTLIB in html


# --- O5: the header pre-fill ------------------------------------------------------------------------------------------
def _header(start="20260421100000", dose="7400000000", acquired=("20260422", "100000")):
    from pydicom.dataset import Dataset

    item = Dataset()
    item.RadiopharmaceuticalStartDateTime = start
    item.RadionuclideTotalDose = dose
    header = Dataset()
    header.Units = "BQML"
    header.AcquisitionDate, header.AcquisitionTime = acquired
    header.RadiopharmaceuticalInformationSequence = [item]
    return header


def test_header_prefill_never_replaces_a_typed_activity():
    from RagalivSpectDosimetryLib.header_prefill import prefill_from_header

    # No usable injection time in the header (the case that used to overwrite the activity on every selection).
    prefill = prefill_from_header(_header(start="2026"), "", 6950.0)
    assert prefill.administered_mbq is None and prefill.injection_time is None and prefill.time_h is None
    prefill = prefill_from_header(_header(start="2026"), "", 0.0)
    assert prefill.administered_mbq == pytest.approx(7400.0)  # Bq -> MBq, only while the field is empty


@pytest.mark.filterwarnings("ignore:Invalid value for VR DT")
def test_header_prefill_fills_only_empty_fields_and_each_on_its_own():
    from RagalivSpectDosimetryLib.header_prefill import prefill_from_header

    prefill = prefill_from_header(_header(), "", 0.0)
    assert prefill.units == "Bq/mL" and prefill.injection_time == "2026-04-21T10:00:00"
    assert prefill.time_h == pytest.approx(24.0)
    typed = prefill_from_header(_header(), "2026-04-21T12:00:00", 7000.0)
    assert typed.injection_time is None and typed.administered_mbq is None
    assert typed.time_h == pytest.approx(22.0)  # from the typed injection time
    broken = prefill_from_header(_header(start="2026042199999999"), "", 0.0)  # hour 99
    assert broken.injection_time is None and any("not a date-time" in note for note in broken.notes)
    assert broken.administered_mbq == pytest.approx(7400.0)  # the other values are still used


def test_added_volume_nodes_keep_their_dicom_identity(mrml_scene, synthetic_patient_dir):
    from ragaliv.io.dicom_series import load_volume, select_series

    series = select_series(str(synthetic_patient_dir / "mri"), ("MR",), "MRI")
    node = nodes.add_volume_node(mrml_scene, load_volume(series), "MRI")
    header = series.headers[0]
    assert nodes.dicom_identity(node) == (str(header.PatientID), str(header.FrameOfReferenceUID))
