"""``ragaliv review``: the five-lesion reading in a web browser (package ``ragaliv_review``, optional).

The arguments are in :mod:`.parser` like every command's; the app and its dependencies (trame-slicer,
slicer-core) are imported only here, when the command runs, so the core and the other commands need none.
"""

import argparse

from ..errors import RagalivInputError

INSTALL_HINT = ("Install the review app's dependencies: `make review` in a checkout, or "
                "`pip install -r requirements-review.txt` (Python 3.11).")


def command(args: argparse.Namespace) -> int:
    """Check the inputs, then load them and serve the reading until the process is stopped."""
    from ragaliv_review.inputs import inputs_from_arguments

    inputs = inputs_from_arguments(args)
    try:
        from ragaliv_review.server import serve
    except ImportError as error:
        missing = getattr(error, "name", None) or str(error)
        if missing.split(".")[0] in ("ragaliv", "ragaliv_review", "ragaliv_mrml"):
            raise  # our own code: a bug, not a missing optional package
        raise RagalivInputError(f"`ragaliv review` needs the optional package {missing!r}, which is not installed.",
                                INSTALL_HINT) from None
    return serve(inputs, host=args.host, port=args.port)
