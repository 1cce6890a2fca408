"""dsflow.graph on job folders written in tmp_path: dependency order, selectors, and the
one-line refusals (a cycle named in data-flow order, a dangling input, two writers, grains).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dsflow.errors import DsflowError
from dsflow.graph import Graph, build_graph, render_mermaid, render_text
from dsflow.project import find_project
from dsflow.settings import load_settings

from .conftest import job_spec, write_job


def add(root: Path, name: str, inputs: list[Any], outputs: list[str], **keys: Any) -> None:
    write_job(root / "jobs", name, job_spec(name, inputs=inputs, outputs=outputs, **keys))


def graph_of(root: Path) -> Graph:
    project = find_project(root)
    return build_graph(project, load_settings(project))


def refusal(root: Path) -> str:
    with pytest.raises(DsflowError) as info:
        graph_of(root)
    assert "\n" not in str(info.value)
    return str(info.value)


@pytest.fixture
def meteo(project_root: Path) -> Path:
    """fetch -> clean -> summary <- stations (unpartitioned), and a dashboard on summary."""
    add(project_root, "summary", ["tables/meteo", "tables/dim_station"], ["tables/summary"])
    add(project_root, "clean", ["raw/meteo"], ["tables/meteo"])
    write_job(
        project_root / "jobs",
        "fetch",
        job_spec("fetch", script=None, module="dsflow.download", outputs=["raw/meteo"]),
    )
    add(project_root, "stations", [], ["tables/dim_station"], grain="none")
    write_job(
        project_root / "jobs",
        "board",
        job_spec(
            "board", **{"class": "dashboard", "script": "app.py", "inputs": ["tables/summary"]}
        ),
        {"app.py": "app = None\n"},
    )
    return project_root


def test_dependency_order_and_edges(meteo):
    graph = graph_of(meteo)
    assert sorted(graph.jobs) == ["clean", "fetch", "stations", "summary"]  # no dashboard
    assert graph.order() == ["fetch", "stations", "clean", "summary"]
    assert graph.upstream == {
        "fetch": set(),
        "stations": set(),
        "clean": {"fetch"},
        "summary": {"clean", "stations"},
    }
    assert graph.downstream["fetch"] == {"clean"}
    assert graph.writers["tables/dim_station"] == "stations"


@pytest.mark.parametrize(
    ("selector", "jobs"),
    [
        (None, ["fetch", "stations", "clean", "summary"]),
        ("clean", ["clean"]),
        ("+clean", ["fetch", "clean"]),
        ("clean+", ["clean", "summary"]),
        ("+clean+", ["fetch", "clean", "summary"]),
        ("+summary", ["fetch", "stations", "clean", "summary"]),
        ("stations+", ["stations", "summary"]),
    ],
)
def test_selectors(meteo, selector, jobs):
    assert graph_of(meteo).select(selector) == jobs


def test_unknown_job_in_a_selector(meteo):
    with pytest.raises(DsflowError) as info:
        graph_of(meteo).select("+board")
    assert str(info.value) == (
        "unknown job 'board' in job=+board (pipeline jobs: clean, fetch, stations, summary)"
    )


def test_text_and_mermaid_renderings(meteo):
    graph = graph_of(meteo)
    text = render_text(graph)
    at = text.index("summary  [daily]")
    assert text[at : at + 4] == [
        "summary  [daily]",
        "    after:  clean, stations",
        "    reads:  tables/meteo, tables/dim_station",
        "    writes: tables/summary",
    ]
    assert text[0:2] == ["fetch  [daily]", "    after:  -"]
    mermaid = render_mermaid(graph)
    assert mermaid[0] == "flowchart LR"
    assert "    fetch --> clean" in mermaid
    assert "    stations --> summary" in mermaid


def test_a_cycle_is_named_in_data_flow_order(project_root):
    add(project_root, "a", ["tables/c_out"], ["tables/a_out"])
    add(project_root, "b", ["tables/a_out"], ["tables/b_out"])
    add(project_root, "c", ["tables/b_out"], ["tables/c_out"])
    add(project_root, "d", ["tables/c_out"], ["tables/d_out"])  # downstream, not in the loop
    assert refusal(project_root) == "the jobs form a cycle: a -> b -> c -> a"


def test_a_dangling_input_is_refused(project_root):
    add(project_root, "clean", ["raw/meteo"], ["tables/meteo"])
    assert refusal(project_root) == (
        "job clean reads raw/meteo, which no job writes: add the job that writes it, or mark "
        "the input `external: true` if it arrives another way"
    )


def test_an_external_input_needs_no_writer(project_root):
    add(project_root, "clean", [{"raw": "meteo", "external": True}], ["tables/meteo"])
    graph = graph_of(project_root)
    assert graph.upstream == {"clean": set()}
    assert graph.order() == ["clean"]


def test_two_writers_of_one_dataset(project_root):
    add(project_root, "one", [], ["tables/meteo"])
    add(project_root, "two", [], ["tables/meteo"])
    assert refusal(project_root) == "tables/meteo has two writers: jobs one and two"


def test_a_job_reads_inputs_of_nesting_grains(project_root):
    """Rollups are normal edges; weeks and months do not nest, so that edge is refused."""
    add(project_root, "hourly-src", [], ["raw/ticks"], grain="hourly")
    add(project_root, "daily-agg", ["raw/ticks"], ["tables/agg"])
    add(project_root, "weekly-agg", ["tables/agg"], ["tables/agg_w"], grain="weekly")
    add(project_root, "yearly-agg", ["tables/agg"], ["tables/agg_y"], grain="yearly")
    graph = graph_of(project_root)
    assert graph.upstream["daily-agg"] == {"hourly-src"}
    assert graph.upstream["weekly-agg"] == {"daily-agg"}
    add(project_root, "monthly-of-weeks", ["tables/agg_w"], ["tables/agg_m"], grain="monthly")
    assert refusal(project_root) == (
        "job monthly-of-weeks (monthly) reads tables/agg_w, which weekly-agg writes weekly: "
        "weekly and monthly periods do not nest (weeks straddle months and years): read a "
        "daily table, or write this job at a grain that nests"
    )


def test_reading_its_own_previous_partitions_is_not_a_cycle(project_root):
    add(
        project_root,
        "running-total",
        [{"table": "totals", "partitions": "previous"}],
        ["tables/totals"],
    )
    graph = graph_of(project_root)
    assert graph.upstream == {"running-total": set()}


def test_reading_its_own_same_partition_is_refused(project_root):
    add(project_root, "loop", ["tables/totals"], ["tables/totals"])
    assert refusal(project_root) == (
        "job loop reads its own output tables/totals with partitions: same; a job may read "
        "only its earlier partitions (previous or last_<N>)"
    )


def test_a_broken_spec_stops_the_graph_with_its_own_message(project_root):
    add(project_root, "clean", [], ["tables/meteo"])
    write_job(project_root / "jobs", "broken", "job_name: broken\nclass: command-line\n")
    message = refusal(project_root)
    assert message.endswith(
        "job_specs.yaml: script: missing: name the notebook or script file of the job"
    )
    assert "/jobs/broken/" in message


def test_the_project_default_grain_applies(project_root):
    (project_root / "dsflow.yml").write_text("project: demo\ndefault_grain: hourly\n")
    add(project_root, "ticks", [], ["raw/ticks"])
    assert graph_of(project_root).jobs["ticks"].grain == "hourly"
