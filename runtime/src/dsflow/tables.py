"""The project's tables as readers see them: complete partitions only, facts vs dimensions.

``load_tables(spark, as_of=ds)`` registers every table under ``datastore/tables/`` as a Spark
SQL temporary view with a ``ds`` column (and ``hr`` for hourly tables):

* a fact table exposes all its complete partitions;
* a dimension table exposes the latest complete snapshot at or before ``as_of`` under its own
  name, and every snapshot under ``<name>_history``.

A partition is complete when it holds ``_SUCCESS``; staging folders (``_``-prefixed) and
half-written partitions are never visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    return reader.parquet(*[str(p) for p in partitions])


def load_tables(spark: Any, as_of: str | None = None, datastore: Path | None = None) -> dict:
    """Register every table as a temporary view; returns ``{view name: description}``.

    ``as_of`` picks each dimension's snapshot (default: its latest); a dimension with no
    snapshot at or before ``as_of`` is left out (its ``_history`` view stays), so a query
    naming it fails with "table not found". Call it again after a job publishes.
    """
    tables_dir = (datastore or current_datastore()) / "tables"
    views: dict[str, str] = {}
    for table in find_tables(tables_dir):
        if table.kind == "dimension" and not table.unpartitioned:
            _read(spark, table, table.partitions).createOrReplaceTempView(f"{table.name}_history")
            views[f"{table.name}_history"] = f"dimension, all {len(table.partitions)} snapshots"
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
