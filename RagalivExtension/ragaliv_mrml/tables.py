"""Result tables: one ``vtkMRMLTableNode`` per result, columns with titles and units (SegmentStatistics
style), filled inside StartModify/EndModify so views update once."""

import math
from collections.abc import Sequence
from typing import Any, Optional

import vtk

Column = tuple[str, str, str]  # key, title, unit


def write_table(
    table_node,
    columns: Sequence[Column],
    rows: Sequence[dict[str, Any]],
    text_columns: Sequence[str] = (),
    descriptions: Optional[dict[str, str]] = None,
) -> None:
    """Replace the table content. Numbers go into double columns; None becomes NaN there, so every
    row that can hold an undefined value must also carry a text column saying why (e.g. "flags")."""
    was_modifying = table_node.StartModify()
    table_node.RemoveAllColumns()
    text = set(text_columns)
    arrays = []
    for key, title, unit in columns:
        array = vtk.vtkStringArray() if key in text else vtk.vtkDoubleArray()
        array.SetName(key)
        array.SetNumberOfTuples(len(rows))
        for index, row in enumerate(rows):
            value = row.get(key)
            if key in text:
                array.SetValue(index, "" if value is None else str(value))
            else:
                array.SetValue(index, math.nan if value is None else float(value))
        table_node.AddColumn(array)
        table_node.SetColumnTitle(key, title)
        if unit:
            table_node.SetColumnUnitLabel(key, unit)
        if descriptions and key in descriptions:
            table_node.SetColumnDescription(key, descriptions[key])
        arrays.append(array)
    table_node.SetUseColumnTitleAsColumnHeader(True)
    table_node.Modified()
    table_node.EndModify(was_modifying)


def read_table(table_node) -> dict[str, list]:
    """Columns by name (strings or floats), for tests and exports."""
    table = table_node.GetTable()
    result: dict[str, list] = {}
    for index in range(table.GetNumberOfColumns()):
        column = table.GetColumn(index)
        values = [column.GetValue(row) for row in range(column.GetNumberOfTuples())]
        result[column.GetName()] = values
    return result
