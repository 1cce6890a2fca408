"""The read-only views on a datastore written by hand: each dataset at its own grain (one
status grid, one explorer heatmap per grain) and a dimension counted as its latest snapshot.

Partitions are folders with ``_SUCCESS``, ``_dsflow.json`` and a small Parquet file, as
:mod:`dsflow.publish` leaves them; no job runs and no Spark starts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dsflow.explorer import _tables_rows, status_figure
from dsflow.graph import build_graph
from dsflow.project import find_project
from dsflow.settings import load_settings
from dsflow.status import default_range, partition_states, render_grid

from .conftest import job_spec, write_job

LEGEND = "legend: # complete   . missing   F failed   s stale (will rerun)"


def publish(
    root: Path,
    dataset: str,
    folders: str,
    rows: int,
    kind: str = "fact",
    grain: str = "daily",
    record_rows: bool = True,
) -> Path:
    """A published partition of ``dataset`` (e.g. ``tables/fct_days``) at ``folders`` (e.g.
    ``ds=2024-01-02``, or ``""`` for an unpartitioned table) holding ``rows`` rows."""
    folder = root / "datastore" / dataset / folders if folders else root / "datastore" / dataset
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"n": list(range(rows))}), folder / "part-00000.parquet")
    meta: dict[str, Any] = {"run_id": f"r-{folders}", "kind": kind, "grain": grain}
    if record_rows:
        meta["rows"] = rows
    (folder / "_dsflow.json").write_text(json.dumps(meta))
    (folder / "_SUCCESS").write_text("")
    return folder


def failed_run(root: Path, job: str, folders: str, error: str) -> None:
    report = root / "datastore" / "job_runs" / job / folders
    report.mkdir(parents=True, exist_ok=True)
    (report / "run.json").write_text(json.dumps({"status": "failed", "error": error}))


def states_of(root: Path, start: str, end: str) -> dict[str, dict[str, Any]]:
    project = find_project(root)
    settings = load_settings(project)
    return partition_states(settings, build_graph(project, settings), start, end)


@pytest.fixture
def mixed(project_root: Path) -> Path:
    """A daily fact table, a monthly one, a daily dimension and an unpartitioned lookup.

    days: 2024-01-30 .. 2024-02-02 published but 2024-02-01, which failed;
    months: 2024-01 published, 2024-02 not; stations: three snapshots."""
    jobs = project_root / "jobs"
    write_job(jobs, "days", job_spec("days", outputs=["tables/fct_days"]))
    write_job(jobs, "months", job_spec("months", grain="monthly", outputs=["tables/fct_months"]))
    write_job(jobs, "stations", job_spec("stations", outputs=["tables/dim_stations"]))
    write_job(jobs, "lookup", job_spec("lookup", grain="none", outputs=["tables/lookup"]))
    for day in ("2024-01-30", "2024-01-31", "2024-02-02"):
        publish(project_root, "tables/fct_days", f"ds={day}", rows=10)
    failed_run(project_root, "days", "ds=2024-02-01", "cell 3 raised ValueError: no rows")
    publish(project_root, "tables/fct_months", "ds=2024-01", rows=31, grain="monthly")
    for day, rows in (("2024-01-30", 5), ("2024-01-31", 6), ("2024-02-01", 7)):
        publish(project_root, "tables/dim_stations", f"ds={day}", rows, kind="dimension")
    publish(project_root, "tables/lookup", "", rows=4, grain="none")
    return project_root


def test_status_draws_one_grid_per_grain(mixed):
    lines = render_grid(states_of(mixed, "2024-01-30", "2024-02-02"))
    assert lines == [
        "daily                2024-01-30 .. 2024-02-02",
        "tables/fct_days      ##F#  3 complete, 1 failed",
        "tables/dim_stations  ###.  3 complete, 1 missing",
        "",
        "monthly              2024-01 .. 2024-02",
        "tables/fct_months    #.  1 complete, 1 missing",
        "",
        "none                 (unpartitioned)",
        "tables/lookup        #  1 complete",
        LEGEND,
        "why:",
        "  tables/fct_days ds=2024-02-01: cell 3 raised ValueError: no rows",
    ]


def test_status_json_keeps_each_dataset_at_its_grain(mixed):
    states = states_of(mixed, "2024-01-31", "2024-02-01")
    assert states["tables/fct_months"] == {
        "job": "months",
        "grain": "monthly",
        "partitions": {"ds=2024-01": {"state": "complete"}, "ds=2024-02": {"state": "missing"}},
    }
    assert states["tables/fct_days"]["partitions"] == {
        "ds=2024-01-31": {"state": "complete"},
        "ds=2024-02-01": {"state": "failed", "why": "cell 3 raised ValueError: no rows"},
    }


def test_default_range_is_the_data_of_the_finest_grain_up_to_the_latest_of_any(mixed):
    """The days from the first daily partition (the monthly 2024-01 does not pull in the 29
    days before it) to the latest partition of any grain."""
    project = find_project(mixed)
    settings = load_settings(project)
    assert default_range(settings, build_graph(project, settings)) == ("2024-01-30", "2024-02-02")


def test_a_project_of_monthly_tables_shows_its_months(project_root):
    write_job(
        project_root / "jobs",
        "months",
        job_spec("months", grain="monthly", outputs=["tables/fct_months"]),
    )
    for month in ("2023-11", "2023-12", "2024-01"):
        publish(project_root, "tables/fct_months", f"ds={month}", rows=3, grain="monthly")
    project = find_project(project_root)
    settings = load_settings(project)
    start, end = default_range(settings, build_graph(project, settings))
    assert (start, end) == ("2023-11-01", "2024-01-01")  # its months, none missing before
    lines = render_grid(states_of(project_root, start, end))
    assert lines[:2] == [
        "monthly            2023-11 .. 2024-01",
        "tables/fct_months  ###  3 complete",
    ]


def test_the_explorer_draws_one_heatmap_per_grain(mixed):
    fig = status_figure(states_of(mixed, "2024-01-30", "2024-02-02"))
    heatmaps = [(t.type, list(t.x), list(t.y), [list(r) for r in t.z]) for t in fig.data]
    complete, missing, failed = 3, 0, 1  # explorer.STATES
    assert heatmaps == [
        (
            "heatmap",
            ["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"],
            ["tables/fct_days", "tables/dim_stations"],
            [[complete, complete, failed, complete], [complete, complete, complete, missing]],
        ),
        ("heatmap", ["2024-01", "2024-02"], ["tables/fct_months"], [[complete, missing]]),
        ("heatmap", ["(unpartitioned)"], ["tables/lookup"], [[complete]]),
    ]
    # each heatmap on its own partition axis, labelled as it is (no date axis)
    axes = [fig.layout[f"xaxis{i if i > 1 else ''}"] for i in (1, 2, 3)]
    assert [a.type for a in axes] == ["category"] * 3
    assert [t.xaxis for t in fig.data] == ["x", "x2", "x3"]
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["daily partitions", "monthly partitions", "unpartitioned"]
    assert fig.data[0].text[0][2] == "failed: cell 3 raised ValueError: no rows"


def test_the_explorer_without_datasets():
    fig = status_figure({})
    assert fig.data == ()
    assert fig.layout.annotations[0].text == "no datasets: no job declares outputs yet"


def test_tables_list_counts_a_dimension_by_its_latest_snapshot(mixed):
    rows = {r["table"]: r for r in _tables_rows(mixed / "datastore")}
    assert rows["dim_stations"] == {
        "table": "dim_stations",
        "kind": "dimension",
        "partitions": 3,
        "first": "ds=2024-01-30",
        "last": "ds=2024-02-01",
        "rows": 7,
        "snapshots": 3,
    }
    assert (rows["fct_days"]["rows"], rows["fct_days"]["snapshots"]) == (30, None)
    assert (rows["fct_months"]["rows"], rows["lookup"]["rows"]) == (31, 4)
    assert (rows["lookup"]["partitions"], rows["lookup"]["first"]) == (0, "")


def test_rows_come_from_parquet_footers_when_not_recorded(project_root):
    """An older partition without a recorded count, and a half-written one (no
    ``_SUCCESS``), which is not counted."""
    publish(project_root, "tables/fct_old", "ds=2024-01-01", rows=12, record_rows=False)
    publish(project_root, "tables/fct_old", "ds=2024-01-02", rows=8)
    half = project_root / "datastore/tables/fct_old/ds=2024-01-03"
    half.mkdir()
    pq.write_table(pa.table({"n": [1, 2, 3]}), half / "part-00000.parquet")
    staging = project_root / "datastore/tables/fct_old/ds=2024-01-01/_staging"
    staging.mkdir()
    pq.write_table(pa.table({"n": [1]}), staging / "part-00000.parquet")
    (row,) = _tables_rows(project_root / "datastore")
    assert (row["partitions"], row["rows"]) == (2, 20)


def test_notebook_list_tables(mixed, monkeypatch):
    from dsflow.notebook import list_tables

    monkeypatch.chdir(mixed)
    frame = list_tables().set_index("table")
    assert list(frame.columns) == ["kind", "partitions", "first", "last", "rows", "snapshots"]
    stations = frame.loc["dim_stations"]
    assert (stations["kind"], stations["rows"], stations["snapshots"]) == ("dimension", 7, 3)
    assert frame.loc["fct_days", "rows"] == 30
    assert frame.loc["fct_days", "snapshots"] is pd_na()
    assert (frame.loc["lookup", "partitions"], frame.loc["lookup", "rows"]) == (0, 4)


def pd_na() -> Any:
    import pandas as pd

    return pd.NA


def test_grids_come_finest_grain_first(project_root):
    """Hourly, daily, weekly, monthly, yearly, none: a weekly ``ds=2024-01-01`` is not the
    day of the same name, and an hour is a column of its own."""
    jobs = project_root / "jobs"
    for grain in ("none", "yearly", "monthly", "weekly", "daily", "hourly"):
        write_job(jobs, grain, job_spec(grain, grain=grain, outputs=[f"tables/t_{grain}"]))
    publish(project_root, "tables/t_hourly", "ds=2024-01-01/hr=05", rows=1, grain="hourly")
    publish(project_root, "tables/t_weekly", "ds=2024-01-01", rows=1, grain="weekly")
    publish(project_root, "tables/t_yearly", "ds=2024", rows=1, grain="yearly")
    lines = render_grid(states_of(project_root, "2024-01-01", "2024-01-01"))
    headers = [line for line in lines if line and not line.startswith(("tables/", "legend"))]
    assert headers == [
        "hourly            2024-01-01T00 .. 2024-01-01T23",
        "daily             2024-01-01",
        "weekly            2024-01-01",
        "monthly           2024-01",
        "yearly            2024",
        "none              (unpartitioned)",
    ]
    assert "tables/t_hourly   .....#..................  1 complete, 23 missing" in lines
    assert "tables/t_weekly   #  1 complete" in lines
    assert "tables/t_daily    .  1 missing" in lines
