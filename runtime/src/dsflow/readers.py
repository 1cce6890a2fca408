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
else from the defaults (:mod:`dsflow.read_options`). Headers are matched without a JVM
(:mod:`dsflow.headers`); the conversion and its one-action check are
:mod:`dsflow.spark_conversion`, its messages :mod:`dsflow.read_messages`.
"""

from __future__ import annotations

from functools import reduce
from pathlib import Path
from typing import Any

from .datafiles import data_files, detect_delimiter, file_label, file_labels
from .errors import DsflowError
from .headers import PARTITION_COLUMNS, json_keys, match_header, read_header
from .read_messages import malformed_error
from .read_options import effective_columns, resolve_options
from .schemas import COMPLEX_PREFIXES, INLINE_SOURCE, Schema, load_schema
from .spark_conversion import CORRUPT_COLUMN, by_name, convert_checked, infer_and_convert
from .sqltypes import backticked

_NO_NULL = "\u0000"  # a CSV nullValue no cell holds: a quoted "" then stays ""


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
    labels = file_labels(files)
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
            header=True, sep=sep, mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT_COLUMN
        )
        if "" not in options.null_values:
            reader = reader.option("nullValue", _NO_NULL)
        frame = reader.schema(_text_schema([*header, CORRUPT_COLUMN])).csv([str(p) for p in group])
        parts.append(by_name(frame, names, touch=True))
    raw = reduce(lambda a, b: a.unionByName(b), parts)
    widths = {labels[p]: len(h) for p, h in headers.items()}
    if declared:
        columns = effective_columns(declared, options)
        return convert_checked(spark, raw, columns, set(), options, labels, "csv", sep, widths)
    return infer_and_convert(spark, raw, names, options, labels, "csv", sep, widths)


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
    labels = file_labels(files)
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
        mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT_COLUMN, multiLine=multiline
    )
    paths = [str(p) for p in files]
    if declared:
        columns = effective_columns(declared, options)
        native = {c.name for c in columns if c.type.startswith(COMPLEX_PREFIXES)}
        fields = [(c.name, c.type if c.name in native else "string") for c in columns]
        frame = reader.schema(_ddl([*fields, (CORRUPT_COLUMN, "string")])).json(paths)
        raw = by_name(frame, names)
        return convert_checked(spark, raw, columns, native, options, labels, "json")
    frame = reader.json(paths)
    found = [
        (f.name, f.dataType.simpleString()) for f in frame.schema.fields if f.name != CORRUPT_COLUMN
    ]
    names = [n for n, _ in found]
    if not names and CORRUPT_COLUMN in frame.columns:
        # no record parsed at all: Spark refuses a query of the corrupt-record column alone
        raise DsflowError(_first_record_error(files, labels))
    raw = by_name(frame, names)
    native = {n for n, kind in found if kind != "string"}
    return infer_and_convert(
        spark,
        raw,
        names,
        options,
        labels,
        "json",
        native=native,
        kinds=dict(found),
        corrupt_possible=CORRUPT_COLUMN in frame.columns,  # Spark adds it only when a record is bad
    )


# ------------------------------------------------------------------ Spark plumbing


def _first_record_error(files: list[Path], labels: dict[Path, str]) -> str:
    """The malformed-record line for the first non-blank line of the files (none parsed)."""
    for path in files:
        with path.open(errors="replace") as handle:
            line = next((ln for ln in handle if ln.strip()), None)
        if line is not None:
            return malformed_error(labels[path], line, "json")
    return malformed_error(labels[files[0]], "", "json")


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


def _say(files: list[Path], source_path: Any, how: str, declared: Schema | None) -> None:
    where = file_label(Path(source_path)) if isinstance(source_path, (str, Path)) else "inputs"
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
    return ", ".join(f"{backticked(name)} {kind}" for name, kind in fields)


def _empty(spark: Any, declared: Schema | None, source_path: Any) -> Any:
    if declared is None:
        raise DsflowError(f"{source_path}: every file is empty; nothing to read")
    return spark.createDataFrame([], _ddl(list(declared.types().items())))
