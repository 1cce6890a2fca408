"""Schemas of data files: infer them (``just infer-schema``), save them as YAML, declare them.

Inference reads with pyarrow (no JVM): CSV (delimiter detected), JSON / JSON Lines, Parquet.
Types are written as Spark SQL type names; date and timestamp columns get the Spark pattern
their text follows, and the null markers seen are kept, so a saved schema file is what a
``create_table_from_csv`` or ``create_table_from_json`` job declares as its ``schema``::

    # schema of datastore/raw/meteo/ds=2024-01-01 ...
    format: csv
    delimiter: ";"
    null_values: ["", NA]        # cells read as null
    date_format: yyyy/MM/dd      # every date column; or per column, as below
    timezone: Europe/Paris       # of timestamps written without an offset (default UTC)
    columns:
      station: string
      day: date
      observed_at: {type: timestamp, format: "dd/MM/yyyy HH:mm"}
      temperature_c: double

:func:`load_schema` reads any declared form (that file, a mapping, a DDL string) for the
readers (:mod:`dsflow.readers`); :func:`parse_columns` gives just ``{column: type}``.
"""

from __future__ import annotations

import csv
import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from .errors import DsflowError
from .project import current_project

FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".json": "json", ".jsonl": "json"}
FORMATS |= {".ndjson": "json", ".parquet": "parquet", ".pq": "parquet"}
DELIMITERS = ",;\t|"


def data_files(path: Path) -> list[Path]:
    """The data files of a file or folder (``_``- and ``.``-prefixed files skipped), sorted."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DsflowError(f"{path} does not exist")
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and not any(part.startswith(("_", ".")) for part in p.relative_to(path).parts)
    )
    if not files:
        raise DsflowError(f"{path} holds no data files")
    return files


def file_format(path: Path) -> str:
    """csv, json or parquet, from the file name (a folder: from its first data file)."""
    first = data_files(path)[0]
    fmt = FORMATS.get(first.suffix.lower())
    if fmt is None:
        raise DsflowError(
            f"cannot tell the format of {first.name} (known suffixes: {', '.join(sorted(FORMATS))})"
        )
    return fmt


def detect_delimiter(path: Path) -> str:
    """The delimiter of a CSV file (or of a folder's first data file), sniffed from its head."""
    first = data_files(path)[0]
    with first.open(newline="", errors="replace") as handle:
        head = handle.read(64 * 1024)
    lines = head.splitlines()
    if not lines:
        raise DsflowError(f"{first} is empty: cannot detect a CSV delimiter")
    try:
        return csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=DELIMITERS).delimiter
    except csv.Error:
        # one column, or a sniffer miss: the candidate that splits the header most often wins
        counts = {d: lines[0].count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def _spark_type(arrow_type: Any) -> str:
    from .contracts import spark_type  # one mapping for inferred schemas and table contracts

    found = spark_type(arrow_type)
    return "string" if found == "void" else found  # an empty column: no values to tell by


# ------------------------------------------------------------------ inference

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
            return (
                f"{name}: {example!r} may be day/month or month/day: declare it "
                f"{{type: date, format: dd{sep}MM{sep}yyyy}} (or MM{sep}dd{sep}yyyy)"
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


# ------------------------------------------------------------------ declared schemas

SCHEMA_FILE_KEYS = (
    "format", "delimiter", "null_values", "date_format", "timestamp_format", "timezone",
    "columns",
)  # fmt: skip
COLUMN_KEYS = ("type", "format", "timezone")
INLINE_SOURCE = "the declared schema"  # how messages name a schema not read from a file
DATETIME_TYPES = ("date", "timestamp", "timestamp_ntz")
COMPLEX_PREFIXES = ("array<", "map<", "struct<")


@dataclass(frozen=True)
class Column:
    """A declared column: its Spark SQL type and, for a date or timestamp written as text,
    its Spark pattern and (timestamps) the time zone of values written without an offset."""

    name: str
    type: str
    format: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class Schema:
    """A declared schema: its columns in order, where it was declared (for messages), and the
    read options its YAML file carries (delimiter, null_values, date_format, ...)."""

    columns: dict[str, Column]
    source: str = INLINE_SOURCE
    options: dict[str, Any] = field(default_factory=dict)

    def types(self) -> dict[str, str]:
        """``{column: Spark SQL type}``."""
        return {name: column.type for name, column in self.columns.items()}

    def ddl(self) -> str:
        """The Spark DDL string of the columns (backticked names)."""
        return ", ".join(f"{_quote(name)} {kind}" for name, kind in self.types().items())


def parse_columns(schema: Any, root: Path | None = None) -> dict[str, str]:
    """``{column: Spark SQL type}`` (canonical names: ``int``, ``bigint``, ``decimal(10,2)``,
    ``struct<a:int>``, ...) of a declared schema: a mapping ``{column: type or {type: ..,
    format: ..}}``, a DDL string (``"a string, `b c` decimal(10,2)"``), or the path (relative
    to ``root``, the project root by default) of a YAML file holding ``columns:``. An empty
    schema gives ``{}``."""
    declared = load_schema(schema, root)
    return declared.types() if declared else {}


def load_schema(schema: Any, root: Path | None = None) -> Schema | None:
    """The declared schema ``schema`` (any form :func:`parse_columns` takes), with per-column
    formats and the YAML file's read options; None when it is empty (nothing declared)."""
    if schema is None or (isinstance(schema, (str, dict, list)) and not schema):
        return None
    if isinstance(schema, str) and not schema.strip():
        return None
    source, options = INLINE_SOURCE, {}
    if isinstance(schema, (str, Path)) and str(schema).strip().endswith((".yaml", ".yml")):
        path = _schema_path(str(schema).strip(), root)
        source = _shown(path, root)
        try:
            loaded = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark else ""
            raise DsflowError(f"{source}{where}: not valid YAML") from None
        if not isinstance(loaded, dict) or not loaded.get("columns"):
            raise DsflowError(f"{source}: expected a `columns:` mapping of column: type")
        schema, options = loaded["columns"], _file_options(loaded, source)
    elif (
        isinstance(schema, dict)
        and isinstance(schema.get("columns"), (dict, str))
        and set(schema) <= set(SCHEMA_FILE_KEYS)
    ):  # a whole schema document, given inline
        schema, options = schema["columns"], _file_options(schema, source)
    if isinstance(schema, str):
        items = _parse_ddl(schema, source)
    elif isinstance(schema, dict):
        items = [(str(name), kind) for name, kind in schema.items()]
    else:
        raise DsflowError(
            f"{source}: a schema is a mapping of column: type, a DDL string or a YAML file, "
            f"not {schema!r}"
        )
    columns: dict[str, Column] = {}
    for name, kind in items:
        if name in columns:
            raise DsflowError(f"{source}: column {name} is declared twice")
        columns[name] = _column(name, kind, source)
    return Schema(columns, source, options)


def ddl(schema: Any, root: Path | None = None) -> str:
    """A Spark DDL string from a declared schema (any form :func:`parse_columns` takes);
    ``""`` when nothing is declared (Spark infers)."""
    declared = load_schema(schema, root)
    return declared.ddl() if declared else ""


def null_markers(value: Any, where: str = "null_values") -> tuple[str, ...] | None:
    """Null markers as a tuple: a list of texts, or one text of comma-separated markers
    (``"NA"``, ``",NA,-"`` where the empty first one is the empty cell); None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(value.split(","))
    if isinstance(value, (list, tuple)):
        markers = []
        for item in value:
            if item is None or isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise DsflowError(
                    f'{where}: write each null marker as quoted text ("", "NA", "null"), '
                    f"not {item!r}"
                )
            markers.append(str(item))
        return tuple(markers)
    raise DsflowError(f'{where}: expected a list of texts like ["", "NA"], not {value!r}')


_ZONE_OFFSET = re.compile(r"(UTC|GMT)?[+-]\d{1,2}(:\d{2})?")
_PATTERN_LETTERS = set("GyMLdDEaHhKkmsSVzOXxZuQq")
_FORBIDDEN_LETTERS = set("YwWeucFq")  # week-based and other letters Spark 3+ refuses to parse


def check_timezone(zone: str, where: str = "timezone") -> str:
    """``zone`` if Spark and Python both know it (an IANA name such as Europe/Paris, UTC, or
    an offset such as +02:00), else a one-line error."""
    text = str(zone).strip()
    if _ZONE_OFFSET.fullmatch(text) or text in ("UTC", "Z", "GMT"):
        return text
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise DsflowError(
            f"{where}: unknown time zone {text!r} (an IANA name like Europe/Paris, UTC, or an "
            "offset like +02:00)"
        ) from None
    return text


def check_datetime_format(pattern: str, where: str = "format") -> str:
    """``pattern`` if it reads as a Spark datetime pattern (``yyyy-MM-dd HH:mm``), else a
    one-line error (strftime's ``%Y-%m-%d`` is the usual mix-up)."""
    text = str(pattern)
    guide = "https://spark.apache.org/docs/latest/sql-ref-datetime-pattern.html"
    if not text.strip():
        raise DsflowError(f"{where}: an empty pattern; give one like yyyy-MM-dd")
    if "%" in text:
        raise DsflowError(
            f"{where}: {text!r} is a strftime pattern; Spark's reads like yyyy-MM-dd HH:mm "
            f"({guide})"
        )
    letters = "".join(re.sub(r"'[^']*'", "", text).split())
    bad = sorted(
        {c for c in letters if c.isalpha() and c not in _PATTERN_LETTERS}
        | ({c for c in letters if c in _FORBIDDEN_LETTERS})
    )
    if bad:
        raise DsflowError(
            f"{where}: {text!r} has letters Spark cannot parse with ({''.join(bad)}); "
            f"write it like yyyy-MM-dd HH:mm ({guide})"
        )
    return text


def has_zone(pattern: str) -> bool:
    """True when a Spark pattern reads the zone or offset from the text itself."""
    return any(c in "VzOXxZ" for c in re.sub(r"'[^']*'", "", pattern))


def _file_options(loaded: dict[str, Any], source: str) -> dict[str, Any]:
    unknown = [k for k in loaded if k not in SCHEMA_FILE_KEYS]
    if unknown:
        raise DsflowError(
            f"{source}: unknown key {unknown[0]!r} (known: {', '.join(SCHEMA_FILE_KEYS)})"
        )
    options: dict[str, Any] = {}
    if loaded.get("delimiter") is not None:
        options["delimiter"] = check_delimiter(loaded["delimiter"], f"{source}: delimiter")
    if loaded.get("null_values") is not None:
        options["null_values"] = null_markers(loaded["null_values"], f"{source}: null_values")
    for key in ("date_format", "timestamp_format"):
        if loaded.get(key):
            options[key] = check_datetime_format(loaded[key], f"{source}: {key}")
    if loaded.get("timezone"):
        options["timezone"] = check_timezone(loaded["timezone"], f"{source}: timezone")
    return options


def check_delimiter(value: Any, where: str = "delimiter") -> str:
    """One character (``\\t`` and ``tab`` mean the tab), else a one-line error."""
    text = str(value)
    text = "\t" if text in ("\\t", "tab", "TAB") else text
    if len(text) != 1:
        raise DsflowError(f"{where}: one character like , ; | or \\t, not {value!r}")
    return text


def _column(name: str, kind: Any, source: str) -> Column:
    where = f"{source}: column {name}"
    fmt = zone = None
    if isinstance(kind, dict):
        unknown = [k for k in kind if k not in COLUMN_KEYS]
        if unknown:
            raise DsflowError(
                f"{where}: unknown key {unknown[0]!r} (known: {', '.join(COLUMN_KEYS)})"
            )
        kind, fmt, zone = kind.get("type"), kind.get("format"), kind.get("timezone")
    if not isinstance(kind, str) or not kind.strip():
        raise DsflowError(
            f"{where}: give its type as text (string, double, date, ...), not {kind!r}"
        )
    from .contracts import normalize_type  # one grammar of type names for the whole runtime

    try:
        canonical = normalize_type(kind)
    except DsflowError as exc:
        raise DsflowError(f"{where}: {exc}") from None
    if fmt is not None:
        if canonical not in DATETIME_TYPES:
            raise DsflowError(
                f"{where}: a format applies to date and timestamp columns, not {canonical}"
            )
        fmt = check_datetime_format(fmt, f"{where}: format")
    if zone is not None:
        if canonical != "timestamp":
            raise DsflowError(f"{where}: a timezone applies to timestamp columns, not {canonical}")
        zone = check_timezone(zone, f"{where}: timezone")
    return Column(name, canonical, fmt, zone)


def _schema_path(text: str, root: Path | None) -> Path:
    path = Path(text)
    if not path.is_absolute():
        path = (root or current_project().root) / path
    if not path.is_file():
        raise DsflowError(f"schema file {path} does not exist (make one: just infer-schema)")
    return path


def _shown(path: Path, root: Path | None) -> str:
    try:
        base = (root or current_project().root).resolve()
    except DsflowError:
        return str(path)
    resolved = path.resolve()
    return str(resolved.relative_to(base)) if resolved.is_relative_to(base) else str(path)


def _split_top(text: str) -> list[str]:
    """``text`` split at the commas outside ``<..>``, ``(..)``, backticks and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for pos, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "`'\"":
            quote = char
        elif char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        elif depth == 0 and char == ",":
            parts.append(text[start:pos])
            start = pos + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


_DDL_ITEM = re.compile(r"(`(?:[^`]|``)*`|[^\s:`]+)\s*:?\s*(.*)", re.S)
_COMMENT = re.compile(r"\s+COMMENT\s+('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")", re.I)
_NOT_NULL = re.compile(r"\s+NOT\s+NULL\b", re.I)


def _parse_ddl(text: str, source: str) -> list[tuple[str, str]]:
    items = []
    for item in _split_top(text):
        match = _DDL_ITEM.fullmatch(item)
        name = match.group(1) if match else item
        if name.startswith("`"):
            name = name[1:-1].replace("``", "`")
        kind = _NOT_NULL.sub("", _COMMENT.sub("", " " + match.group(2))).strip() if match else ""
        if not kind:
            raise DsflowError(
                f"{source}: cannot read {item!r}: a DDL schema reads `name type, name type`"
            )
        items.append((name, kind))
    return items


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
