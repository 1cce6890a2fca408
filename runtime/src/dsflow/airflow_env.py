"""Airflow in its own environment (``.airflow/venv``), created on first use: its dependency
tree is large and must not constrain the jobs' environment.

``AIRFLOW_HOME`` is ``.airflow/home`` (a SQLite database, logs); the DAG folder is the project's
``airflow/dags/``; nothing from Airflow's examples is loaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

from .errors import DsflowError
from .project import Project

REQUIREMENTS = "airflow/requirements.txt"


def airflow_dir(project: Project) -> Path:
    return project.root / ".airflow"


def airflow_env(project: Project) -> dict[str, str]:
    """Environment variables every Airflow command of the project runs with."""
    home = airflow_dir(project) / "home"
    home.mkdir(parents=True, exist_ok=True)
    venv_bin = airflow_dir(project) / "venv" / "bin"
    return {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",  # standalone runs `airflow`
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(project.root / "airflow" / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__PARALLELISM": "4",
        # the CLI quiet unless asked (INFO shows each task's output in `dags test`)
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get(
            "AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"
        ),
    }


def ensure_airflow(project: Project) -> Path:
    """The ``airflow`` executable, installing Airflow with uv and creating its database first
    if needed."""
    exe = _install(project)
    stamp = airflow_dir(project) / "home" / ".dsflow-migrated"
    if not stamp.is_file():
        print("creating Airflow's database (airflow db migrate, ~15 s)...", flush=True)
        result = subprocess.run(
            [str(exe), "db", "migrate"], env=airflow_env(project), capture_output=True, text=True
        )
        if result.returncode:
            last = (result.stderr.strip().splitlines() or ["?"])[-1]
            raise DsflowError(f"airflow db migrate failed: {last}")
        stamp.write_text("migrated\n")
    return exe


def _install(project: Project) -> Path:
    venv = airflow_dir(project) / "venv"
    exe = venv / "bin" / "airflow"
    requirements = project.root / REQUIREMENTS
    stamp = venv / ".dsflow-requirements"
    wanted = requirements.read_text() if requirements.is_file() else ""
    if exe.is_file() and stamp.is_file() and stamp.read_text() == wanted:
        return exe
    uv = shutil.which("uv")
    if not uv:
        raise DsflowError("uv not found: run `just setup` (it installs uv), then retry")
    if not requirements.is_file():
        raise DsflowError(f"{requirements} is missing: it pins the Airflow version")
    print(f"installing Airflow into {venv} (first use; about a minute)...", flush=True)
    for cmd in (
        [uv, "venv", "--quiet", "--allow-existing", str(venv)],
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            "-r",
            str(requirements),
        ],
    ):
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode:
            last = (result.stderr.strip().splitlines() or ["?"])[-1]
            raise DsflowError(f"installing Airflow failed: {last}")
    stamp.write_text(wanted)
    return exe


def run_airflow(project: Project, args: list[str]) -> int:
    """Run ``airflow ARGS`` in the project's Airflow environment; returns its exit code."""
    exe = ensure_airflow(project)
    return subprocess.run([str(exe), *args], cwd=project.root, env=airflow_env(project)).returncode


def start_airflow(project: Project) -> tuple[Any, str]:
    """``airflow standalone`` (API server and UI, scheduler, DAG processor, triggerer) in the
    background, its API on 127.0.0.1; user ``admin`` with ``AIRFLOW_ADMIN_PASSWORD`` from .env.

    Airflow's log servers (worker 8793, triggerer 8794) bind every interface: Airflow has no
    setting for their address (``serve_logs`` binds ``""``), and confining them would need a
    network namespace that would also hide the API. They serve task logs to Airflow's own
    components only, behind its JWT secret; firewall those ports on shared machines.
    """
    from . import services
    from .envfile import ensure_secrets, read_env
    from .settings import load_settings

    exe = ensure_airflow(project)
    env_file = project.root / ".env"
    ensure_secrets(env_file)
    password = read_env(env_file)["AIRFLOW_ADMIN_PASSWORD"]
    home = airflow_dir(project) / "home"
    passwords = home / "passwords.json"
    fd = os.open(passwords, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"admin": password}, handle)
    port = load_settings(project).port("airflow")
    base = f"http://127.0.0.1:{port}"
    env = {
        **airflow_env(project),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "2",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",  # task logs in the UI keep the job's output
    }
    service = services.start(
        project,
        "airflow",
        [str(exe), "standalone"],
        port=port,
        url=base + "/",
        port_setting="set ports.airflow in dsflow.yml to a free port",
        env=env,
        ready=lambda: _healthy(base),
        timeout=180,
        announce="starting Airflow (API server, scheduler, DAG processor, triggerer; ~40 s)...",
    )
    return service, password


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/api/v2/monitor/health", timeout=2) as response:
            health = json.loads(response.read())
    except (OSError, ValueError):
        return False
    return all(
        health.get(part, {}).get("status") == "healthy" for part in ("metadatabase", "scheduler")
    )
