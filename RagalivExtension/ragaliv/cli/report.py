"""``ragaliv report --ratio DIR --dosimetry DIR -o report.html``: the case report from result folders."""

import argparse
from typing import Optional


def run_report(ratio: Optional[str], dosimetry: Optional[str], output: str, deidentify: bool = False) -> int:
    """Write the case report (HTML, and PDF beside it when a converter is available)."""
    from ..checks.outputs import check_output_file
    from ..report.case_report import write_case_report

    output = check_output_file(output, (".html", ".htm"))
    paths = write_case_report(ratio, dosimetry, output, deidentify)
    print(f"Case report: {', '.join(paths.values())}")
    return 0


def command(args: argparse.Namespace) -> int:
    return run_report(args.ratio, args.dosimetry, args.output, args.deidentify)
