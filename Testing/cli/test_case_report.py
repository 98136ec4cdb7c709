"""Case report (HTML, PDF when Chromium is there) from `ratio --report`, `dosimetry --report`, `report`,
and from the core objects the Slicer module logic holds; de-identification, atomic writes, determinism."""

import contextlib
import csv
import datetime
import glob
import html
import io
import json
import os
import re

import pydicom
import pytest
from ragaliv.cli import main
from ragaliv.report import pdf as report_pdf
from ragaliv.report.case_report import write_case_report, write_ratio_report
from ragaliv.report.html_template import EMPTY, format_sig
from ragaliv.report.identity import PatientIdentity
from ragaliv.report.phi import Deidentifier

FIXED_TIME = datetime.datetime(2026, 6, 1, 12, 0, 0)
LESIONS = 5
# Significant digits the report shows per ratios.csv column.
RATIO_DIGITS = {"volume_ml": 4, "ia_suvmax": 4, "ia_suvmean": 4, "ia_suvpeak": 4, "iv_suvmax": 4, "iv_suvmean": 4,
                "iv_suvpeak": 4, "ratio_suvmax": 3, "ratio_suvmean": 3, "ratio_suvpeak": 3,
                "tumour_to_liver_ia": 3, "tumour_to_liver_iv": 3, "ia_outside_fov_percent": 2,
                "iv_outside_fov_percent": 2}
DOSE_DIGITS = {"mass_g": 4, "dose_gy": 4, "dose_gy_per_gbq": 4, "bed_gy": 4, "led_dose_gy": 4,
               "voxel_mean_dose_gy": 4}


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def _rows(text, attribute):
    """{name: [row html, ...]} of the table rows carrying ``data-<attribute>``."""
    rows = {}
    for match in re.finditer(rf'<tr data-{attribute}="([^"]*)">(.*?)</tr>', text, re.S):
        rows.setdefault(html.unescape(match.group(1)), []).append(match.group(2))
    return rows


def _shown(value, digits):
    """How the report may show a CSV value: the CSV has 6 significant digits, the report rounds the unrounded
    number, so a CSV value ending in 5 may round either way."""
    if value == "":
        return {EMPTY}
    number = float(value)
    return {format_sig(number * factor, digits) for factor in (1 - 5e-6, 1.0, 1 + 5e-6)}


def _without_images(text):
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)


@pytest.fixture(scope="module")
def runs(synthetic_patient_dir, tmp_path_factory):
    """The three commands on the synthetic patient, Chromium hidden (the PDF test brings it back)."""
    root = tmp_path_factory.mktemp("case_report")
    patient = synthetic_patient_dir
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.setattr(report_pdf, "find_chromium", lambda: None)
        assert main(["ratio", "--ia", str(patient / "pet_ia"), "--iv", str(patient / "pet_iv"), "--segmentation",
                     str(patient / "segmentation.seg.nrrd"), "--reference", str(patient / "mri"),
                     "-o", str(root / "ratio"), "--report"]) == 0
        assert main(["dosimetry", str(patient / "spect" / "study.json"), "-o", str(root / "dosimetry"),
                     "--report"]) == 0
        assert main(["report", "--ratio", str(root / "ratio"), "--dosimetry", str(root / "dosimetry"),
                     "-o", str(root / "combined" / "report.html")]) == 0
        assert main(["report", "--ratio", str(root / "ratio"), "--dosimetry", str(root / "dosimetry"),
                     "-o", str(root / "deidentified" / "report.html"), "--deidentify"]) == 0
    return root, printed.getvalue()


def test_ratio_report_shows_decision_rule_table_snapshots_and_signature(runs):
    root, _ = runs
    text = (root / "ratio" / "report.html").read_text(encoding="utf-8")
    summary = json.loads((root / "ratio" / "summary.json").read_text(encoding="utf-8"))
    assert html.escape(summary["decision"]) in text
    assert html.escape(summary["rule"]) in text
    rows = _rows(text, "segment")
    csv_rows = _read_csv(root / "ratio" / "ratios.csv")
    assert set(rows) == {row["segment"] for row in csv_rows}
    for row in csv_rows:
        shown = "".join(rows[row["segment"]])
        for column, digits in RATIO_DIGITS.items():
            assert any(f'<td class="num">{text}</td>' in shown for text in _shown(row[column], digits)), (
                row["segment"], column)
    # Bar chart, two fused panels per lesion, the colour bar (once per lesion).
    assert text.count("data:image/png;base64,") == 1 + 2 * LESIONS + LESIONS
    assert len(re.findall(r'data-snapshot="Lesion \d"', text)) == LESIONS
    for words in ("Reviewed by", "Date ___", "Signature ___", "Radiologist", "Medical physicist"):
        assert words in text
    assert sorted(os.listdir(root / "ratio" / "snapshots")) == sorted(
        [f"lesion_{n}_{scan}.png" for n in range(1, LESIONS + 1) for scan in ("ia", "iv")] + ["snapshots.json"])


def test_dosimetry_report_shows_the_numbers_of_dose_and_tia_csv(runs):
    root, _ = runs
    text = (root / "dosimetry" / "report.html").read_text(encoding="utf-8")
    rows = _rows(text, "region")
    for row in _read_csv(root / "dosimetry" / "dose.csv"):
        shown = "".join(rows[row["region"]])
        for column, digits in DOSE_DIGITS.items():
            assert any(text in shown for text in _shown(row[column], digits)), (row["region"], column)
    for row in _read_csv(root / "dosimetry" / "tia.csv"):
        shown = "".join(rows[row["region"]])
        assert any(f'<td class="num">{text}</td>' in shown for text in _shown(row["tia_mbq_h"], 5))
        assert f"<td>{row['model']}</td>" in shown
    assert text.count("data:image/png;base64,") == 2  # TAC overview and the per-VOI panels
    assert "Signature ___" in text and "Lesion snapshots" not in text


def test_combined_report_has_every_section_and_says_when_no_pdf(runs):
    root, printed = runs
    text = (root / "combined" / "report.html").read_text(encoding="utf-8")
    for heading in ("Decision: intra-arterial 5th cycle", "Inputs", "SUV parameters used", "Uptake and IA/IV ratios",
                    "Organs at risk", "Lesion snapshots", "177Lu SPECT/CT dosimetry", "Absorbed dose", "Warnings",
                    "Methods and provenance", "Review and signature"):
        assert heading in text, heading
    assert text.count("data:image/png;base64,") == 1 + 3 * LESIONS + 2
    assert "RGL-SYN-000" in text  # the identified report names the patient
    assert not (root / "combined" / "report.pdf").exists()
    assert "no PDF written: no Chromium found" in printed


def _original_identifiers(patient_dir):
    """Name, ID, birth date, every date and SeriesInstanceUID of the patient's DICOM headers."""
    values = set()
    for folder in ("mri", "pet_ia", "pet_iv", *(os.path.relpath(path, patient_dir) for path in
                                                 glob.glob(str(patient_dir / "spect" / "tp*" / "*")))):
        files = sorted(glob.glob(str(patient_dir / folder / "*")))
        header = pydicom.dcmread(files[0], stop_before_pixels=True)
        name = str(header.PatientName)
        values.update({name, name.replace("^", " "), name.split("^")[1], header.PatientID, header.SeriesInstanceUID})
        for keyword in ("PatientBirthDate", "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
            value = str(header.get(keyword, "") or "")
            if value:
                values.update({value, f"{value[:4]}-{value[4:6]}-{value[6:]}"})
    return values, str(header.PatientID), str(header.StudyDate)


def test_deidentified_report_holds_no_name_id_uid_or_original_date(runs, synthetic_patient_dir):
    root, _ = runs
    text = _without_images((root / "deidentified" / "report.html").read_text(encoding="utf-8"))
    originals, patient_id, spect_date = _original_identifiers(synthetic_patient_dir)
    leaked = sorted(value for value in originals if value.lower() in text.lower())
    assert not leaked
    deidentifier = Deidentifier()
    assert deidentifier.patient_id(patient_id) in text
    shifted = datetime.datetime.strptime(spect_date, "%Y%m%d") - datetime.timedelta(
        days=deidentifier.date_shift_days(patient_id))
    assert shifted.date().isoformat() in text  # dates shifted consistently, not dropped
    assert "Birth year</th><td>1958" in text and "De-identified report" in text
    assert str(synthetic_patient_dir) not in text  # paths withheld


def test_reports_are_written_atomically_and_deterministically(runs, tmp_path):
    root, _ = runs
    leftovers = [name for _, _, names in os.walk(root) for name in names if ".partial" in name or name.startswith(".")]
    assert not leftovers
    first = write_case_report(str(root / "ratio"), str(root / "dosimetry"), str(tmp_path / "a.html"),
                              generated_at=FIXED_TIME, pdf=False, log=None)
    second = write_case_report(str(root / "ratio"), str(root / "dosimetry"), str(tmp_path / "b.html"),
                               generated_at=FIXED_TIME, pdf=False, log=None)
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()
    assert set(first) == set(second) == {"report"}
    assert sorted(os.listdir(tmp_path)) == ["a.html", "b.html"]


def test_module_logic_path_takes_core_objects_without_dicom_files(synthetic_patient_dir, tmp_path):
    """What the Slicer logic does: SUV volumes from nodes (no file metadata), the MRI as a Volume, the identity
    from the scene's DICOM attributes."""
    from ragaliv.geometry import Volume
    from ragaliv.io.dicom_series import load_volume, select_series
    from ragaliv.pet.suv import load_pet
    from ragaliv.ratio.analysis import analyse
    from ragaliv.ratio.segments import load_segments

    patient = synthetic_patient_dir
    segments = load_segments(str(patient / "segmentation.seg.nrrd"))
    ia, iv = (load_pet(str(patient / name)) for name in ("pet_ia", "pet_iv"))
    ia_suv, iv_suv = (Volume(pet.suv.array, pet.suv.geometry, pet.suv.unit) for pet in (ia, iv))
    analysis = analyse(segments, ia_suv, iv_suv, None, {"ia": ia.parameters.to_dict(), "iv": iv.parameters.to_dict()})
    mri = load_volume(select_series(str(patient / "mri"), ("MR",), "MRI"))
    identity = PatientIdentity("DOE^JANE", "SCENE-42", "19600101", "F", "Slicer scene")
    paths = write_ratio_report(analysis, segments, ia_suv, iv_suv, str(tmp_path), reference_volume=mri,
                               patient=identity, generated_at=FIXED_TIME, pdf=False, log=None)
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert paths["report"] == str(tmp_path / "report.html")
    assert "DOE JANE" in text and "SCENE-42" in text
    assert html.escape(analysis.summary.decision_text) in text
    assert text.count("data:image/png;base64,") == 1 + 3 * LESIONS
    deidentified = write_ratio_report(analysis, segments, ia_suv, iv_suv, str(tmp_path / "deid"),
                                      reference_volume=mri, patient=identity, deidentify=True,
                                      generated_at=FIXED_TIME, pdf=False, log=None)
    text = _without_images(open(deidentified["report"], encoding="utf-8").read())
    assert "DOE" not in text and "JANE" not in text and "SCENE-42" not in text


def test_pdf_beside_the_html_when_chromium_is_installed(runs, tmp_path):
    if report_pdf.find_chromium() is None:
        pytest.skip("no Chromium on PATH: the PDF is optional (the command says so)")
    root, _ = runs
    paths = write_case_report(str(root / "ratio"), str(root / "dosimetry"), str(tmp_path / "report.html"),
                              generated_at=FIXED_TIME, log=None)
    assert paths["report_pdf"] == str(tmp_path / "report.pdf")
    data = (tmp_path / "report.pdf").read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 50_000
    assert sorted(os.listdir(tmp_path)) == ["report.html", "report.pdf"]


@pytest.mark.parametrize("arguments, message", [
    ([], "Nothing to report"),
    (["--ratio", "missing-folder"], "folder not found"),
    (["--dosimetry", "."], "no dosimetry results"),
])
def test_report_command_explains_bad_input(arguments, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["report", *arguments, "-o", "report.html"]) == 2
    assert message in capsys.readouterr().err


def test_render_survives_an_undetermined_decision_and_missing_fits(runs, tmp_path):
    """No valid lesion ratio, a VOI without fit or dose, no snapshots: the report still renders and says so."""
    from ragaliv.report.html_template import CaseReport, DosimetryPart, RatioPart, render
    from ragaliv.report.identity import Privacy

    root, _ = runs
    ratio = json.loads((root / "ratio" / "summary.json").read_text(encoding="utf-8"))
    ratio.update({"eligible": None, "lesion_ratio": None, "lesion_ratios": {}, "lesion_count": 0,
                  "decision": "UNDETERMINED: no lesion has a valid IA/IV ratio"})
    dosimetry = json.loads((root / "dosimetry" / "summary.json").read_text(encoding="utf-8"))
    first = next(iter(dosimetry["regions"]))
    dosimetry["regions"][first].update({"fit": None, "dose": None, "voxel": None, "flags": ["too few points"]})
    report = CaseReport(Privacy(Deidentifier(enabled=False), PatientIdentity()), FIXED_TIME,
                        RatioPart(ratio, [], snapshot_note="Lesion snapshots not available."),
                        DosimetryPart(dosimetry, []))
    text = render(report)
    assert 'class="decision undetermined"' in text and "UNDETERMINED" in text
    row = "".join(_rows(text, "region")[first])
    assert "no fit" in row and "too few points" in text
    assert "Lesion snapshots not available." in text and "Patient</th><td>unknown" in text
