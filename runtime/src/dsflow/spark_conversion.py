"""Spark-side conversion of raw text columns to their types, checked in one Spark action.

The readers (:mod:`dsflow.readers`) read every column as text; :func:`by_name` lays a frame
out by the declared names (with the file of each row and Spark's corrupt-record column);
:func:`convert_checked` converts it to the declared columns with "try" semantics and refuses
the first value that does not convert or the first malformed record
(:mod:`dsflow.read_messages`); :func:`infer_and_convert` does the same without a declared
schema, picking each column's type from its values. Only ``pyspark.sql.functions`` and the
DataFrame API, for classic Spark and Spark Connect alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from .datafiles import file_label
from .errors import DsflowError
from .read_messages import malformed_error, value_error
from .read_options import ReadOptions
from .schemas import Column, has_zone

CORRUPT_COLUMN = "__dsflow_corrupt"  # Spark's columnNameOfCorruptRecord for the readers
_FILE = "__dsflow_file"
_TOUCH = "__dsflow_touch"
_UTC = ("UTC", "Z", "GMT", "Etc/UTC", "+00:00", "UTC+0", "+0")
# a timestamp text carrying its own offset: the time zone option does not apply to it
_OFFSET = r"\d:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?|UTC|GMT)$"
_ISO_DATE = r"^\s*\d{4}-\d{1,2}-\d{1,2}\s*$"
_ISO_TIMESTAMP = r"^\s*\d{4}-\d{1,2}-\d{1,2}[T ]\d"


def _lit_null(kind: str) -> Any:
    from pyspark.sql import functions as F

    return F.lit(None).cast(kind)


def by_name(frame: Any, names: list[str], touch: bool = False) -> Any:
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
    bad = F.col(f"__c{where[CORRUPT_COLUMN]}") if CORRUPT_COLUMN in where else _lit_null("string")
    # Spark's CSV parser flags a line with too few or too many fields only when every
    # column is read: the check's aggregate reads this hash of them all
    everything = [F.col(f"__c{i}") for i in range(len(original))]
    touched = F.xxhash64(*everything) if touch and everything else F.lit(0).cast("bigint")
    return renamed.select(*values, bad.alias(CORRUPT_COLUMN), F.col(_FILE), touched.alias(_TOUCH))


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


def convert_checked(
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
    aggregates += _first_and_count(F.col(CORRUPT_COLUMN).isNotNull(), F.col(CORRUPT_COLUMN), "bad")
    aggregates += _touch_all(len(columns))
    row = raw.agg(*aggregates).first().asDict()
    _refuse_malformed(row, labels, fmt, delimiter, widths or {})
    for j, column in enumerate(columns):
        if row.get(f"n_c{j}"):
            first = row[f"first_c{j}"]
            where = _file_label(first["f"], labels)
            raise DsflowError(value_error(where, column, first["v"], row[f"n_c{j}"]))
    return raw.select(*[r.alias(c.name) for r, c in zip(results, columns, strict=True)])


def infer_and_convert(
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
        aggregates += _first_and_count(
            F.col(CORRUPT_COLUMN).isNotNull(), F.col(CORRUPT_COLUMN), "bad"
        )
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
    return file_label(path)
