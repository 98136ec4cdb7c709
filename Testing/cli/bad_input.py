"""Helpers of the bad-input tests (issue 8, ``test_bad_input_*.py``): copies of the synthetic patient with one
header or file changed (pydicom), the command run in-process, and the assertions every case makes - exit code,
message content, a fix hint, nothing written on refusal, and for warnings their way into summary.json and
report.html."""

import html
import json
import pathlib
import shutil
from collections.abc import Callable, Iterable
from typing import Optional

import pydicom
from ragaliv.cli import main


def edit_series(source: pathlib.Path, target: pathlib.Path, change: Callable) -> pathlib.Path:
    """Copy a DICOM folder and apply ``change(dataset)`` to every file."""
    shutil.copytree(source, target)
    for path in sorted(target.iterdir()):
        dataset = pydicom.dcmread(path)
        change(dataset)
        dataset.save_as(path)
    return target


def radiopharmaceutical(dataset):
    return dataset.RadiopharmaceuticalInformationSequence[0]


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(item) for item in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def files_in(folder: pathlib.Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def assert_refused(result: tuple[int, str, str], *texts: str, output: Optional[pathlib.Path] = None) -> str:
    """Exit 2, an error naming every text, a fix hint, and (when ``output`` is given) no result file."""
    code, _, err = result
    assert code == 2, err
    assert "error:" in err and "  fix: " in err, err
    assert "Traceback" not in err and "internal error" not in err, err
    for text in texts:
        assert text in err, (text, err)
    if output is not None:
        assert files_in(output) == [], files_in(output)
    return err


def all_warnings(summary: dict) -> list[str]:
    """Every warning of a ratio or dosimetry summary.json (decision, SUV parameters of each scan, study)."""
    texts = list(summary.get("warnings") or [])
    for scan in (summary.get("suv_parameters") or {}).values():
        texts.extend(scan.get("warnings") or [])
    return texts


def read_summary(output: pathlib.Path) -> dict:
    return json.loads((output / "summary.json").read_text(encoding="utf-8"))


def assert_warned(output: pathlib.Path, texts: Iterable[str], report: bool = True) -> dict:
    """Each text is in a warning of summary.json and (``report``) in report.html; returns the summary."""
    summary = read_summary(output)
    warnings = all_warnings(summary)
    page = html.unescape((output / "report.html").read_text(encoding="utf-8")) if report else ""
    for text in texts:
        assert any(text in warning for warning in warnings), (text, warnings)
        if report:
            assert text in page, text
    return summary


def no_pdf(monkeypatch) -> None:
    """No Chromium: the report is HTML only (the PDF conversion is slow and tested elsewhere)."""
    import ragaliv.report.pdf as pdf

    monkeypatch.setattr(pdf, "find_chromium", lambda: None)
