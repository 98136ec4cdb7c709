"""Input tables (CSV) read strictly: UTF-8 with or without a byte-order mark, a header naming the columns,
comment lines (``#``) and blank lines skipped, every error naming the file, the line and the fix.

Used by ``ragaliv tac`` (TACS.csv) and ``ragaliv population`` (cohort TACs).
"""

import csv
import math
import os
from collections.abc import Sequence
from typing import Optional

from ..errors import RagalivInputError


def read_csv_table(path: str, required: Sequence[str], header_hint: str, quote_hint: str,
                   empty_hint: Optional[str] = None) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(lower-case header, [(line number, fields padded to the header)]). ``header_hint``: the fix for a missing
    or absent header; ``empty_hint``: when given, a header without data rows is refused with it."""
    if not os.path.isfile(path):
        raise RagalivInputError(f"TAC file not found: {path}", "Check the TACS.csv path.")
    try:
        with open(path, newline="", encoding="utf-8-sig") as stream:
            rows = list(csv.reader(stream))
    except UnicodeDecodeError:
        raise RagalivInputError(f"{path} is not UTF-8 text.", "Save the CSV as UTF-8.") from None
    except csv.Error as error:
        raise RagalivInputError(f"{path} is not a valid CSV file: {error}.") from None
    start = next((i for i, row in enumerate(rows) if row and "".join(row).strip()), None)
    if start is None:
        raise RagalivInputError(f"{path} is empty.", f"Write a header '{','.join(required)}' and one row per point.")
    header = [name.strip().lower() for name in rows[start]]
    missing = [name for name in required if name not in header]
    if missing:
        raise RagalivInputError(
            f"{path}: missing column(s) {', '.join(missing)} in the header (line {start + 1}: "
            f"{','.join(rows[start])}).",
            header_hint,
        )
    duplicated = sorted({name for name in header if name and header.count(name) > 1})
    if duplicated:
        raise RagalivInputError(f"{path}: column(s) {', '.join(duplicated)} appear twice in the header.",
                                "Keep one column of each name.")
    data = []
    for line, row in enumerate(rows[start + 1:], start=start + 2):
        if not row or not "".join(row).strip() or row[0].strip().startswith("#"):
            continue
        if len(row) > len(header):
            raise RagalivInputError(f"{path} line {line}: {len(row)} fields but the header has {len(header)}.",
                                    quote_hint)
        data.append((line, row + [""] * (len(header) - len(row))))
    if not data and empty_hint is not None:
        raise RagalivInputError(f"{path} has a header but no data rows.", empty_hint)
    return header, data


def csv_number(text: str, column: str, line: int, path: str, optional: bool = False) -> Optional[float]:
    """A finite number from one field; empty is None when ``optional``, else refused (with the line)."""
    value = (text or "").strip()
    if not value:
        if optional:
            return None
        raise RagalivInputError(f"{path} line {line}: {column} is empty.", f"Give a number in column {column}.")
    try:
        number = float(value)
    except ValueError:
        raise RagalivInputError(
            f"{path} line {line}: {column} {value!r} is not a number.",
            "Use plain numbers with a decimal point (e.g. 12.5), no units.",
        ) from None
    if not math.isfinite(number):
        raise RagalivInputError(f"{path} line {line}: {column} is {value}.", "Give a finite number.")
    return number
