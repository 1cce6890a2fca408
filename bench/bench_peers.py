"""A 7-day backfill of the demo pipeline: dsflow against its peers, on the same work.

    uv run --group bench just bench-peers      (RUNS=3 for medians of three rounds)

The work: the demo's five steps (download-meteo-json, download-stations ->
create-table-fct-observations (JSON to Parquet), create-table-dim-stations (CSV to Parquet) ->
create-table-fct-daily-weather (Spark SQL join and aggregate)) for 2024-01-01..07, from
samples/make_meteo.py's data served over HTTP on 127.0.0.1. Each side is timed as a whole
process (or, for Ploomber's CLI, the seven processes one after the other), in rounds, the
sides interleaved:

* dsflow: `just backfill start=2024-01-01 end=2024-01-07 parallel=2` on a fresh demo project,
  as a user runs it: notebooks, checks, atomic publish and an HTML report per run; it starts
  the project's Spark Connect server itself (rounds after the first add force=true);
* Dagster: the same PySpark code (bench/peer_steps.py, the notebooks' cells) as five
  daily-partitioned assets, `materialize()` per partition in one process with one warm local
  SparkSession (bench/peer_dagster.py);
* Ploomber, in one process: the same code as function tasks of a pipeline.yaml, built per day
  with `DAGSpec(..., env={"ds": day}).to_dag().build()` in one process (bench/peer_ploomber.py);
* Ploomber, CLI: `ploomber build --env--ds DAY` per day, a process (and a JVM) per day.

The peers get the demo project's Spark master and config/spark-defaults.conf. Every side's
fct_daily_weather must match dsflow's, per day: rows, and sums of its numeric columns.
Prints each side's median, the ratio dsflow/side, the fastest peer and whether dsflow is at or
under it (DESIGN §10), then where dsflow's backfill spent its time (run.json ``timings_s``).
The peers are in the `bench` dependency group (Dagster, Ploomber), never in the dev one.
"""

from __future__ import annotations

import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml
from harness import demo_project, serve_meteo
from peer_ploomber import write as write_pipeline
from peer_steps import daily_weather_summary

BENCH = Path(__file__).resolve().parent
RUNS = int(os.environ.get("RUNS", "1"))
DAYS = [f"2024-01-{i:02d}" for i in range(1, 8)]
JOBS = [
    "download-meteo-json",
    "download-stations",
    "create-table-fct-observations",
    "create-table-dim-stations",
    "create-table-fct-daily-weather",
]
QUERY = "jobs/create-table-fct-daily-weather/query.sql"
# the bench's own environment (`uv run --group bench`) must not leak into the project's uv
PROJECT_ENV = {
    k: v for k, v in os.environ.items() if k not in ("UV_PROJECT_ENVIRONMENT", "VIRTUAL_ENV")
}
PEER_ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [str(BENCH), os.environ.get("PYTHONPATH")])),
    "PLOOMBER_STATS_ENABLED": "false",  # no telemetry, no version check: no network here
    "PLOOMBER_VERSION_CHECK_DISABLED": "true",
    "DAGSTER_DISABLE_TELEMETRY": "true",
}


@dataclass
class Side:
    """One way of doing the work: how to run round ``i`` and where its tables end up."""

    name: str
    run: Callable[[int], float]
    tables: Callable[[int], Path]
    times: list[float] = field(default_factory=list)


def run_logged(cmd: list, cwd: Path, env: dict, log: Path) -> float:
    """Wall-clock seconds of ``cmd`` as its own process, its output in ``log``; a failure
    prints the log's last lines and ends the bench."""
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with log.open("a") as out:
        done = subprocess.run(
            [str(c) for c in cmd], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    seconds = time.perf_counter() - start
    if done.returncode:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-30:])
        sys.exit(f"{tail}\n{' '.join(map(str, cmd))} failed (exit {done.returncode}); log: {log}")
    return seconds


def use_free_spark_port(project: Path) -> None:
    """Give the project's Spark Connect server a free port: another project's server (a
    `just spark` elsewhere) may hold the default one, and a run refuses a taken port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = project / "dsflow.yml"
    text, found = re.subn(r"(?m)^(  spark: *)\d+", rf"\g<1>{port}", settings.read_text())
    assert found == 1, "dsflow.yml: no ports.spark line"
    settings.write_text(text)


def sides(base: Path, project: Path, url: str, starts: list[float]) -> list[Side]:
    """dsflow and the peers, each writing under ``base`` (dsflow: in ``project``)."""
    settings = yaml.safe_load((project / "dsflow.yml").read_text())
    master = settings["spark"]["master"]
    conf = project / "config/spark-defaults.conf"
    query = project / QUERY
    python, ploomber = sys.executable, Path(sys.executable).parent / "ploomber"
    logs = base / "logs"

    def work(peer: str, i: int) -> Path:
        return base / peer / f"round{i}"

    def dsflow(i: int) -> float:
        cmd = ["just", "backfill", f"start={DAYS[0]}", f"end={DAYS[-1]}", "parallel=2"]
        starts.append(time.time())
        seconds = run_logged(
            cmd + ["force=true"] * (i > 0), project, PROJECT_ENV, logs / "dsflow.log"
        )
        subprocess.run(["just", "stop-all"], cwd=project, env=PROJECT_ENV, capture_output=True)
        return seconds

    def dagster(i: int) -> float:
        return run_logged(
            [python, BENCH / "peer_dagster.py", "--work", work("dagster", i), "--base-url", url,
             "--conf", conf, "--master", master, "--query", query, *DAYS],
            base, PEER_ENV, logs / "dagster.log",
        )  # fmt: skip

    def pipeline(peer: str, i: int) -> Path:
        env = {"work": str(work(peer, i)), "base_url": url, "master": master,
               "spark_conf": str(conf), "query_file": str(query), "ds": DAYS[0]}  # fmt: skip
        return write_pipeline(base / peer / f"pipeline{i}", env)

    def ploomber_loop(i: int) -> float:
        folder = pipeline("ploomber-loop", i).parent
        return run_logged(
            [python, BENCH / "peer_ploomber.py", folder, *DAYS], base, PEER_ENV,
            logs / "ploomber-loop.log",
        )  # fmt: skip

    def ploomber_cli(i: int) -> float:
        spec = pipeline("ploomber-cli", i)
        return sum(
            run_logged(
                [ploomber, "build", "--entry-point", spec, "--env--ds", ds],
                spec.parent,
                PEER_ENV,
                logs / "ploomber-cli.log",
            )  # fmt: skip
            for ds in DAYS
        )

    return [
        Side(
            "dsflow: just backfill parallel=2 (notebooks, reports)",
            dsflow,
            lambda i: project / "datastore/tables",
        ),
        Side(
            "Dagster: assets, materialize() per day, one process",
            dagster,
            lambda i: work("dagster", i) / "tables",
        ),
        Side(
            "Ploomber: DAGSpec build per day, one process",
            ploomber_loop,
            lambda i: work("ploomber-loop", i) / "tables",
        ),
        Side(
            "Ploomber: `ploomber build` CLI, a process per day",
            ploomber_cli,
            lambda i: work("ploomber-cli", i) / "tables",
        ),
    ]


def breakdown(project: Path, started: float, wall: float) -> list[str]:
    """Where the last dsflow backfill spent its time, from each run's run.json."""
    records = [
        json.loads((project / f"datastore/job_runs/{job}/ds={ds}/run.json").read_text())
        for job in JOBS
        for ds in DAYS
    ]
    phases = list(dict.fromkeys(k for r in records for k in r.get("timings_s", {})))
    lines = [
        "where dsflow's last backfill spent its time (run.json): median per run, by job",
        f"  {'job':<32} {'run':>6}" + "".join(f" {p:>14}" for p in phases),
    ]
    for job in JOBS:
        mine = [r for r in records if r["job"] == job]
        cells = [
            statistics.median(r.get("timings_s", {}).get(p, 0.0) for r in mine) for p in phases
        ]
        run = statistics.median(r["duration_s"] for r in mine)
        lines.append(f"  {job:<32} {run:6.2f}" + "".join(f" {c:14.2f}" for c in cells))
    total = sum(r["duration_s"] for r in records)
    sums = {p: sum(r.get("timings_s", {}).get(p, 0.0) for r in records) for p in phases}
    first = min(datetime.fromisoformat(r["started_at"]).timestamp() for r in records)
    last = max(datetime.fromisoformat(r["finished_at"]).timestamp() for r in records)
    lines += [
        f"  all {len(records)} runs: {total:.1f} s of run time in {wall:.1f} s of wall time ("
        + ", ".join(f"{p} {s:.1f} s" for p, s in sums.items())
        + ")",
        f"  before the first run started: {first - started:.1f} s; runs from first start to "
        f"last end: {last - first:.1f} s; after the last run ended: {started + wall - last:.1f} s",
    ]
    return lines


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        url, server = serve_meteo(base, len(DAYS))
        project = demo_project(base, url, PROJECT_ENV)
        use_free_spark_port(project)
        starts: list[float] = []
        try:
            everyone = sides(base, project, url, starts)
            for i in range(RUNS):
                for side in everyone:
                    print(f"round {i + 1}/{RUNS}: {side.name} ...", flush=True)
                    side.times.append(side.run(i))
                    print(f"  {side.times[-1]:.1f} s", flush=True)
            expected = daily_weather_summary(everyone[0].tables(RUNS - 1), DAYS)
            differ = [
                s.name
                for s in everyone[1:]
                for i in range(RUNS)
                if daily_weather_summary(s.tables(i), DAYS) != expected
            ]
            profile = breakdown(project, starts[-1], everyone[0].times[-1])
        finally:
            subprocess.run(["just", "stop-all"], cwd=project, env=PROJECT_ENV, capture_output=True)
            server.shutdown()
    report(everyone, expected, differ, profile)


def report(everyone: list[Side], expected: dict, differ: list[str], profile: list[str]) -> None:
    """Print the medians side by side, the ratios, the fastest peer and the check of outputs."""
    ours = statistics.median(everyone[0].times)
    runs = len(JOBS) * len(DAYS)
    print(
        f"\n{len(DAYS)}-day backfill of the demo pipeline ({len(JOBS)} steps x {len(DAYS)} days "
        f"= {runs} (step, day) runs), median of {RUNS} round(s), whole processes"
    )
    print(f"  {'side':<56} {'median':>8}   {'dsflow/side':>11}   all rounds")
    for side in everyone:
        median = statistics.median(side.times)
        rounds = ", ".join(f"{t:.1f}" for t in side.times)
        print(f"  {side.name:<56} {median:7.1f} s   {ours / median:11.2f}   {rounds}")
    fastest = min(everyone[1:], key=lambda s: statistics.median(s.times))
    ratio = ours / statistics.median(fastest.times)
    verdict = "at or under it" if ratio <= 1.0 else "OVER it"
    print(f"fastest peer: {fastest.name}")
    print(f"  dsflow / fastest peer = {ratio:.2f}  (budget <= 1.0): {verdict}")
    rows = sum(v[0] for v in expected.values() if v[0] != "missing")
    if differ or any(v == ("missing",) for v in expected.values()):
        print(f"outputs DIFFER from dsflow's fct_daily_weather: {', '.join(differ) or 'dsflow'}")
    else:
        print(
            f"outputs equal on every side: fct_daily_weather, {len(DAYS)} partitions, {rows} rows, "
            "per-day rows and sums of observations, temperatures and precipitation"
        )
    print("\n".join(profile))
    if differ:
        sys.exit(1)


if __name__ == "__main__":
    main()
