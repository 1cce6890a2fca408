"""Declared schemas: the columns and types a job declares for the data it reads or writes.

A schema is declared as a mapping ``{column: type}``, a DDL string, or a YAML file (``just
infer-schema`` writes one, :mod:`dsflow.schema_inference`) that also carries read options,
as a ``create_table_from_csv`` or ``create_table_from_json`` job declares it::

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
readers (:mod:`dsflow.readers`); :func:`parse_columns` gives just ``{column: type}``, the
form table contracts (:mod:`dsflow.contracts`) take. Type names go through one grammar,
:mod:`dsflow.sqltypes`; the checks of delimiters, null markers, datetime patterns and time
zones here also serve the read options (:mod:`dsflow.read_options`).
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import DsflowError
from .project import current_project
from .sqltypes import backticked, normalize_type, parse_ddl

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
        return ", ".join(f"{backticked(name)} {kind}" for name, kind in self.types().items())


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
        items = parse_ddl(schema, source)
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
