"""Peer: the demo pipeline as a Ploomber ``pipeline.yaml`` of Python-callable tasks, built per day.

    python bench/peer_ploomber.py DIR DAY...     # build DIR/pipeline.yaml for each day, here

(:func:`write` makes DIR/pipeline.yaml and its env.yaml.)

The tasks are this module's functions (Ploomber's function tasks: ``product``, ``upstream``
and the task's ``params`` as arguments) around the code of :mod:`peer_steps`; the day is the
env's ``ds`` placeholder. The pipeline runs tasks in the building process
(``Serial(build_in_subprocess=False)``: with Ploomber's default, each task forks, and Spark
would start a JVM per task). Two ways to build a range of days:

* ``ploomber build --entry-point DIR/pipeline.yaml --env--ds DAY``, one process per day (a JVM
  per day), as Ploomber's CLI parametrizes a pipeline;
* this module's main: ``DAGSpec(pipeline, env={..., "ds": DAY}).to_dag().build()`` for each day in one
  process, one warm SparkSession: Ploomber's fastest way here.

The bench runs this with ``PYTHONPATH`` holding bench/, so that the tasks' dotted paths import.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import peer_steps

PIPELINE = """\
meta:
  extract_upstream: false     # dependencies are declared below, not read from the code
executor:
  dotted_path: ploomber.executors.Serial
  build_in_subprocess: false  # one process (one JVM) for the whole build
tasks:
  - source: peer_ploomber.download
    name: download-meteo-json
    product: '{{work}}/raw/meteo_json/ds={{ds}}/observations.json'
    params:
      url: '{{base_url}}/meteo/json/{{ds}}.json'
  - source: peer_ploomber.download
    name: download-stations
    product: '{{work}}/raw/stations/ds={{ds}}/stations.csv'
    params:
      url: '{{base_url}}/meteo/stations.csv'
  - source: peer_ploomber.fct_observations
    name: create-table-fct-observations
    upstream: [download-meteo-json]
    product: '{{work}}/tables/fct_observations/ds={{ds}}'
    params: {ds: '{{ds}}', master: '{{master}}', spark_conf: '{{spark_conf}}'}
  - source: peer_ploomber.dim_stations
    name: create-table-dim-stations
    upstream: [download-stations]
    product: '{{work}}/tables/dim_stations/ds={{ds}}'
    params: {ds: '{{ds}}', master: '{{master}}', spark_conf: '{{spark_conf}}'}
  - source: peer_ploomber.fct_daily_weather
    name: create-table-fct-daily-weather
    upstream: [create-table-fct-observations, create-table-dim-stations]
    product: '{{work}}/tables/fct_daily_weather/ds={{ds}}'
    params:
      ds: '{{ds}}'
      master: '{{master}}'
      spark_conf: '{{spark_conf}}'
      query_file: '{{query_file}}'
"""


def download(product: Any, url: str) -> None:
    """Task: GET ``url`` into the product file."""
    peer_steps.download(url, Path(str(product)))


def fct_observations(product: Any, upstream: Any, ds: str, master: str, spark_conf: str) -> None:
    """Task: the JSON download's day as a Parquet partition."""
    source = Path(str(upstream["download-meteo-json"])).parent
    spark = peer_steps.spark_session(master, spark_conf)
    peer_steps.table_from_json(spark, source, Path(str(product)), ds)


def dim_stations(product: Any, upstream: Any, ds: str, master: str, spark_conf: str) -> None:
    """Task: the stations CSV's day as a Parquet snapshot."""
    source = Path(str(upstream["download-stations"])).parent
    spark = peer_steps.spark_session(master, spark_conf)
    peer_steps.table_from_csv(spark, source, Path(str(product)), ds)


def fct_daily_weather(
    product: Any, upstream: Any, ds: str, master: str, spark_conf: str, query_file: str
) -> None:
    """Task: the SQL join and aggregate of the day."""
    tables = Path(str(upstream["create-table-fct-observations"])).parents[1]
    spark = peer_steps.spark_session(master, spark_conf)
    peer_steps.table_from_sql(spark, tables, Path(query_file), Path(str(product)), ds)


def write(folder: Path, env: dict[str, str]) -> Path:
    """Write ``pipeline.yaml`` and its ``env.yaml`` (the placeholders' values) into ``folder``."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pipeline.yaml").write_text(PIPELINE)
    (folder / "env.yaml").write_text(yaml.safe_dump(env))
    return folder / "pipeline.yaml"


def loop(folder: Path, days: list[str]) -> None:
    """Build the pipeline for each day in this process (one warm SparkSession)."""
    import yaml
    from ploomber.spec import DAGSpec

    env = yaml.safe_load((folder / "env.yaml").read_text())
    for ds in days:
        start = time.perf_counter()
        dag = DAGSpec(str(folder / "pipeline.yaml"), env={**env, "ds": ds}).to_dag()
        dag.build()
        print(f"built {len(dag)} tasks for {ds} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    loop(Path(sys.argv[1]), sys.argv[2:])
