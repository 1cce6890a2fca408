"""Airflow in its own environment (``.airflow/venv``), created on first use: its dependency
tree is large and must not constrain the jobs' environment.

``AIRFLOW_HOME`` is ``.airflow/home`` (logs, and the SQLite database unless Airflow runs on
PostgreSQL: :mod:`dsflow.airflow_db`); the DAG folder is the project's
``airflow/dags/``; nothing from Airflow's examples is loaded.

Airflow 3's CLI reads most of what it shows (``dags list``, ``dags details``, ``tasks
states-for-dag-run``, ...) from its database, where the service's DAG processor writes the
DAGs it parses. Before the service ever ran, or while it is stopped, that is empty or out of
date, so :func:`run_airflow` makes ``dags list`` and ``dags list-import-errors`` parse the DAG
files (their ``--local``), and writes the DAGs into the database (``airflow dags
reserialize``) before the other commands that read them from there, when the files changed
since it last did.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from . import airflow_db
from .errors import DsflowError
from .project import Project

REQUIREMENTS = "airflow/requirements.txt"
COMPILED = "\n# installed with --compile-bytecode\n"
# beside the database: the DAG folder's fingerprint when its DAGs were last written there
DAGS_STAMP = ".dsflow-dags"
# command groups whose commands read DAGs from the database; ``test`` and ``reserialize`` parse
# the DAG files themselves (and write them there)
DB_GROUPS = ("dags", "tasks", "assets", "backfill")
PARSING_COMMANDS = ("test", "reserialize")
# the commands that can parse the DAG files instead (``--local``): what they show then is the
# files as they are now, deleted ones and fixed import errors included
LOCAL_COMMANDS = (("dags", "list"), ("dags", "list-import-errors"))
HELP = {"-h", "--help"}


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
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_db.database_url(project),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
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
    airflow_db.ensure_running(project)
    stamp = airflow_db.state_folder(project) / ".dsflow-migrated"
    if not stamp.is_file():
        _progress("creating Airflow's database (airflow db migrate, ~15 s)...")
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
    # the stamp also says the environment was compiled: one installed before is compiled once
    wanted = (requirements.read_text() if requirements.is_file() else "") + COMPILED
    if exe.is_file() and stamp.is_file() and stamp.read_text() == wanted:
        return exe
    uv = shutil.which("uv")
    if not uv:
        raise DsflowError("uv not found: run `just setup` (it installs uv), then retry")
    if not requirements.is_file():
        raise DsflowError(f"{requirements} is missing: it pins the Airflow version")
    if exe.is_file():
        _progress(f"updating Airflow's environment {venv} (to {REQUIREMENTS}, compiled)...")
    else:
        _progress(f"installing Airflow into {venv} (first use; about a minute)...")
    for cmd in (
        [uv, "venv", "--quiet", "--allow-existing", str(venv)],
        [
            uv,
            "pip",
            "install",
            "--quiet",
            # every Airflow command, scheduler and task process imports ~3,000 modules: compiled
            # once here (~5 s), not again in each process where PYTHONDONTWRITEBYTECODE is set
            # (~3 s of CPU each)
            "--compile-bytecode",
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


def _progress(line: str) -> None:
    # stderr: what the Airflow command prints on stdout (``-o json``) stays parseable
    print(line, file=sys.stderr, flush=True)


def _command(args: list[str]) -> tuple[str, ...]:
    """The command group and command of ``airflow ARGS`` (``("dags", "list")``)."""
    return tuple(a for a in args if not a.startswith("-"))[:2]


def reads_dags_from_db(args: list[str]) -> bool:
    """True for an ``airflow ARGS`` that shows DAGs from Airflow's database (``dags list``,
    ``tasks states-for-dag-run``, ...), not one that parses the DAG files (``--local``,
    ``dags test``) or asks for help."""
    if {"--local", *HELP} & set(args):
        return False
    command = _command(args)
    if command in LOCAL_COMMANDS and "-l" in args:
        return False
    return len(command) == 2 and command[0] in DB_GROUPS and command[1] not in PARSING_COMMANDS


def without_service(args: list[str]) -> list[str]:
    """``airflow ARGS`` as run while the Airflow service is not running: ``dags list`` and
    ``dags list-import-errors`` parse the DAG files (``--local``), since no DAG processor keeps
    the database up to date."""
    if _command(args) in LOCAL_COMMANDS and reads_dags_from_db(args):
        return [*args, "--local"]
    return args


def _dags_fingerprint(folder: Path) -> str:
    entries = []
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        if path.is_file() and "__pycache__" not in path.parts:
            info = path.stat()
            entries.append(f"{path.relative_to(folder)}\0{info.st_size}\0{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()


def sync_dags(project: Project, exe: Path) -> None:
    """Write the DAG files of ``airflow/dags/`` into Airflow's database (``airflow dags
    reserialize``) when they changed since the last time (the Airflow service's DAG processor
    does it while the service runs). A failure is a warning: the command asked for still runs."""
    stamp = airflow_db.state_folder(project) / DAGS_STAMP
    fingerprint = _dags_fingerprint(project.root / "airflow" / "dags")
    if stamp.is_file() and stamp.read_text() == fingerprint:
        return
    _progress("reading airflow/dags/ into Airflow's database (airflow dags reserialize, ~5 s)...")
    result = subprocess.run(
        [str(exe), "dags", "reserialize"],
        cwd=project.root,
        env=airflow_env(project),
        capture_output=True,
        text=True,
    )
    if result.returncode:
        last = (result.stderr.strip().splitlines() or ["?"])[-1]
        print(
            f"dsflow: warning: airflow dags reserialize failed ({last}): what Airflow shows "
            "may be out of date; `just airflow-cli dags list-import-errors --local` checks "
            "the DAG files",
            file=sys.stderr,
        )
        return
    stamp.write_text(fingerprint)


def run_airflow(project: Project, args: list[str]) -> int:
    """Run ``airflow ARGS`` in the project's Airflow environment; returns its exit code.

    While the Airflow service is not running, ``dags list`` and ``dags list-import-errors``
    parse the DAG files (:func:`without_service`) and the other commands that read DAGs from
    the database get them written there first (:func:`sync_dags`). ``dags test`` runs with the
    generated DAGs' retries off (:data:`dsflow.dags.TEST_ENV`, unless the environment sets
    them)."""
    from . import services
    from .dags import TEST_ENV

    exe = ensure_airflow(project)
    env = airflow_env(project)
    if services.get(project, "airflow") is None:
        args = without_service(args)
        if reads_dags_from_db(args):
            sync_dags(project, exe)
    testing = _command(args) == ("dags", "test")
    if testing:
        env = {**TEST_ENV, **env}
    code = subprocess.run([str(exe), *args], cwd=project.root, env=env).returncode
    if testing:
        # it wrote the DAGs it parsed, retries off, into the database: write them again, as
        # they are, before a command shows them from there
        (airflow_db.state_folder(project) / DAGS_STAMP).unlink(missing_ok=True)
    return code


LOG_SERVER_PORTS = {  # dsflow.yml's ports: key -> which Airflow server listens there
    "airflow_worker_logs": "task log server",
    "airflow_trigger_logs": "triggerer log server",
}


def start_airflow(project: Project) -> tuple[Any, str]:
    """``airflow standalone`` (API server and UI, scheduler, DAG processor, triggerer) in the
    background, its API on 127.0.0.1; user ``admin`` with ``AIRFLOW_ADMIN_PASSWORD`` from .env.

    Its workers report to the API at ``ports.airflow`` (``AIRFLOW__API__BASE_URL`` and the
    execution API's URL: Airflow's defaults name its own default port, where another Airflow
    may listen).
    Airflow's log servers (``ports.airflow_worker_logs``, ``ports.airflow_trigger_logs``) bind
    every interface: Airflow has no setting for their address (``serve_logs`` binds ``""``),
    and confining them would need a network namespace that would also hide the API. They serve
    task logs to Airflow's own components only, behind its JWT secret; firewall those ports on
    shared machines. A port taken is refused before anything starts, with the setting to
    change; a log server that does not come up fails the start.
    """
    from . import services
    from .envfile import project_secret
    from .settings import load_settings

    settings = load_settings(project)  # ports first: nothing installed or started when taken
    port = settings.port("airflow")
    if services.get(project, "airflow") is None and not services.port_free(port):
        raise DsflowError(
            f"port {port} on 127.0.0.1 is already in use; set ports.airflow in dsflow.yml to "
            "a free port"
        )
    log_ports = {name: settings.port(name) for name in LOG_SERVER_PORTS}
    for name, log_port in log_ports.items():
        if not services.port_free(log_port, host=""):  # they bind every interface
            raise DsflowError(
                f"port {log_port} on this machine is already in use (Airflow's "
                f"{LOG_SERVER_PORTS[name]}); set ports.{name} in dsflow.yml to a free port"
            )
    exe = ensure_airflow(project)
    password = project_secret(project.root, "AIRFLOW_ADMIN_PASSWORD")
    home = airflow_dir(project) / "home"
    passwords = home / "passwords.json"
    fd = os.open(passwords, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"admin": password}, handle)
    base = f"http://127.0.0.1:{port}"
    env = {
        **airflow_env(project),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": base,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_ports["airflow_worker_logs"]),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(log_ports["airflow_trigger_logs"]),
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
    deadline = time.monotonic() + 30  # the log servers start beside the scheduler's health
    while not all(services.listening(p) for p in log_ports.values()):
        if time.monotonic() > deadline:
            services.stop(project, [service.name])
            down = [f"{LOG_SERVER_PORTS[n]} (port {p})" for n, p in log_ports.items()
                    if not services.listening(p)]  # fmt: skip
            raise DsflowError(
                f"Airflow started without its {' and '.join(down)}, so it was stopped: "
                f"see {service.log}"
            )
        time.sleep(0.25)
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
