"""``ragaliv tac``: exact mono-exponential TIA, single-time-point rule, bad CSVs, output contract."""

import csv
import json
import math
import sys

import numpy as np
import pytest
from ragaliv.cli import main

HALF_LIFE_H = 6.647 * 24.0  # ICRP-107 177Lu
TIA_COLUMNS = ["region", "model", "tia_mbq_h", "tiac_h", "tia_rel_uncertainty", "effective_half_life_h"]


def _mono(a0_mbq, effective_half_life_h, times_h):
    return [a0_mbq * 2.0 ** (-t / effective_half_life_h) for t in times_h]


def _weighted_mono_tia_rel_uncertainty(times_h, a0_mbq, effective_half_life_h, sigma_rel, calibration_rel):
    """u(TIA)/TIA of an exact mono-exponential fitted with absolute sigma = sigma_rel·A, plus the calibration.

    Cov = (Jᵀ W J)⁻¹ for the parameters (A0, λ), W = diag(1/σ²); TIA = A0/λ, ∇TIA = (1/λ, -A0/λ²).
    """
    t = np.asarray(times_h, dtype=float)
    rate = math.log(2.0) / effective_half_life_h
    activity = a0_mbq * np.exp(-rate * t)
    jacobian = np.column_stack([np.exp(-rate * t), -a0_mbq * t * np.exp(-rate * t)])
    covariance = np.linalg.inv(jacobian.T @ np.diag(1.0 / (sigma_rel * activity) ** 2) @ jacobian)
    gradient = np.array([1.0 / rate, -a0_mbq / rate**2])
    fit_rel = math.sqrt(gradient @ covariance @ gradient) / (a0_mbq / rate)
    return math.hypot(fit_rel, calibration_rel)


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def _rows(path):
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture
def mono_csv(tmp_path):
    times = [4.0, 24.0, 72.0, 168.0]
    lines = ["region,time_h,activity_mbq"]
    for region, a0, t_eff in (("Kidney left", 50.0, 50.0), ("Lesion 1", 80.0, 90.0)):
        lines += [f"{region},{t:g},{a:.12g}" for t, a in zip(times, _mono(a0, t_eff, times))]
    return _write(tmp_path / "tacs.csv", "\n".join(lines) + "\n")


def test_exact_mono_exponential_tia_and_column_contract(mono_csv, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["tac", mono_csv, "--administered-mbq", "7400", "-o", str(out)]) == 0
    with open(out / "tia.csv", encoding="utf-8") as stream:
        header = stream.readline().strip().split(",")
    assert header[:6] == TIA_COLUMNS
    rows = {row["region"]: row for row in _rows(out / "tia.csv")}
    for region, a0, t_eff in (("Kidney left", 50.0, 50.0), ("Lesion 1", 80.0, 90.0)):
        tia_true = a0 * t_eff / math.log(2.0)  # ∫ A0 2^(-t/T) dt = A0 T / ln 2
        row = rows[region]
        assert row["model"] == "mono"
        assert float(row["tia_mbq_h"]) == pytest.approx(tia_true, rel=1e-3)
        assert float(row["tiac_h"]) == pytest.approx(tia_true / 7400.0, rel=1e-3)
        assert float(row["effective_half_life_h"]) == pytest.approx(t_eff, rel=1e-3)
        assert row["tia_rel_uncertainty"] != ""  # exact mono data: covariance from the residuals (~0)
    fits = json.loads((out / "tac_fits.json").read_text(encoding="utf-8"))
    assert set(fits["regions"]) == {"Kidney left", "Lesion 1"}
    assert fits["weighting"]["Lesion 1"].startswith("relative-error weighted")
    assert fits["regions"]["Lesion 1"]["candidates"] and "parameters" in fits["regions"]["Lesion 1"]
    assert (out / "tac.png").stat().st_size > 1000
    provenance = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert set(provenance["outputs"]) == {"tia.csv", "tac_fits.json", "tac.png"}
    assert "Kidney left" in capsys.readouterr().out


def test_weighted_fit_and_calibration_uncertainty(tmp_path):
    times = [4.0, 24.0, 72.0, 168.0]
    activity = _mono(50.0, 60.0, times)
    text = "region,time_h,activity_mbq,sigma_mbq\n" + "".join(
        f"Spleen,{t:g},{a:.12g},{0.05 * a:.12g}\n" for t, a in zip(times, activity)
    )
    out = tmp_path / "out"
    code = main(["tac", _write(tmp_path / "t.csv", text), "--administered-mbq", "7400",
                 "--calibration-uncertainty", "0.05", "-o", str(out)])
    assert code == 0
    row = _rows(out / "tia.csv")[0]
    assert float(row["tia_mbq_h"]) == pytest.approx(50.0 * 60.0 / math.log(2.0), rel=1e-3)
    # GUM: the fit uncertainty (covariance with absolute sigma, propagated to TIA = A0/λ) and the calibration
    # (5 %, fully correlated) add in quadrature: 0.05643. Linear addition would give 0.0762.
    expected = _weighted_mono_tia_rel_uncertainty(times, 50.0, 60.0, 0.05, 0.05)
    assert expected == pytest.approx(0.05643, abs=1e-5)
    assert float(row["tia_rel_uncertainty"]) == pytest.approx(expected, rel=1e-3)
    fits = json.loads((out / "tac_fits.json").read_text(encoding="utf-8"))
    assert fits["weighting"]["Spleen"] == "weighted (1/sigma^2) with the given sigma_mbq"


def test_stp_uses_the_point_nearest_96_h(tmp_path):
    text = "region,time_h,activity_mbq\nLiver,24,10\nLiver,90,6\nLiver,168,3\n"
    out = tmp_path / "out"
    assert main(["tac", _write(tmp_path / "t.csv", text), "--administered-mbq", "7400", "--model", "stp",
                 "-o", str(out)]) == 0
    row = _rows(out / "tia.csv")[0]
    assert row["model"] == "stp"
    # A(t)·2t/ln2 at t = 90 h (CSV: 6 significant digits)
    assert float(row["tia_mbq_h"]) == pytest.approx(6.0 * 2.0 * 90.0 / math.log(2.0), rel=1e-5)


def test_unsorted_rows_are_sorted_by_time(tmp_path):
    times = [72.0, 4.0, 168.0, 24.0]
    text = "activity_mbq,region,time_h\n" + "".join(
        f"{a:.12g},Kidney,{t:g}\n" for t, a in zip(times, _mono(20.0, 40.0, times))
    )
    out = tmp_path / "out"
    assert main(["tac", _write(tmp_path / "t.csv", text), "--administered-mbq", "7400", "-o", str(out)]) == 0
    assert float(_rows(out / "tia.csv")[0]["tia_mbq_h"]) == pytest.approx(20.0 * 40.0 / math.log(2), rel=1e-3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("region,time_h\nA,4\n", "missing column(s) activity_mbq"),
        ("region,time_h,activity_mbq\nA,4,10\nA,24,ten\n", "line 3: activity_mbq 'ten' is not a number"),
        ("region,time_h,activity_mbq\nA,4,10\nA,,8\n", "line 3: time_h is empty"),
        ("region,time_h,activity_mbq\nA,4,10\nA,4,8\n", "time 4 h twice (lines 2 and 3)"),
        ("region,time_h,activity_mbq\n", "no data rows"),
        ("", "is empty"),
        ("region,time_h,activity_mbq\nA,4,10\nA,24,-2\nA,72,1\n", "region 'A' (lines 2, 3, 4)"),
        ("region,time_h,activity_mbq\nA,-4,10\nA,24,8\n", "not after injection"),
        ("region,time_h,activity_mbq,sigma_mbq\nA,4,10,1\nA,24,8,\n", "sigma_mbq on some rows"),
        ("region,time_h,activity_mbq\nA,4,10,7\n", "line 2: 4 fields"),
    ],
)
def test_bad_csv_exits_2_with_a_message(tmp_path, capsys, text, message):
    path = _write(tmp_path / "bad.csv", text)
    out = tmp_path / "out"
    assert main(["tac", path, "--administered-mbq", "7400", "-o", str(out)]) == 2
    error = capsys.readouterr().err
    assert message in error
    assert "Traceback" not in error
    assert not (out / "tia.csv").exists()


def test_bad_options_exit_2(mono_csv, tmp_path, capsys):
    out = str(tmp_path / "out")
    assert main(["tac", mono_csv, "--administered-mbq", "7400", "--calibration-uncertainty", "-0.1", "-o", out]) == 2
    assert "--calibration-uncertainty" in capsys.readouterr().err
    assert main(["tac", mono_csv, "--administered-mbq", "7400", "--model", "triexp", "-o", out]) == 2
    assert "needs at least" in capsys.readouterr().err
    assert main(["tac", str(tmp_path / "missing.csv"), "--administered-mbq", "7400", "-o", out]) == 2
    assert "not found" in capsys.readouterr().err


def test_tac_without_matplotlib_skips_the_plot_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ragaliv.report.plots", None)  # import fails as without matplotlib
    tacs = tmp_path / "tacs.csv"
    tacs.write_text("region,time_h,activity_mbq\nKidney,4,200\nKidney,24,180\nKidney,72,90\nKidney,168,25\n",
                    encoding="utf-8")
    assert main(["tac", str(tacs), "--administered-mbq", "7400", "-o", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["provenance.json", "tac_fits.json", "tia.csv"]
    assert "matplotlib is not installed: tac.png skipped" in capsys.readouterr().err
