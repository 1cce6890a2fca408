"""The one-line messages of the raw readers for data Spark cannot convert.

:func:`value_error`: a value that is not of its column's declared type (or format);
:func:`malformed_error`: a CSV line or JSON record that cannot be read. Each names the file
and says what to do. Built from the first bad value found by :mod:`dsflow.spark_conversion`;
the header checks' messages are :mod:`dsflow.headers`.
"""

from __future__ import annotations

import csv

from .schemas import Column


def value_error(where: str, column: Column, value: str, count: int = 1) -> str:
    """The one line saying that ``value`` of ``column`` (in file ``where``) does not convert."""
    shown = value if len(value) <= 60 else value[:57] + "..."
    more = f" ({count} bad values)" if count > 1 else ""
    kind = column.type
    if kind == "date":
        what = f"a date in format {column.format}" if column.format else "a date (yyyy-MM-dd)"
    elif kind in ("timestamp", "timestamp_ntz"):
        what = (
            f"a timestamp in format {column.format}"
            if column.format
            else "a timestamp (yyyy-MM-dd HH:mm:ss)"
        )
    else:
        article = "an" if kind[:1] in "aeiou" else "a"
        what = f"{article} {kind}"
    if value.strip() in ("NA", "N/A", "n/a", "null", "NULL", "None", "-", "?", ""):
        todo = f"add {value!r} to null_values, or fix the file"
    elif kind == "date" and not column.format:
        todo = "set date_format (e.g. dd/MM/yyyy) or the column's format in the schema"
    elif kind.startswith("timestamp") and not column.format:
        todo = "set timestamp_format (e.g. dd/MM/yyyy HH:mm) or the column's format"
    elif column.format:
        todo = "fix the file, or the column's format in the schema"
    else:
        todo = "fix the file, or the column's type in the schema"
    return f"{where}: column {column.name}: {shown!r} is not {what}{more}; {todo}"


def malformed_error(where: str, record: str, fmt: str, delimiter: str = ",", width: int = 0) -> str:
    """The one line saying that a CSV line or JSON record of file ``where`` cannot be read."""
    shown = record.strip()
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    if fmt == "csv":
        fields = len(next(csv.reader([record], delimiter=delimiter), []))
        if width and fields != width:
            return (
                f"{where}: a line has {fields} fields where the header has {width}: "
                f"{shown!r}; fix the file"
            )
        return f"{where}: a line is not valid CSV: {shown!r}; fix the file"
    return (
        f"{where}: a record is not valid JSON, or a value does not fit its declared type: "
        f"{shown!r}; fix the file (multiline=true if a file is one JSON document)"
    )
