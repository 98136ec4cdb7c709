"""Body-size normalisers against the worked example of the PET notes §3.1 (70 kg, 175 cm, BMI 22.86)."""

import pytest
from ragaliv.errors import RagalivInputError
from ragaliv.pet import body

WEIGHT_KG, HEIGHT_CM = 70.0, 175.0


@pytest.mark.parametrize(
    ("function", "sex", "expected"),
    [
        (body.lbm_james_kg, "M", 56.52),
        (body.lbm_james_kg, "F", 51.22),
        (body.lbm_janmahasatian_kg, "M", 55.86),
        (body.lbm_janmahasatian_kg, "F", 45.20),
        (body.lbm_morgan_kg, "M", 57.80),
    ],
)
def test_worked_example(function, sex, expected):
    assert function(WEIGHT_KG, HEIGHT_CM, sex) == pytest.approx(expected, abs=0.005)


def test_bsa_dubois_worked_example():
    assert body.bsa_dubois_m2(WEIGHT_KG, HEIGHT_CM) == pytest.approx(1.848, abs=0.0005)


def test_ibw_by_hand():
    # M 48.0 + 1.06 * 23 = 72.38 ; F 45.5 + 0.91 * 23 = 66.43 (IBSI list, PET notes §3.1)
    assert body.ibw_kg(WEIGHT_KG, HEIGHT_CM, "M") == pytest.approx(72.38)
    assert body.ibw_kg(WEIGHT_KG, HEIGHT_CM, "F") == pytest.approx(66.43)


@pytest.mark.parametrize("function", [body.lbm_james_kg, body.lbm_janmahasatian_kg, body.ibw_kg])
@pytest.mark.parametrize("other", ["O", "", None, "X"])
def test_other_or_unknown_sex_is_mean_of_male_and_female(function, other):
    male = function(WEIGHT_KG, HEIGHT_CM, "M")
    female = function(WEIGHT_KG, HEIGHT_CM, "F")
    assert function(WEIGHT_KG, HEIGHT_CM, other) == pytest.approx((male + female) / 2.0)


def test_sex_spellings():
    assert body.normalize_sex(" m ") == "M"
    assert body.normalize_sex("Female") == "F"
    assert body.normalize_sex("O") == "O"


def test_bad_inputs_raise_input_errors_naming_the_flag():
    with pytest.raises(RagalivInputError, match="--weight-kg"):
        body.lbm_james_kg(0.0, HEIGHT_CM, "M")
    with pytest.raises(RagalivInputError, match="--height-cm"):
        body.bsa_dubois_m2(WEIGHT_KG, None)  # type: ignore[arg-type]


def test_james_fails_for_extreme_obesity():
    # 1.10 W - 128 (W/H)^2 turns negative: 200 kg at 150 cm -> 220 - 227.6 < 0
    with pytest.raises(RagalivInputError, match="Janmahasatian"):
        body.lbm_james_kg(200.0, 150.0, "M")
    assert body.lbm_janmahasatian_kg(200.0, 150.0, "M") > 0
