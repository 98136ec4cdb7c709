"""Adversarial CLI test W9 in the LesionRatio module: the Lib builds ragaliv's RatioSettings, so the panel's
threshold is refused for the same values as ``ragaliv ratio --threshold`` (not finite, <= 1, > 10), and a
threshold other than the protocol's 3 is warned with the decision. Synthetic patient: mean SUVmax ratio 3.36."""

import pytest
from conftest import patient_scene  # Testing/lib/conftest.py
from ragaliv.errors import RagalivInputError

pytestmark = pytest.mark.mrml


@pytest.mark.parametrize("value", [float("inf"), 1e9, 30.0, 0.5, 1.0])
def test_implausible_panel_threshold_is_refused(mrml_scene, synthetic_patient, value):
    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    parameters.set("threshold", value)
    with pytest.raises(RagalivInputError, match=r"Eligibility threshold \(--threshold\)"):
        logic.update(parameters)


def test_panel_threshold_other_than_the_protocol_is_warned(mrml_scene, synthetic_patient):
    logic, parameters = patient_scene(mrml_scene, synthetic_patient)
    parameters.set("threshold", 3.75)
    summary = logic.update(parameters).summary
    assert summary.eligible is False  # 3.36 < 3.75
    assert any("Eligibility threshold 3.75 (--threshold) differs from the trial protocol's 3" in text
               for text in summary.warnings)
