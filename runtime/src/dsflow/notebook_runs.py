"""Which kernel and which Spark a notebook run gets, fastest first.

1. A backfill's warm kernel (``kernels``, one per worker and job).
2. The spare kernel beside the project's Spark Connect server (``dsflow.spare_kernel``): its
   imports are done, so the notebook's first cell starts at once.
3. A kernel of its own. With ``spark.server: auto`` (``dsflow.yml``, the default) and no Spark
   server to use, the run starts the project's Spark Connect server while that kernel starts
   and imports the Connect client; the server then stays for the next runs and stops after
   ``spark.idle_stop_minutes`` without one. ``manual``: the notebook starts a local JVM.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from . import spare_kernel
from .datastore import NOTEBOOK_CACHE
from .errors import DsflowError
from .execute import run_notebook
from .kernels import SPARK_CLIENT_IMPORTS, KernelPool, register_engine
from .output import say
from .project import Project
from .settings import Settings
from .specs import JobSpec


def execute_notebook(
    project: Project,
    settings: Settings,
    spec: JobSpec,
    params: dict[str, Any],
    output: Path,
    kernel_log: Path,
    kernels: KernelPool | None,
) -> None:
    """Run the notebook of ``spec`` with ``params`` into ``output`` (see the module docstring)."""
    cache = project.root / NOTEBOOK_CACHE
    if kernels:
        engine = kernels.engine_kwargs(spec.folder, kernel_log)
        run_notebook(spec.script, output, params, engine, cache)
        return
    # every import stays on this thread: an import thread made a warm run 0.8 s slower (the
    # GIL), and two threads importing jupyter_client or IPython at once can each find the
    # other's module half-initialised ("cannot import name ... partially initialized")
    register_engine()
    spare = spare_kernel.claim(project, spec.folder, dict(os.environ))
    if spare and not spare.confirm():  # it did not take the job's folder: a kernel of our own
        spare.shutdown()
        spare = None
    if spare:
        try:
            run_notebook(spec.script, output, params, spare.engine_kwargs(), cache)
        finally:
            spare.shutdown()
        return
    pool = KernelPool()
    try:
        engine = pool.engine_kwargs(spec.folder, kernel_log, save_every_cell=True)
        server = _start_server_beside(project, settings)
        if server:
            pool.start(spec.folder, SPARK_CLIENT_IMPORTS)
            server.join()
        run_notebook(spec.script, output, params, engine, cache)
    finally:
        pool.shutdown()


def _start_server_beside(project: Project, settings: Settings) -> threading.Thread | None:
    """Start the project's Spark Connect server in a thread, when this run should; else None."""
    from .spark import spark_remote
    from .spark_server import start_server

    if settings.spark_server != "auto" or spark_remote(project):
        return None
    import pyspark  # noqa: F401  # here: the thread below must import nothing (see above)

    def start() -> None:
        minutes = f"{settings.spark_idle_stop_minutes:g}"
        try:
            service = start_server(
                project,
                f"starting the project's Spark Connect server for this and later runs (it stops "
                f"after {minutes} min without a run, or with `just stop spark`)...",
            )
        except DsflowError as exc:
            if not spark_remote(project):  # another run started it meanwhile: use it
                say(f"note: {exc}; this run starts a Spark of its own", err=True)
            return
        spare_kernel.mark_auto_started(project, service.pid)

    thread = threading.Thread(target=start, name="dsflow-spark-start", daemon=True)
    thread.start()
    return thread
