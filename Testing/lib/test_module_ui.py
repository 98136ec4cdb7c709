"""The module panels against what the core tells users: the SUV error hints name fields of the
"SUV parameters" panel, so those fields must exist there and reach SuvOverrides."""

import ast
import dataclasses
import pathlib
import re
import xml.etree.ElementTree as ElementTree

from ragaliv.pet import suv_parameters as suv

REPO = pathlib.Path(__file__).resolve().parents[2]
LESION_UI = REPO / "RagalivLesionRatio" / "Resources" / "UI" / "RagalivLesionRatio.ui"
LESION_MODULE = REPO / "RagalivLesionRatio" / "RagalivLesionRatio.py"
SPECT_UI = REPO / "RagalivSpectDosimetry" / "Resources" / "UI" / "RagalivSpectDosimetry.ui"


def _widget(root, name):
    return next(widget for widget in root.iter("widget") if widget.get("name") == name)


def _property(widget, name):
    return next((prop for prop in widget.findall("property") if prop.get("name") == name), None)


def _suv_panel():
    root = ElementTree.parse(LESION_UI).getroot()
    return next(widget for widget in root.iter("widget")
                 if widget.get("class") == "ctkCollapsibleButton"
                 and _property(widget, "text").find("string").text == "SUV parameters")


def test_every_field_named_by_the_suv_hints_is_in_the_suv_parameters_panel():
    panel = _suv_panel()
    assert '"SUV parameters"' in suv.SLICER_PANEL
    labels = [_property(widget, "text").find("string").text.lower()
              for widget in panel.iter("widget") if widget.get("class") == "QLabel" and _property(widget, "text")]
    for key, hint in suv.OVERRIDE_HINTS.items():
        field = re.search(r"the (.+?) field of", hint).group(1).lower()
        assert any(field in label for label in labels), (key, field, labels)


def test_override_widgets_are_not_parameter_node_fields_and_keep_the_header_convention():
    panel = _suv_panel()
    for name in ("sexComboBox", "halfLifeSpinBox", "iaScanDateTimeEdit", "ivScanDateTimeEdit", "weightSpinBox",
                 "heightSpinBox", "iaDoseSpinBox", "ivDoseSpinBox", "iaInjectionDateTimeEdit",
                 "ivInjectionDateTimeEdit"):
        widget = _widget(panel, name)
        assert _property(widget, "SlicerParameterName") is None, name
        if widget.get("class") == "QDateTimeEdit":  # minimum = default = "DICOM header"
            minimum = _property(widget, "minimumDateTime").find("datetime")
            value = _property(widget, "dateTime").find("datetime")
            assert ElementTree.tostring(minimum) == ElementTree.tostring(value), name
            assert _property(widget, "specialValueText").find("string").text == "DICOM header", name
    sex = [item.find("property/string").text for item in _widget(panel, "sexComboBox").findall("item")]
    assert sex == ["DICOM header", "M", "F", "O"]


def test_overrides_fill_every_suv_overrides_field():
    tree = ast.parse(LESION_MODULE.read_text(encoding="utf-8"))
    method = next(node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == "_overrides")
    call = next(node for node in ast.walk(method)
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "SuvOverrides")
    # accept: set by the Lib's conversion (LesionRatioLogic.load_pet), from the "Accept checks" ids given for the
    # refusals of that PET (fourth review, D4)
    assert {keyword.arg for keyword in call.keywords} == \
        {f.name for f in dataclasses.fields(suv.SuvOverrides)} - {"accept"}


def test_administered_activity_has_no_default_in_the_spect_panel():
    widget = _widget(ElementTree.parse(SPECT_UI).getroot(), "administeredSpinBox")
    assert float(_property(widget, "value").find("double").text) == 0.0
    assert float(_property(widget, "minimum").find("double").text) == 0.0
    assert _property(widget, "specialValueText").find("string").text == "required"
    source = (REPO / "RagalivSpectDosimetry" / "RagalivSpectDosimetry.py").read_text(encoding="utf-8")
    assert re.search(r"administeredMbq: .*= 0\.0\b", source)


def test_the_threshold_field_offers_only_thresholds_the_lib_accepts():
    """The spin box range (the parameter's WithinRange) lies inside what check_threshold accepts: no value the user
    can pick ends in a repeated 'Not computed' (review of the adversarial fixes)."""
    from ragaliv.errors import RagalivInputError
    from ragaliv.ratio.decision import check_threshold

    match = re.search(r"threshold: Annotated\[float, WithinRange\(([\d.]+), ([\d.]+)\)\] = ([\d.]+)",
                      LESION_MODULE.read_text(encoding="utf-8"))
    low, high, default = (float(value) for value in match.groups())
    for value in (low, high, default):
        assert check_threshold(value) == value
    for value in (low - 0.01, high + 0.01):
        try:
            check_threshold(value)
        except RagalivInputError:
            continue
        raise AssertionError(f"{value} is outside the field's range and should be refused")
