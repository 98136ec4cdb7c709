"""The ``ragaliv`` command line: the same core as the Slicer modules, on files, for headless and batch use.

One module per command (:mod:`.suv`, :mod:`.ratio`, :mod:`.tac`, :mod:`.dosimetry`, :mod:`.report`,
:mod:`.batch`, :mod:`.phantom`, :mod:`.demo`), each with a ``run_<command>(...)`` function taking plain values
and a ``command(args)`` adapter for the parser (:mod:`.parser`).

Exit codes: 0 success, 2 bad input or usage (the message says what is wrong and how to fix it; nothing is
written), 3 results written but no decision (``ratio``: a consistency check of the IA/IV pair failed and was not
confirmed, or no lesion has a ratio), 1 internal error (a bug: run with ``--debug`` for the traceback and
report it).
Heavy modules are imported inside the commands so that ``ragaliv --help`` starts fast; nothing here
imports Slicer.
"""

import importlib
import sys
import traceback
from collections.abc import Sequence
from typing import Optional

from ..errors import RagalivInputError

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INPUT = 2
EXIT_NO_DECISION = 3
GENERIC_HINT = "correct the input named above (see `ragaliv {command} --help` and the README)"


def main(argv: Optional[Sequence[str]] = None) -> int:
    from .parser import build_parser

    args = build_parser().parse_args(argv)
    try:
        module = importlib.import_module(f"{__name__}.{args.command_module}")
        return module.command(args)
    except RagalivInputError as error:
        print(f"ragaliv {args.command}: error: {error.message}", file=sys.stderr)
        print(f"  fix: {error.hint or GENERIC_HINT.format(command=args.command)}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("ragaliv: interrupted; no partial result was written", file=sys.stderr)
        return 130
    except Exception as error:  # a bug, not bad input
        if args.debug:
            traceback.print_exc()
        print(f"ragaliv {args.command}: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        print("  run again with --debug for the traceback, and report it", file=sys.stderr)
        return EXIT_INTERNAL
