"""Project settings from ``dsflow.yml``."""

from __future__ import annotations

from dataclasses import dataclass, field
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
}


@dataclass(frozen=True)
class Settings:
    """The parts of dsflow.yml the runtime uses, with defaults for anything left out."""

    project: str
    datastore: Path
    default_grain: str = "daily"
    runner: str = "local"
    spark_master: str = "local[2]"
    spark_remote: str = ""
    ports: dict[str, int] = field(default_factory=dict)  # as dsflow.yml gives them

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
    if not isinstance(raw, dict):
        raise DsflowError(f"{path}: expected a mapping of settings (project, datastore, ...)")
    grain = raw.get("default_grain", "daily")
    if grain not in GRAINS:
        raise DsflowError(f"{path}: default_grain must be one of {', '.join(GRAINS)}")
    runner = raw.get("runner", "local")
    if runner not in ("local", "docker"):
        raise DsflowError(f"{path}: runner must be local or docker, not {runner!r}")
    datastore = Path(raw.get("datastore", "datastore"))
    spark = raw.get("spark") or {}
    if not isinstance(spark, dict):
        raise DsflowError(f"{path}: spark must be a mapping (master:, remote:), not {spark!r}")
    ports = raw.get("ports") or {}
    if not isinstance(ports, dict):
        raise DsflowError(f"{path}: ports must be a mapping of service: port, not {ports!r}")
    for name, value in ports.items():
        number = str(value).strip()
        if isinstance(value, bool) or not number.isdigit() or not 0 < int(number) < 65536:
            raise DsflowError(f"{path}: ports.{name} must be a port number, not {value!r}")
    return Settings(
        project=str(raw.get("project", project.root.name)),
        datastore=datastore if datastore.is_absolute() else project.root / datastore,
        default_grain=grain,
        runner=runner,
        spark_master=str(spark.get("master", "local[2]")),
        spark_remote=str(spark.get("remote") or ""),
        ports={str(k): int(v) for k, v in ports.items()},
    )
