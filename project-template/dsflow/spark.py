"""The one place a SparkSession is built: ``from dsflow.spark import spark_session``.

Settings come from ``dsflow.yml`` (``spark.master``, ``spark.remote``) and
``config/spark-defaults.conf``. With a remote (``sc://host:port``, also from the
``DSFLOW_SPARK_REMOTE`` environment variable) the session is a Spark Connect client of an
already-running server and starts no JVM here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .project import find_project
from .settings import load_settings


def read_spark_defaults(path: Path) -> dict[str, str]:
    """``key value`` lines of a spark-defaults.conf, comments and blanks skipped."""
    conf: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                key, _, value = line.partition(" ")
                conf[key.strip()] = value.strip()
    return conf


def spark_session(app_name: str = "dsflow") -> Any:
    """Return the project's SparkSession (created on first call, reused after)."""
    from pyspark.sql import SparkSession

    project = find_project(Path(os.environ.get("DSFLOW_PROJECT_ROOT", Path.cwd())))
    settings = load_settings(project)
    conf = read_spark_defaults(project.root / "config" / "spark-defaults.conf")
    remote = os.environ.get("DSFLOW_SPARK_REMOTE") or settings.spark_remote
    builder = SparkSession.builder.appName(app_name)
    if remote:
        builder = builder.remote(remote)
        # a Connect client can only set runtime SQL options; the server owns the rest
        conf = {k: v for k, v in conf.items() if k.startswith("spark.sql.")}
    else:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = builder.master(settings.spark_master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
