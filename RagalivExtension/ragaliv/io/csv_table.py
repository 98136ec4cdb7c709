"""Input tables (CSV) read strictly: UTF-8 with or without a byte-order mark, a header naming the columns,
comment lines (``#``) and blank lines skipped, every error naming the file, the line and the fix.

Used by ``ragaliv tac`` (TACS.csv) and ``ragaliv population`` (cohort TACs).
"""

import csv
import math
import os
import re
from collections.abc import Mapping, Sequence
from typing import Optional

from ..errors import RagalivInputError


def read_csv_table(path: str, required: Sequence[str], header_hint: str, quote_hint: str,
                   empty_hint: Optional[str] = None,
                   numeric_columns: Sequence[str] = ()) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(lower-case header, [(line number, fields padded to the header)]). ``header_hint``: the fix for a missing
    or absent header; ``empty_hint``: when given, a header without data rows is refused with it;
    ``numeric_columns``: the columns holding numbers (a row with too many fields is then told apart: a decimal
    comma, or a name holding a comma)."""
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
            raise _too_many_fields(path, line, row, header, numeric_columns, quote_hint)
        data.append((line, row + [""] * (len(header) - len(row))))
    if not data and empty_hint is not None:
        raise RagalivInputError(f"{path} has a header but no data rows.", empty_hint)
    return header, data


_INTEGER = re.compile(r"^\s*[-+]?\d+$")
_DIGITS = re.compile(r"^\d+\s*$")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _too_many_fields(path: str, line: int, row: Sequence[str], header: Sequence[str],
                     numeric_columns: Sequence[str], quote_hint: str) -> RagalivInputError:
    """A row with more fields than the header: an unquoted decimal comma ("30,7" read as two fields) when two
    adjacent fields are whole numbers and the row holds no more text fields than the header's text columns;
    otherwise (e.g. "Kidney, left") a name holding a comma. Both causes are named in the fix."""
    text_fields = [field for field in row if field.strip() and not _is_number(field)]
    text_columns = [name for name in header if name not in numeric_columns]
    pairs = [(a.strip(), b.strip()) for a, b in zip(row, row[1:]) if _INTEGER.match(a) and _DIGITS.match(b)]
    message = f"{path} line {line}: {len(row)} fields but the header has {len(header)}"
    if numeric_columns and pairs and len(text_fields) <= len(text_columns):
        candidates = ", ".join(f"'{whole},{fraction}'" for whole, fraction in pairs)
        return RagalivInputError(
            f"{message}: '{','.join(field.strip() for field in row)}' looks like a number written with a comma, "
            "decimal or thousands "
            f"({candidates.replace(', ', ' or ') if len(pairs) > 1 else candidates}).",
            "Decimal comma: write 1.5, not 1,5 (the comma separates the columns); a thousands separator too: "
            "write 1000, not 1,000; if a name holds a comma instead, "
            f"{quote_hint[:1].lower()}{quote_hint[1:]}")
    return RagalivInputError(f"{message}.", f"{quote_hint} Numbers need a decimal point (1.5, not 1,5).")


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


def _lines_text(lines: Sequence[int]) -> str:
    shown = ", ".join(map(str, lines[:5]))
    return f"line {shown}" if len(lines) == 1 else f"lines {shown}{', ...' if len(lines) > 5 else ''}"


def refuse_case_variants(lines_by_name: Mapping[str, Sequence[int]], what: str, path: str) -> None:
    """Refuse names (``what``: "region", "patient") that differ only in letter case or spacing ("Kidney left",
    "kidney left"): read as two, each would get part of the points (a TIA 2.5x high from half a curve)."""
    groups: dict[str, list[str]] = {}
    for name in lines_by_name:
        groups.setdefault(" ".join(name.split()).casefold(), []).append(name)
    clashes = [names for names in groups.values() if len(names) > 1]
    if not clashes:
        return
    described = "; ".join(
        " and ".join(f"{name!r} ({_lines_text(sorted(lines_by_name[name]))})" for name in names) for names in clashes)
    raise RagalivInputError(
        f"{path}: {what} names that differ only in letter case or spacing: {described}. They would be read as "
        f"separate {what}s, each with part of the points.",
        f"Spell each {what} the same way on every row (names that differ only in case are not taken as different "
        f"{what}s).")
