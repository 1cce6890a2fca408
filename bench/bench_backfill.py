"""A 30-day backfill of the demo pipeline against one cold process per (job, day).

    uv run just bench-backfill

In one run, on one machine:

* ours: `just backfill start=2024-01-01 end=2024-01-30 parallel=2` on a fresh demo project
  (5 jobs x 30 days = 150 runs; it starts and stops its own Spark Connect server), timed as a
  whole process;
* ours again with parallel=1 (force=true over the first days): per-(job, day) run times
  without two workers sharing the 2 cores;
* naive (the original sandbox's way): for NAIVE_DAYS days, each notebook job as its own
  `papermill` process (a cold kernel and a cold local JVM) plus `jupyter nbconvert --to html`,
  each download as its own process; the mean per (job, day), times 30, estimates the naive
  30-day backfill;
* warm: the same notebooks' code executed in one Python process holding a warm local
  SparkSession (no papermill, no report, no publish), per (job, day) after a warm-up day —
  "the same Spark work in a warm session".

Budgets (issue 15, above DESIGN §10): ours >= 25x faster than naive; our per-(job, day) time <= 1.5x warm.
The data: samples/make_meteo.py --days 30, served over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from harness import demo_project, serve_meteo, timed

DAYS = 30
NAIVE_DAYS = 2
SEQUENTIAL_DAYS = 8
WARM_DAYS = 4
NOTEBOOK_JOBS = [
    "create-table-dim-stations",
    "create-table-fct-observations",
    "create-table-fct-daily-weather",
]
DOWNLOADS = ["download-meteo-json", "download-stations"]


def day(i: int) -> str:
    return f"2024-01-{i + 1:02d}"


def task_durations(project: Path, days: range) -> dict[str, float]:
    """Median run time per notebook job inside a backfill, from the run records."""
    result = {}
    for job in NOTEBOOK_JOBS:
        records = [project / f"datastore/job_runs/{job}/ds={day(i)}/run.json" for i in days]
        result[job] = statistics.median(json.loads(r.read_text())["duration_s"] for r in records)
    return result


def naive_costs(project: Path, base: Path) -> dict[str, float]:
    """Mean seconds per (job, day) of one cold process (or two) per run, by job."""
    venv = project / ".venv/bin"
    env = {**os.environ, "DSFLOW_PROJECT_ROOT": str(project), "SPARK_LOCAL_IP": "127.0.0.1"}
    costs: dict[str, list[float]] = {}
    for i in range(NAIVE_DAYS):
        ds = day(i)
        for job in DOWNLOADS + NOTEBOOK_JOBS:
            folder = project / "jobs" / job
            out = base / "naive" / job / ds
            out.mkdir(parents=True)
            spec = json.loads((project / f"datastore/job_runs/{job}/ds={ds}/run.json").read_text())
            params = {**spec["parameters"], "sink_path": str(out / "sink")}
            (out / "sink").mkdir()
            start = time.perf_counter()
            if job in DOWNLOADS:
                task_specs = {**params, "sink_path": str(out / "sink")}  # as the runner passes it
                subprocess.run(
                    [venv / "python", "-m", "dsflow.download"], cwd=folder, check=True,
                    capture_output=True, env={**env, "TASK_SPECS": json.dumps(task_specs)},
                )  # fmt: skip
            else:
                notebook = out / "notebook.ipynb"
                subprocess.run(
                    [venv / "jupytext", "--set-kernel", "python3", "--to", "ipynb", "-o", notebook,
                     folder / "notebook.py"],
                    check=True, capture_output=True,
                )  # fmt: skip
                start = time.perf_counter()  # the conversion is not the naive side's cost
                args = [
                    venv / "papermill",
                    notebook,
                    out / "out.ipynb",
                    "-k",
                    "python3",
                    "--cwd",
                    folder,
                ]
                for key in ("ds", "source_path", "sink_path", "query_file"):
                    if key in params:
                        args += ["-p", key, str(params[key])]
                subprocess.run(args, check=True, capture_output=True, env=env)
                subprocess.run(
                    [venv / "jupyter", "nbconvert", "--to", "html", out / "out.ipynb"],
                    check=True, capture_output=True, env=env,
                )  # fmt: skip
            costs.setdefault(job, []).append(time.perf_counter() - start)
            print(f"  naive {job} {ds}: {costs[job][-1]:.1f} s", flush=True)
    return {job: statistics.mean(values) for job, values in costs.items()}


WARM_SCRIPT = r"""
import json, sys, time, pathlib, jupytext
from dsflow.spark import spark_session
spark = spark_session()
jobs, days, out = json.loads(sys.argv[1]), json.loads(sys.argv[2]), pathlib.Path(sys.argv[3])
times = {}
for i, ds in enumerate(days):
    for job, params in jobs.items():
        folder = pathlib.Path("jobs") / job
        cells = [c.source for c in jupytext.read(folder / "notebook.py").cells if c.cell_type == "code"]
        sink = out / job / ds
        scope = {**params[ds], "sink_path": str(sink)}
        start = time.perf_counter()
        import os
        here = os.getcwd(); os.chdir(folder)
        try:
            for source in cells[1:]:  # cell 0 holds the parameters' defaults
                exec(compile(source, "cell", "exec"), scope)
        finally:
            os.chdir(here)
        if i:  # the first day warms the JVM up
            times.setdefault(job, []).append(time.perf_counter() - start)
print(json.dumps({job: sum(v) / len(v) for job, v in times.items()}))
"""


def warm_costs(project: Path, base: Path) -> dict[str, float]:
    """Seconds per (job, day) of the notebooks' code in one warm local Spark session."""
    days = [day(i) for i in range(WARM_DAYS)]
    jobs = {}
    for job in NOTEBOOK_JOBS:
        jobs[job] = {}
        for ds in days:
            record = json.loads(
                (project / f"datastore/job_runs/{job}/ds={ds}/run.json").read_text()
            )
            jobs[job][ds] = {k: v for k, v in record["parameters"].items() if k != "task_specs"}
    env = {**os.environ, "DSFLOW_PROJECT_ROOT": str(project), "DSFLOW_SPARK_REMOTE": ""}
    env.pop("DSFLOW_SPARK_REMOTE")
    result = subprocess.run(
        [project / ".venv/bin/python", "-c", WARM_SCRIPT, json.dumps(jobs), json.dumps(days), base / "warm"],
        cwd=project, check=True, capture_output=True, text=True, env=env,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        url, server = serve_meteo(base, DAYS)
        project = demo_project(base, url)
        print(f"ours: a {DAYS}-day backfill, parallel=2 ...", flush=True)
        ours = timed(
            ["just", "backfill", "start=2024-01-01", f"end={day(DAYS - 1)}", "parallel=2"], project
        )
        runs = DAYS * (len(DOWNLOADS) + len(NOTEBOOK_JOBS))
        print(f"  ours: {ours:.1f} s for {runs} runs", flush=True)
        contended = task_durations(project, range(1, DAYS))
        print(
            f"ours again, sequential: {SEQUENTIAL_DAYS} days, force=true parallel=1 ...", flush=True
        )
        timed(
            ["just", "backfill", "start=2024-01-01", f"end={day(SEQUENTIAL_DAYS - 1)}",
             "force=true", "parallel=1"],
            project,
        )  # fmt: skip
        sequential = task_durations(project, range(1, SEQUENTIAL_DAYS))
        print(f"naive: one cold process per (job, day), {NAIVE_DAYS} days ...", flush=True)
        naive = naive_costs(project, base)
        print(
            f"warm: the notebooks' code in one warm Spark session, {WARM_DAYS} days ...", flush=True
        )
        warm = warm_costs(project, base)
        server.shutdown()
    naive_total = DAYS * sum(naive.values())
    print(f"\n{DAYS}-day backfill of the demo pipeline ({runs} runs: 5 jobs x {DAYS} days)")
    print(
        f"  ours (just backfill parallel=2, whole process): {ours:8.1f} s  ({ours / runs:.2f} s per (job, day))"
    )
    print(
        f"  naive, estimated from {NAIVE_DAYS} days:           {naive_total:8.1f} s  ({naive_total / runs:.2f} s per (job, day))"
    )
    print(f"  speed-up: {naive_total / ours:.1f}x  (budget >= 25x)")
    print(
        "per (job, day), notebook jobs: median run time inside the backfill (the first day, "
        "which starts the kernel, excluded); with parallel=2 the two workers share this "
        "machine's 2 cores, so parallel=1 is the fair comparison with one warm session"
    )
    worst = 0.0
    for job in NOTEBOOK_JOBS:
        ratio = sequential[job] / warm[job]
        worst = max(worst, ratio)
        print(
            f"  {job:<32} parallel=2 {contended[job]:5.2f} s   parallel=1 {sequential[job]:5.2f} s   "
            f"warm Spark {warm[job]:5.2f} s   ratio {ratio:4.1f}   naive {naive[job]:5.1f} s"
        )
    print(f"  worst ratio (parallel=1) to warm Spark: {worst:.1f}  (budget <= 1.5)")


if __name__ == "__main__":
    main()
