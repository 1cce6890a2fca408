"""A single `just run` of a Spark notebook job: cold and warm, against the naive papermill +
nbconvert CLI pair, with where the time goes.

    uv run just bench-run

All sides run the same create_table_from_json notebook on the same raw partition, each as
whole processes, in one project, N times each, interleaved:

* naive: what the original sandbox did per (job, ds): the `papermill` CLI (its kernel starts a
  local Spark JVM), then `jupyter nbconvert --to html` as a separate process;
* cold: `just run` with no Spark running (`just stop spark` before each): the run starts the
  project's Spark Connect server (``spark.server: auto``) while its kernel starts;
* back-to-back: `just run` right after the cold one, before a new spare kernel is ready;
* warm: `just run` once that spare kernel is ready, the server having served two runs
  (issue 15's budget: <= 2.5 s).

Prints medians, the cold/naive ratio (budget <= 0.5), and the medians of each phase recorded in
run.json (``timings_s``), the execute phase split into kernel and cells by the notebook's own
papermill timings.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from harness import set_up_project, template, timed

RUNS = 3
DS = "2024-01-02"
JOB = "create-table-obs"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        project = set_up_project(template(base), base / "project")
        try:
            _bench(base, project)
        finally:
            subprocess.run(["just", "stop-all"], cwd=project, capture_output=True)


def _bench(base: Path, project: Path) -> None:
    just(project, "new-job", "create_table_from_json", "obs")
    raw = project / "datastore/raw/obs" / f"ds={DS}"
    raw.mkdir(parents=True)
    rows = [{"station": f"s{i % 3}", "temperature_c": i / 10} for i in range(72)]
    (raw / "obs.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (raw / "_SUCCESS").touch()
    venv = project / ".venv/bin"
    job = project / "jobs" / JOB
    naive_nb = base / "naive.ipynb"
    just_run = ["just", "run", f"job={JOB}", f"ds={DS}"]
    subprocess.run(
        [venv / "jupytext", "--set-kernel", "python3", "--to", "ipynb", "-o", naive_nb,
         job / "notebook.py"],
        check=True, capture_output=True,
    )  # fmt: skip
    times: dict[str, list[float]] = {"naive": [], "cold": [], "warm": [], "back-to-back": []}
    phases: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
    for i in range(RUNS):
        out = base / f"naive-{i}"
        out.mkdir()
        times["naive"].append(
            timed(
                [venv / "papermill", naive_nb, out / "out.ipynb", "-k", "python3",
                 "-p", "source_path", str(raw), "-p", "sink_path", str(out / "table"),
                 "--cwd", str(job)],
                project,
            )
            + timed([venv / "jupyter", "nbconvert", "--to", "html", out / "out.ipynb"], project)
        )  # fmt: skip
        just(project, "stop-all")
        times["cold"].append(timed(just_run, project))
        phases["cold"].append(_phases(project))
        times["back-to-back"].append(timed(just_run, project))
        _wait_for_spare(project)  # as when a user reads a run's output before the next one
        times["warm"].append(timed(just_run, project))
        phases["warm"].append(_phases(project))
        just(project, "stop-all")
    medians = {side: statistics.median(values) for side, values in times.items()}
    print(f"`just run` of a Spark notebook job, medians of {RUNS} (whole processes):")
    print(f"  naive papermill CLI + nbconvert CLI      {medians['naive']:5.1f} s")
    print(f"  cold: no Spark running (starts it)       {medians['cold']:5.1f} s")
    print(f"  warm: server and spare kernel ready      {medians['warm']:5.1f} s  (budget <= 2.5)")
    print(f"  back-to-back: before the next spare      {medians['back-to-back']:5.1f} s")
    print(f"ratio cold/naive: {medians['cold'] / medians['naive']:.2f}  (budget <= 0.50)")
    print(f"ratio warm/naive: {medians['warm'] / medians['naive']:.2f}")
    names = list(phases["cold"][0])
    print("where a run's time goes (medians, s):  " + "  ".join(f"{n:>8}" for n in names))
    for side in ("cold", "warm"):
        values = [statistics.median(p[n] for p in phases[side]) for n in names]
        print(f"  {side:<37} " + "  ".join(f"{v:8.2f}" for v in values))


def just(project: Path, *args: str) -> None:
    subprocess.run(
        ["just", *args], cwd=project, check=True, capture_output=True, stdin=subprocess.DEVNULL
    )


def _phases(project: Path) -> dict[str, float]:
    """The last run's phases: run.json's timings, execute split into kernel and cells."""
    reports = project / "datastore/job_runs" / JOB / f"ds={DS}"
    laps = json.loads((reports / "run.json").read_text())["timings_s"]
    notebook = json.loads((reports / "report.ipynb").read_text())
    cells = sum(
        c.get("metadata", {}).get("papermill", {}).get("duration") or 0 for c in notebook["cells"]
    )
    return {
        "resolve": laps["prepare"],
        "kernel": laps["execute"] - cells,
        "cells": cells,
        "report": laps["report"],
        "publish": laps["checks_publish"],
    }


def _wait_for_spare(project: Path, timeout: float = 60) -> None:
    spare = project / ".dsflow/services/kernel-spare.json"
    deadline = time.monotonic() + timeout
    while not spare.exists():
        if time.monotonic() > deadline:
            raise SystemExit("no spare kernel appeared within 60 s: see .dsflow/services/")
        time.sleep(0.2)


if __name__ == "__main__":
    main()
