"""A dashboard and the explorer over a table with a corrupt Parquet file, served for real by
`just dash` / `just explorer` in a baked project and requested over HTTP: HTTP 200, the good
days shown, and a panel naming the table, the partition, the file and the command that
rewrites it. No Spark: the table is written with pyarrow, as a job would publish it.
"""

from __future__ import annotations

import json
import shutil
import socket
import urllib.request
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import git, just

pytestmark = pytest.mark.slow

TABLE = "t_dash_errors"
WRITER = "write-dash-errors"
DASHBOARD = "dash-errors"
DAYS = ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04"]
BAD = "2024-03-03"
WRITER_SPEC = {
    "job_name": WRITER,
    "class": "command-line",
    "script": "write.py",
    "grain": "daily",
    "outputs": [{"table": TABLE}],
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read().decode()


def _layout(url: str) -> tuple[int, str]:
    """The page's layout as Dash's front end loads it, normalised JSON text."""
    status, body = _get(url + "/_dash-layout")
    return status, json.dumps(json.loads(body))


def _partition(project: Path, day: str) -> Path:
    return project / "datastore/tables" / TABLE / f"ds={day}"


@pytest.fixture(scope="module")
def project(env_project: Path):
    """The shared project with a writer job declaring the table (never run: each test writes
    the table's partitions) and a dashboard job over it; both removed after, with the table."""
    writer = env_project / "jobs" / WRITER
    writer.mkdir(parents=True)
    (writer / "job_specs.yaml").write_text(json.dumps(WRITER_SPEC, indent=2))  # JSON is YAML
    (writer / "write.py").write_text("raise SystemExit('not run by these tests')\n")
    just(env_project, "new-job", "plotly_dash_app", "errors", f"table={TABLE}", "y_column=n")
    git(env_project, "add", "-A")
    git(env_project, "commit", "-q", "-m", "dashboard error tests")
    yield env_project
    git(env_project, "rm", "-rq", f"jobs/{WRITER}", f"jobs/{DASHBOARD}")
    git(env_project, "commit", "-q", "-m", "remove dashboard error tests")
    shutil.rmtree(env_project / "datastore/tables" / TABLE, ignore_errors=True)


@pytest.fixture
def table(project: Path) -> Path:
    """The table's four days, complete and readable, as the writer would publish them."""
    shutil.rmtree(project / "datastore/tables" / TABLE, ignore_errors=True)
    for day in DAYS:
        part = _partition(project, day)
        part.mkdir(parents=True)
        n = int(day[-2:])
        pq.write_table(pa.table({"n": [n, 10 * n]}), part / "part-0.parquet")
        meta = {"job": WRITER, "kind": "fact", "grain": "daily", "rows": 2}
        (part / "_dsflow.json").write_text(json.dumps(meta))
        (part / "_SUCCESS").write_text("")
    return project / "datastore/tables" / TABLE


@pytest.fixture(scope="module")
def dashboard(project: Path):
    port = _free_port()
    result = just(project, "dash", f"job={DASHBOARD}", f"port={port}")
    assert f"serving http://127.0.0.1:{port}/" in result.stdout
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        just(project, "stop", DASHBOARD, check=False)  # by the pid it recorded


def test_a_corrupt_file_gives_a_warning_panel_and_the_other_days(table, dashboard):
    corrupt = table / f"ds={BAD}/part-0.parquet"
    corrupt.write_bytes(corrupt.read_bytes()[:40])  # truncated: no footer
    status, page = _get(dashboard + "/")
    assert status == 200 and "dash-renderer" in page
    status, layout = _layout(dashboard)
    assert status == 200
    assert (
        f"Some partitions of {TABLE} could not be read and are left out; the rest is shown:"
        in layout
    )
    assert (
        f"table {TABLE}, partition ds={BAD}, file part-0.parquet: not readable Parquet (Parquet "
        "magic bytes not found in footer. Either the file is corrupted or this is not a parquet "
        f"file.); re-run the job that writes it: just run job={WRITER} ds={BAD}"
    ) in layout
    chart = json.loads(layout)["props"]["children"]
    figure = next(c for c in chart if c["props"].get("id") == "chart")["props"]["figure"]
    assert sorted(set(figure["data"][0]["x"])) == [d for d in DAYS if d != BAD]


def test_nothing_readable_gives_an_error_panel(table, dashboard):
    for day in DAYS:
        (table / f"ds={day}/part-0.parquet").write_bytes(b"")
    status, layout = _layout(dashboard)
    assert status == 200
    assert f"{TABLE} could not be read:" in layout
    assert f"just run job={WRITER} ds={DAYS[0]}" in layout


def test_a_missing_table_folder_gives_an_error_panel(table, dashboard):
    shutil.rmtree(table)
    status, layout = _layout(dashboard)
    assert status == 200
    assert (
        f"table {TABLE}: no folder {table} (nothing published yet?); run the job that writes "
        f"it: just run job={WRITER}"
    ) in layout


def test_the_explorer_lists_the_unreadable_partition(project, table):
    (table / f"ds={BAD}/part-0.parquet").write_bytes(b"not parquet")
    port = _free_port()
    just(project, "explorer", f"port={port}")
    try:
        status, layout = _layout(f"http://127.0.0.1:{port}")
    finally:
        just(project, "stop", "explorer", check=False)
    assert status == 200
    assert "Partitions that cannot be read (a dashboard leaves them out):" in layout
    assert (
        f"table {TABLE}, partition ds={BAD}, file part-0.parquet: not readable Parquet (Parquet "
        "magic bytes not found in footer. Either the file is corrupted or this is not a parquet "
        f"file.); re-run the job that writes it: just run job={WRITER} ds={BAD}"
    ) in layout
