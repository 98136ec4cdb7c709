"""The RagalivLesionRatio module's Lib, imported the way Slicer imports it: from the module folder.

The review app calls this Lib (never a copy of its logic). The Lib lives beside the module file, not in the
installed ``ragaliv`` distribution, so the app finds it in the source checkout it was installed from
(``pip install -e .``), unless it is already importable (``PYTHONPATH``, or inside Slicer).
"""

import pathlib
import sys

from ragaliv.errors import RagalivInputError

MODULE_FOLDER = pathlib.Path(__file__).resolve().parents[2] / "RagalivLesionRatio"


def lesion_ratio_lib():
    """The ``RagalivLesionRatioLib`` package."""
    try:
        import RagalivLesionRatioLib
    except ModuleNotFoundError as error:
        if error.name != "RagalivLesionRatioLib":
            raise
        if not (MODULE_FOLDER / "RagalivLesionRatioLib").is_dir():
            raise RagalivInputError(
                "The RagalivLesionRatio module's Lib (RagalivLesionRatioLib) was not found.",
                "Install Ragaliv from a source checkout (`pip install -e .`), or add the RagalivLesionRatio "
                "folder to PYTHONPATH.",
            ) from None
        sys.path.insert(0, str(MODULE_FOLDER))
        import RagalivLesionRatioLib
    return RagalivLesionRatioLib
