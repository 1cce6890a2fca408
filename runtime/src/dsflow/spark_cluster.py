"""A Spark standalone cluster on this machine: a master and workers from the project's pyspark.

``just cluster`` starts them as background services (``spark-master``, ``spark-worker-1``,
...); with ``spark.master: spark://127.0.0.1:<ports.spark_master>`` in ``dsflow.yml`` the
project's Spark Connect server (its runs' driver) then runs its executors on the workers, with
no job changed. It is the same protocol a real cluster speaks, so it is where to try a job
before a cluster of machines.

Every part binds 127.0.0.1 and requires the project's shared secret (``spark.authenticate``;
``SPARK_CLUSTER_SECRET`` in ``.env``), passed through the environment, never a command line:
another local user can reach the ports but not run code on them.

The executors read and write the datastore at the driver's absolute paths, so every worker
must see the datastore at the same path: here the same filesystem; on several machines, a
shared mount (or an object store, see the README).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import services, spark_class_cache
from .envfile import CLUSTER_SECRET, project_secret
from .errors import DsflowError
from .project import Project
from .settings import Settings, load_settings

MASTER = "spark-master"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
# Spark reads its shared secret from this variable (SecurityManager.ENV_AUTH_SECRET)
SECRET_ENV = "_SPARK_AUTH_SECRET"


def worker_name(number: int) -> str:
    """The service name of worker ``number`` (from 1)."""
    return f"spark-worker-{number}"


def master_url(settings: Settings) -> str:
    """``spark://`` URL of this project's own standalone master."""
    return f"spark://127.0.0.1:{settings.port('spark_master')}"


def is_own_master(settings: Settings) -> bool:
    """True when ``spark.master`` names the cluster ``just cluster`` starts for this project
    (``spark://127.0.0.1:<port>``, or ``localhost`` for 127.0.0.1)."""
    given = settings.spark_master.strip().rstrip("/").replace("://localhost:", "://127.0.0.1:")
    return given == master_url(settings)


def cluster_secret(project: Project) -> str:
    """The shared secret of the project's cluster (generated into ``.env`` when missing)."""
    return project_secret(project.root, CLUSTER_SECRET)


def app_properties(project: Project, base: Path | None = None) -> Path:
    """A private (0600) Spark properties file for an application joining the project's
    cluster: ``base``'s lines (the project's ``spark-defaults.conf``), then authentication
    with the cluster's secret.

    A file, because a driver on a standalone master takes the secret from its configuration
    only, and a ``--conf`` would show it to every local user (``ps``).
    """
    lines = base.read_text().splitlines() if base and base.is_file() else []
    lines += ["spark.authenticate true", f"spark.authenticate.secret {cluster_secret(project)}"]
    path = services.state_dir(project) / "spark-cluster-app.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    os.replace(partial, path)
    return path


# `just cluster`'s defaults: two workers of one core each fit a 2-core laptop
DEFAULT_WORKERS, DEFAULT_CORES, DEFAULT_MEMORY = 2, 1, "2g"
MAX_WORKERS = 64  # `just cluster workers=N`, and the cores of each


def start_cluster(
    project: Project,
    workers: int = DEFAULT_WORKERS,
    cores: int = DEFAULT_CORES,
    memory: str = DEFAULT_MEMORY,
) -> list[services.Service]:
    """Start the master and ``workers`` workers (``cores`` and ``memory`` each); returns them.

    Returns once every worker has registered with the master. Refuses (nothing started) when
    any part already runs or a port is taken.
    """
    settings = load_settings(project)
    port, ui_port = settings.port("spark_master"), settings.port("spark_master_ui")
    names = [MASTER] + [worker_name(n) for n in range(1, workers + 1)]
    for name in names:
        running = services.get(project, name)
        if running:
            raise DsflowError(
                f"{name} is already running at {running.url} (pid {running.pid}); the cluster "
                "runs: `just stop-all` first to start another"
            )
    for number in range(workers + 1):  # the master's web UI, then each worker's
        if not services.port_free(ui_port + number):
            whose = f"worker {number}'s web UI" if number else "the master's web UI"
            raise DsflowError(
                f"port {ui_port + number} on 127.0.0.1 ({whose}, ports.spark_master_ui + "
                f"{number}) is already in use; set ports.spark_master_ui in dsflow.yml to "
                "a free range"
            )
    home, cached = spark_class_cache.launch_home()  # the Spark the project's server runs
    env = {
        **({"SPARK_HOME": str(home)} if cached else {}),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(services.state_dir(project)),
        "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
        SECRET_ENV: cluster_secret(project),
    }
    # settings every part shares: authenticated; the UIs read-only; a port taken fails the
    # start (Spark would move to the next one, where another project's master may be)
    daemon_opts = "-Dspark.authenticate=true -Dspark.ui.killEnabled=false -Dspark.port.maxRetries=0"
    spark_class = str(home / "bin" / "spark-class")
    started = [
        services.start(
            project,
            MASTER,
            [spark_class, MASTER_CLASS, "--host", "127.0.0.1", "--port", str(port)]
            + ["--webui-port", str(ui_port)],
            port=port,
            url=master_url(settings),
            port_setting="set ports.spark_master in dsflow.yml to a free port",
            env={**env, "SPARK_MASTER_OPTS": daemon_opts},
            announce=f"starting a Spark master and {workers} workers on 127.0.0.1...",
        )
    ]

    def start_worker(number: int) -> services.Service:
        work_dir = services.state_dir(project) / worker_name(number)
        work_dir.mkdir(parents=True, exist_ok=True)
        web_ui = ui_port + number
        return services.start(
            project,
            worker_name(number),
            [spark_class, WORKER_CLASS, "--host", "127.0.0.1"]
            + ["--cores", str(cores), "--memory", memory]
            + ["--webui-port", str(web_ui), "--work-dir", str(work_dir)]
            + [master_url(settings)],
            port=web_ui,
            url=f"http://127.0.0.1:{web_ui}",
            port_setting="set ports.spark_master_ui in dsflow.yml to a free range",
            env={**env, "SPARK_WORKER_OPTS": daemon_opts},
            ready=lambda: f"http://127.0.0.1:{web_ui}" in alive_worker_uis(ui_port),
        )

    # the workers' JVMs start side by side: one after the other took ~3 s more per worker
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(start_worker, number) for number in range(1, workers + 1)]
        started.extend(future.result() for future in futures)
    except BaseException:  # a worker that failed, Ctrl-C: no half-started cluster is left
        try:
            pool.shutdown(wait=True, cancel_futures=True)  # every record written
        finally:  # even on a second Ctrl-C while waiting
            services.stop(project, names)  # the ones being started too, if they got a record
        raise
    pool.shutdown()
    return started


def alive_worker_uis(ui_port: int) -> set[str]:
    """The web UI addresses of the workers the master at web UI ``ui_port`` counts alive (none
    when it does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as response:
            workers = json.load(response).get("workers", [])
    except (OSError, ValueError):
        return set()
    return {w.get("webuiaddress", "") for w in workers if w.get("state") == "ALIVE"}
