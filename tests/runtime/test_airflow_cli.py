"""`just airflow-cli ...` before the Airflow service ever ran: `dags list` and
`dags list-import-errors` parse the DAG files, the other commands that read DAGs from Airflow's
database get them written there first (once per change of the files), and `dags test` runs with
the generated DAGs' retries off.

A fake ``airflow`` (a shell script recording its arguments and DSFLOW_AIRFLOW_RETRIES) stands in
for the real one, installed and migrated as far as :mod:`dsflow.airflow_env` can tell; real
Airflow runs these in tests/test_pipelines.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from dsflow import airflow_env, services
from dsflow.errors import DsflowError
from dsflow.project import find_project

FAKE = """#!/bin/sh
echo "$* retries=${DSFLOW_AIRFLOW_RETRIES-unset}" >> "$(dirname "$0")/calls"
"""
SYNCING = "reading airflow/dags/ into Airflow's database (airflow dags reserialize, ~5 s)...\n"


@pytest.fixture
def airflow(project_root: Path) -> Path:
    """The project's Airflow environment, a fake ``airflow`` in it; returns its calls file."""
    venv_bin = project_root / ".airflow/venv/bin"
    venv_bin.mkdir(parents=True)
    exe = venv_bin / "airflow"
    exe.write_text(FAKE)
    exe.chmod(0o755)
    # installed (compiled) with no requirements file
    (project_root / ".airflow/venv/.dsflow-requirements").write_text(airflow_env.COMPILED)
    home = project_root / ".airflow/home"
    home.mkdir(parents=True)
    (home / ".dsflow-migrated").write_text("migrated\n")
    dags = project_root / "airflow/dags"
    dags.mkdir(parents=True)
    (dags / "dsflow_demo_daily.py").write_text("# a DAG\n")
    return venv_bin / "calls"


def run(root: Path, *args: str) -> int:
    return airflow_env.run_airflow(find_project(root), list(args))


def calls(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_dags_list_parses_the_dag_files_while_the_service_is_not_running(
    project_root, airflow, capsys
):
    assert run(project_root, "dags", "list") == 0
    assert run(project_root, "dags", "list-import-errors", "-o", "json") == 0
    assert run(project_root, "dags", "list", "-l") == 0  # already local: as given
    assert calls(airflow) == [
        "dags list --local retries=unset",
        "dags list-import-errors -o json --local retries=unset",
        "dags list -l retries=unset",
    ]
    assert capsys.readouterr().err == ""


def test_dags_list_reads_the_database_of_a_running_service(project_root, airflow, monkeypatch):
    monkeypatch.setattr(services, "get", lambda project, name: object())
    run(project_root, "dags", "list")
    run(project_root, "dags", "details", "dsflow_demo_daily")
    assert calls(airflow) == [
        "dags list retries=unset",
        "dags details dsflow_demo_daily retries=unset",
    ]


def test_other_commands_get_the_dags_written_to_the_database_once_per_change(
    project_root, airflow, capsys
):
    run(project_root, "dags", "details", "dsflow_demo_daily")
    run(project_root, "tasks", "states-for-dag-run", "dsflow_demo_daily", "r1")
    assert capsys.readouterr().err == SYNCING
    dag = project_root / "airflow/dags/dsflow_demo_daily.py"
    dag.write_text("# a DAG, regenerated\n")
    run(project_root, "dags", "next-execution", "dsflow_demo_daily")
    run(project_root, "version")
    run(project_root, "dags", "details", "--help")
    assert capsys.readouterr().err == SYNCING
    assert calls(airflow) == [
        "dags reserialize retries=unset",
        "dags details dsflow_demo_daily retries=unset",
        "tasks states-for-dag-run dsflow_demo_daily r1 retries=unset",
        "dags reserialize retries=unset",
        "dags next-execution dsflow_demo_daily retries=unset",
        "version retries=unset",
        "dags details --help retries=unset",
    ]


def test_dags_test_runs_with_retries_off(project_root, airflow, monkeypatch):
    """And writes its DAGs (parsed with retries off) to the database: the next command that
    reads them from there writes them again as they are."""
    monkeypatch.delenv("DSFLOW_AIRFLOW_RETRIES", raising=False)
    run(project_root, "dags", "details", "dsflow_demo_daily")
    run(project_root, "dags", "test", "dsflow_demo_daily", "2024-01-07")
    assert "DSFLOW_AIRFLOW_RETRIES" not in os.environ  # set for Airflow's process only
    monkeypatch.setenv("DSFLOW_AIRFLOW_RETRIES", "1")  # the user's choice wins
    run(project_root, "dags", "test", "dsflow_demo_daily", "2024-01-07")
    run(project_root, "dags", "details", "dsflow_demo_daily")
    assert calls(airflow) == [
        "dags reserialize retries=unset",
        "dags details dsflow_demo_daily retries=unset",
        "dags test dsflow_demo_daily 2024-01-07 retries=0",
        "dags test dsflow_demo_daily 2024-01-07 retries=1",
        "dags reserialize retries=1",
        "dags details dsflow_demo_daily retries=1",
    ]


def test_a_failed_reserialize_is_a_warning_and_the_command_still_runs(
    project_root, airflow, capsys
):
    exe = project_root / ".airflow/venv/bin/airflow"
    exe.write_text(
        FAKE + 'if [ "$2" = reserialize ]; then echo "ValueError: bad" >&2; exit 1; fi\n'
    )
    assert run(project_root, "dags", "details", "dsflow_demo_daily") == 0
    assert capsys.readouterr().err == SYNCING + (
        "dsflow: warning: airflow dags reserialize failed (ValueError: bad): what Airflow shows "
        "may be out of date; `just airflow-cli dags list-import-errors --local` checks the DAG "
        "files\n"
    )
    run(project_root, "dags", "details", "dsflow_demo_daily")  # tried again: nothing was written
    assert [c for c in calls(airflow) if "reserialize" in c] == [
        "dags reserialize retries=unset"
    ] * 2


@pytest.mark.parametrize(
    ("name", "server"),
    [("airflow_worker_logs", "task log server"), ("airflow_trigger_logs", "triggerer log server")],
)
def test_a_taken_log_server_port_is_refused_before_anything_starts(
    project_root: Path, monkeypatch: pytest.MonkeyPatch, name: str, server: str
) -> None:
    """`just airflow` with a log server's port taken (by anything, on any interface): one line
    naming the setting; no Airflow installed, started or written."""
    import socket

    installs: list[Path] = []
    monkeypatch.setattr(airflow_env, "ensure_airflow", lambda project: installs.append(project))
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        settings = project_root / "dsflow.yml"
        settings.write_text(settings.read_text() + f"ports:\n  {name}: {busy}\n")
        with pytest.raises(DsflowError) as refused:
            airflow_env.start_airflow(find_project(project_root))
    assert str(refused.value) == (
        f"port {busy} on this machine is already in use (Airflow's {server}); "
        f"set ports.{name} in dsflow.yml to a free port"
    )
    assert installs == []
    assert not (project_root / ".dsflow").exists() and not (project_root / ".env").exists()
