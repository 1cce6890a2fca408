"""How a single `just run` of a notebook job gets its Spark and its kernel.

No Spark server running: the run starts the project's Spark Connect server
(``spark.server: auto``) and leaves a spare kernel for the next run; the next run takes it,
in the job's folder with the run's own environment and a fresh namespace; `just stop spark`
stops both; a server a run started stops itself after ``spark.idle_stop_minutes`` without a
run; ``spark.server: manual`` starts none. These tests are about cold starts, so they run
without the test session's shared server (``own_spark_env``). Speed is measured in
``bench/bench_run.py``, not here.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from conftest import git, just, own_spark_env, port
from dsflow.services import process_running

JOB = "create-table-warm"
DS = "2024-01-02"
PROBE = """

# %%
import os
print("cwd", os.getcwd())
print("mark", os.environ.get("DSFLOW_TEST_MARK"))
print("fresh", "leftover" not in globals())
leftover = 1
"""


@pytest.fixture(scope="module")
def project(env_project: Path):
    """env_project with a JSON-to-table notebook job (a probe cell appended) and its input."""
    env = own_spark_env()
    just(env_project, "stop-all", env=env)
    just(env_project, "new-job", "create_table_from_json", "warm", env=env)
    notebook = env_project / "jobs" / JOB / "notebook.py"
    notebook.write_text(notebook.read_text() + PROBE)
    raw = env_project / "datastore/raw/warm" / f"ds={DS}"
    raw.mkdir(parents=True)
    rows = [{"station": "a", "t": 1.5}, {"station": "b", "t": 2.5}, {"station": "a", "t": 3.0}]
    (raw / "obs.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (raw / "_SUCCESS").touch()
    git(env_project, "add", "-A")
    git(env_project, "commit", "-q", "-m", "warm job")
    settings = (env_project / "dsflow.yml").read_text()
    try:
        yield env_project
    finally:
        (env_project / "dsflow.yml").write_text(settings)
        just(env_project, "stop-all", env=env)
        git(env_project, "rm", "-rq", f"jobs/{JOB}")
        git(env_project, "commit", "-q", "-m", "remove warm job")
        git(env_project, "clean", "-qfdX", "--", "datastore")


def run(project: Path, **env: str):
    return just(project, "run", f"job={JOB}", f"ds={DS}", env={**own_spark_env(), **env})


def printed(project: Path) -> dict[str, str]:
    """The probe cell's lines in the last run's report notebook."""
    report = project / "datastore/job_runs" / JOB / f"ds={DS}" / "report.ipynb"
    cells = json.loads(report.read_text())["cells"]
    text = "".join(
        "".join(out.get("text", "")) for cell in cells for out in cell.get("outputs", [])
    )
    return dict(line.split(" ", 1) for line in text.splitlines() if line.split(" ")[0] in
                ("cwd", "mark", "fresh"))  # fmt: skip


def spare(project: Path, timeout: float = 90) -> dict:
    """The ready spare kernel's record, waited for."""
    path = project / ".dsflow/services/kernel-spare.json"
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, "no spare kernel appeared"
        time.sleep(0.2)
    return json.loads(path.read_text())


def gone(pid: int, timeout: float = 15) -> bool:
    """True once process ``pid`` has ended (a zombie has ended too), within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_running(pid):
            return True
        time.sleep(0.1)
    return False


def test_a_cold_run_starts_the_projects_server_and_leaves_a_spare_kernel(project):
    result = run(project)
    assert (
        "starting the project's Spark Connect server for this and later runs (it stops after "
        "30 min without a run, or with `just stop spark`)..."
    ) in result.stdout
    assert f"tables/warm/ds={DS} (3 rows)" in result.stdout
    import pyarrow.parquet as pq

    table = pq.read_table(project / "datastore/tables/warm" / f"ds={DS}")
    assert sorted(table.column("t").to_pylist()) == [1.5, 2.5, 3.0]  # as in the JSON above
    services = just(project, "services", env=own_spark_env()).stdout
    assert services.startswith("spark ") and f"sc://localhost:{port('spark')}" in services
    record = spare(project)
    assert Path(f"/proc/{record['pid']}").exists()


def test_the_next_run_takes_the_spare_in_the_jobs_folder_with_its_own_environment(project):
    first = spare(project)["pid"]
    run(project, DSFLOW_TEST_MARK="one")
    assert printed(project) == {
        "cwd": str(project.resolve() / "jobs" / JOB),
        "mark": "one",
        "fresh": "True",
    }
    assert gone(first), "the spare kernel that served the run is still running"
    second = spare(project)["pid"]
    assert second != first
    run(project, DSFLOW_TEST_MARK="two")  # again a fresh interpreter, with this run's variables
    assert printed(project)["mark"] == "two" and printed(project)["fresh"] == "True"
    assert gone(second)


def test_stop_spark_stops_the_spare_kernel_too(project):
    pid = spare(project)["pid"]
    assert just(project, "stop", "spark", env=own_spark_env()).stdout.strip() == "stopped: spark"
    assert gone(pid, timeout=5)
    assert not (project / ".dsflow/services/kernel-spare.json").exists()


def test_a_server_a_run_started_stops_itself_when_idle(project):
    settings = project / "dsflow.yml"
    text = settings.read_text()
    settings.write_text(text.replace("idle_stop_minutes: 30 ", "idle_stop_minutes: 0.1 ", 1))
    try:
        assert "(it stops after 0.1 min without a run" in run(project).stdout
        kernel = spare(project)["pid"]
        server = json.loads((project / ".dsflow/services/spark.json").read_text())["pid"]
        assert gone(server, timeout=60), "the idle server did not stop"
        assert gone(kernel)
        services = just(project, "services", env=own_spark_env()).stdout
        assert services.startswith("no services running")
    finally:
        settings.write_text(text)


def test_a_manual_server_setting_runs_on_a_local_spark(project):
    settings = project / "dsflow.yml"
    text = settings.read_text()
    settings.write_text(text.replace("server: auto ", "server: manual ", 1))
    try:
        result = run(project, DSFLOW_TEST_MARK="local")
        assert "starting the project's Spark" not in result.stdout
        assert f"tables/warm/ds={DS} (3 rows)" in result.stdout
        assert printed(project)["mark"] == "local"
        assert "no services running" in just(project, "services", env=own_spark_env()).stdout
    finally:
        settings.write_text(text)


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("server: always ", "spark.server must be auto or manual, not 'always'"),
        ("idle_stop_minutes: 0 ", "spark.idle_stop_minutes must be a positive number of minutes"),
        ("idle_stop_minutes: soon ", "spark.idle_stop_minutes must be a positive number"),
    ],
    ids=["unknown-server-mode", "zero-idle", "text-idle"],
)
def test_bad_spark_settings_are_refused(project, line, message):
    settings = project / "dsflow.yml"
    text = settings.read_text()
    key = line.split(":")[0]
    current = {"server": "server: auto ", "idle_stop_minutes": "idle_stop_minutes: 30 "}[key]
    assert current in text
    settings.write_text(text.replace(current, line, 1))
    try:
        result = just(project, "run", f"job={JOB}", f"ds={DS}", check=False, env=os.environ)
        assert result.returncode == 2
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    finally:
        settings.write_text(text)
