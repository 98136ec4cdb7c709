"""``python -m ragaliv.cli ...`` (used by the batch kill test and the benchmarks)."""

import sys

from . import main

sys.exit(main())
