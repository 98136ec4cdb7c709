"""SpectDosimetry runs: Cancel is checked at every pipeline step and writes nothing; no re-entry, and no
time point change while a run is going on (what the module's modal progress dialog relies on)."""

import pytest
from ragaliv.errors import RagalivInputError
from RagalivSpectDosimetryLib import RunCancelled
from test_spect_dosimetry_lib import study_scene  # Testing/lib

pytestmark = pytest.mark.mrml


def test_cancel_at_the_first_step_writes_nothing(mrml_scene, synthetic_patient):
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    messages = []
    with pytest.raises(RunCancelled):
        logic.run(parameters, progress=messages.append, cancelled=lambda: True)
    assert messages == ["reading the time points and VOIs"]
    assert parameters.get_node("resultsTable") is None and parameters.get_node("tacChart") is None
    assert logic.result is None and not logic.running


def test_cancel_mid_analysis_keeps_the_previous_results(mrml_scene, synthetic_patient):
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    first = logic.run(parameters)
    table = parameters.get_node("resultsTable")
    before = table.GetTable().GetNumberOfRows()
    steps = []

    def cancel_after_tacs():
        return bool(steps) and steps[-1] == "voxel dosimetry"

    with pytest.raises(RunCancelled):
        logic.run(parameters, progress=steps.append, cancelled=cancel_after_tacs)
    fits = [f"fitting {segment.name}" for segment in synthetic_patient.spect_segments]
    assert steps == ["reading the time points and VOIs", "measuring the VOI time-activity curves", *fits,
                     "voxel dosimetry"]
    assert logic.result is first and table.GetTable().GetNumberOfRows() == before
    assert not logic.running
    assert logic.run(parameters).regions  # and a new run works


def test_cancel_reacts_within_one_voi(mrml_scene, synthetic_patient):
    """Cancel clicked while "Lesion 2" is fitted: the run stops before the next VOI (issue 10 follow-up)."""
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    steps = []
    with pytest.raises(RunCancelled):
        logic.run(parameters, progress=steps.append, cancelled=lambda: steps[-1] == "fitting Lesion 2")
    assert steps[-2:] == ["fitting Lesion 1", "fitting Lesion 2"]
    assert logic.result is None and parameters.get_node("resultsTable") is None


def test_no_reentry_and_no_time_point_change_during_a_run(mrml_scene, synthetic_patient):
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    refused = []

    def meanwhile(message):
        for attempt in (lambda: logic.run(parameters), lambda: logic.remove_timepoint(0, parameters),
                        lambda: logic.add_timepoint(logic.timepoints(parameters)[0].spect, None, 1.0)):
            with pytest.raises(RagalivInputError, match="while the dosimetry is running"):
                attempt()
            refused.append(message)

    result = logic.run(parameters, progress=meanwhile)
    steps = 4 + len(synthetic_patient.spect_segments)  # read, TACs, one fit per VOI, voxel dosimetry, write
    assert len(refused) == 3 * steps and len(result.regions) == len(synthetic_patient.spect_segments)
    assert len(logic.timepoints(parameters)) == len(synthetic_patient.spect)
    logic.remove_timepoint(0, parameters)  # allowed again once the run is over
    assert len(logic.timepoints(parameters)) == len(synthetic_patient.spect) - 1
