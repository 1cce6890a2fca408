"""The one place a SparkSession is built: ``from dsflow.spark import spark_session``.

Settings come from ``dsflow.yml`` (``spark.master``, ``spark.remote``) and
``config/spark-defaults.conf``. The session is a Spark Connect client, starting no JVM here,
when a remote is known: the ``DSFLOW_SPARK_REMOTE`` environment variable, else ``spark.remote``
in dsflow.yml, else the project's own server if ``just spark`` started one. Otherwise a local
JVM starts (12-16 s).
"""

from __future__ import annotations

import atexit
import os
import shlex
from pathlib import Path
from typing import Any

from .project import Project, current_project
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

    project = current_project()
    settings = load_settings(project)
    conf = read_spark_defaults(project.root / "config" / "spark-defaults.conf")
    remote = spark_remote(project)
    builder = SparkSession.builder.appName(app_name)
    if remote:
        _authenticate(project, remote)
        builder = builder.remote(remote)
        # a Connect client can only set runtime SQL options; the server owns the rest
        conf = {k: v for k, v in conf.items() if k.startswith("spark.sql.")}
    else:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = builder.master(settings.spark_master)
        from .spark_cluster import app_properties, is_own_master

        if is_own_master(settings):  # `just cluster`'s: it requires the project's secret
            # the user's own (--packages, ...) kept, ending as pyspark wants in pyspark-shell
            own = os.environ.get("PYSPARK_SUBMIT_ARGS", "").strip().removesuffix("pyspark-shell")
            properties = shlex.quote(str(app_properties(project)))
            os.environ["PYSPARK_SUBMIT_ARGS"] = (
                f"{own} --properties-file {properties} pyspark-shell"
            )
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    if remote:
        atexit.register(_close_connect_session, session)
    return session


def spark_remote(project: Project) -> str:
    """The Spark Connect URL this project's sessions use, or '' for a local JVM."""
    from .spark_server import server_url

    settings = load_settings(project)
    return (
        os.environ.get("DSFLOW_SPARK_REMOTE") or settings.spark_remote or server_url(project) or ""
    )


def _authenticate(project: Project, remote: str) -> None:
    """Give the Connect client the project's token when ``remote`` is the project's own server.

    pyspark reads it from ``SPARK_CONNECT_AUTHENTICATE_TOKEN``; a server elsewhere gets only
    what the user set there themselves, never this project's secret.
    """
    from .envfile import SPARK_TOKEN
    from .spark_server import server_token, server_url

    if remote == server_url(project):
        os.environ[SPARK_TOKEN] = server_token(project)


def _close_connect_session(session: Any) -> None:
    # pyspark 4.3's Connect session closes its gRPC channel again from __del__ during
    # interpreter shutdown, which blocks forever; close it while the process is still whole
    session.stop()
    type(session).__del__ = lambda self: None
