"""The Lib's analysis as page state: table rows (numbers for clients, text for the page), the decision with
its rule, and the warnings. Pure Python (no Slicer, no trame), JSON-ready: undefined values are None (the
row's flags say why), never NaN."""

import math
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from ragaliv.ratio.analysis import RATIO_COLUMNS, RatioAnalysis, row_values

HIDDEN_COLUMNS = ("role",)
DECIMALS = {"mL": 2, "SUV": 2, "ratio": 2, "%": 1}


def table_columns(suv_unit: str) -> list[dict[str, str]]:
    """Column keys and headers (with units) of the page's table: the columns of ``ratios.csv`` and of the
    Slicer module's table, in the same order."""
    columns = []
    for key, title, unit in RATIO_COLUMNS:
        if key in HIDDEN_COLUMNS:
            continue
        shown = suv_unit if unit == "SUV" else ("" if unit == "ratio" else unit)
        columns.append({"key": key, "title": f"{title} ({shown})" if shown else title})
    return columns


def _number(value: Any) -> Optional[float]:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _text(value: Any, unit: str) -> str:
    if isinstance(value, str):
        return value
    number = _number(value)
    return "—" if number is None else f"{number:.{DECIMALS.get(unit, 3)}f}"


def table_rows(analysis: RatioAnalysis, segment_ids: Mapping[str, str]) -> list[dict[str, Any]]:
    """One dict per segment: every ``ratios.csv`` column (numbers or None), ``text`` (formatted for the page)
    and ``segment_id`` (to select the segment for editing)."""
    units = {key: unit for key, _, unit in RATIO_COLUMNS}
    rows = []
    for row in analysis.rows:
        values = row_values(row)
        state = {key: (value if isinstance(value, str) else _number(value)) for key, value in values.items()}
        state["text"] = {key: _text(value, units.get(key, "")) for key, value in values.items()}
        state["segment_id"] = segment_ids.get(row.segment, "")
        rows.append(state)
    return rows


def reading_state(analysis: RatioAnalysis, segment_ids: Mapping[str, str],
                  input_warnings: Sequence[str] = ()) -> dict[str, Any]:
    """Everything the page shows about the analysis, under the state names the page binds to."""
    summary = analysis.summary
    return {
        "rows": table_rows(analysis, segment_ids),
        "columns": table_columns(analysis.suv_unit),
        "decision": summary.decision_text,
        "rule": summary.settings.rule_text(),
        "eligible": summary.eligible,
        "lesion_ratio": _number(summary.lesion_ratio),
        "lesion_count": summary.lesion_count,
        "warnings": list(input_warnings) + list(summary.warnings),
    }
