"""Airflow in its own environment (``.airflow/venv``), created on first use: its dependency
tree is large and must not constrain the jobs' environment.

``AIRFLOW_HOME`` is ``.airflow/home`` (a SQLite database, logs); the DAG folder is the project's
``airflow/dags/``; nothing from Airflow's examples is loaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .errors import DsflowError
from .project import Project

REQUIREMENTS = "airflow/requirements.txt"


def airflow_dir(project: Project) -> Path:
    return project.root / ".airflow"


def airflow_env(project: Project) -> dict[str, str]:
    """Environment variables every Airflow command of the project runs with."""
    home = airflow_dir(project) / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(project.root / "airflow" / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
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
