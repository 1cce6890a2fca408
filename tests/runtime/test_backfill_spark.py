"""A backfill starts Spark only when a Spark job is about to run, and only once."""

from __future__ import annotations

import pytest
from dsflow import runner
from dsflow.backfill import Task, execute
from dsflow.errors import DsflowError
from dsflow.partitions import parse_partition

DAY = parse_partition("2024-01-02", "daily")


def plan() -> list[Task]:
    download = Task("download", DAY, "missing")
    notebook = Task("to-table", DAY, "missing", deps=[download.key])
    return [download, notebook, Task("other-notebook", DAY, "missing", deps=[download.key])]


@pytest.mark.parametrize("download_fails", [True, False])
def test_spark_starts_before_the_first_notebook_and_only_if_one_runs(
    monkeypatch, tmp_path, download_fails
):
    events: list[str] = []

    def run_job(project, job, ds, kernels=None):  # noqa: ANN001, ARG001
        events.append(f"run {job}")
        if job == "download" and download_fails:
            raise DsflowError("HTTP 404 Not Found for http://127.0.0.1/x.json")

    monkeypatch.setattr(runner, "run_job", run_job)
    tasks = execute(
        project=None,  # the fake run_job needs none
        tasks=plan(),
        parallel=1,
        needs_spark=lambda task: task.job != "download",
        start_spark=lambda: events.append("start spark"),
    )
    if download_fails:
        assert events == ["run download"]  # its notebooks are blocked: no JVM for nothing
        assert [t.status for t in tasks] == ["failed", "blocked", "blocked"]
    else:
        assert events == ["run download", "start spark", "run to-table", "run other-notebook"]
        assert [t.status for t in tasks] == ["success", "success", "success"]
