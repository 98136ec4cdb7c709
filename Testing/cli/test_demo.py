"""`make demo` (ragaliv demo): the synthetic patient through the whole workflow, outputs as documented."""

import json

import pytest
from ragaliv.cli.demo import run_demo
from ragaliv.report.dicom_export import read_dicom_seg, read_dicom_sr


@pytest.mark.slow
def test_demo_writes_every_trial_output(tmp_path):
    out = tmp_path / "demo"
    assert run_demo(str(out)) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["eligible"]["measured"] is summary["eligible"]["truth"] is True
    assert summary["lesion_ratio"]["measured"] == pytest.approx(summary["lesion_ratio"]["truth"], rel=1e-3)
    for region in summary["dosimetry"].values():
        assert region["tia_mbq_h"]["measured"] == pytest.approx(region["tia_mbq_h"]["truth"], rel=0.03)
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "ELIGIBLE" in report and "Signature" in report and "Kidney left" in report
    sr = read_dicom_sr(str(out / "ratio" / "measurements.sr.dcm"))
    assert sr["segments"]["Lesion 1"]["ratio_suvmax"] == pytest.approx(3.9, rel=1e-3)
    assert sr["dosimetry"], "the SR carries the doses"
    assert len(read_dicom_seg(str(out / "ratio" / "segmentation.seg.dcm"))) == 11
    for name in ("tac.csv", "tia.csv", "dose.csv", "tac.png", "provenance.json"):
        assert (out / "dosimetry" / name).is_file(), name
