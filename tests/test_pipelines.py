"""Pipelines for real on the demo jobs: the job graph, `just pipeline`, `just backfill` (parallel,
skip what is up to date and say why the rest runs, dry-run, failures stop only downstream),
`just status`, and Airflow 3 DAGs checked and run by real Airflow: its scheduler on PostgreSQL,
and `airflow dags test`.

The demo's jobs come from tools/demo.py's create_jobs (as `demo.py --days 0` makes them: jobs
created, nothing run); their downloads fetch from an HTTP server this module starts on
127.0.0.1.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import REPO, copy_project, just, listening, own_spark_env, port
from demo import create_jobs
from dsflow.envfile import read_env
from dsflow.services import group_running
from ports import shift_ports

pytestmark = pytest.mark.slow

WEEK = [f"2024-01-0{d}" for d in range(1, 8)]
JOBS = [
    "download-meteo-json",
    "download-stations",
    "create-table-dim-stations",
    "create-table-fct-observations",
    "create-table-fct-daily-weather",
]
DATASETS = {
    "download-meteo-json": "raw/meteo_json",
    "download-stations": "raw/stations",
    "create-table-dim-stations": "tables/dim_stations",
    "create-table-fct-observations": "tables/fct_observations",
    "create-table-fct-daily-weather": "tables/fct_daily_weather",
}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def project(env_project):
    """The demo's jobs (tools/demo.py's create_jobs, as `demo.py --days 0` makes them) in the
    module's copy of the set-up project."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(REPO / "samples"))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        create_jobs(env_project, f"http://127.0.0.1:{server.server_address[1]}")
        yield env_project
    finally:
        just(env_project, "stop-all", check=False)
    server.shutdown()
    server.server_close()


def run_ids(project: Path) -> dict[str, str]:
    """run_id of every published partition, by dataset/partition."""
    out = {}
    for meta in (project / "datastore").glob("*/*/ds=*/_dsflow.json"):
        key = str(meta.parent.relative_to(project / "datastore"))
        out[key] = json.loads(meta.read_text())["run_id"]
    return out


def datastore_bytes(project: Path) -> dict[str, bytes]:
    root = project / "datastore"
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_graph_orders_the_demo_jobs(project):
    out = just(project, "graph").stdout
    order = [line.split()[0] for line in out.splitlines() if line and not line.startswith(" ")]
    assert order == JOBS
    assert "    after:  create-table-dim-stations, create-table-fct-observations" in out
    mermaid = just(project, "graph", "format=mermaid").stdout
    assert mermaid.startswith("flowchart LR\n")
    assert "    create_table_fct_observations --> create_table_fct_daily_weather" in mermaid


def test_pipeline_for_one_day(project):
    """With no Spark running (not even the test session's shared one), a pipeline starts the
    project's server for itself and stops it at the end."""
    result = just(project, "pipeline", "ds=2024-01-01", env=own_spark_env())
    assert "starting a Spark Connect server for this run (stopped at the end)" in result.stdout
    assert (
        "done in" in result.stdout
        and "5 published, 0 up to date, 0 failed, 0 blocked" in result.stdout
    )
    for dataset in DATASETS.values():
        assert (project / f"datastore/{dataset}/ds=2024-01-01/_SUCCESS").is_file()
    assert "no services running" in just(project, "services").stdout  # the server was stopped


def test_backfill_a_week_in_parallel_skips_what_is_done(project):
    result = just(project, "backfill", "start=2024-01-01", "end=2024-01-07", "parallel=2")
    out = result.stdout
    assert "30 runs to do, 5 partitions up to date; parallel=2" in out
    assert "  create-table-fct-daily-weather ds=2024-01-07: missing" in out
    assert "[30/30] ok 30, failed 0, blocked 0, running 0" in out
    assert "30 published, 5 up to date, 0 failed, 0 blocked" in out
    for day in WEEK:
        table = pq.read_table(project / f"datastore/tables/fct_daily_weather/ds={day}")
        assert table.num_rows == 3 and set(table["observations"].to_pylist()) == {24}
    again = just(project, "backfill", "start=2024-01-01", "end=2024-01-07").stdout
    assert "0 runs to do, 35 partitions up to date" in again


def test_deleted_partition_reruns_with_exactly_its_downstream(project):
    shutil.rmtree(project / "datastore/tables/fct_observations/ds=2024-01-04")
    before_ids = run_ids(project)
    before = datastore_bytes(project)
    plan = just(project, "backfill", "start=2024-01-01", "end=2024-01-07", "dry-run=true").stdout
    assert "dry run: nothing was run or written" in plan
    assert "plan: 2 to run, 33 up to date" in plan
    assert "  create-table-fct-observations ds=2024-01-04   run   (missing)" in plan
    assert (
        "  create-table-fct-daily-weather ds=2024-01-04  run   "
        "(upstream create-table-fct-observations ds=2024-01-04 reruns)"
    ) in plan
    assert datastore_bytes(project) == before  # dry-run wrote nothing
    just(project, "backfill", "start=2024-01-01", "end=2024-01-07")
    after_ids = run_ids(project)
    changed = sorted(k for k in after_ids if after_ids[k] != before_ids.get(k))
    assert changed == [
        "tables/fct_daily_weather/ds=2024-01-04",
        "tables/fct_observations/ds=2024-01-04",
    ]


def test_status_grid_and_json(project):
    grid = just(project, "status", "start=2024-01-01", "end=2024-01-08").stdout
    assert "tables/fct_daily_weather  #######.  7 complete, 1 missing" in grid
    data = json.loads(
        just(project, "status", "start=2024-01-07", "end=2024-01-08", "format=json").stdout
    )
    cells = data["datasets"]["tables/fct_observations"]["partitions"]
    assert cells == {"ds=2024-01-07": {"state": "complete"}, "ds=2024-01-08": {"state": "missing"}}


def test_a_failure_stops_its_downstream_only(project):
    """Observations fail on one day; the stations branch (edited too, so it reruns) is not
    held back, and only the day's daily weather, downstream of the failure, is blocked."""
    notebook = project / "jobs/create-table-fct-observations/notebook.py"
    stations = project / "jobs/create-table-dim-stations/notebook.py"
    originals = {notebook: notebook.read_text(), stations: stations.read_text()}
    notebook.write_text(
        originals[notebook].replace(
            "df.printSchema()",
            'df.printSchema()\nif ds == "2024-01-06":\n    raise ValueError("no observations today")',
            1,
        )
    )
    stations.write_text(originals[stations] + "\n# reviewed\n")
    kept = datastore_bytes(project)
    try:
        result = just(
            project, "backfill", "start=2024-01-05", "end=2024-01-07", "parallel=2", check=False
        )
        status = json.loads(
            just(project, "status", "start=2024-01-05", "end=2024-01-07", "format=json").stdout
        )
    finally:
        for path, text in originals.items():
            path.write_text(text)
    assert result.returncode == 1
    out = result.stdout
    assert "  create-table-fct-observations ds=2024-01-05: code changed" in out
    assert "  create-table-dim-stations ds=2024-01-07: code changed" in out
    assert "7 published, 6 up to date, 1 failed, 1 blocked" in out
    assert (
        "  FAILED  create-table-fct-observations ds=2024-01-06: create-table-fct-observations ds=2024-01-06 failed: cell"
        in out
    )
    assert "raised ValueError: no observations today" in out
    assert (
        "  BLOCKED create-table-fct-daily-weather ds=2024-01-06: "
        "upstream create-table-fct-observations ds=2024-01-06 did not publish"
    ) in out
    # the failed partition and its downstream kept their previous files
    now = datastore_bytes(project)
    for dataset in ("tables/fct_observations", "tables/fct_daily_weather"):
        old = {k: v for k, v in kept.items() if k.startswith(f"{dataset}/ds=2024-01-06/")}
        assert old and all(now[k] == v for k, v in old.items())
    assert (
        now["tables/dim_stations/ds=2024-01-07/_dsflow.json"]
        != kept["tables/dim_stations/ds=2024-01-07/_dsflow.json"]
    )
    cells = status["datasets"]["tables/fct_observations"]["partitions"]
    assert cells["ds=2024-01-06"]["state"] == "failed"
    assert cells["ds=2024-01-05"] == {"state": "complete"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["start=2024-01-05", "end=2024-01-01"], "start 2024-01-05 is after end 2024-01-01"),
        (
            ["start=2000-01-01", "end=2030-01-01"],
            "2000-01-01..2030-01-01 is 10959 daily partitions for job download-meteo-json: confirm with confirm=true, or narrow the range",
        ),
        (
            ["start=2024-01-01", "end=2024-01-02", "job=nope"],
            "unknown job 'nope' in job=nope (pipeline jobs: create-table-dim-stations, create-table-fct-daily-weather, create-table-fct-observations, download-meteo-json, download-stations)",
        ),
        (
            ["start=2024-01-01"],
            "usage: just backfill start=YYYY-MM-DD end=YYYY-MM-DD (end included) [job=X] [parallel=N] [force=true] [dry-run=true] [verbose=true]",
        ),
        (
            ["start=2024-01-01", "end=2024-01-02", "parallel=0"],
            "parallel must be a positive number, not '0'",
        ),
    ],
)
def test_backfill_bad_input(project, args, message):
    result = just(project, "backfill", *args, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == f"dsflow: error: {message}"


def test_a_cycle_is_named(project):
    for name, reads, writes in [("loop-a", "t_b", "t_a"), ("loop-b", "t_a", "t_b")]:
        folder = project / "jobs" / name
        folder.mkdir()
        (folder / "run.py").write_text("")
        (folder / "job_specs.yaml").write_text(
            f"job_name: {name}\nclass: command-line\nscript: run.py\n"
            f"inputs:\n  - table: {reads}\noutputs:\n  - table: {writes}\n"
        )
    try:
        result = just(project, "graph", check=False)
    finally:
        shutil.rmtree(project / "jobs/loop-a")
        shutil.rmtree(project / "jobs/loop-b")
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "dsflow: error: the jobs form a cycle: loop-a -> loop-b -> loop-a"
    )


# ------------------------------------------------------------------ Airflow


def test_dag_generation_is_idempotent_and_leaves_hand_written_dags(project):
    hand = project / "airflow/dags/my_own.py"
    hand.write_text("# my DAG\n")
    first = just(project, "dag").stdout
    dag = project / "airflow/dags/dsflow_my_dsflow_project_daily.py"
    assert f"wrote {dag}" in first
    text = dag.read_text()
    assert "from airflow.sdk import DAG, CronDataIntervalTimetable" in text
    assert "from airflow.providers.standard.operators.bash import BashOperator" in text
    assert "bash_command=RUN + ' job=create-table-fct-daily-weather ds={{ ds }}'" in text
    assert str(project) not in text  # the same file serves the compose stack's /project
    assert "    t_create_table_fct_observations >> t_create_table_fct_daily_weather" in text
    assert "catchup=False" in text and 'os.environ.get("DSFLOW_AIRFLOW_RETRIES", "2")' in text
    second = just(project, "dag").stdout
    assert f"unchanged {dag}" in second and dag.read_text() == text
    assert hand.read_text() == "# my DAG\n"
    hand.unlink()


def test_dag_without_jobs(golden_project, tmp_path):
    empty = copy_project(golden_project, tmp_path / "empty")  # this module's project has jobs
    result = just(empty, "dag", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "dsflow: error: no jobs to schedule: create one with `just new-job`, then `just dag`"
    )


def test_airflow_parses_the_generated_dags_and_rejects_a_broken_one(project):
    just(project, "dag")
    ok = just(project, "airflow-cli", "dags", "list-import-errors", "--local", check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = project / "airflow/dags/broken.py"
    broken.write_text('from airflow.sdk import DAG\nwith DAG(dag_id="broken" as dag:\n    pass\n')
    try:
        bad = just(project, "airflow-cli", "dags", "list-import-errors", "--local", check=False)
    finally:
        broken.unlink()
    assert bad.returncode == 1
    assert "broken.py" in bad.stdout and "SyntaxError" in bad.stdout


def test_dag_tasks_run_dsflow_run_from_env(project, tmp_path):
    """The compose stack's Airflow image sets DSFLOW_RUN to its own `python -m dsflow run`
    (no Docker engine here to run it): `airflow tasks test` runs the task's command with
    DSFLOW_RUN in place of `.venv/bin/just run`, from the project root."""
    just(project, "dag")
    calls = tmp_path / "calls"  # Airflow 3 keeps a task's output in its log, not on stdout
    fake = tmp_path / "fake-run"
    fake.write_text(f'#!/bin/sh\necho "$(pwd): $*" >> {calls}\n')
    fake.chmod(0o755)
    result = just(
        project,
        "airflow-cli",
        "tasks",
        "test",
        "dsflow_my_dsflow_project_daily",
        "create-table-fct-observations",
        "2024-01-07",
        check=False,
        env={**os.environ, "DSFLOW_RUN": str(fake)},
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    # the root is found from the DAG file's place; ds is the day the data interval covers
    assert calls.read_text() == (
        f"{project.resolve()}: job=create-table-fct-observations ds=2024-01-07\n"
    )


def _api(url: str, token: str | None = None, body: dict | None = None, method: str = "GET"):
    """JSON in and out of Airflow's REST API."""
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def _env_value(project: Path, key: str) -> str:
    return read_env(project / ".env")[key]


def test_the_scheduler_runs_the_dags_on_postgres_on_other_ports(project):
    """`just airflow` on PostgreSQL (`airflow: database: postgres`: the project's own cluster,
    started with it, Debian's binaries), with every port moved off the defaults (the API, both
    log servers, the database): its workers report to the project's API (they used the default
    8080 and ran nothing), the log servers listen where dsflow.yml says, the API is healthy,
    and the runs are rows of PostgreSQL's dag_run table. A run of the
    daily DAG triggered through the REST API (token login) for 2024-01-07, and the catch-up
    run unpausing it starts (`airflow:` catchup from 2024-01-06 to 2024-01-07: 06, 07 being
    there already), are run by the scheduler to success, every task of each; each day's
    partitions are published anew with their reports. (A run past `end_date` would "succeed"
    with no task at all: hence the task count.)
    `just stop-all` then leaves no process of Airflow's group behind."""
    settings = project / "dsflow.yml"
    original = settings.read_text()
    shift_ports(project, 7)
    text = settings.read_text()
    for old, new in [
        ("start_date: 2024-01-01", "start_date: 2024-01-06"),
        ('end_date: ""', "end_date: 2024-01-07"),
        ("catchup: false", "catchup: true"),
        ("database: sqlite", "database: postgres"),
    ]:
        assert old in text
        text = text.replace(old, new)
    settings.write_text(text)
    days = ["2024-01-06", "2024-01-07"]
    for day in days:
        for dataset in DATASETS.values():
            shutil.rmtree(project / f"datastore/{dataset}/ds={day}", ignore_errors=True)
    password = _env_value(project, "AIRFLOW_ADMIN_PASSWORD")
    began = time.time()
    try:
        just(project, "dag")
        out = just(project, "airflow", env={**os.environ, "DSFLOW_AIRFLOW_RETRIES": "0"}).stdout
        record = json.loads((project / ".dsflow/services/airflow.json").read_text())
        url = f"http://127.0.0.1:{port('airflow') + 7}"
        assert f"airflow: {url}/  user admin, password {password}" in out
        health = _api(f"{url}/api/v2/monitor/health")
        assert health["metadatabase"]["status"] == health["scheduler"]["status"] == "healthy"
        for name in ("airflow_worker_logs", "airflow_trigger_logs"):
            assert listening(port(name) + 7), name
        token = _api(f"{url}/auth/token", body={"username": "admin", "password": password},
                     method="POST")["access_token"]  # fmt: skip
        dag = f"{url}/api/v2/dags/dsflow_my_dsflow_project_daily"
        assert _api(dag, token)["is_paused"]  # as Airflow creates every DAG
        _api(f"{dag}/dagRuns", token, {"logical_date": "2024-01-07T00:00:00Z"}, "POST")
        _api(dag, token, {"is_paused": False}, "PATCH")
        deadline = time.monotonic() + 300
        while True:
            listed = _api(f"{dag}/dagRuns?limit=20", token)["dag_runs"]
            runs = {r["logical_date"][:10]: r["state"] for r in listed}
            assert "failed" not in runs.values(), runs
            if sorted(runs) == days and set(runs.values()) == {"success"}:
                break
            assert time.monotonic() < deadline, runs
            time.sleep(2)
        for run in listed:
            tasks = _api(f"{dag}/dagRuns/{run['dag_run_id']}/taskInstances", token)
            states = {t["task_id"]: t["state"] for t in tasks["task_instances"]}
            assert states == dict.fromkeys(DATASETS, "success"), (run["logical_date"], states)
        database = json.loads((project / ".dsflow/services/airflow-db.json").read_text())
        assert database["url"] == f"postgresql://airflow@127.0.0.1:{port('airflow_db') + 7}/airflow"
        rows = subprocess.run(
            ["psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(port("airflow_db") + 7),
             "-U", "airflow", "-d", "airflow", "-c",
             "SELECT logical_date::date, state FROM dag_run ORDER BY 1"],
            env={**os.environ, "PGPASSWORD": _env_value(project, "AIRFLOW_DB_PASSWORD")},
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        assert rows == [f"{day}|success" for day in days]
    finally:
        stopped = just(project, "stop-all").stdout
        settings.write_text(original)
        just(project, "dag")
    assert stopped.strip() == "stopped: airflow, airflow-db"  # Airflow first, then its database
    for pid in (record["pid"], database["pid"]):  # ended (init may not have reaped them yet)
        assert not group_running(pid)
    for day in days:
        for job, dataset in DATASETS.items():
            assert (project / f"datastore/{dataset}/ds={day}/_SUCCESS").is_file(), (job, day)
            run = json.loads((project / f"datastore/job_runs/{job}/ds={day}/run.json").read_text())
            assert run["status"] == "success" and run["started_at"] >= _iso(began), (job, day)
            if not job.startswith("download"):  # a notebook's report
                assert Path(run["report"]).is_file(), (job, day)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


WEEKLY_SQL = """\
SELECT station, city, SUM(observations) AS observations,
       MAX(max_temperature_c) AS max_temperature_c, COUNT(*) AS days
FROM fct_daily_weather
GROUP BY station, city
"""


def test_airflow_runs_a_weekly_rollup_once_its_days_exist(project):
    """A weekly rollup of the daily fct_daily_weather (a job of another grain, so another DAG)
    starts with a sensor: `run ... check-inputs=true` exits 75 while a day of its week is
    missing (the sensor pokes again) and 0 once all seven are published. `airflow dags test`
    then runs the sensor and the job for the week of 2024-01-01; the week's values equal
    pandas over the seven daily partitions. Runs last: it adds a job to the demo project."""
    just(
        project,
        "backfill",
        "start=2024-01-01",
        "end=2024-01-07",
        "job=+create-table-fct-daily-weather",
    )
    just(
        project, "new-job", "create_table_from_sql", "fct_weekly_weather",
        "source_table=fct_daily_weather", "grain=weekly",
    )  # fmt: skip
    job = "create-table-fct-weekly-weather"
    (project / f"jobs/{job}/query.sql").write_text(WEEKLY_SQL)
    waiting = just(project, "run", f"job={job}", "ds=2024-01-08", "check-inputs=true", check=False)
    assert waiting.returncode == 75
    assert waiting.stderr.strip() == (
        "dsflow: inputs not ready: missing upstream partition "
        "tables/fct_daily_weather/ds=2024-01-08 and 6 more of ds=2024-01-08; run them first: "
        "just backfill job=create-table-fct-daily-weather start=2024-01-08 end=2024-01-14"
    )
    ready = just(project, "run", f"job={job}", "ds=2024-01-01", "check-inputs=true")
    assert ready.stdout.strip() == f"inputs ready: {job} ds=2024-01-01"
    just(project, "dag")
    source = (project / "airflow/dags/dsflow_my_dsflow_project_weekly.py").read_text()
    assert "task_id='inputs_create-table-fct-weekly-weather'" in source
    result = just(
        project, "airflow-cli", "dags", "test", "dsflow_my_dsflow_project_weekly",
        "2024-01-01", check=False,
    )  # fmt: skip
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    week = project / "datastore/tables/fct_weekly_weather/ds=2024-01-01"
    assert (week / "_SUCCESS").is_file()
    got = pq.read_table(week).to_pandas().sort_values("station").reset_index(drop=True)
    days = [
        pq.read_table(project / f"datastore/tables/fct_daily_weather/ds={d}").to_pandas()
        for d in WEEK
    ]
    import pandas as pd

    daily = pd.concat(days)
    want = (
        daily.groupby(["station", "city"])
        .agg(
            observations=("observations", "sum"),
            max_temperature_c=("max_temperature_c", "max"),
            days=("station", "size"),
        )
        .reset_index()
        .sort_values("station")
        .reset_index(drop=True)
    )
    assert got["station"].tolist() == want["station"].tolist()
    assert got["days"].tolist() == [7] * len(want)
    assert got["observations"].tolist() == want["observations"].tolist()
    assert got["max_temperature_c"].tolist() == pytest.approx(want["max_temperature_c"].tolist())
