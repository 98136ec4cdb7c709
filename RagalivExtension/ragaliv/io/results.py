"""Deterministic, atomic writing of result tables (CSV) and documents (JSON).

Same inputs give byte-identical files: fixed column order, numbers to 6 significant digits, sorted JSON
keys where order carries no meaning, no timestamps (those go to the provenance sidecar).
"""

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

from .atomic import write_text

SIGNIFICANT_DIGITS = 6


def format_number(value: Any) -> str:
    """Text for a CSV cell: floats to 6 significant digits; None, NaN and inf as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return f"{value:.{SIGNIFICANT_DIGITS}g}"
    return str(value)


def write_csv(path: str, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([format_number(row.get(column)) for column in columns])
    write_text(path, stream.getvalue())


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become None; numpy scalars become Python numbers; floats rounded stably."""
    if isinstance(value, dict):
        return {str(key): _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.{SIGNIFICANT_DIGITS + 3}g}")
    return value


def to_json_text(document: dict[str, Any]) -> str:
    return json.dumps(_clean(document), indent=2, ensure_ascii=False) + "\n"


def write_json(path: str, document: dict[str, Any]) -> None:
    write_text(path, to_json_text(document))
