"""Airflow's metadata database: SQLite (the default) or a private PostgreSQL.

With ``airflow: database: postgres`` in ``dsflow.yml``, Airflow runs on a PostgreSQL cluster
of the project's own: Debian's ``postgresql`` binaries, data in ``.airflow/postgres``, served on
127.0.0.1 at ``ports.airflow_db`` as the background service ``airflow-db``. It starts with
``just airflow`` or ``just airflow-db`` and stops with ``just stop-all`` (after Airflow).
Airflow then schedules with its LocalExecutor on a database made for many writers, as in
production; superuser ``airflow``, password ``AIRFLOW_DB_PASSWORD`` from ``.env``.

PostgreSQL refuses to run as root. Run by root (CI, a container), it runs in a user namespace
as ``nobody`` (``unshare --user``): its files stay root's, so a project in a private (0700)
folder works too.
"""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
import subprocess
from pathlib import Path

from . import services
from .envfile import project_secret
from .errors import DsflowError
from .project import Project
from .settings import load_settings

NAME = "airflow-db"
USER = "airflow"  # the cluster's superuser, owner of the database of the same name
PASSWORD_KEY = "AIRFLOW_DB_PASSWORD"
# `unshare` maps root to this user inside the namespace (initdb needs a user that exists)
NOBODY = "65534"


def data_dir(project: Project) -> Path:
    """The PostgreSQL cluster's data folder."""
    return project.root / ".airflow" / "postgres"


def uses_postgres(project: Project) -> bool:
    """True when ``dsflow.yml`` puts Airflow on PostgreSQL."""
    return load_settings(project).airflow.database == "postgres"


def database_url(project: Project) -> str:
    """The SQLAlchemy URL of Airflow's database (the password is in it for PostgreSQL)."""
    settings = load_settings(project)
    if settings.airflow.database != "postgres":
        return f"sqlite:///{project.root / '.airflow' / 'home' / 'airflow.db'}"
    port = settings.port("airflow_db")
    return f"postgresql+psycopg2://{USER}:{_password(project)}@127.0.0.1:{port}/{USER}"


def state_folder(project: Project) -> Path:
    """Where stamps about the database's contents live: beside the data, so they go with it."""
    if uses_postgres(project):
        return data_dir(project)
    return project.root / ".airflow" / "home"


def ensure_running(project: Project) -> None:
    """Create and start the project's PostgreSQL when Airflow uses it and it is not running."""
    if uses_postgres(project):
        start(project, if_running="keep")


def start(project: Project, if_running: str = "refuse") -> services.Service:
    """Start the project's PostgreSQL (creating its cluster and database on first use).

    Two commands starting it at once are serialised: the second finds it running, and
    ``if_running="keep"`` returns it instead of refusing.
    """
    settings = load_settings(project)
    if settings.airflow.database != "postgres":
        raise DsflowError(
            "Airflow uses SQLite here: set airflow: database: postgres in dsflow.yml first"
        )
    folder = services.state_dir(project)
    folder.mkdir(parents=True, exist_ok=True)
    # not services.start's own lock: initdb runs before it, and must not run twice at once
    with (folder / f"{NAME}.start.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        running = services.get(project, NAME)
        if running and if_running == "keep":
            return running
        return _start(project, settings.port("airflow_db"))


def _start(project: Project, port: int) -> services.Service:
    data = data_dir(project)
    binaries = _binaries(data)
    prefix = _as_non_root()
    if not (data / "PG_VERSION").is_file():
        _initdb(project, binaries, data, prefix)
    service = services.start(
        project,
        NAME,
        [
            *prefix,
            str(binaries / "postgres"),
            "-D",
            str(data),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"port={port}",
            "-c",
            "unix_socket_directories=",  # TCP only: a socket path could exceed its 107 bytes
            "-c",
            "synchronous_commit=off",  # a crash loses the last commits, never consistency
        ],
        port=port,
        url=f"postgresql://{USER}@127.0.0.1:{port}/{USER}",
        port_setting="set ports.airflow_db in dsflow.yml to a free port",
        ready=lambda: _accepts(binaries, port),
        timeout=60,
        announce=f"starting PostgreSQL for Airflow on 127.0.0.1:{port}...",
        stop_signal="SIGINT",  # "fast" shutdown; SIGTERM would wait for clients to leave
        stop_last=True,  # Airflow writes to it as it stops
    )
    try:  # also after a first start killed between initdb and here
        query = f"SELECT 1 FROM pg_database WHERE datname = '{USER}'"
        if _sql(project, binaries, port, query) != "1":
            _sql(project, binaries, port, f"CREATE DATABASE {USER} OWNER {USER}")
    except BaseException:
        services.stop(project, [NAME])
        raise
    return service


def _password(project: Project) -> str:
    return project_secret(project.root, PASSWORD_KEY)


def _binaries(data: Path) -> Path:
    """The folder of PostgreSQL's programs: ``$DSFLOW_PG_BIN``, else Debian's of the version
    the cluster in ``data`` was made with, else the newest Debian ``postgresql`` installed."""
    configured = os.environ.get("DSFLOW_PG_BIN")
    made_with = (data / "PG_VERSION").read_text().strip() if (data / "PG_VERSION").is_file() else ""
    installed = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_major, reverse=True)
    if configured:
        candidates = [configured]
    elif made_with:
        candidates = [f"/usr/lib/postgresql/{made_with}/bin"]
    else:
        candidates = installed
    for folder in candidates:
        if all((Path(folder) / p).is_file() for p in ("postgres", "initdb", "psql", "pg_isready")):
            return Path(folder)
    if made_with and not configured:
        raise DsflowError(
            f"Airflow's PostgreSQL cluster ({data}) was made by PostgreSQL {made_with}, which "
            f"is not installed: sudo apt-get install postgresql-{made_with}"
        )
    raise DsflowError(
        "PostgreSQL is not installed: sudo apt-get install postgresql (or set DSFLOW_PG_BIN "
        "to the folder of its postgres, initdb, psql and pg_isready)"
    )


def _major(folder: str) -> int:
    version = Path(folder).parent.name
    return int(version) if version.isdigit() else 0


def _as_non_root() -> list[str]:
    """The command prefix that runs PostgreSQL as a user other than root, if we are root."""
    if os.geteuid() != 0:
        return []
    prefix = ["unshare", "--user", f"--map-user={NOBODY}", f"--map-group={NOBODY}", "--"]
    if shutil.which("unshare") is None:
        reason = "unshare is missing: sudo apt-get install util-linux"
    else:
        probe = subprocess.run([*prefix, "true"], capture_output=True, text=True)
        if probe.returncode == 0:
            return prefix
        reason = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else "unshare failed"
    raise DsflowError(
        "PostgreSQL refuses to run as root, and running it as another user through a user "
        f"namespace failed ({reason}; --map-user needs util-linux 2.38); run dsflow as an "
        "ordinary user, or keep airflow: database: sqlite"
    )


def _initdb(project: Project, binaries: Path, data: Path, prefix: list[str]) -> None:
    data.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(data, ignore_errors=True)  # a half-made cluster from a killed first start
    secret = data.parent / ".postgres-password"
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(_password(project) + "\n")
    print("creating Airflow's PostgreSQL cluster (initdb, ~2 s)...", flush=True)
    try:
        result = subprocess.run(
            [*prefix, str(binaries / "initdb"), "-D", str(data), "-U", USER]
            + ["--auth=scram-sha-256", f"--pwfile={secret}", "-E", "UTF8", "--locale=C.UTF-8"]
            + ["--no-instructions"],
            capture_output=True,
            text=True,
        )
    finally:
        secret.unlink(missing_ok=True)
    if result.returncode:
        shutil.rmtree(data, ignore_errors=True)
        last = (result.stderr.strip().splitlines() or ["?"])[-1]
        raise DsflowError(f"initdb of Airflow's PostgreSQL failed: {last}")


def _accepts(binaries: Path, port: int) -> bool:
    """True once the server takes connections (not only listens: it may still start up)."""
    if not services.listening(port):
        return False
    ready = subprocess.run(
        [str(binaries / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)],
        capture_output=True,
    )
    return ready.returncode == 0


def _sql(project: Project, binaries: Path, port: int, sql: str) -> str:
    """Run ``sql`` as the superuser in the maintenance database; returns its output."""
    result = subprocess.run(
        [str(binaries / "psql"), "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(port)]
        + ["-U", USER, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql],
        env={**os.environ, "PGPASSWORD": _password(project)},
        capture_output=True,
        text=True,
    )
    if result.returncode:
        last = (result.stderr.strip().splitlines() or ["?"])[-1]
        raise DsflowError(f"setting up Airflow's PostgreSQL failed: {last}")
    return result.stdout.strip()
