"""Project settings from ``dsflow.yml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from .errors import DsflowError
from .partitions import GRAINS
from .project import SETTINGS_FILE, Project

# The one place the services' default ports are written, for what ``ports:`` in dsflow.yml
# leaves out (the template writes them all there, so a project sees what it uses).
DEFAULT_PORTS = {
    "jupyter": 8888,
    "airflow": 8080,
    "explorer": 8049,
    "dash": 8050,  # the first one tried: each dashboard takes the next free port
    "spark": 15002,  # Spark Connect's own default
    "spark_master": 7077,  # `just cluster`: a standalone master (Spark's own default)
    "spark_master_ui": 8180,  # its web UI; worker N's is this + N (Spark's 8080 is Airflow's)
    "airflow_worker_logs": 8793,  # Airflow's task log server (its worker_log_server_port)
    "airflow_trigger_logs": 8794,  # Airflow's triggerer log server (trigger_log_server_port)
    "airflow_db": 5433,  # Airflow's PostgreSQL (airflow.database: postgres); 5432: the system's
}


# how partitions are published (dsflow.publish): an atomic folder exchange, the default; or
# no folder renamed, for a datastore on a filesystem that cannot (a bucket mount)
PUBLISH_MODES = ("swap", "success-last")


@dataclass(frozen=True)
class AirflowSettings:
    """``airflow:`` in dsflow.yml: which periods the generated DAGs schedule, and Airflow's
    database."""

    start_date: date = date(2024, 1, 1)  # the first period
    end_date: date | None = None  # the last period; None: no end
    catchup: bool = False  # True: an unpaused DAG runs every period since start_date it lacks
    database: str = "sqlite"  # Airflow's metadata database: sqlite | postgres (dsflow.airflow_db)


@dataclass(frozen=True)
class Settings:
    """The parts of dsflow.yml the runtime uses, with defaults for anything left out."""

    project: str
    datastore: Path
    datastore_publish: str = PUBLISH_MODES[0]  # one of PUBLISH_MODES
    default_grain: str = "daily"
    runner: str = "local"
    spark_master: str = "local[2]"
    spark_remote: str = ""
    # auto: a notebook run starts the project's Spark Connect server when none runs, and that
    # server stops after spark_idle_stop_minutes without a run; manual: only `just spark`
    spark_server: str = "auto"
    spark_idle_stop_minutes: float = 30.0
    ports: dict[str, int] = field(default_factory=dict)  # as dsflow.yml gives them
    airflow: AirflowSettings = field(default_factory=AirflowSettings)

    def port(self, service: str) -> int:
        """The port of ``service`` (a key of :data:`DEFAULT_PORTS`): dsflow.yml's, else the
        default."""
        return self.ports.get(service, DEFAULT_PORTS[service])


def load_settings(project: Project) -> Settings:
    """Read and check ``dsflow.yml`` of ``project``."""
    path = project.root / SETTINGS_FILE
    try:
        raw: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise DsflowError(f"{path}{where}: not valid YAML") from None
    except ValueError as exc:  # a date-like value that is no date: 2024-13-01
        raise DsflowError(
            f"{path}: not valid YAML: {exc} (quote a value that is no date)"
        ) from None
    if not isinstance(raw, dict):
        raise DsflowError(f"{path}: expected a mapping of settings (project, datastore, ...)")
    grain = raw.get("default_grain", "daily")
    if grain not in GRAINS:
        raise DsflowError(f"{path}: default_grain must be one of {', '.join(GRAINS)}")
    runner = raw.get("runner", "local")
    if runner not in ("local", "docker"):
        raise DsflowError(f"{path}: runner must be local or docker, not {runner!r}")
    datastore = datastore_path(path, project.root, raw.get("datastore", "datastore"))
    publish = raw.get("datastore_publish", PUBLISH_MODES[0])
    if publish not in PUBLISH_MODES:
        raise DsflowError(
            f"{path}: datastore_publish must be swap or success-last (a datastore on a "
            f"filesystem without atomic folder renames), not {publish!r}"
        )
    spark = raw.get("spark") or {}
    if not isinstance(spark, dict):
        raise DsflowError(f"{path}: spark must be a mapping (master:, remote:), not {spark!r}")
    server = spark.get("server", "auto")
    if server not in ("auto", "manual"):
        raise DsflowError(f"{path}: spark.server must be auto or manual, not {server!r}")
    idle = spark.get("idle_stop_minutes", 30)
    if isinstance(idle, bool) or not isinstance(idle, int | float) or idle <= 0:
        raise DsflowError(
            f"{path}: spark.idle_stop_minutes must be a positive number of minutes, not {idle!r}"
        )
    ports = raw.get("ports") or {}
    if not isinstance(ports, dict):
        raise DsflowError(f"{path}: ports must be a mapping of service: port, not {ports!r}")
    for name, value in ports.items():
        number = str(value).strip()
        if isinstance(value, bool) or not number.isdigit() or not 0 < int(number) < 65536:
            raise DsflowError(f"{path}: ports.{name} must be a port number, not {value!r}")
    return Settings(
        airflow=_airflow_settings(path, raw.get("airflow")),
        project=str(raw.get("project", project.root.name)),
        datastore=datastore,
        datastore_publish=publish,
        default_grain=grain,
        runner=runner,
        spark_master=str(spark.get("master", "local[2]")),
        spark_remote=str(spark.get("remote") or ""),
        spark_server=server,
        spark_idle_stop_minutes=float(idle),
        ports={str(k): int(v) for k, v in ports.items()},
    )


def datastore_path(settings_file: Path, root: Path, value: Any) -> Path:
    """``datastore:`` as a folder: a path (relative to the project ``root``) or a ``file://``
    URI. Another scheme (``s3a://``, ``gs://``, ...) is refused, pointing at a mount of the
    bucket with ``datastore_publish: success-last`` (the README's "From laptop to cluster"):
    every reader and writer works on local paths, and taken as a path it would have been a
    local folder named ``s3a:``."""
    text = str(value or "").strip()
    scheme, sep, rest = text.partition("://")
    if sep and scheme.lower() == "file":
        if not rest.startswith("/"):
            raise DsflowError(f"{settings_file}: datastore {text!r}: a file:// URI is absolute")
        return Path(rest)
    if sep:
        raise DsflowError(
            f"{settings_file}: datastore {text!r}: a {scheme}:// datastore is not supported yet; "
            "mount the bucket (gcsfuse, s3fs) at the same path on every machine, give that "
            "folder, and set datastore_publish: success-last (it cannot rename folders)"
        )
    if not text:
        raise DsflowError(f"{settings_file}: datastore is empty: give a folder")
    folder = Path(text).expanduser()
    return folder if folder.is_absolute() else root / folder


def _airflow_settings(path: Path, raw: Any) -> AirflowSettings:
    if raw is None:
        return AirflowSettings()
    if not isinstance(raw, dict):
        raise DsflowError(
            f"{path}: airflow must be a mapping (start_date:, end_date:, catchup:, database:), "
            f"not {raw!r}"
        )
    start = _date(path, "start_date", raw.get("start_date", AirflowSettings.start_date))
    end = raw.get("end_date")
    end = None if end in (None, "") else _date(path, "end_date", end)
    if end is not None and end < start:
        raise DsflowError(f"{path}: airflow.end_date {end} is before airflow.start_date {start}")
    catchup = raw.get("catchup", False)
    if not isinstance(catchup, bool):
        raise DsflowError(f"{path}: airflow.catchup must be true or false, not {catchup!r}")
    database = raw.get("database") or "sqlite"
    if database not in ("sqlite", "postgres"):
        raise DsflowError(f"{path}: airflow.database must be sqlite or postgres, not {database!r}")
    return AirflowSettings(start, end, catchup, database)


def _date(path: Path, key: str, value: Any) -> date:
    if isinstance(value, date):  # YAML reads an unquoted 2024-01-01 as a date
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise DsflowError(
            f"{path}: airflow.{key} must be a date, YYYY-MM-DD, not {value!r}"
        ) from None
