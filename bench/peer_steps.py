"""The demo pipeline's five steps as plain functions: what the peers (Dagster, Ploomber) run.

Each step is the code of the demo project's job, cell for cell: the downloads fetch the same
URLs, the table steps call the same runtime readers (``dsflow.readers``) and Spark actions as
the create_table_from_json / _csv / _sql notebooks, and the SQL step runs the project's own
``query.sql`` over the same views ``load_tables`` registers. Only the orchestration differs:
no kernel, no papermill, no staging, checks or report. A peer's data lives under its own
``work`` folder, laid out like a dsflow datastore (``raw/<dataset>/ds=<ds>/``,
``tables/<table>/ds=<ds>/``), so :func:`daily_weather_summary` reads every side alike.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path
from typing import Any

from dsflow.notebook import write_partition

DAILY_WEATHER = "fct_daily_weather"


def spark_session(master: str, conf_file: str) -> Any:
    """The process's local SparkSession (made once, then reused): the demo project's master
    and ``config/spark-defaults.conf``, so that every side runs Spark with the same settings."""
    from dsflow.spark import read_spark_defaults
    from pyspark.sql import SparkSession

    for name in ("SPARK_REMOTE", "DSFLOW_SPARK_REMOTE"):  # a local JVM, never a Connect server
        os.environ.pop(name, None)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.master(master).appName("peer")
    for key, value in read_spark_defaults(Path(conf_file)).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def download(url: str, target: Path, timeout_s: float = 30) -> int:
    """GET ``url`` into the file ``target`` (written whole, then renamed); returns its bytes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        body = response.read()
    partial.write_bytes(body)
    partial.replace(target)
    return len(body)


def _write_partition(df: Any, sink: Path, ds: str) -> int:
    """The cells both table templates share after reading; returns the rows written."""
    df.printSchema()
    df = df.drop("ds") if "ds" in df.columns else df
    rows = write_partition(df, sink, preview=5)
    print(f"wrote {rows} rows for ds={ds}")
    return rows


def table_from_json(spark: Any, source: Path, sink: Path, ds: str) -> int:
    """The create_table_from_json notebook's cells; returns the rows written."""
    from dsflow.readers import read_json

    return _write_partition(read_json(spark, str(source)), sink, ds)


def table_from_csv(spark: Any, source: Path, sink: Path, ds: str) -> int:
    """The create_table_from_csv notebook's cells; returns the rows written."""
    from dsflow.readers import read_csv

    return _write_partition(read_csv(spark, str(source)), sink, ds)


def table_from_sql(spark: Any, tables: Path, query_file: Path, sink: Path, ds: str) -> int:
    """The create_table_from_sql notebook's cells over the views ``load_tables`` registers
    for the demo (the fact table's partitions, the dimension's snapshot of ``ds`` and its
    history); returns the rows written."""
    facts = tables / "fct_observations"
    _read(spark, facts, sorted(facts.glob("ds=*"))).createOrReplaceTempView("fct_observations")
    dimension = tables / "dim_stations"
    snapshots = sorted(dimension.glob("ds=*"))
    _read(spark, dimension, snapshots).createOrReplaceTempView("dim_stations_history")
    _read(spark, dimension, [dimension / f"ds={ds}"]).createOrReplaceTempView("dim_stations")
    query = query_file.read_text()
    print(query)
    df = spark.sql(query, args={"ds": ds})
    df.printSchema()
    df = df.drop(*[c for c in ("ds", "hr") if c in df.columns])
    rows = write_partition(df, sink, preview=10)
    print(f"wrote {rows} rows for ds={ds}")
    return rows


def _read(spark: Any, table: Path, partitions: list[Path]) -> Any:
    return spark.read.option("basePath", str(table)).parquet(*[str(p) for p in partitions])


def daily_weather_summary(tables: Path, days: list[str]) -> dict[str, tuple]:
    """Per day of ``fct_daily_weather`` under ``tables``: (rows, sum of observations, sums of
    the min, max and average temperatures and of the precipitation, rounded to 6 places)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    summary = {}
    for ds in days:
        folder = tables / DAILY_WEATHER / f"ds={ds}"
        if not folder.is_dir():
            summary[ds] = ("missing",)
            continue
        table = pq.read_table(folder)
        sums = [
            round(float(pc.sum(table[column]).as_py() or 0), 6)
            for column in (
                "observations",
                "min_temperature_c",
                "max_temperature_c",
                "avg_temperature_c",
                "precipitation_mm",
            )
        ]
        summary[ds] = (table.num_rows, *sums)
    return summary
