"""How many rows a table holds, as the read-only views report it (the explorer's tables list,
``dsflow.notebook.list_tables()``).

A fact table's rows add up over its complete partitions; a dimension's partitions are
snapshots of the same rows, so it counts its latest snapshot's rows and how many snapshots it
has. A partition's count is its ``_dsflow.json`` ``rows`` (written at publish), else the sum
of its Parquet footers (a partition published before the count was recorded): no data read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .datastore import read_meta
from .partitions import is_partition_folder
from .tables import Table


@dataclass(frozen=True)
class TableRows:
    """``rows``: a fact table's total, a dimension's latest snapshot's; ``snapshots``: how
    many snapshots a dimension has (None for a fact table)."""

    rows: int
    snapshots: int | None


def partition_rows(folder: Path) -> int:
    """Rows of a published partition: its recorded count, else its Parquet footers' sum."""
    recorded = (read_meta(folder) or {}).get("rows")
    if isinstance(recorded, int | str) and not isinstance(recorded, bool):
        try:
            return int(recorded)
        except ValueError:  # not a number: count from the files instead
            pass
    return _footer_rows(folder)


def _footer_rows(folder: Path) -> int:
    import pyarrow.parquet as pq

    total = 0
    for path in sorted(folder.rglob("*.parquet")):
        # staging and hidden names, and the ds=/hr= folders of finer partitions, are not this
        # partition's files
        inner = path.relative_to(folder).parts
        if any(part.startswith(("_", ".")) for part in inner) or any(
            is_partition_folder(part) for part in inner[:-1]
        ):
            continue
        try:
            total += pq.ParquetFile(path).metadata.num_rows
        except (OSError, ValueError):  # a file that is not Parquet holds no rows for readers
            continue
    return total


def table_rows(table: Table) -> TableRows:
    """The rows a reader of ``table`` sees: a dimension's latest snapshot and its snapshot
    count (an unpartitioned dimension is one snapshot), a fact table's complete partitions."""
    if table.kind == "dimension":
        return TableRows(partition_rows(table.partitions[-1]), len(table.partitions))
    return TableRows(sum(partition_rows(part) for part in table.partitions), None)
