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

from . import services, spark_class_cache, spark_cluster
from .envfile import SPARK_TOKEN, project_secret
from .project import Project
from .settings import load_settings
from .spark import read_spark_defaults

NAME = "spark"


def server_launch(project: Project, port: int) -> tuple[list[str], dict[str, str]]:
    """The spark-submit command line of the server, and what its environment needs beyond ours.

    Spark runs from the per-user cache when its class archive is built there (``just setup``;
    see :mod:`dsflow.spark_class_cache`) and the user has no ``SPARK_HOME`` of their own.
    """
    settings = load_settings(project)
    defaults = project.root / "config" / "spark-defaults.conf"
    home, cached = spark_class_cache.launch_home()
    command = [
        str(home / "bin" / "spark-submit"),
        "--class",
        spark_class_cache.SERVER_CLASS,
        "--name",
        f"dsflow Spark Connect ({settings.project})",
        "--master",
        settings.spark_master,
        "--properties-file",
        str(defaults),
        "--conf",
        "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
    ]
    if spark_cluster.is_own_master(settings):  # `just cluster`'s: it requires the secret
        properties = command.index("--properties-file") + 1
        command[properties] = str(spark_cluster.app_properties(project, defaults))
    if not cached:
        return command, {}
    # a --conf replaces the file's value: the project's JVM options go first, kept as they are
    options = read_spark_defaults(defaults).get("spark.driver.extraJavaOptions", "")
    command += ["--conf", f"spark.driver.extraJavaOptions={options} {cached.java_option()}".strip()]
    return command, {"SPARK_HOME": str(cached.path)}


def server_token(project: Project) -> str:
    """The token the project's server requires of its clients (generated into ``.env``)."""
    return project_secret(project.root, SPARK_TOKEN)


def start_server(
    project: Project,
    announce: str = "starting the Spark Connect server (a JVM; about 10 s)...",
    tied: bool = False,
) -> services.Service:
    """Start the server (refusing if it already runs or its port is taken); ``announce`` is
    printed once it is about to start. A ``tied`` server dies with this process."""
    port = load_settings(project).port("spark")
    command, launch_env = server_launch(project, port)
    return services.start(
        project,
        NAME,
        command,
        port=port,
        # pyspark sends a token over plain TCP only to the host named "localhost" (anything
        # else would need TLS); the server still binds 127.0.0.1 alone
        url=f"sc://localhost:{port}",
        port_setting="set ports.spark in dsflow.yml to a free port",
        env={
            **launch_env,
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
