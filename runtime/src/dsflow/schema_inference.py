"""Schema inference for ``just infer-schema``: propose a schema from a data file, as YAML.

Inference reads with pyarrow (no JVM): CSV (delimiter detected, :mod:`dsflow.datafiles`),
JSON / JSON Lines, Parquet. Types are written as Spark SQL type names (:mod:`dsflow.sqltypes`);
date and timestamp columns get the Spark pattern their text follows, and the null markers seen
are kept, so the saved file is a declared schema (:mod:`dsflow.schemas` reads it) that a
``create_table_from_csv`` or ``create_table_from_json`` job names as its ``schema``.
"""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from .datafiles import data_files, detect_delimiter, file_format
from .errors import DsflowError
from .sqltypes import spark_type

NULL_MARKERS = ("NA", "N/A", "n/a", "null", "NULL", "-")  # besides "", proposed when seen
_DATE_HINTS = ("date", "day", "dt", "ds")  # a yyyyMMdd column must be named like a date


def infer_schema(path: Path) -> dict[str, Any]:
    """``{"format", "delimiter" (CSV), "null_values", "date_format", "timestamp_format",
    "columns"}`` of ``path`` (keys without a finding are left out).

    Columns map to Spark SQL types, or to ``{type, format}`` for a date or timestamp column
    whose pattern differs from the others'. A ``notes`` list (left out of the YAML, written as
    comments by :func:`schema_yaml`) says what could not be decided, such as 01/02/2024.
    """
    fmt = file_format(path)
    first = data_files(path)[0]
    result: dict[str, Any] = {"format": fmt}
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            schema = pq.read_schema(first)
            result["columns"] = {f.name: _spark_type(f.type) for f in schema if _kept(f.name)}
            return result
        if fmt == "json":
            import pyarrow.json as pj

            table = pj.read_json(first)
            texts = {
                f.name: [v for v in table.column(f.name).to_pylist() if v is not None]
                for f in table.schema
                if _kept(f.name) and str(f.type) == "string"
            }
            types = {f.name: _spark_type(f.type) for f in table.schema if _kept(f.name)}
        else:
            types, texts = _infer_csv(first, result)
    except DsflowError:
        raise
    except Exception as exc:  # pyarrow's parse errors are ArrowInvalid, OSError, ...
        message = " ".join(str(exc).split())[:200]
        raise DsflowError(f"{first}: cannot read it as {fmt}: {message}") from None
    _propose_datetimes(result, types, texts)
    return result


def _kept(name: str) -> bool:
    return name not in ("ds", "hr")  # partition columns come from the folder names


def _spark_type(arrow_type: Any) -> str:
    found = spark_type(arrow_type)  # one mapping for inferred schemas and table contracts
    return "string" if found == "void" else found  # an empty column: no values to tell by


def _infer_csv(first: Path, result: dict[str, Any]) -> tuple[dict[str, str], dict[str, list]]:
    """Types of a CSV file's columns (pyarrow, with the null markers seen), and the text of the
    columns that may hold dates."""
    import pyarrow as pa
    import pyarrow.csv as pc

    delimiter = detect_delimiter(first)
    result["delimiter"] = delimiter
    options = pc.ParseOptions(delimiter=delimiter)
    with first.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        header = next(csv.reader(handle, delimiter=delimiter), [])
    as_text = pc.ConvertOptions(
        column_types={name: pa.string() for name in header},
        null_values=[],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    text_table = pc.read_csv(first, parse_options=options, convert_options=as_text)
    cells = {n: text_table.column(i).to_pylist() for i, n in enumerate(text_table.column_names)}
    markers = null_markers_seen(cells)
    if markers:
        result["null_values"] = markers
    nulls = list(markers) or [""]
    typed = pc.read_csv(
        first,
        parse_options=options,
        convert_options=pc.ConvertOptions(null_values=nulls, strings_can_be_null=True),
    )
    types = {f.name: _spark_type(f.type) for f in typed.schema if _kept(f.name)}
    texts = {
        name: [v for v in cells[name] if v not in nulls and v != ""]
        for name, kind in types.items()
        if kind in ("string", "date", "timestamp")
        or (kind in ("int", "bigint") and _date_named(name))
    }
    return types, texts


def null_markers_seen(cells: dict[str, list[str]]) -> list[str]:
    """The null markers a table's text holds: ``""`` if any cell is empty; NA, N/A, null, -
    and the like where the column's other values are numbers, booleans or dates (in a text
    column, "NA" may well be Namibia)."""
    seen: list[str] = []
    for values in cells.values():
        present = set(values)
        if "" in present and "" not in seen:
            seen.append("")
        found = [m for m in NULL_MARKERS if m in present]
        others = [v for v in present if v != "" and v not in NULL_MARKERS]
        if found and _looks_typed(others):
            seen += [m for m in found if m not in seen]
    return [m for m in ("", *NULL_MARKERS) if m in seen]


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _looks_typed(values: list[str]) -> bool:
    if all(_NUMBER.fullmatch(v.strip()) for v in values):
        return True
    if all(v.strip().lower() in ("true", "false") for v in values):
        return True
    return isinstance(propose_datetime("date", values), tuple)


def _date_named(name: str) -> bool:
    lowered = name.lower()
    words = re.split(r"[^a-z0-9]+", lowered)
    return "date" in lowered or "day" in lowered or any(w in _DATE_HINTS for w in words)


_DATE_TIME = re.compile(r"([\d./-]+)(?:([ T])(\d{2}):(\d{2})(?::(\d{2}))?)?")
_YMD = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})")
_XXY = re.compile(r"(\d{1,2})([-/.])(\d{1,2})\2(\d{4})")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")


def propose_datetime(name: str, values: list[str]) -> tuple[str, str] | str | None:
    """``("date" | "timestamp", Spark pattern)`` when every value has the same date (and
    time) shape; a note (text) when day and month cannot be told apart; else None.

    Shapes: yyyy-MM-dd, yyyy/MM/dd, dd/MM/yyyy, MM/dd/yyyy (only when a value shows it),
    dd.MM.yyyy, yyyyMMdd (only in a column named like a date), each optionally followed by
    `` HH:mm[:ss]`` or ``'T'HH:mm[:ss]``.
    """
    if not values:
        return None
    shapes: set[tuple] = set()
    parts: list[tuple[str, str, int]] = []  # (first, second, year) as written
    for value in values:
        match = _DATE_TIME.fullmatch(value.strip())
        if not match:
            return None
        day_part, sep, hh, mm, ss = match.groups()
        if hh is not None and (int(hh) > 23 or int(mm) > 59 or (ss and int(ss) > 59)):
            return None
        time_shape = None if sep is None else (sep, ss is not None)
        if m := _YMD.fullmatch(day_part):
            year, s, a, b = m.groups()
            shapes.add(("ymd", s, time_shape))
            parts.append((a, b, int(year)))
        elif m := _XXY.fullmatch(day_part):
            a, s, b, year = m.groups()
            shapes.add(("xxy", s, time_shape))
            parts.append((a, b, int(year)))
        elif (m := _COMPACT.fullmatch(day_part)) and sep is None and _date_named(name):
            year, a, b = m.groups()
            if not 1900 <= int(year) <= 2100:
                return None
            shapes.add(("compact", "", None))
            parts.append((a, b, int(year)))
        else:
            return None
        if len(shapes) > 1:
            return None
    kind, sep, time_shape = shapes.pop()
    firsts = [int(a) for a, _, _ in parts]
    seconds = [int(b) for _, b, _ in parts]
    if kind == "xxy" and sep != ".":
        day_first, month_second = max(firsts) > 12, max(seconds) > 12
        if day_first == month_second:
            if day_first:
                return None  # both above 12: not dates
            example = values[0].strip()
            kind_name, clock = "date", ""
            if time_shape is not None:
                kind_name = "timestamp"
                clock = (" " if time_shape[0] == " " else "'T'") + (
                    "HH:mm:ss" if time_shape[1] else "HH:mm"
                )
            return (
                f"{name}: {example!r} may be day/month or month/day: declare it "
                f'{{type: {kind_name}, format: "dd{sep}MM{sep}yyyy{clock}"}} '
                f"(or MM{sep}dd{sep}yyyy{clock})"
            )
        order = "dmy" if day_first else "mdy"
    else:
        order = "ymd" if kind in ("ymd", "compact") else "dmy"
    month_first = order in ("ymd", "mdy")  # parts hold (month, day) in that case
    raw_months = [a if month_first else b for a, b, _ in parts]
    raw_days = [b if month_first else a for a, b, _ in parts]
    for (_, _, year), month, day in zip(parts, raw_months, raw_days, strict=True):
        try:
            date(year, int(month), int(day))
        except ValueError:
            return None
    # Spark's MM and dd want two digits; M and d take one or two
    month = "MM" if all(len(v) == 2 for v in raw_months) else "M"
    day = "dd" if all(len(v) == 2 for v in raw_days) else "d"
    pattern = {
        "ymd": f"yyyy{sep}{month}{sep}{day}",
        "dmy": f"{day}{sep}{month}{sep}yyyy",
        "mdy": f"{month}{sep}{day}{sep}yyyy",
    }[order]
    if time_shape is None:
        return "date", pattern
    time_sep, seconds_too = time_shape
    pattern += (" " if time_sep == " " else "'T'") + ("HH:mm:ss" if seconds_too else "HH:mm")
    return "timestamp", pattern


def _propose_datetimes(
    result: dict[str, Any], types: dict[str, str], texts: dict[str, list]
) -> None:
    """Put the columns into ``result``: dates and timestamps with their patterns (shared ones
    as ``date_format`` / ``timestamp_format``), and notes for undecidable columns."""
    found: dict[str, tuple[str, str]] = {}
    notes: list[str] = []
    for name, values in texts.items():
        proposal = propose_datetime(name, [str(v) for v in values])
        if isinstance(proposal, tuple):
            found[name] = proposal
        elif isinstance(proposal, str):
            notes.append(proposal)
    columns: dict[str, Any] = {}
    for kind, key in (("date", "date_format"), ("timestamp", "timestamp_format")):
        of_kind = [n for n, t in types.items() if (found[n][0] if n in found else t) == kind]
        patterns = {found[n][1] if n in found else None for n in of_kind}
        if len(patterns) == 1 and None not in patterns:
            result[key] = patterns.pop()
    for name, kind in types.items():
        if name in found:
            kind, pattern = found[name]
            shared = result.get("date_format" if kind == "date" else "timestamp_format")
            columns[name] = kind if pattern == shared else {"type": kind, "format": pattern}
        else:
            columns[name] = kind
    result["columns"] = columns
    if notes:
        result["notes"] = notes


def schema_yaml(schema: dict[str, Any], source: str) -> str:
    """The YAML text of a schema, with comments saying where it came from (and its notes)."""
    header = f"# schema of {source}, inferred by `just infer-schema`; edit the types freely\n"
    body = {k: _inline(v) if k == "null_values" else v for k, v in schema.items() if k != "notes"}
    if isinstance(body.get("columns"), dict):
        body["columns"] = {n: _inline(t) for n, t in body["columns"].items()}
    notes = "".join(f"# note: {note}\n" for note in schema.get("notes", []))
    text = yaml.dump(body, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
    return header + notes + text


class _Inline(list):
    """A list written on one line: `["", NA]`."""


class _InlineMap(dict):
    """A mapping written on one line: `{type: date, format: dd/MM/yyyy}`."""


def _inline(value: Any) -> Any:
    if isinstance(value, list):
        return _Inline(value)
    return _InlineMap(value) if isinstance(value, dict) else value


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    str,  # a pattern with quotes ('T') reads better in double quotes
    lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v, style='"' if "'" in v else None),
)
_Dumper.add_representer(
    _Inline, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True)
)
_Dumper.add_representer(
    _InlineMap, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True)
)
