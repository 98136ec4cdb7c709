"""Which optional package version to install inside Slicer, pinned and compatible (no Qt, no slicer import).

Slicer bundles numpy, scipy, SimpleITK and pydicom (and, from 5.12, highdicom); Ragaliv's core needs nothing
else. Two features need more, and the module offers to install it on first use:

* DICOM SEG/SR export needs highdicom. highdicom 0.22.0 is the last release for pydicom 2.x (it requires
  pydicom >= 2.3, != 2.4.0; 0.23.0 and later require pydicom >= 3.0.1 and Python >= 3.10 — their wheel
  metadata). Slicer 5.8.1 and 5.10.0 bundle pydicom 2.4.4 (SuperBuild/External_python-dicom-requirements.cmake),
  so there 0.22.0 is installed; Slicer 5.12 bundles pydicom 3.0.2 *and* highdicom 0.27.0, so nothing is
  installed (0.27.0 would be installed with pydicom 3 if highdicom had been removed).
* PNG plots (dosimetry export and reports) need matplotlib: 3.9.4 on Python 3.9 (Slicer 5.8), 3.10.8 on
  Python 3.12 (Slicer 5.10, 5.12).

Every install is run with a constraints file that pins *every* distribution already installed to its
current version, so pip can never upgrade or downgrade one of Slicer's own packages (numpy, pydicom,
pillow, ...): a requirement that would need that fails with pip's resolver error instead.
"""

import importlib.metadata
import re
import sys
from dataclasses import dataclass
from typing import Optional

# PEP 440 public version (with optional local part), the only ones written as constraints.
_VERSION = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+[A-Za-z0-9.]+)?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass
class InstallPlan:
    """``requirement`` to pip-install (None: nothing to install, ``reason`` says why)."""

    package: str
    requirement: Optional[str]
    reason: str


def _version_tuple(text: Optional[str]) -> tuple[int, ...]:
    numbers = []
    for part in (text or "").split("+")[0].split("."):
        digits = re.match(r"\d+", part)
        if not digits:
            break
        numbers.append(int(digits.group()))
    return tuple(numbers)


def installed_versions() -> dict[str, str]:
    """Normalised distribution name -> version of everything installed in this Python."""
    versions = {}
    for distribution in importlib.metadata.distributions():
        name = distribution.metadata["Name"]
        if name:
            versions[re.sub(r"[-_.]+", "-", name).lower()] = distribution.version
    return versions


def plan(package: str, installed: Optional[dict[str, str]] = None,
         python: tuple[int, int] = sys.version_info[:2]) -> InstallPlan:
    """The pinned requirement for ``package`` ("highdicom" or "matplotlib") in this Slicer, or none."""
    installed = installed_versions() if installed is None else installed
    present = installed.get(package)
    if package == "highdicom":
        pydicom = _version_tuple(installed.get("pydicom"))
        if not pydicom:
            return InstallPlan(package, None, "pydicom is missing from this Slicer, so highdicom cannot be used")
        numpy_2 = _version_tuple(installed.get("numpy")) >= (2,)
        if pydicom < (3,):
            wanted, compatible = ("0.22.0", lambda v: v[:2] == (0, 22)) if not numpy_2 else (None, lambda v: False)
        else:
            wanted, compatible = ("0.27.0", lambda v: v >= (0, 23)) if python >= (3, 10) else (None, lambda v: False)
        if present and compatible(_version_tuple(present)):
            return InstallPlan(package, None,
                               f"highdicom {present} is already installed (pydicom {installed['pydicom']})")
        if wanted is None:
            return InstallPlan(package, None, (
                f"no highdicom release works with pydicom {installed['pydicom']} and numpy {installed.get('numpy')} "
                "(0.22.0, the last one for pydicom 2, uses np.float_, removed in numpy 2.0; later ones need "
                "pydicom 3): use Slicer 5.8 or 5.12 and later for DICOM SEG/SR export"))
        if present:
            return InstallPlan(package, None, f"highdicom {present} is installed but does not work with pydicom "
                                              f"{installed['pydicom']}; highdicom {wanted} would, but Ragaliv does "
                                              "not replace packages already installed: uninstall it first")
        return InstallPlan(package, f"highdicom=={wanted}", f"for pydicom {installed['pydicom']}")
    if package == "matplotlib":
        if present:
            return InstallPlan(package, None, f"matplotlib {present} is already installed")
        wanted = "3.9.4" if python < (3, 10) else "3.10.8"
        return InstallPlan(package, f"matplotlib=={wanted}", f"for Python {python[0]}.{python[1]}")
    raise ValueError(f"no install rule for {package!r}")


def constraints_text(installed: Optional[dict[str, str]] = None) -> str:
    """pip constraints pinning every installed distribution to its version (never upgrade Slicer's own)."""
    installed = installed_versions() if installed is None else installed
    lines = [f"{name}=={version}" for name, version in sorted(installed.items())
             if _NAME.match(name) and _VERSION.match(version)]
    return "\n".join(lines) + "\n"


def pip_arguments(requirement: str, constraints_path: str) -> list:
    """Arguments for ``slicer.util.pip_install`` (a list: Slicer 5.8-5.10 run ``pip install *list``, 5.12+
    ``slicer.packaging`` passes a list through unchanged)."""
    return ["--constraint", constraints_path, requirement]
