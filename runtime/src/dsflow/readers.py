"""Read raw CSV and JSON partitions into Spark by column name, with real dates and timestamps.

Spark applies a declared schema to a CSV file by position: a day whose header swaps two
columns would be read with their values swapped. So :func:`read_csv` reads every file with its
own header (each column as text), matches the header with the declared schema by name, and
only then converts the text to the declared types, with "try" semantics, so that one Spark
action can name the first value that does not convert, in one line::

    raw/weather/ds=2014-01-05/day.csv: column date: '2014/13/45' is not a date in format
    yyyy/MM/dd; fix the file, or the column's format in the schema

:func:`read_json` does the same for JSON Lines (or one document per file), key by key.
Options come from the arguments, else from the schema's YAML file (``just infer-schema``
writes ``delimiter``, ``null_values``, ``date_format``, ``timestamp_format``, ``timezone``),
else from the defaults.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from .errors import DsflowError
from .schemas import (
    COMPLEX_PREFIXES,
    INLINE_SOURCE,
    Column,
    Schema,
    check_datetime_format,
    check_delimiter,
    check_timezone,
    data_files,
    detect_delimiter,
    has_zone,
    load_schema,
    null_markers,
)

PARTITION_COLUMNS = ("ds", "hr")  # from the folder names; ignored in a file unless declared
MISSING_CHOICES = ("refuse", "null")
DEFAULT_NULL_VALUES = ("",)
_FILE = "__dsflow_file"
_BAD = "__dsflow_corrupt"
_TOUCH = "__dsflow_touch"
_NO_NULL = "\u0000"  # a CSV nullValue no cell holds: a quoted "" then stays ""
_UTC = ("UTC", "Z", "GMT", "Etc/UTC", "+00:00", "UTC+0", "+0")
# a timestamp text carrying its own offset: the time zone option does not apply to it
_OFFSET = r"\d:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?|UTC|GMT)$"
_ISO_DATE = r"^\s*\d{4}-\d{1,2}-\d{1,2}\s*$"
_ISO_TIMESTAMP = r"^\s*\d{4}-\d{1,2}-\d{1,2}[T ]\d"


@dataclass(frozen=True)
class ReadOptions:
    """How a partition is read, once the arguments and the schema file are combined."""

    delimiter: str | None  # None: detected from the first file
    null_values: tuple[str, ...]
    date_format: str | None  # None: ISO (yyyy-MM-dd)
    timestamp_format: str | None  # None: ISO (yyyy-MM-dd HH:mm:ss, offsets understood)
    timezone: str
    missing_columns: str


def resolve_options(
    declared: Schema | None,
    delimiter: str | None = "auto",
    null_values: Any = None,
    date_format: str | None = None,
    timestamp_format: str | None = None,
    timezone: str | None = None,
    missing_columns: str | None = "refuse",
) -> ReadOptions:
    """Combine the read options: an argument given (not None, "" or "auto") wins over the
    schema file's option, which wins over the default (delimiter detected, null_values
    ``[""]``, ISO dates and timestamps, UTC).

    ``missing_columns`` is ``"refuse"`` or ``"null"`` (None, YAML's null, means "null").
    """
    file = declared.options if declared else {}

    def pick(value: Any, key: str) -> Any:
        return value if value not in (None, "") else file.get(key)

    given_delimiter = None if delimiter in (None, "", "auto") else delimiter
    chosen_delimiter = pick(given_delimiter, "delimiter")
    markers = null_markers(null_values)
    chosen_markers = markers if markers is not None else file.get("null_values")
    date_fmt = pick(date_format, "date_format")
    timestamp_fmt = pick(timestamp_format, "timestamp_format")
    missing = "null" if missing_columns is None else str(missing_columns).strip().lower()
    if missing not in MISSING_CHOICES:
        raise DsflowError(
            f"missing_columns: refuse or null, not {missing_columns!r} (null reads a declared "
            "column a file lacks as nulls)"
        )
    return ReadOptions(
        delimiter=check_delimiter(chosen_delimiter) if chosen_delimiter else None,
        null_values=tuple(chosen_markers) if chosen_markers is not None else DEFAULT_NULL_VALUES,
        date_format=check_datetime_format(date_fmt, "date_format") if date_fmt else None,
        timestamp_format=(
            check_datetime_format(timestamp_fmt, "timestamp_format") if timestamp_fmt else None
        ),
        timezone=check_timezone(pick(timezone, "timezone") or "UTC"),
        missing_columns=missing,
    )


def effective_columns(declared: Schema, options: ReadOptions) -> list[Column]:
    """The declared columns with the global formats and time zone filled in where a column
    does not set its own."""
    columns = []
    for column in declared.columns.values():
        fmt, zone = column.format, column.timezone
        if column.type == "date":
            fmt = fmt or options.date_format
        elif column.type in ("timestamp", "timestamp_ntz"):
            fmt = fmt or options.timestamp_format
            zone = zone or options.timezone
        columns.append(Column(column.name, column.type, fmt, zone))
    return columns


# ------------------------------------------------------------------ headers (no JVM)


def read_header(path: Path, delimiter: str) -> list[str] | None:
    """The column names on the first line of a CSV file (Python's csv rules: quotes, embedded
    delimiters); None for an empty file."""
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        return next(csv.reader(handle, delimiter=delimiter), None)


def json_keys(path: Path, multiline: bool = False) -> set[str] | None:
    """Every key of the records of a JSON Lines file (or of its one document when
    ``multiline``); None when it holds no readable record (Spark then says what is wrong)."""
    keys: set[str] = set()
    found = False

    def collect(value: Any) -> None:
        nonlocal found
        for record in value if isinstance(value, list) else [value]:
            if isinstance(record, dict):
                keys.update(record)
                found = True

    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        if multiline:
            try:
                collect(json.load(handle))
            except ValueError:
                return None
        else:
            for line in handle:
                if line.strip():
                    try:
                        collect(json.loads(line))
                    except ValueError:
                        continue  # Spark reports the malformed line with its file
    return keys if found else None


def match_header(
    header: Sequence[str],
    declared: Sequence[str],
    where: str,
    source: str = INLINE_SOURCE,
    missing_columns: str = "refuse",
    word: str = "column",
) -> list[str]:
    """Check a file's header (or JSON keys) against the declared column names, by name.

    Duplicates, names the schema does not declare and (unless ``missing_columns="null"``)
    declared names the file lacks are refused with one line naming ``where`` (the file);
    ``ds``/``hr`` are ignored unless declared. Returns the declared names the file lacks.
    """
    seen: dict[str, int] = {}
    for name in header:
        seen[name] = seen.get(name, 0) + 1
    twice = [n for n, count in seen.items() if count > 1]
    if twice:
        raise DsflowError(
            f"{where}: {word} {twice[0]} appears {seen[twice[0]]} times in the header; "
            "rename or remove the copies"
        )
    wanted = set(declared)
    extra = [n for n in header if n not in wanted and n not in PARTITION_COLUMNS]
    missing = [n for n in declared if n not in seen]
    if extra and missing:
        raise DsflowError(
            f"{where}: {_names(word, extra)} not in {source} and {_names(word, missing)} "
            f"missing; fix the file, or the schema"
        )
    if extra:
        them = "it" if len(extra) == 1 else "them"
        raise DsflowError(
            f"{where}: {_names(word, extra)} not in {source}; declare {them} there, or remove "
            f"{them} from the file"
        )
    if missing and missing_columns != "null":
        them = "it" if len(missing) == 1 else "them"
        raise DsflowError(
            f"{where}: {_names(word, missing, f' of {source}')} missing; fix the file, or run "
            f"with missing_columns=null to read {them} as nulls"
        )
    return missing


def _names(word: str, names: Sequence[str], qualifier: str = "") -> str:
    if len(names) == 1:
        return f"{word} {names[0]}{qualifier} is"
    return f"{word}s {', '.join(names)}{qualifier} are"


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


# ------------------------------------------------------------------ the readers


def read_csv(
    spark: Any,
    source_path: Any,
    schema: Any = "",
    delimiter: str | None = "auto",
    null_values: Any = None,
    date_format: str | None = None,
    timestamp_format: str | None = None,
    timezone: str | None = None,
    missing_columns: str | None = "refuse",
    root: Path | None = None,
) -> Any:
    """A Spark DataFrame of the CSV files of ``source_path`` (a file, a partition folder, or
    a list of them), columns matched by header name, never by position.

    ``schema``: a mapping ``{column: type}`` (a type may be ``{type: timestamp, format:
    "dd/MM/yyyy HH:mm", timezone: Europe/Paris}``), a DDL string, or a YAML file from
    ``just infer-schema`` (relative to ``root``, the project root by default); its top-level
    options apply unless an argument overrides them. Each file's header must name exactly
    the declared columns, in any order (``missing_columns="null"`` reads absent ones as
    nulls); values in ``null_values`` (default ``[""]``) become null; the rest must convert to
    the declared type, dates and timestamps through ``date_format`` / ``timestamp_format``
    (Spark patterns, ISO by default), timestamps written without an offset being in
    ``timezone`` (default UTC). Anything else is refused in one line naming the file.

    Without a schema (``""``) each file is still read by its own header and the types are
    inferred from the values (int, bigint, double, boolean, ISO date or timestamp, else
    string); a type that drifts from one day to the next is then caught by the table's
    contract (:mod:`dsflow.contracts`) when the partition is published.
    """
    files = _files(source_path)
    declared = load_schema(schema, root)
    options = resolve_options(
        declared, delimiter, null_values, date_format, timestamp_format, timezone, missing_columns
    )
    sep = options.delimiter or detect_delimiter(files[0])
    labels = _labels(files)
    headers = {f: h for f in files if (h := read_header(f, sep))}
    if declared:
        for column in declared.columns.values():
            if column.type.startswith(COMPLEX_PREFIXES):
                raise DsflowError(
                    f"{declared.source}: column {column.name} is {column.type}, which a CSV "
                    "file cannot hold; declare it as string and parse it in the transform"
                )
        names = list(declared.columns)
        for path, header in headers.items():
            match_header(header, names, labels[path], declared.source, options.missing_columns)
    else:
        names = _same_columns(headers, labels)
    how = f"delimiter {sep!r}" + (" (detected)" if options.delimiter is None else "")
    _say(files, source_path, how, declared)
    if not headers:
        return _empty(spark, declared, source_path)
    groups: dict[tuple[str, ...], list[Path]] = {}
    for path, header in headers.items():
        groups.setdefault(tuple(header), []).append(path)
    parts = []
    for header, group in groups.items():
        reader = spark.read.options(
            header=True, sep=sep, mode="PERMISSIVE", columnNameOfCorruptRecord=_BAD
        )
        if "" not in options.null_values:
            reader = reader.option("nullValue", _NO_NULL)
        frame = reader.schema(_text_schema([*header, _BAD])).csv([str(p) for p in group])
        parts.append(_by_name(frame, names, touch=True))
    raw = reduce(lambda a, b: a.unionByName(b), parts)
    widths = {labels[p]: len(h) for p, h in headers.items()}
    if declared:
        columns = effective_columns(declared, options)
        return _convert_checked(spark, raw, columns, set(), options, labels, "csv", sep, widths)
    return _infer_and_convert(spark, raw, names, options, labels, "csv", sep, widths)


def read_json(
    spark: Any,
    source_path: Any,
    schema: Any = "",
    multiline: bool = False,
    null_values: Any = None,
    date_format: str | None = None,
    timestamp_format: str | None = None,
    timezone: str | None = None,
    missing_columns: str | None = "refuse",
    root: Path | None = None,
) -> Any:
    """A Spark DataFrame of the JSON files of ``source_path`` (JSON Lines, or one document
    per file with ``multiline``), keys matched with the declared schema by name.

    Same schema and options as :func:`read_csv`: a key the schema does not declare is refused,
    and so is a declared key no record of a file has (unless ``missing_columns="null"``); text
    values in ``null_values`` become null; values convert to the declared types (numbers
    written as text included), dates and timestamps through their formats and time zone.
    ``array<..>``, ``map<..>`` and ``struct<..>`` columns are read as JSON gives them.

    Without a schema, Spark infers the types; text columns become dates or timestamps only
    when ``date_format`` / ``timestamp_format`` is given and every value fits it. The table's
    contract (:mod:`dsflow.contracts`) catches a type that drifts between partitions.
    """
    files = _files(source_path)
    declared = load_schema(schema, root)
    options = resolve_options(
        declared, None, null_values, date_format, timestamp_format, timezone, missing_columns
    )
    labels = _labels(files)
    multiline = _flag(multiline)
    if declared:
        names = list(declared.columns)
        for path in files:
            keys = json_keys(path, multiline)
            if keys is not None:
                match_header(
                    sorted(keys),
                    names,
                    labels[path],
                    declared.source,
                    options.missing_columns,
                    "key",
                )
    _say(files, source_path, "multiline" if multiline else "JSON Lines", declared)
    reader = spark.read.options(
        mode="PERMISSIVE", columnNameOfCorruptRecord=_BAD, multiLine=multiline
    )
    paths = [str(p) for p in files]
    if declared:
        columns = effective_columns(declared, options)
        native = {c.name for c in columns if c.type.startswith(COMPLEX_PREFIXES)}
        fields = [(c.name, c.type if c.name in native else "string") for c in columns]
        frame = reader.schema(_ddl([*fields, (_BAD, "string")])).json(paths)
        raw = _by_name(frame, names)
        return _convert_checked(spark, raw, columns, native, options, labels, "json")
    frame = reader.json(paths)
    found = [(f.name, f.dataType.simpleString()) for f in frame.schema.fields if f.name != _BAD]
    names = [n for n, _ in found]
    raw = _by_name(frame, names)
    native = {n for n, kind in found if kind != "string"}
    return _infer_and_convert(
        spark,
        raw,
        names,
        options,
        labels,
        "json",
        native=native,
        kinds=dict(found),
        corrupt_possible=_BAD in frame.columns,  # Spark adds it only when a record is bad
    )


# ------------------------------------------------------------------ Spark plumbing


def _files(source_path: Any) -> list[Path]:
    if isinstance(source_path, (list, tuple)):
        paths = [Path(p) for p in source_path]
    else:
        if not str(source_path or "").strip():
            raise DsflowError("source_path is empty: give the raw partition to read")
        paths = [Path(source_path)]
    files: list[Path] = []
    for path in paths:
        files += data_files(path)
    return files


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)


def _datastore() -> Path | None:
    try:
        from .project import current_project
        from .settings import load_settings

        return load_settings(current_project()).datastore.resolve()
    except DsflowError:
        return None  # outside a project: paths are shown as given


def _label(path: Path, datastore: Path | None = None) -> str:
    """``path`` relative to the project's datastore when inside it (raw/x/ds=.../f.csv)."""
    datastore = datastore or _datastore()
    resolved = path.resolve()
    if datastore and resolved.is_relative_to(datastore):
        return str(resolved.relative_to(datastore))
    return str(path)


def _labels(files: list[Path]) -> dict[Path, str]:
    datastore = _datastore()
    return {f: _label(f, datastore) for f in files}


def _say(files: list[Path], source_path: Any, how: str, declared: Schema | None) -> None:
    where = _label(Path(source_path)) if isinstance(source_path, (str, Path)) else "inputs"
    if declared is None:
        what = "types inferred"
    elif declared.source == INLINE_SOURCE:
        what = "declared schema"
    else:
        what = f"schema {declared.source}"
    count = f"{len(files)} file" + ("s" if len(files) != 1 else "")
    print(f"read {where}: {count}, {how}, columns by name, {what}")


def _same_columns(headers: dict[Path, list[str]], labels: dict[Path, str]) -> list[str]:
    """Without a schema: the files' columns (the first file's order) if they all agree."""
    names: list[str] = []
    first: Path | None = None
    for path, header in headers.items():
        match_header(header, header, labels[path])  # duplicates are refused
        kept = [n for n in header if n not in PARTITION_COLUMNS]
        if first is None:
            first, names = path, kept
        elif set(kept) != set(names):
            raise DsflowError(
                f"{labels[path]}: its columns ({', '.join(kept)}) differ from "
                f"{labels[first]}'s ({', '.join(names)}); make the files agree, or declare a "
                "schema (just infer-schema)"
            )
    return names


def _text_schema(names: list[str]) -> Any:
    from pyspark.sql.types import StringType, StructField, StructType

    return StructType([StructField(n, StringType()) for n in names])


def _ddl(fields: list[tuple[str, str]]) -> str:
    """A DDL string (Spark parses it, on classic and Connect alike)."""
    return ", ".join("`" + name.replace("`", "``") + f"` {kind}" for name, kind in fields)


def _lit_null(kind: str) -> Any:
    from pyspark.sql import functions as F

    return F.lit(None).cast(kind)


def _by_name(frame: Any, names: list[str], touch: bool = False) -> Any:
    """``frame``'s columns as ``__v0..`` in the order of ``names`` (a name it lacks as
    nulls), with the corrupt record, the file each row comes from and, when ``touch``, a
    hash of every column. Columns are renamed by position (``toDF``) first, so no name is
    ever parsed (dots, backticks)."""
    from pyspark.sql import functions as F

    original = list(frame.columns)
    with_file = frame.select("*", F.col("_metadata.file_path").alias(_FILE))
    renamed = with_file.toDF(*[f"__c{i}" for i in range(len(original))], _FILE)
    where = {name: i for i, name in enumerate(original)}
    values = [
        (F.col(f"__c{where[n]}") if n in where else _lit_null("string")).alias(f"__v{j}")
        for j, n in enumerate(names)
    ]
    bad = F.col(f"__c{where[_BAD]}") if _BAD in where else _lit_null("string")
    # Spark's CSV parser flags a line with too few or too many fields only when every
    # column is read: the check's aggregate reads this hash of them all
    everything = [F.col(f"__c{i}") for i in range(len(original))]
    touched = F.xxhash64(*everything) if touch and everything else F.lit(0).cast("bigint")
    return renamed.select(*values, bad.alias(_BAD), F.col(_FILE), touched.alias(_TOUCH))


def _nulls(value: Any, markers: tuple[str, ...]) -> Any:
    from pyspark.sql import functions as F

    return F.when(value.isin(list(markers)), _lit_null("string")).otherwise(value)


def _convert(value: Any, column: Column, session_zone: str) -> Any:
    """The text ``value`` as ``column``'s type: null where it does not convert."""
    from pyspark.sql import functions as F

    kind = column.type
    if kind == "string":
        return value
    if kind == "date":
        if column.format:
            return F.to_date(F.try_to_timestamp(value, F.lit(column.format)))
        return value.try_cast("date")
    if kind in ("timestamp", "timestamp_ntz"):
        if column.format:
            parsed = F.try_to_timestamp(value, F.lit(column.format))
            if kind == "timestamp_ntz":
                return parsed.cast("timestamp_ntz")  # the wall time, in the session's zone
            if has_zone(column.format):
                return parsed
            return _in_zone(parsed, session_zone, column.timezone or "UTC")
        if kind == "timestamp_ntz":
            return value.try_cast("timestamp_ntz")
        parsed = value.try_cast("timestamp")
        shifted = _in_zone(parsed, session_zone, column.timezone or "UTC")
        return F.when(value.rlike(_OFFSET), parsed).otherwise(shifted)
    return value.try_cast(kind)


def _in_zone(parsed: Any, session_zone: str, zone: str) -> Any:
    """``parsed`` (a wall time Spark read in the session's zone) as that wall time in
    ``zone``: the instant it names there (DST included, as java.time resolves it)."""
    from pyspark.sql import functions as F

    if zone == session_zone or (zone in _UTC and session_zone in _UTC):
        return parsed
    utc_wall = parsed if session_zone in _UTC else F.from_utc_timestamp(parsed, session_zone)
    return F.to_utc_timestamp(utc_wall, zone)


def _session_zone(spark: Any, columns: list[Column]) -> str:
    if not any(c.type == "timestamp" for c in columns):
        return "UTC"
    return str(spark.conf.get("spark.sql.session.timeZone"))


def _convert_checked(
    spark: Any,
    raw: Any,
    columns: list[Column],
    native: set[str],
    options: ReadOptions,
    labels: dict[Path, str],
    fmt: str,
    delimiter: str = ",",
    widths: dict[str, int] | None = None,
) -> Any:
    """Convert ``raw`` to ``columns`` and, in one Spark action, refuse the first malformed
    record or the first value of each column that does not convert (checked in the
    declared order)."""
    from pyspark.sql import functions as F

    zone = _session_zone(spark, columns)
    sources, results, aggregates = [], [], []
    for j, column in enumerate(columns):
        value = F.col(f"__v{j}")
        source = value if column.name in native else _nulls(value, options.null_values)
        result = value if column.name in native else _convert(source, column, zone)
        sources.append(source)
        results.append(result)
        if column.name not in native and column.type != "string":
            bad = source.isNotNull() & result.isNull()
            aggregates += _first_and_count(bad, source, f"c{j}")
    aggregates += _first_and_count(F.col(_BAD).isNotNull(), F.col(_BAD), "bad")
    aggregates += _touch_all(len(columns))
    row = raw.agg(*aggregates).first().asDict()
    _refuse_malformed(row, labels, fmt, delimiter, widths or {})
    for j, column in enumerate(columns):
        if row.get(f"n_c{j}"):
            first = row[f"first_c{j}"]
            where = _file_label(first["f"], labels)
            raise DsflowError(value_error(where, column, first["v"], row[f"n_c{j}"]))
    return raw.select(*[r.alias(c.name) for r, c in zip(results, columns, strict=True)])


def _infer_and_convert(
    spark: Any,
    raw: Any,
    names: list[str],
    options: ReadOptions,
    labels: dict[Path, str],
    fmt: str,
    delimiter: str = ",",
    widths: dict[str, int] | None = None,
    native: set[str] | frozenset[str] = frozenset(),
    kinds: dict[str, str] | None = None,
    corrupt_possible: bool = True,
) -> Any:
    """No declared schema: pick each text column's type from its values (the first candidate
    every non-null value converts to) in one Spark action, which also refuses a malformed
    record; then convert. Nothing to pick and nothing malformed possible: no action."""
    from pyspark.sql import functions as F

    candidates = ["int", "bigint", "double", "boolean"] if fmt == "csv" else []
    if fmt == "csv" or options.date_format:
        candidates.append("date")
    if fmt == "csv" or options.timestamp_format:
        candidates.append("timestamp")
    probes = {
        kind: Column("", kind, options.date_format if kind == "date" else options.timestamp_format,
                     options.timezone)
        for kind in candidates
    }  # fmt: skip
    zone = _session_zone(spark, list(probes.values()))
    aggregates = []
    for j, name in enumerate(names):
        if name in native:
            continue
        value = _nulls(F.col(f"__v{j}"), options.null_values)
        aggregates.append(F.count(value).alias(f"n{j}"))
        for kind, probe in probes.items():
            converted = _candidate(value, probe, zone)
            aggregates.append(
                F.count(F.when(value.isNotNull() & converted.isNull(), 1)).alias(f"{kind}{j}")
            )
    row: dict[str, Any] = {"n_bad": 0}
    if corrupt_possible or (probes and len(native) < len(names)):
        aggregates += _first_and_count(F.col(_BAD).isNotNull(), F.col(_BAD), "bad")
        aggregates += _touch_all(len(names))
        row = raw.agg(*aggregates).first().asDict()
    _refuse_malformed(row, labels, fmt, delimiter, widths or {})
    columns, results = [], []
    for j, name in enumerate(names):
        value = F.col(f"__v{j}")
        if name in native:
            columns.append(Column(name, (kinds or {}).get(name, "string")))
            results.append(value)
            continue
        chosen = "string"
        if row.get(f"n{j}"):
            chosen = next((k for k in probes if row[f"{k}{j}"] == 0), "string")
        column = probes[chosen] if chosen in probes else Column(name, "string")
        column = Column(name, column.type, column.format, column.timezone)
        columns.append(column)
        results.append(_convert(_nulls(value, options.null_values), column, zone))
    return raw.select(*[r.alias(c.name) for r, c in zip(results, columns, strict=True)])


def _candidate(value: Any, probe: Column, zone: str) -> Any:
    """``value`` converted as a candidate type; ISO dates and timestamps must look like them
    (Spark's cast also takes '2024-01-02 10:00' as a date and '10:00' as today's time)."""
    from pyspark.sql import functions as F

    if probe.type == "boolean":
        return F.when(F.lower(F.trim(value)).isin("true", "false"), value.try_cast("boolean"))
    if probe.type == "date" and not probe.format:
        return F.when(value.rlike(_ISO_DATE), value.try_cast("date"))
    if probe.type == "timestamp" and not probe.format:
        return F.when(value.rlike(_ISO_TIMESTAMP), value.try_cast("timestamp"))
    return _convert(value, probe, zone)


def _first_and_count(bad: Any, value: Any, key: str) -> list[Any]:
    from pyspark.sql import functions as F

    found = F.struct(value.alias("v"), F.col(_FILE).alias("f"))
    return [
        F.count(F.when(bad, 1)).alias(f"n_{key}"),
        F.first(F.when(bad, found), ignorenulls=True).alias(f"first_{key}"),
    ]


def _touch_all(count: int) -> list[Any]:
    """Aggregates reading every column: Spark refuses a query of the corrupt-record column
    alone, and its CSV parser flags a line with a wrong field count only when all are read."""
    from pyspark.sql import functions as F

    read = [F.count(F.col(f"__v{j}")).alias(f"read{j}") for j in range(count)]
    return [F.max(_TOUCH).alias("touched"), *read]


def _refuse_malformed(
    row: Any, labels: dict[Path, str], fmt: str, delimiter: str, widths: dict[str, int]
) -> None:
    if row["n_bad"]:
        first = row["first_bad"]
        where = _file_label(first["f"], labels)
        raise DsflowError(malformed_error(where, first["v"], fmt, delimiter, widths.get(where, 0)))


def _file_label(uri: str, labels: dict[Path, str]) -> str:
    """The label of a file Spark names by URI (file:/x/y.csv, %-escaped)."""
    path = (
        Path(unquote(urlparse(uri).path)) if "://" in uri or uri.startswith("file:") else Path(uri)
    )
    for known, label in labels.items():
        if known.resolve() == path.resolve():
            return label
    return _label(path)


def _empty(spark: Any, declared: Schema | None, source_path: Any) -> Any:
    if declared is None:
        raise DsflowError(f"{source_path}: every file is empty; nothing to read")
    return spark.createDataFrame([], _ddl(list(declared.types().items())))
