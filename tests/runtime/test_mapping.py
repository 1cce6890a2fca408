"""The one partition-mapping model (dsflow.mapping) and everything that reads through it: the
run's input partitions (dsflow.resolve), the backfill plan's waits (dsflow.backfill) and
staleness — on datastores written by hand in tmp_path, no Spark.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dsflow import mapping
from dsflow.backfill import plan
from dsflow.errors import DsflowError
from dsflow.graph import build_graph
from dsflow.partitions import Partition, parse_partition
from dsflow.project import find_project
from dsflow.resolve import InputsMissing, check_inputs, input_partitions, resolve_parameters
from dsflow.settings import load_settings
from dsflow.specs import DatasetRef

from .conftest import job_spec, write_job


def values(parts: list[Partition]) -> list[str]:
    return [p.value for p in parts]


def span(ds: str, grain: str, input_grain: str, own: bool = False, **ref: object) -> list[str]:
    part = parse_partition(ds, grain)
    spanned = mapping.input_span(part, DatasetRef("tables", "t", **ref), input_grain, own)
    assert spanned.upto is None
    return values(list(spanned.parts))


# ------------------------------------------------------------------ the model, pure


def test_a_monthly_job_reads_every_day_of_its_month():
    days = span("2024-02", "monthly", "daily")
    assert len(days) == 29 and days[0] == "2024-02-01" and days[-1] == "2024-02-29"


@pytest.mark.parametrize(
    ("ds", "grain", "input_grain", "ref", "expected"),
    [
        ("2024-01-01", "daily", "hourly", {}, [f"2024-01-01T{h:02d}" for h in range(24)]),
        (
            "2024-01-29",
            "weekly",
            "daily",
            {},
            ["2024-01-29", "2024-01-30", "2024-01-31"] + [f"2024-02-0{d}" for d in range(1, 5)],
        ),
        ("2024", "yearly", "monthly", {}, [f"2024-{m:02d}" for m in range(1, 13)]),
        (
            "2024-03",
            "monthly",
            "daily",
            {"partitions": "previous"},
            [f"2024-02-{d:02d}" for d in range(1, 30)],
        ),
        ("2024-01-05", "daily", "monthly", {}, ["2024-01"]),  # the enclosing month
        ("2024-02-01", "daily", "monthly", {"partitions": "last_3"}, ["2024-01", "2024-02"]),
        ("2024-01-02T05", "hourly", "daily", {"partitions": "previous"}, ["2024-01-02"]),
        ("2024-01-03", "daily", "daily", {"partitions": "last_2"}, ["2024-01-02", "2024-01-03"]),
    ],
)
def test_periods_map_across_grains(ds, grain, input_grain, ref, expected):
    assert span(ds, grain, input_grain, **ref) == expected


def test_a_self_reading_last_n_reads_the_n_before_never_itself():
    assert span("2024-01-05", "daily", "daily", own=True, partitions="last_1") == ["2024-01-04"]
    assert span("2024-01-05", "daily", "daily", own=True, partitions="last_2") == [
        "2024-01-03",
        "2024-01-04",
    ]


def test_open_spans_select_from_what_is_complete():
    complete = [parse_partition(d, "daily") for d in ("2024-01-30", "2024-02-10", "2024-03-01")]
    month = parse_partition("2024-02", "monthly")
    dim = mapping.input_span(month, DatasetRef("tables", "dim_x", kind="dimension"), "daily", False)
    assert values(dim.select(complete)) == ["2024-02-10"]  # latest snapshot up to the month end
    every = mapping.input_span(month, DatasetRef("tables", "x", partitions="all"), "daily", False)
    assert values(every.select(complete)) == ["2024-01-30", "2024-02-10"]
    day = parse_partition("2024-02-15", "daily")
    monthly_dim = mapping.input_span(
        day, DatasetRef("tables", "dim_m", kind="dimension"), "monthly", False
    )
    months = [parse_partition(m, "monthly") for m in ("2024-01", "2024-02", "2024-03")]
    # no look-ahead: February's snapshot is not over on the 15th; January's is the latest
    assert values(monthly_dim.select(months)) == ["2024-01"]


def test_weeks_and_months_do_not_nest():
    with pytest.raises(DsflowError, match="weekly and monthly periods do not nest"):
        span("2024-02", "monthly", "weekly")
    assert mapping.compatible("daily", "none") and mapping.compatible("none", "none")
    assert not mapping.compatible("none", "hourly")  # no period to map a partition to
    assert mapping.incompatible_reason("none", "daily").startswith(
        "an unpartitioned job reads unpartitioned inputs only"
    )


# ------------------------------------------------------------------ on a datastore


def publish(root: Path, dataset: str, folder: str, grain: str = "daily") -> None:
    path = root / "datastore" / dataset / folder
    path.mkdir(parents=True, exist_ok=True)
    (path / "_SUCCESS").write_text("")
    meta = {"run_id": f"r-{folder}", "rows": 1, "grain": grain, "kind": "fact"}
    (path / "_dsflow.json").write_text(json.dumps(meta))


@pytest.fixture
def rollup(project_root: Path) -> Path:
    """daily (tables/daily) -> monthly rollup; a second monthly rollup allows partial months;
    a job reading its own previous day with last_1."""
    jobs = project_root / "jobs"
    write_job(jobs, "daily", job_spec("daily", outputs=["tables/daily"]))
    write_job(
        jobs,
        "monthly",
        job_spec("monthly", grain="monthly", inputs=["tables/daily"], outputs=["tables/m"]),
    )
    write_job(
        jobs,
        "monthly-partial",
        job_spec(
            "monthly-partial",
            grain="monthly",
            inputs=[{"table": "daily", "partial": True}],
            outputs=["tables/mp"],
        ),
    )
    write_job(
        jobs,
        "running",
        job_spec(
            "running",
            inputs=[{"table": "running", "partitions": "last_1"}, "tables/daily"],
            outputs=["tables/running"],
        ),
    )
    return project_root


def setup(root: Path):
    project = find_project(root)
    settings = load_settings(project)
    return project, settings, build_graph(project, settings)


def test_a_monthly_run_needs_its_whole_month(rollup):
    project, settings, graph = setup(rollup)
    for day in range(1, 29):  # February 2024 has 29 days: the 29th is missing
        publish(rollup, "tables/daily", f"ds=2024-02-{day:02d}")
    spec = graph.jobs["monthly"]
    month = parse_partition("2024-02", "monthly")
    with pytest.raises(DsflowError) as info:
        check_inputs(project, settings, spec, month)
    assert str(info.value) == (
        "missing upstream partition tables/daily/ds=2024-02-29; "
        "run it first: just run job=daily ds=2024-02-29"
    )
    partial = graph.jobs["monthly-partial"]
    check_inputs(project, settings, partial, month)  # partial: what exists is enough
    assert len(input_partitions(settings, partial, partial.inputs[0], month, "daily")) == 28
    publish(rollup, "tables/daily", "ds=2024-02-29")
    check_inputs(project, settings, spec, month)
    params = resolve_parameters(spec, month, {}, settings, {"tables/daily": "daily"})
    paths = params["source_paths"]["daily"]
    assert isinstance(paths, list) and len(paths) == 29
    assert paths[0].endswith("tables/daily/ds=2024-02-01")


def test_several_missing_days_are_counted_with_a_backfill_hint(rollup):
    project, settings, graph = setup(rollup)
    publish(rollup, "tables/daily", "ds=2024-02-01")
    with pytest.raises(DsflowError) as info:
        check_inputs(
            project, settings, graph.jobs["monthly"], parse_partition("2024-02", "monthly")
        )
    assert str(info.value) == (
        "missing upstream partition tables/daily/ds=2024-02-02 and 27 more of ds=2024-02; "
        "run them first: just backfill job=daily start=2024-02-02 end=2024-02-29"
    )


def test_the_plan_waits_for_a_month_the_range_does_not_complete(rollup):
    """January is whole once the plan's daily runs are done: it runs after all of them.
    February's second half is neither published nor planned: it waits, and is no failure."""
    _, settings, graph = setup(rollup)
    tasks = {
        (t.job, t.part.value): t
        for t in plan(settings, graph, ["daily", "monthly"], "2024-01-01", "2024-02-14", False)
    }
    january = tasks[("monthly", "2024-01")]
    assert january.reason == "missing"
    assert sorted(p.value for _, p in january.deps) == [f"2024-01-{d:02d}" for d in range(1, 32)]
    february = tasks[("monthly", "2024-02")]
    assert february.reason is None and february.status == "waiting"
    assert february.error == (
        "waits for tables/daily: 15 of 29 partitions of ds=2024-02 not published, "
        "first ds=2024-02-15"
    )


def test_a_self_reading_last_1_waits_for_its_previous_day_in_the_plan(rollup):
    """The bug this model fixed: the plan let day N run beside day N-1 while the run read N-1."""
    _, settings, graph = setup(rollup)
    tasks = {
        t.part.value: t
        for t in plan(settings, graph, ["daily", "running"], "2024-01-01", "2024-01-03", False)
        if t.job == "running"
    }
    assert ("running", parse_partition("2024-01-01", "daily")) in tasks["2024-01-02"].deps
    assert ("running", parse_partition("2024-01-02", "daily")) in tasks["2024-01-03"].deps
    assert all(dep[0] != "running" for dep in tasks["2024-01-01"].deps)


def test_a_monthly_partition_is_stale_when_a_day_of_it_changes(rollup):
    from dsflow.staleness import stale_reason

    _, settings, graph = setup(rollup)
    for day in range(1, 30):
        publish(rollup, "tables/daily", f"ds=2024-02-{day:02d}")
    upstream = {f"tables/daily/ds=2024-02-{d:02d}": f"r-ds=2024-02-{d:02d}" for d in range(1, 30)}
    out = rollup / "datastore/tables/m/ds=2024-02"
    out.mkdir(parents=True)
    (out / "_SUCCESS").write_text("")
    (out / "_dsflow.json").write_text(json.dumps({"run_id": "m", "upstream": upstream}))
    month = parse_partition("2024-02", "monthly")
    assert stale_reason(settings, graph, "monthly", month) is None
    meta = rollup / "datastore/tables/daily/ds=2024-02-17/_dsflow.json"
    meta.write_text(json.dumps({"run_id": "rerun", "grain": "daily"}))
    assert stale_reason(settings, graph, "monthly", month) == (
        "upstream tables/daily/ds=2024-02-17 changed"
    )


def test_an_unpartitioned_input_read_with_all_stays_a_list(project_root):
    """`source_paths` keeps its shape from before the mapping model (a hash change would make
    every partition of such a job "parameters changed" after an upgrade)."""
    jobs = project_root / "jobs"
    write_job(jobs, "lookup", job_spec("lookup", grain="none", outputs=["tables/lookup"]))
    reader = job_spec(
        "reader", inputs=[{"table": "lookup", "partitions": "all"}], outputs=["tables/r"]
    )
    write_job(jobs, "reader", reader)
    _, settings, graph = setup(project_root)
    publish(project_root, "tables/lookup", "", grain="none")
    spec = graph.jobs["reader"]
    day = parse_partition("2024-01-02", "daily")
    params = resolve_parameters(spec, day, {}, settings)
    paths = params["source_paths"]["lookup"]
    assert isinstance(paths, list) and len(paths) == 1 and paths[0].endswith("tables/lookup")
    assert input_partitions(settings, spec, spec.inputs[0], day) == [Partition("none", "")]


def test_an_unpartitioned_job_cannot_read_a_partitioned_table(project_root):
    jobs = project_root / "jobs"
    write_job(jobs, "days", job_spec("days", outputs=["tables/days"]))
    write_job(
        jobs, "whole", job_spec("whole", grain="none", inputs=["tables/days"], outputs=["tables/w"])
    )
    project = find_project(project_root)
    with pytest.raises(DsflowError) as info:
        build_graph(project, load_settings(project))
    assert str(info.value) == (
        "job whole (none) reads tables/days, which days writes daily: an unpartitioned job "
        "reads unpartitioned inputs only: give the job a grain, or read the table in a job "
        "of its grain"
    )


def test_no_snapshot_hint_names_a_partition_of_the_writers_grain(rollup):
    project, settings, graph = setup(rollup)
    jobs = rollup / "jobs"
    write_job(jobs, "dim", job_spec("dim", outputs=[{"table": "dim_x", "kind": "dimension"}]))
    write_job(
        jobs,
        "monthly-dim",
        job_spec("monthly-dim", grain="monthly", inputs=["tables/dim_x"], outputs=["tables/md"]),
    )
    project, settings, graph = setup(rollup)
    with pytest.raises(InputsMissing) as info:
        check_inputs(
            project, settings, graph.jobs["monthly-dim"], parse_partition("2024-02", "monthly")
        )
    assert str(info.value) == (
        "dimension tables/dim_x has no snapshot at or before ds=2024-02; "
        "run it first: just run job=dim ds=2024-02-01"
    )
