"""`just status` without start/end: the data's own range (at most its latest 14 periods), said
in a first line with how to choose another; before anything ran, one line saying what to run.

Partitions are written by hand (:func:`.test_views.publish`); the command runs in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dsflow import cli

from .conftest import job_spec, write_job
from .test_views import failed_run, publish

ANOTHER = "another range: just status start=YYYY-MM-DD end=YYYY-MM-DD"


def status(root: Path, monkeypatch, capsys, *params: str) -> tuple[int, str]:
    monkeypatch.chdir(root)
    code = cli.main(["status", *params])
    out, err = capsys.readouterr()
    assert err == ""
    return code, out


@pytest.fixture
def days_job(project_root: Path) -> Path:
    write_job(project_root / "jobs", "load-days", job_spec("load-days", outputs=["tables/days"]))
    return project_root


def test_nothing_published_yet_says_what_to_run(days_job, monkeypatch, capsys):
    code, out = status(days_job, monkeypatch, capsys)
    assert code == 0
    assert out == (
        "no partitions yet: run one (just run job=load-days ds=YYYY-MM-DD) or a range of days "
        "(just backfill start=YYYY-MM-DD end=YYYY-MM-DD), then just status\n"
    )
    _, text = status(days_job, monkeypatch, capsys, "format=json")
    assert json.loads(text) == {
        "start": None,
        "end": None,
        "datasets": {"tables/days": {"job": "load-days", "grain": "daily", "partitions": {}}},
        "leftovers": [],
        "half_published": [],
    }


def test_an_unpartitioned_first_job_is_run_without_ds(project_root, monkeypatch, capsys):
    write_job(project_root / "jobs", "lookup", job_spec("lookup", grain="none", outputs=["raw/l"]))
    _, out = status(project_root, monkeypatch, capsys)
    assert out.startswith("no partitions yet: run one (just run job=lookup) or a range of days")


def test_a_few_days_are_shown_whole_with_no_missing_before_them(days_job, monkeypatch, capsys):
    for day in ("2024-03-10", "2024-03-11", "2024-03-13"):
        publish(days_job, "tables/days", f"ds={day}", rows=1)
    code, out = status(days_job, monkeypatch, capsys)
    assert code == 0
    assert out.splitlines()[:3] == [
        f"showing 2024-03-10 .. 2024-03-13, all of the data; {ANOTHER}",
        "daily        2024-03-10 .. 2024-03-13",
        "tables/days  ##.#  3 complete, 1 missing",
    ]


def test_a_long_range_shows_its_latest_14_days_and_where_it_starts(days_job, monkeypatch, capsys):
    for day in range(1, 31):
        publish(days_job, "tables/days", f"ds=2024-01-{day:02d}", rows=1)
    _, out = status(days_job, monkeypatch, capsys)
    assert out.splitlines()[:3] == [
        f"showing 2024-01-17 .. 2024-01-30, the latest 14 days of the data (from 2024-01-01); "
        f"{ANOTHER}",
        "daily        2024-01-17 .. 2024-01-30",
        "tables/days  " + "#" * 14 + "  14 complete",
    ]
    _, text = status(days_job, monkeypatch, capsys, "format=json")
    document = json.loads(text)
    assert (document["start"], document["end"]) == ("2024-01-17", "2024-01-30")
    assert len(document["datasets"]["tables/days"]["partitions"]) == 14


def test_a_failed_first_run_is_data_too(days_job, monkeypatch, capsys):
    failed_run(days_job, "load-days", "ds=2024-02-05", "cell 2 raised ValueError: empty")
    _, out = status(days_job, monkeypatch, capsys)
    assert out.splitlines()[:3] == [
        f"showing 2024-02-05, all of the data; {ANOTHER}",
        "daily        2024-02-05",
        "tables/days  F  1 failed",
    ]


def test_a_range_asked_for_is_shown_as_asked(days_job, monkeypatch, capsys):
    publish(days_job, "tables/days", "ds=2024-03-10", rows=1)
    _, out = status(days_job, monkeypatch, capsys, "start=2024-03-08", "end=2024-03-10")
    assert out.splitlines()[:3] == [
        "showing 2024-03-08 .. 2024-03-10",
        "daily        2024-03-08 .. 2024-03-10",
        "tables/days  ..#  1 complete, 2 missing",
    ]


def test_an_end_alone_shows_the_14_days_up_to_it_from_the_data_start(days_job, monkeypatch, capsys):
    for day in ("2024-01-01", "2024-03-01"):
        publish(days_job, "tables/days", f"ds={day}", rows=1)
    _, out = status(days_job, monkeypatch, capsys, "end=2024-01-03", "format=json")
    assert (json.loads(out)["start"], json.loads(out)["end"]) == ("2024-01-01", "2024-01-03")
    _, out = status(days_job, monkeypatch, capsys, "end=2024-02-20", "format=json")
    assert (json.loads(out)["start"], json.loads(out)["end"]) == ("2024-02-07", "2024-02-20")


def test_without_datasets_there_is_nothing_to_show(project_root, monkeypatch, capsys):
    _, out = status(project_root, monkeypatch, capsys)
    assert out == "no datasets: no job declares outputs yet\n"
