"""Body-size normalisers for SUV: lean body mass, ideal body weight, body surface area.

Formulas as listed by IBSI (PET notes §3.1, after Sugawara 1999); weight in kg, height in cm.
Sex "O" or unknown has no consensus formula: IBSI suggests (and its DROs use) the mean of the male and
female results, which is what every function here does for any sex other than "M" or "F".

Worked example (PET notes §3.1, 70 kg, 175 cm): James M 56.52 / F 51.22 kg, Janmahasatian M 55.86 /
F 45.20 kg, Du Bois BSA 1.848 m².
"""

from collections.abc import Callable
from typing import Optional

from ..errors import RagalivInputError

_HINT = 'Set it with {flag} (CLI) or in the Slicer "SUV parameters" panel.'


def normalize_sex(sex: Optional[str]) -> str:
    """``"M"``, ``"F"`` or ``"O"`` (other/unknown) from DICOM PatientSex (0010,0040) or a user entry."""
    text = (sex or "").strip().upper()
    if text in ("M", "MALE"):
        return "M"
    if text in ("F", "FEMALE", "W"):
        return "F"
    return "O"


def _check(weight_kg: float, height_cm: Optional[float], needs_height: bool) -> None:
    if weight_kg is None or not weight_kg > 0:
        raise RagalivInputError(
            f"Body weight must be a positive number of kg, got {weight_kg!r}.",
            _HINT.format(flag="--weight-kg"),
        )
    if needs_height and (height_cm is None or not height_cm > 0):
        raise RagalivInputError(
            f"Body height must be a positive number of cm, got {height_cm!r}.",
            _HINT.format(flag="--height-cm"),
        )


def _by_sex(sex: Optional[str], male: Callable[[], float], female: Callable[[], float]) -> float:
    code = normalize_sex(sex)
    if code == "M":
        return male()
    if code == "F":
        return female()
    return 0.5 * (male() + female())


def _positive(value_kg: float, formula: str, weight_kg: float, height_cm: float) -> float:
    if not value_kg > 0:
        raise RagalivInputError(
            f"The {formula} formula gives {value_kg:.1f} kg for {weight_kg} kg and {height_cm} cm "
            "(it fails for very high weight-to-height ratios, Tahari 2014).",
            "Use the Janmahasatian lean body mass (normalisation 'lbm') or check --weight-kg/--height-cm.",
        )
    return value_kg


def lbm_janmahasatian_kg(weight_kg: float, height_cm: float, sex: Optional[str]) -> float:
    """Lean body mass, Janmahasatian 2005 (SUL; recommended by Tahari 2014, DICOM SUVType LBMJANMA)."""
    _check(weight_kg, height_cm, True)
    bmi = weight_kg / (height_cm / 100.0) ** 2
    return _by_sex(
        sex,
        lambda: 9270.0 * weight_kg / (6680.0 + 216.0 * bmi),
        lambda: 9270.0 * weight_kg / (8780.0 + 244.0 * bmi),
    )


def lbm_james_kg(weight_kg: float, height_cm: float, sex: Optional[str]) -> float:
    """Lean body mass, James 1976 with the male coefficient 128 (DICOM SUVType LBMJAMES128, IBSI DRO_2_1)."""
    _check(weight_kg, height_cm, True)
    ratio2 = (weight_kg / height_cm) ** 2
    value = _by_sex(sex, lambda: 1.10 * weight_kg - 128.0 * ratio2, lambda: 1.07 * weight_kg - 148.0 * ratio2)
    return _positive(value, "James", weight_kg, height_cm)


def lbm_morgan_kg(weight_kg: float, height_cm: float, sex: Optional[str]) -> float:
    """Lean body mass with the male coefficient 120 (IBSI list "Morgan"; what DICOM SUVType "LBM" names)."""
    _check(weight_kg, height_cm, True)
    ratio2 = (weight_kg / height_cm) ** 2
    value = _by_sex(sex, lambda: 1.10 * weight_kg - 120.0 * ratio2, lambda: 1.07 * weight_kg - 148.0 * ratio2)
    return _positive(value, "Morgan/James-120", weight_kg, height_cm)


def ibw_kg(weight_kg: float, height_cm: float, sex: Optional[str]) -> float:
    """Ideal body weight: M 48.0 + 1.06 (H - 152), F 45.5 + 0.91 (H - 152) (IBSI list; not capped at W)."""
    _check(weight_kg, height_cm, True)
    value = _by_sex(sex, lambda: 48.0 + 1.06 * (height_cm - 152.0), lambda: 45.5 + 0.91 * (height_cm - 152.0))
    return _positive(value, "ideal body weight", weight_kg, height_cm)


def bsa_dubois_m2(weight_kg: float, height_cm: float, sex: Optional[str] = None) -> float:
    """Body surface area, Du Bois 1916: 0.007184 H^0.725 W^0.425 (m²); ``sex`` is accepted and unused."""
    _check(weight_kg, height_cm, True)
    return 0.007184 * height_cm**0.725 * weight_kg**0.425
