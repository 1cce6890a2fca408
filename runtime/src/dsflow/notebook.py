"""Helpers for notebooks, with the seed's names: ``sql()``, ``display()``, ``list_tables()``,
``list_raw()``; ``read_table()``, a table as readers see it; and ``read_partition()`` /
``write_partition()``, which work the same way with a Spark DataFrame, a pandas DataFrame or a
pyarrow Table. Table data is always read with the table's schema (its contract).

    from dsflow.notebook import sql, display, list_tables, list_raw
    list_tables()
    sql("SELECT station, AVG(temperature_c) FROM fct_observations WHERE ds = :ds GROUP BY 1",
        ds="2024-01-02")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .checks import count_rows, parquet_files
from .contracts import conform, read_contract
from .datafiles import write_parquet
from .datastore import complete_partitions, current_datastore, is_visible
from .errors import DsflowError
from .partitions import is_partition_folder
from .tables import find_tables, load_tables, read_arrow, spark_table


def sql(query: str, as_of: str | None = None, show: int = 20, **params: Any) -> Any:
    """Run Spark SQL over every table (registered fresh, dimensions as of ``as_of``), with
    ``params`` bound to ``:name`` markers; displays the first ``show`` rows and returns the
    Spark DataFrame."""
    from .spark import spark_session

    spark = spark_session()
    load_tables(spark, as_of=as_of)
    frame = spark.sql(query, args=params or None)
    if show:
        display(frame, show)
    return frame


def display(frame: Any, n: int = 20) -> None:
    """Show the first ``n`` rows of a Spark or pandas DataFrame, or a pyarrow Table, as a table."""
    pandas = _to_pandas(frame, n)
    try:
        from IPython.display import display as ipython_display

        ipython_display(pandas)
    except ImportError:  # outside IPython
        print(pandas.to_string())


def _to_pandas(frame: Any, n: int | None = None) -> Any:
    if hasattr(frame, "toPandas"):  # Spark (classic or Connect)
        return (frame.limit(n) if n else frame).toPandas()
    if hasattr(frame, "to_pandas"):  # pyarrow
        return (frame.slice(0, n) if n else frame).to_pandas()
    return frame.head(n) if n else frame


def list_tables() -> Any:
    """Tables with their kind, complete partitions (count, first, last) and rows, as a
    DataFrame: a fact table's rows over its complete partitions; a dimension's latest
    snapshot's rows, and in ``snapshots`` how many it has (empty for a fact table)."""
    import pandas as pd

    from .table_rows import table_rows

    columns = ["table", "kind", "partitions", "first", "last", "rows", "snapshots"]
    rows = []
    for table in find_tables(current_datastore() / "tables"):
        keys = table.keys
        size = table_rows(table)
        rows.append(
            {
                "table": table.name,
                "kind": table.kind,
                "partitions": 0 if table.unpartitioned else len(keys),
                "first": None if table.unpartitioned else keys[0],
                "last": None if table.unpartitioned else keys[-1],
                "rows": size.rows,
                "snapshots": size.snapshots,
            }
        )
    frame = pd.DataFrame(rows, columns=columns)
    # whole numbers with gaps (a fact table has no snapshots), not floats with NaN
    return frame.astype({"partitions": "Int64", "rows": "Int64", "snapshots": "Int64"})


def list_raw() -> Any:
    """Raw datasets with their complete partitions (first, last, count), as a DataFrame."""
    import pandas as pd

    rows = []
    raw = current_datastore() / "raw"
    for folder in sorted(p for p in raw.iterdir() if p.is_dir()) if raw.is_dir() else []:
        if not is_visible(folder):
            continue
        keys = [str(p.relative_to(folder)) for p in complete_partitions(folder)]
        rows.append(
            {
                "dataset": folder.name,
                "partitions": len(keys),
                "first": keys[0] if keys else None,
                "last": keys[-1] if keys else None,
            }
        )
    return pd.DataFrame(rows, columns=["dataset", "partitions", "first", "last"])


def read_table(
    name: str, as_of: str | None = None, history: bool = False, engine: str = "pandas"
) -> Any:
    """Table ``name`` as readers see it: its complete partitions, with the table's schema and
    a ``ds`` column; a dimension's latest snapshot at or before ``as_of`` (default: its
    latest), or every snapshot with ``history=True``. ``engine``: pandas, arrow or spark."""
    _check_engine(engine)
    if engine == "spark":
        from .spark import spark_session

        return spark_table(spark_session(), name, as_of=as_of, history=history)
    table = read_arrow(name, as_of=as_of, history=history)
    return table if engine == "arrow" else table.to_pandas()


def read_partition(path: str | Path, engine: str = "pandas") -> Any:
    """The Parquet files of one partition folder: ``engine`` pandas, arrow or spark.

    A partition of a table with a contract is read with the table's schema."""
    _check_engine(engine)
    folder = Path(path)
    if not folder.is_dir():
        raise DsflowError(f"{folder} is not a partition folder")
    base = folder
    while is_partition_folder(base.name):  # ds=.../hr=... below the table folder
        base = base.parent
    contract = read_contract(base)
    if engine == "spark":
        from .spark import spark_session

        reader = spark_session().read
        if contract is not None and contract.ddl():
            reader = reader.schema(contract.ddl())
        # absolute: a Spark Connect server resolves a relative path from its own folder
        return reader.parquet(str(folder.resolve()))
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    if contract is None:
        table = ds.dataset(folder, format="parquet").to_table()
    else:
        files = parquet_files(folder)
        pieces = [conform(pq.read_table(f), contract, str(folder)) for f in files]
        table = pa.concat_tables(pieces) if pieces else contract.arrow_schema().empty_table()
    return table if engine == "arrow" else table.to_pandas()


def _check_engine(engine: str) -> None:
    if engine not in ("pandas", "arrow", "spark"):
        raise DsflowError(f"engine must be pandas, arrow or spark, not {engine!r}")


def write_partition(frame: Any, sink_path: str | Path, preview: int = 0) -> int:
    """Write a Spark or pandas DataFrame or a pyarrow Table as the partition's Parquet files in
    ``sink_path`` (the staging folder ``just run`` gives the job); returns the rows written.

    A ``ds`` (or ``hr``) column is dropped: the partition folder holds it. ``preview=N``
    prints the first N rows as written, read back from the files (a report's sample of the
    data): ``df.show(N)`` before writing would run the whole read or query once more."""
    sink = Path(sink_path)
    rows = _write(frame, sink)
    if preview > 0:
        print(_preview(sink, preview, rows))
    return rows


def _write(frame: Any, sink: Path) -> int:
    if hasattr(frame, "toPandas"):  # Spark
        frame = frame.drop(*[c for c in ("ds", "hr") if c in frame.columns])
        frame.write.mode("overwrite").parquet(str(sink.resolve()))  # see read_partition
        # counted from the files' footers: frame.count() would run the whole query again
        return count_rows(sink)
    import pyarrow as pa

    table = (
        frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    )
    table = table.drop_columns([c for c in ("ds", "hr") if c in table.column_names])
    sink.mkdir(parents=True, exist_ok=True)
    write_parquet(table, sink / "part-00000.parquet")
    return table.num_rows


def _preview(sink: Path, limit: int, rows: int) -> str:
    """The first ``limit`` rows of the Parquet files in ``sink``, as a text table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    batches = []
    for path in parquet_files(sink):
        wanted = limit - sum(b.num_rows for b in batches)
        if wanted <= 0:
            break
        batch = next(pq.ParquetFile(path).iter_batches(batch_size=wanted), None)
        if batch is not None:
            batches.append(batch)
    if not batches:
        return "(no rows)"
    text = pa.Table.from_batches(batches).to_pandas().head(limit).to_string(index=False)
    return text + (f"\n(the first {limit} of {rows} rows)" if rows > limit else "")
