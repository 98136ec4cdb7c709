"""Ragaliv Review: the five-lesion reading of one patient in a web browser (``ragaliv review``).

The same RagalivLesionRatio Lib as the Slicer module (``LesionRatioLogic`` on a MRML scene), run on
Kitware's trame-slicer: Slicer's MRML, slice views, markups placement and segment editing served to a
browser. One server process holds one scene, so it serves one reader.

Optional: its dependencies are in ``requirements-review.txt`` (extra ``review``); the core, the CLI and the
Slicer modules need none of them. Importing this package is light: trame-slicer is imported only by
:mod:`ragaliv_review.server` (and the modules it uses) when the command runs.
"""
