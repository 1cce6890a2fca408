"""Peer: the demo pipeline as Dagster software-defined assets, daily-partitioned, run in process.

    python bench/peer_dagster.py --work DIR --base-url URL --conf FILE --master local[2] \
        --query FILE 2024-01-01 ... 2024-01-07

Five assets (two downloads, three Spark tables; the code of :mod:`peer_steps`) on one
``DailyPartitionsDefinition``, materialized with ``dagster.materialize`` once per partition in
this one process: Dagster's in-process executor, one ephemeral instance for the whole loop and
one warm local SparkSession for every step. That is Dagster's fastest way to run these assets
for a range of days here: a backfill needs the daemon and a run launcher (a process per run),
the multiprocess executor a process (so a JVM) per step.
"""

# no `from __future__ import annotations`: Dagster reads the context's type hint at run time
import argparse
import time
from pathlib import Path
from typing import Any

import peer_steps
from dagster import (
    AssetExecutionContext,
    ConfigurableResource,
    DagsterInstance,
    DailyPartitionsDefinition,
    MaterializeResult,
    asset,
    materialize,
)

DAYS = DailyPartitionsDefinition(start_date="2024-01-01")


class Lake(ConfigurableResource):
    """Where the assets' files live, where the downloads come from, how Spark is set up."""

    work: str
    base_url: str
    master: str
    spark_conf: str
    query_file: str

    def path(self, area: str, dataset: str, ds: str) -> Path:
        """The partition folder of ``dataset`` in ``area`` (raw, tables) for day ``ds``."""
        return Path(self.work) / area / dataset / f"ds={ds}"

    def spark(self) -> Any:
        """The process's one local SparkSession."""
        return peer_steps.spark_session(self.master, self.spark_conf)


@asset(partitions_def=DAYS)
def meteo_json(context: AssetExecutionContext, lake: Lake) -> MaterializeResult:
    """The day's hourly observations, downloaded (raw/meteo_json)."""
    ds = context.partition_key
    target = lake.path("raw", "meteo_json", ds) / "observations.json"
    size = peer_steps.download(f"{lake.base_url}/meteo/json/{ds}.json", target)
    return MaterializeResult(metadata={"bytes": size})


@asset(partitions_def=DAYS)
def stations(context: AssetExecutionContext, lake: Lake) -> MaterializeResult:
    """The stations CSV, downloaded as the day's snapshot (raw/stations)."""
    target = lake.path("raw", "stations", context.partition_key) / "stations.csv"
    size = peer_steps.download(f"{lake.base_url}/meteo/stations.csv", target)
    return MaterializeResult(metadata={"bytes": size})


@asset(partitions_def=DAYS, deps=[meteo_json])
def fct_observations(context: AssetExecutionContext, lake: Lake) -> MaterializeResult:
    """The day's observations as a Parquet partition."""
    ds = context.partition_key
    rows = peer_steps.table_from_json(
        lake.spark(),
        lake.path("raw", "meteo_json", ds),
        lake.path("tables", "fct_observations", ds),
        ds,
    )
    return MaterializeResult(metadata={"rows": rows})


@asset(partitions_def=DAYS, deps=[stations])
def dim_stations(context: AssetExecutionContext, lake: Lake) -> MaterializeResult:
    """The day's stations snapshot as a Parquet partition."""
    ds = context.partition_key
    rows = peer_steps.table_from_csv(
        lake.spark(),
        lake.path("raw", "stations", ds),
        lake.path("tables", "dim_stations", ds),
        ds,
    )
    return MaterializeResult(metadata={"rows": rows})


@asset(partitions_def=DAYS, deps=[fct_observations, dim_stations])
def fct_daily_weather(context: AssetExecutionContext, lake: Lake) -> MaterializeResult:
    """One row per station for the day: the SQL join and aggregate."""
    ds = context.partition_key
    rows = peer_steps.table_from_sql(
        lake.spark(),
        Path(lake.work) / "tables",
        Path(lake.query_file),
        lake.path("tables", "fct_daily_weather", ds),
        ds,
    )
    return MaterializeResult(metadata={"rows": rows})


ASSETS = [meteo_json, stations, fct_observations, dim_stations, fct_daily_weather]


def main() -> None:
    """Materialize every asset for each day given, one partition after the other."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for option in ("--work", "--base-url", "--conf", "--master", "--query"):
        parser.add_argument(option, required=True)
    parser.add_argument("days", nargs="+")
    args = parser.parse_args()
    lake = Lake(
        work=args.work,
        base_url=args.base_url,
        master=args.master,
        spark_conf=args.conf,
        query_file=args.query,
    )
    instance = DagsterInstance.ephemeral()
    for ds in args.days:
        start = time.perf_counter()
        result = materialize(ASSETS, partition_key=ds, resources={"lake": lake}, instance=instance)
        assert result.success
        print(f"materialized {len(ASSETS)} assets for {ds} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
