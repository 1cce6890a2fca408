"""A Spark Connect server for the project: one warm JVM that many runs and notebooks share.

``just spark`` starts it in the background (bound to 127.0.0.1, configured by
``config/spark-defaults.conf``); while it runs, ``dsflow.spark.spark_session()`` connects to it
instead of starting a JVM per run. ``just stop spark`` or ``just stop-all`` stops it.

A Connect client runs any Python it sends as the server's user, so the server refuses clients
without the project's token (``SPARK_CONNECT_AUTHENTICATE_TOKEN`` in ``.env``, 0600): another
local user can reach the port but not use it. The token reaches the server through its
environment, never its command line (which ``ps`` shows to everyone).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import services
from .envfile import SPARK_TOKEN, ensure_secrets, read_env
from .project import Project
from .settings import load_settings

NAME = "spark"
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


def spark_home() -> Path:
    """The Spark distribution inside the installed pyspark package."""
    import pyspark

    return Path(pyspark.__file__).parent


def server_command(project: Project, port: int) -> list[str]:
    """The spark-submit command line of the server."""
    settings = load_settings(project)
    return [
        str(spark_home() / "bin" / "spark-submit"),
        "--class",
        SERVER_CLASS,
        "--name",
        f"dsflow Spark Connect ({settings.project})",
        "--master",
        settings.spark_master,
        "--properties-file",
        str(project.root / "config" / "spark-defaults.conf"),
        "--conf",
        "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
    ]


def server_token(project: Project) -> str:
    """The token the project's server requires of its clients (generated into ``.env``)."""
    env_file = project.root / ".env"
    ensure_secrets(env_file)  # a project set up before the token existed gets one now
    return read_env(env_file)[SPARK_TOKEN]


def start_server(
    project: Project,
    announce: str = "starting the Spark Connect server (a JVM; about 10 s)...",
    tied: bool = False,
) -> services.Service:
    """Start the server (refusing if it already runs or its port is taken); ``announce`` is
    printed once it is about to start. A ``tied`` server dies with this process."""
    port = load_settings(project).port("spark")
    return services.start(
        project,
        NAME,
        server_command(project, port),
        port=port,
        # pyspark sends a token over plain TCP only to the host named "localhost" (anything
        # else would need TLS); the server still binds 127.0.0.1 alone
        url=f"sc://localhost:{port}",
        port_setting="set ports.spark in dsflow.yml to a free port",
        env={
            "SPARK_LOCAL_IP": "127.0.0.1",
            "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
            SPARK_TOKEN: server_token(project),
        },
        announce=announce,
        tied=tied,
    )


def server_url(project: Project) -> str | None:
    """``sc://...`` of the project's running server, or None."""
    service = services.get(project, NAME)
    return service.url if service else None
