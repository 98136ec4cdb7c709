"""The eligibility threshold (adversarial CLI test W9): ``--threshold inf``, ``1e9``, ``30`` and ``0.5`` were
accepted. A threshold that is not finite, at or below 1 (every lesion with IA uptake equal to IV would count as
enhanced) or above 10 is refused, in ``ratio``, ``review``, the batch and the LesionRatio module (all build
:class:`ragaliv.ratio.decision.RatioSettings`); a plausible threshold other than the protocol's 3 is warned into
summary.json and the report. Synthetic patient: mean SUVmax ratio 3.36."""

import json

import pytest
from bad_input import assert_warned, files_in, no_pdf, run
from ragaliv.cli import main
from ragaliv.errors import RagalivInputError
from ragaliv.ratio.decision import RatioSettings


def ratio_args(patient, output, *extra):
    return ("ratio", "--ia", patient / "pet_ia", "--iv", patient / "pet_iv", "--segmentation",
            patient / "segmentation.seg.nrrd", "-o", output, *extra)


@pytest.mark.parametrize(("value", "text"), [
    pytest.param("inf", "must be a finite number, got 'inf'", id="inf"),
    pytest.param("1e9", "1e+09 is above 10: implausible", id="1e9"),
    pytest.param("30", "30 is above 10: implausible", id="30"),
    pytest.param("0.5", "0.5 is at or below 1", id="0.5"),
    pytest.param("1", "1 is at or below 1", id="1"),
])
@pytest.mark.parametrize("command", ["ratio", "review"])
def test_implausible_threshold_is_refused_at_parse_time(synthetic_patient_dir, tmp_path, capsys, value, text,
                                                         command):
    output = tmp_path / "out"
    argv = ratio_args(synthetic_patient_dir, output, "--threshold", value)
    if command == "review":
        argv = ("review", synthetic_patient_dir, "-o", output, "--threshold", value)
    with pytest.raises(SystemExit) as stopped:
        main([str(item) for item in argv])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --threshold: Eligibility threshold (--threshold) {text}" in err, err
    assert "trial protocol's threshold 3 (--threshold 3" in err, err
    assert files_in(output) == []


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 1e9, 30.0, 0.5, 1.0, 0.0, -3.0, "3,0"])
def test_ratio_settings_refuse_the_same_values(value):
    """The core rule that the batch (COHORT.csv column threshold) and the LesionRatio module go through."""
    with pytest.raises(RagalivInputError, match=r"Eligibility threshold \(--threshold\)") as refused:
        RatioSettings(threshold=value)
    assert "trial protocol's threshold 3" in refused.value.hint
    assert RatioSettings(threshold=1.5).threshold == 1.5 and RatioSettings(threshold=10.0).threshold == 10.0


def test_threshold_other_than_the_protocol_is_warned_into_summary_and_report(synthetic_patient_dir, tmp_path,
                                                                             capsys, monkeypatch):
    no_pdf(monkeypatch)
    output = tmp_path / "out"
    code, _, err = run(capsys, *ratio_args(synthetic_patient_dir, output, "--threshold", "3.75", "--report"))
    assert code == 0, err
    summary = assert_warned(output, ["Eligibility threshold 3.75 (--threshold) differs from the trial protocol's 3"])
    assert summary["threshold"] == 3.75 and summary["eligible"] is False  # 3.36 < 3.75
    # The protocol's threshold: no such warning.
    code, _, err = run(capsys, *ratio_args(synthetic_patient_dir, tmp_path / "protocol"))
    assert code == 0, err

    warnings = json.loads((tmp_path / "protocol" / "summary.json").read_text(encoding="utf-8"))["warnings"]
    assert not any("Eligibility threshold" in text for text in warnings)
