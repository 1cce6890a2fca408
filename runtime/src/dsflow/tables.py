"""The project's tables as readers see them: complete partitions only, facts vs dimensions.

``load_tables(spark, as_of=ds)`` registers every table under ``datastore/tables/`` as a Spark
SQL temporary view with a ``ds`` column (and ``hr`` for hourly tables):

* a fact table exposes all its complete partitions;
* a dimension table exposes the latest complete snapshot at or before ``as_of`` under its own
  name, and every snapshot under ``<name>_history``.

A partition is complete when it holds ``_SUCCESS``; staging folders (``_``-prefixed) and
half-written partitions are never visible. A table with a contract (``_schema.json``,
:mod:`dsflow.contracts`) is read with its schema, whatever types each partition was written
with. Without Spark, :func:`read_arrow` reads a table the same way with pyarrow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checks import parquet_files
from .contracts import Contract, conform, read_contract
from .datastore import complete_partitions, current_datastore, is_visible, read_meta
from .errors import DsflowError
from .partitions import parse_partition_path


@dataclass(frozen=True)
class Table:
    """A table folder and its complete partitions (folder paths, sorted by key)."""

    name: str
    folder: Path
    kind: str
    partitions: list[Path]

    @property
    def keys(self) -> list[str]:
        """Partition keys relative to the table, e.g. ``ds=2024-01-02`` or ``ds=.../hr=05``."""
        return [str(p.relative_to(self.folder)) for p in self.partitions]

    @property
    def unpartitioned(self) -> bool:
        return self.partitions == [self.folder]


def _kind(folder: Path, partitions: list[Path]) -> str:
    for part in reversed(partitions):
        meta = read_meta(part)
        if meta is not None:
            return str(meta.get("kind", "fact"))
    return "dimension" if folder.name.startswith("dim_") else "fact"


def find_tables(tables_dir: Path) -> list[Table]:
    """Every table under ``tables_dir`` that has at least one complete partition."""
    result = []
    if not tables_dir.is_dir():
        return result
    for folder in sorted(p for p in tables_dir.iterdir() if p.is_dir() and is_visible(p)):
        parts = complete_partitions(folder)
        if parts:
            result.append(Table(folder.name, folder, _kind(folder, parts), parts))
    return result


def snapshot_as_of(table: Table, as_of: str) -> Path:
    """The latest complete partition of a dimension whose ``ds`` is at or before ``as_of``."""
    eligible = [p for p in table.partitions if _ds_of(table, p) <= as_of]
    if not eligible:
        first = _ds_of(table, table.partitions[0])
        raise DsflowError(
            f"dimension table {table.name} has no snapshot at or before {as_of} "
            f"(its first is ds={first})"
        )
    return eligible[-1]


def _ds_of(table: Table, partition: Path) -> str:
    return parse_partition_path(partition.relative_to(table.folder)).get("ds", "")


def _read(spark: Any, table: Table, partitions: list[Path]) -> Any:
    reader = spark.read
    if not table.unpartitioned:
        reader = reader.option("basePath", str(table.folder))
    schema = read_schema(table)
    if schema:
        reader = reader.schema(schema)
    return reader.parquet(*[str(p) for p in partitions])


def read_schema(table: Table) -> str:
    """The Spark DDL ``table`` is read with: its contract's columns, then its partition
    columns as strings (``ds``, ``hr``: named so that Spark keeps them, with the type they
    have without a schema); ``""`` when the table has no contract (Spark infers it)."""
    contract = read_contract(table.folder)
    if contract is None or not contract.ddl():
        return ""
    keys = [] if table.unpartitioned else list(parse_partition_path(table.keys[0]))
    return ", ".join([contract.ddl(), *(f"`{key}` string" for key in keys)])


def spark_table(
    spark: Any,
    name: str,
    as_of: str | None = None,
    history: bool = False,
    datastore: Path | None = None,
) -> Any:
    """One table as a Spark DataFrame, as :func:`load_tables` registers it: complete
    partitions, a dimension's latest snapshot at or before ``as_of`` (every snapshot with
    ``history``), read with the table's schema."""
    table = _table(name, datastore)
    chosen = table.partitions
    if table.kind == "dimension" and not table.unpartitioned and not history:
        chosen = [snapshot_as_of(table, as_of) if as_of else table.partitions[-1]]
    return _read(spark, table, chosen)


def _table(name: str, datastore: Path | None) -> Table:
    tables_dir = (datastore or current_datastore()) / "tables"
    folder = tables_dir / name
    if "/" in name or not is_visible(folder) or not folder.is_dir():
        known = ", ".join(t.name for t in find_tables(tables_dir)) or "none yet"
        raise DsflowError(f"no table {name!r} in {tables_dir} (tables: {known})")
    partitions = complete_partitions(folder)
    if not partitions:
        raise DsflowError(f"table {name} has no complete partition yet")
    return Table(name, folder, _kind(folder, partitions), partitions)


def _in_range(ds: str, start: str | None, end: str | None) -> bool:
    # compare on the partition's own precision: a month 2024-01 is in [2024-01-15, ...]
    return (not start or start[: len(ds)] <= ds) and (not end or ds <= end[: len(ds)])


def read_arrow(
    table: str,
    start: str | None = None,
    end: str | None = None,
    as_of: str | None = None,
    history: bool = False,
    datastore: Path | None = None,
) -> Any:
    """A table as one pyarrow Table, with no JVM: its complete partitions with ``start <= ds
    <= end``, every column cast to the table's schema (its contract), ``ds`` (and ``hr``)
    added as string columns as in Spark.

    A dimension gives its latest snapshot at or before ``as_of`` (default: ``end``, else its
    latest; an empty table when ``end`` comes before its first snapshot, an error when
    ``as_of`` does), or with ``history`` every snapshot in the range.
    """
    import pyarrow as pa

    info, chosen = arrow_partitions(table, start, end, as_of, history, datastore)
    contract = read_contract(info.folder)
    keys = [] if info.unpartitioned else list(parse_partition_path(info.keys[0]))
    pieces = [read_arrow_partition(info, p, contract) for p in chosen]
    if not pieces:
        fields = [] if contract is None else list(contract.arrow_schema())
        return pa.schema(fields + [pa.field(k, pa.string()) for k in keys]).empty_table()
    return pa.concat_tables(pieces, promote_options="permissive")


def arrow_partitions(
    table: str,
    start: str | None = None,
    end: str | None = None,
    as_of: str | None = None,
    history: bool = False,
    datastore: Path | None = None,
) -> tuple[Table, list[Path]]:
    """The table and the complete partitions :func:`read_arrow` reads with these arguments
    (a reader that reads them one at a time, the dashboards, picks the same ones)."""
    info = _table(table, datastore)
    chosen = info.partitions
    if not info.unpartitioned:
        chosen = [p for p in chosen if _in_range(_ds_of(info, p), start, end)]
        if info.kind == "dimension" and not history:
            cutoff = as_of or end
            eligible = [p for p in info.partitions if _in_range(_ds_of(info, p), None, cutoff)]
            if as_of and not eligible:
                snapshot_as_of(info, as_of)  # raises: no snapshot at or before as_of
            chosen = eligible[-1:]
    return info, chosen


def read_arrow_partition(table: Table, partition: Path, contract: Contract | None) -> Any:
    """One complete partition as a pyarrow Table: its Parquet files cast to ``contract`` (when
    the table has one), its partition keys added as string columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    values = parse_partition_path(partition.relative_to(table.folder))  # {} if unpartitioned
    key = "/".join(f"{k}={v}" for k, v in values.items()) or "(unpartitioned)"
    pieces = []
    for path in parquet_files(partition):
        piece = pq.read_table(path)
        piece = piece.drop_columns([c for c in values if c in piece.column_names])
        if contract is not None:
            piece = conform(piece, contract, f"table {table.name}, partition {key}")
        pieces.append(piece)
    if contract is not None:
        data = pa.concat_tables(pieces) if pieces else contract.arrow_schema().empty_table()
    elif pieces:
        data = pa.concat_tables(pieces, promote_options="permissive")
    else:
        data = pa.table({})
    for name, value in values.items():
        data = data.append_column(name, pa.array([value] * data.num_rows, pa.string()))
    return data


def load_tables(
    spark: Any,
    as_of: str | None = None,
    datastore: Path | None = None,
    inputs: dict[str, Any] | None = None,
    job: str | None = None,
) -> dict:
    """Register every table as a temporary view; returns ``{view name: description}``.

    ``as_of`` picks each dimension's snapshot (default: its latest); a dimension with no
    snapshot at or before ``as_of`` is left out (its ``_history`` view stays), so a query
    naming it fails with "table not found". Call it again after a job publishes.

    With ``job`` and ``inputs`` (the run's ``source_paths``: table name -> partition folder or
    list of them), an input the job reads at *another* grain is a view of exactly the
    partitions the run reads (:mod:`dsflow.mapping`): a monthly job's daily table holds that
    month's days, a daily job's monthly dimension the snapshot of the last month ended.
    Inputs of the job's own grain keep all their complete partitions, as queries written with
    ``WHERE ds = :ds`` (or a window of days) expect.
    """
    tables_dir = (datastore or current_datastore()) / "tables"
    restricted = _cross_grain_inputs(job, inputs, tables_dir) if job and inputs else {}
    views: dict[str, str] = {}
    for table in find_tables(tables_dir):
        dimension = table.kind == "dimension" and not table.unpartitioned
        if dimension:
            _read(spark, table, table.partitions).createOrReplaceTempView(f"{table.name}_history")
            views[f"{table.name}_history"] = f"dimension, all {len(table.partitions)} snapshots"
        if table.name in restricted:
            paths = restricted[table.name]
            if not paths:
                spark.catalog.dropTempView(table.name)
                views[table.name] = "not registered: no partition of it to read for this run"
                continue
            _read(spark, table, paths).createOrReplaceTempView(table.name)
            views[table.name] = f"{table.kind}, the {len(paths)} partition(s) this run reads"
        elif dimension:
            try:
                snapshot = (
                    snapshot_as_of(table, as_of) if as_of is not None else table.partitions[-1]
                )
            except DsflowError as exc:  # a dimension that starts later: not there yet
                spark.catalog.dropTempView(table.name)
                views[table.name] = f"not registered: {exc}"
                continue
            _read(spark, table, [snapshot]).createOrReplaceTempView(table.name)
            views[table.name] = f"dimension, snapshot {snapshot.relative_to(table.folder)}"
        else:
            _read(spark, table, table.partitions).createOrReplaceTempView(table.name)
            views[table.name] = f"{table.kind}, {len(table.partitions)} complete partition(s)"
    return views


def _cross_grain_inputs(job: str, inputs: dict[str, Any], tables_dir: Path) -> dict[str, list]:
    """The partition folders of each input table ``job`` reads at a grain other than its own."""
    from .datastore import recorded_grain
    from .project import current_project
    from .settings import load_settings
    from .specs import find_job

    project = current_project()
    spec = find_job(project, job, load_settings(project).default_grain)
    result = {}
    for ref in spec.inputs:
        if ref.area != "tables" or ref.name not in inputs:
            continue
        grain = recorded_grain(tables_dir / ref.name)
        if grain and grain not in (spec.grain, "none"):
            chosen = inputs[ref.name]
            result[ref.name] = [Path(p) for p in ([chosen] if isinstance(chosen, str) else chosen)]
    return result
