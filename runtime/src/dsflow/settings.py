"""Project settings from ``dsflow.yml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import DsflowError
from .partitions import GRAINS
from .project import SETTINGS_FILE, Project


@dataclass(frozen=True)
class Settings:
    """The parts of dsflow.yml the runtime uses, with defaults for anything left out."""

    project: str
    datastore: Path
    default_grain: str = "daily"
    runner: str = "local"
    spark_master: str = "local[2]"
    spark_remote: str = ""
    ports: dict[str, int] = field(default_factory=dict)


def load_settings(project: Project) -> Settings:
    """Read and check ``dsflow.yml`` of ``project``."""
    path = project.root / SETTINGS_FILE
    try:
        raw: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise DsflowError(f"{path}{where}: not valid YAML") from None
    grain = raw.get("default_grain", "daily")
    if grain not in GRAINS:
        raise DsflowError(f"{path}: default_grain must be one of {', '.join(GRAINS)}")
    runner = raw.get("runner", "local")
    if runner not in ("local", "docker"):
        raise DsflowError(f"{path}: runner must be local or docker, not {runner!r}")
    datastore = Path(raw.get("datastore", "datastore"))
    spark = raw.get("spark") or {}
    return Settings(
        project=str(raw.get("project", project.root.name)),
        datastore=datastore if datastore.is_absolute() else project.root / datastore,
        default_grain=grain,
        runner=runner,
        spark_master=str(spark.get("master", "local[2]")),
        spark_remote=str(spark.get("remote") or ""),
        ports={str(k): int(v) for k, v in (raw.get("ports") or {}).items()},
    )
