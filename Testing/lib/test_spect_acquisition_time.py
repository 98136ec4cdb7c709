"""Third review of issue 10, N2 and N4: the SpectDosimetry panel reads a SPECT's acquisition time as ``ragaliv
dosimetry`` does (one rule: ``ragaliv.spect.loading.acquisition_time``), for the hours it pre-fills and for the
acquisition time (and its tags) kept with each time point for the ``spect-time`` check; and a kept result is stale
when only an acquisition time changed.

Each case is the synthetic patient's 24 h SPECT (DICOM NM, injection 2026-04-21 10:00, acquired 2026-04-22
10:00) with its time tags changed; the truth is by construction. The CLI side is ``ragaliv dosimetry`` on a
STUDY.json holding that SPECT (its loader for the time, the command for the refusal), the panel side the Lib's
header pre-fill and run on MRML."""

import datetime
import json
import shutil

import pydicom
import pytest
from ragaliv.cli import main
from ragaliv.errors import RagalivInputError
from test_spect_dosimetry_lib import study_scene  # Testing/lib

pytestmark = pytest.mark.mrml

TIMEPOINT = "tp2_024h"


def acquisition_datetime_only(dataset):
    """AcquisitionDateTime (0008,002A) alone; SeriesTime 1.5 h later (the reconstruction)."""
    del dataset.AcquisitionDate
    del dataset.AcquisitionTime
    dataset.AcquisitionDateTime = "20260422100000"
    dataset.SeriesTime = "113000"


def acquisition_time_without_date(dataset):
    """AcquisitionTime without AcquisitionDate: the date of one pair is never put on the time of another, so the
    series pair (11:30) is the acquisition time."""
    del dataset.AcquisitionDate
    dataset.SeriesTime = "113000"


def series_time_later(dataset):
    """Both acquisition tags, SeriesTime 1.5 h later: the acquisition pair wins."""
    dataset.SeriesTime = "113000"


def utc_offset(dataset):
    """Clock times at UTC+2 (TimezoneOffsetFromUTC), the injection given in UTC: 10:00Z -> 12:00+02:00 next day."""
    dataset.TimezoneOffsetFromUTC = "+0200"
    dataset.AcquisitionTime = dataset.SeriesTime = "120000"
    dataset.RadiopharmaceuticalInformationSequence[0].RadiopharmaceuticalStartDateTime = "20260421100000+0000"


# (change, the acquisition time and tags the header gives, hours after the injection: truth by construction)
CASES = {
    "acquisition-datetime-only": (acquisition_datetime_only, "2026-04-22T10:00:00",
                                  "DICOM AcquisitionDateTime (0008,002A)", 24.0),
    "acquisition-time-without-date": (acquisition_time_without_date, "2026-04-22T11:30:00",
                                      "DICOM SeriesDate/Time (0008,0021/0031)", 25.5),
    "series-time-later": (series_time_later, "2026-04-22T10:00:00", "DICOM AcquisitionDate/Time (0008,0022/0032)",
                          24.0),
    "utc-offset": (utc_offset, "2026-04-22T12:00:00+02:00", "DICOM AcquisitionDate/Time (0008,0022/0032)", 24.0),
}


@pytest.fixture(scope="module")
def edited_spect(synthetic_patient_dir, tmp_path_factory):
    """name -> (folder of the edited 24 h SPECT, its CT folder)."""
    root = tmp_path_factory.mktemp("spect_times")
    folders = {}
    for name, (change, _, _, _) in CASES.items():
        target = root / name
        shutil.copytree(synthetic_patient_dir / "spect" / TIMEPOINT / "spect", target)
        for path in sorted(target.iterdir()):
            dataset = pydicom.dcmread(path)
            change(dataset)
            dataset.save_as(path)
        folders[name] = target
    return folders, synthetic_patient_dir / "spect" / TIMEPOINT / "ct"


def _study_json(folder, patient_dir, spect, ct, **entry):
    """A STUDY.json with this one SPECT; no injection_time: it comes from the header (as the panel pre-fills it)."""
    document = {"administered_mbq": 7400.0, "timepoints": [dict(image=str(spect), ct=str(ct), **entry)],
                "segmentation": str(patient_dir / "spect" / "segmentation.seg.nrrd"), "voxel_dosimetry": False}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "study.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _panel_headers(spect):
    from RagalivSpectDosimetryLib.header_prefill import read_headers

    return read_headers(sorted(str(path) for path in spect.iterdir()))


@pytest.mark.parametrize("name", list(CASES))
def test_the_panel_reads_the_acquisition_time_as_ragaliv_dosimetry(name, edited_spect, synthetic_patient_dir,
                                                                   tmp_path):
    from ragaliv.spect.study_json import load_study
    from RagalivSpectDosimetryLib.header_prefill import header_acquisition_time, prefill_from_header

    _, stamp, source, hours = CASES[name]
    folders, ct = edited_spect
    study_path = _study_json(tmp_path, synthetic_patient_dir, folders[name], ct)
    (point,) = load_study(str(study_path)).timepoints  # what `ragaliv dosimetry` reads
    assert (point.acquisition_time.isoformat(), point.time_source, point.time_h) == (stamp, source,
                                                                                     pytest.approx(hours))

    headers = _panel_headers(folders[name])
    assert header_acquisition_time(headers) == (stamp, source)  # the "Acquired (DICOM)" column and its tags
    prefill = prefill_from_header(headers, "", 0.0)
    assert prefill.time_h == pytest.approx(point.time_h, abs=1e-9)  # the hours pre-filled: the CLI's
    assert (prefill.acquisition_time, prefill.acquisition_source) == (stamp, source)
    assert datetime.datetime.fromisoformat(prefill.injection_time) == point.acquisition_time - datetime.timedelta(
        hours=hours)  # the injection as the CLI read it from the header (with its UTC offset)


# (case, hours entered, what both say): the entered hours disagree with the header by more than max(0.5 h, 5 %)
REFUSALS = [
    pytest.param("acquisition-datetime-only", 25.5,
                 ("gives 25.5 h after injection but the SPECT header acquisition time gives 24 h (DICOM "
                  "AcquisitionDateTime (0008,002A)", "they differ by 1.5 h (more than 1.2 h)"), id="datetime-only"),
    pytest.param("acquisition-time-without-date", 24.0,
                 ("gives 24 h after injection but the SPECT header acquisition time gives 25.5 h (DICOM "
                  "SeriesDate/Time (0008,0021/0031)", "they differ by 1.5 h (more than 1.3 h)"), id="no-date"),
    pytest.param("utc-offset", 26.0,
                 ("gives 26 h after injection but the SPECT header acquisition time gives 24 h (DICOM "
                  "AcquisitionDate/Time (0008,0022/0032)", "they differ by 2 h (more than 1.2 h)"), id="utc-offset"),
]


def _panel_scene(scene, patient, headers, time_h):
    """The synthetic study in the panel with the 24 h time point entered at ``time_h``, its acquisition time kept
    from ``headers`` (as "Add time point" keeps it) and the injection time pre-filled from them."""
    from RagalivSpectDosimetryLib.header_prefill import header_acquisition_time, prefill_from_header

    logic, parameters = study_scene(scene, patient)
    parameters.set("injectionTime", "")
    parameters.set("injectionTime", prefill_from_header(headers, "", 7400.0).injection_time)
    point = logic.timepoints(parameters)[1]
    stamp, source = header_acquisition_time(headers)
    logic.add_timepoint(point.spect, point.ct, time_h, parameters=parameters, acquisition_time=stamp,
                        acquisition_source=source)
    assert logic.timepoints(parameters)[1].acquisition_source == source
    return logic, parameters


@pytest.mark.parametrize(("name", "entered_h", "said"), REFUSALS)
def test_the_panel_and_the_cli_refuse_the_same_hours(name, entered_h, said, edited_spect, synthetic_patient_dir,
                                                     synthetic_patient, mrml_scene, tmp_path, capsys):
    folders, ct = edited_spect
    study_path = _study_json(tmp_path, synthetic_patient_dir, folders[name], ct, hours=entered_h)
    code = main(["dosimetry", str(study_path), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    for text in said:
        assert text in err, (text, err)

    logic, parameters = _panel_scene(mrml_scene, synthetic_patient, _panel_headers(folders[name]), entered_h)
    with pytest.raises(RagalivInputError) as refused:
        logic.run(parameters)
    assert refused.value.message.startswith(f"Time point 2: 'Time after injection (h)' {said[0].split(' but ')[0]}")
    for text in said:
        assert text in refused.value.message, (text, refused.value.message)
    assert logic.result is None


def test_the_hours_the_header_gives_run_in_the_panel(edited_spect, synthetic_patient, mrml_scene):
    """The UTC-offset SPECT entered at the 24 h its header gives (with the injection in UTC): no spect-time finding."""
    folders, _ = edited_spect
    logic, parameters = _panel_scene(mrml_scene, synthetic_patient, _panel_headers(folders["utc-offset"]), 24.0)
    assert parameters.get("injectionTime") == "2026-04-21T10:00:00+00:00"
    result = logic.run(parameters)
    assert not any("spect-time" in text or "Time point 2" in text for text in result.warnings)


# --- N4: the acquisition time is part of what a kept result was computed from ---------------------------------------
def test_a_result_is_stale_when_only_an_acquisition_time_changed(synthetic_patient, mrml_scene, tmp_path):
    logic, parameters = study_scene(mrml_scene, synthetic_patient)
    injection = synthetic_patient.spect_injection_time
    point = logic.timepoints(parameters)[1]
    logic.add_timepoint(point.spect, point.ct, point.time_h, parameters=parameters,
                        acquisition_time=(injection + datetime.timedelta(hours=24.0)).isoformat(),
                        acquisition_source="DICOM AcquisitionDate/Time (0008,0022/0032)")
    logic.run(parameters)
    assert logic.result_is_current(parameters)
    # The same SPECT added again with another acquisition time (its header re-read), nothing else changed.
    logic.add_timepoint(point.spect, point.ct, point.time_h, parameters=parameters,
                        acquisition_time=(injection + datetime.timedelta(hours=30.0)).isoformat(),
                        acquisition_source="DICOM AcquisitionDate/Time (0008,0022/0032)")
    assert not logic.result_is_current(parameters)
    # Export runs again and so checks it: the hours entered (24) disagree with the header (30), nothing is written.
    with pytest.raises(RagalivInputError, match="gives 24 h after injection but the SPECT header acquisition time "
                                                "gives 30 h"):
        logic.export(str(tmp_path / "export"), parameters)
    assert not (tmp_path / "export" / "summary.json").exists()
    # Only the tags it was read from changed: stale too (the refusal names them).
    logic.add_timepoint(point.spect, point.ct, point.time_h, parameters=parameters,
                        acquisition_time=(injection + datetime.timedelta(hours=24.0)).isoformat(),
                        acquisition_source="DICOM AcquisitionDate/Time (0008,0022/0032)")
    logic.run(parameters)
    logic.add_timepoint(point.spect, point.ct, point.time_h, parameters=parameters,
                        acquisition_time=(injection + datetime.timedelta(hours=24.0)).isoformat(),
                        acquisition_source="DICOM AcquisitionDateTime (0008,002A)")
    assert not logic.result_is_current(parameters)


# --- D2 (fourth review): a file of the series missing or unreadable ---------------------------------------------------
@pytest.mark.parametrize("damage", ["deleted", "not-dicom", "not-in-database"])
def test_a_series_with_a_missing_file_gives_no_acquisition_time_and_says_why(damage, edited_spect, tmp_path):
    """The panel reads every file of the SPECT (the acquisition time is the earliest of any slice). A series moved
    or unmounted since it was loaded, or a file the database no longer lists, gives no headers (no pre-fill, no
    acquisition time: the time point is added as for a SPECT not loaded from DICOM) and a note naming the SPECT
    and the file; never a raw error that blocks "Add time point", never a time from part of the series."""
    from RagalivSpectDosimetryLib.header_prefill import header_acquisition_time, series_headers

    folders, _ = edited_spect
    series = tmp_path / "series"
    shutil.copytree(folders["series-time-later"], series)
    paths = sorted(str(path) for path in series.iterdir())
    headers, problem = series_headers(paths, "SPECT 24 h")
    assert problem is None and header_acquisition_time(headers) == CASES["series-time-later"][1:3]

    victim = paths[len(paths) // 2]
    if damage == "deleted":
        (series / victim).unlink()
    elif damage == "not-dicom":
        (series / victim).write_bytes(b"not a DICOM file")
    else:
        paths[len(paths) // 2] = ""  # fileForInstance gives "" for an instance the database does not know
    headers, problem = series_headers(paths, "SPECT 24 h")
    assert headers == []
    assert "SPECT 24 h" in problem and "not compared with its acquisition time" in problem
    if damage == "not-in-database":
        assert problem.startswith(f"1 of the {len(paths)} DICOM files of SPECT 24 h are not in the DICOM database")
    else:
        assert "cannot be read" in problem and victim.rsplit("/", 1)[-1] in problem


def test_the_header_injection_time_kept_with_a_time_point(edited_spect):
    """What 'Add time point' keeps for the injection-time check: RadiopharmaceuticalStartDateTime as ragaliv dosimetry
    reads it (with its UTC offset), or None without a header."""
    from RagalivSpectDosimetryLib.header_prefill import header_injection_time

    folders, _ = edited_spect
    assert header_injection_time(_panel_headers(folders["utc-offset"])) == "2026-04-21T10:00:00+00:00"
    assert header_injection_time(_panel_headers(folders["series-time-later"])) == "2026-04-21T10:00:00"
    assert header_injection_time([]) is None
