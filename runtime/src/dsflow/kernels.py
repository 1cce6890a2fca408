"""Warm Jupyter kernels for backfills: one kernel per (worker thread, job), reused for every
partition that worker runs of that job, so imports and the Spark session are paid once.

Each run still executes the whole notebook top to bottom with freshly injected parameters and
gets its own report. A kernel's working folder is fixed when it starts, hence one per job; the
process's own working folder is never changed (papermill's ``cwd`` would, for every thread).

A kernel's own output (ipykernel's log lines, a local Spark JVM's warnings) goes to the job's
``kernel.log``, not the terminal: the user's terminal gets the run's lines and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

# what a notebook job's first cell imports to reach a Spark Connect server (0.8 s), run on a
# kernel ahead of the notebook while something slower (the server's start) goes on
SPARK_CLIENT_MODULES = (
    "pyspark.sql.connect.session",
    "pyspark.sql.connect.functions",
    "dsflow.spark",
    "dsflow.readers",
)
# the same as code for a kernel, leaving no name behind in the notebook's namespace
SPARK_CLIENT_IMPORTS = (
    f"import importlib as _i\nfor _m in {SPARK_CLIENT_MODULES!r}:\n    _i.import_module(_m)\n"
    "del _i, _m\n"
)
_ENGINE = "dsflow-warm"
_registered = False
# a Unix socket's path must fit in 108 bytes (sun_path), with the "-<n>" jupyter_client adds
_SOCKET_PATH_MAX = 100


def kernel_address() -> dict[str, str]:
    """Connection settings for a new kernel: Unix sockets under a private, unique name.

    Over TCP, jupyter_client picks free ports by binding port 0 and closing it, and the kernel
    binds them again moments later: another process can take one in between, and the kernel
    dies ("Address already in use", then "Kernel died before replying to kernel_info"); seen
    in 1 of 6 suite runs with backfills on two workers. A socket name of our own cannot be
    taken. The folder is Jupyter's runtime folder (private to the user); ZeroMQ removes the
    sockets when the kernel closes them.
    """
    from jupyter_core.paths import jupyter_runtime_dir

    folder = jupyter_runtime_dir()
    name = f"dsflow-{uuid.uuid4().hex[:12]}"
    if len(os.path.join(folder, name)) > _SOCKET_PATH_MAX:  # a long home folder
        folder = tempfile.mkdtemp(prefix="dsflow-kernel-")  # private (0700) too; left empty
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return {"transport": "ipc", "ip": os.path.join(folder, name)}


def register_engine() -> str:
    """Register papermill's engine for kernels dsflow keeps or adopts; returns its name."""
    global _registered
    if not _registered:
        _define_engine()
        _registered = True
    return _ENGINE


def _define_engine() -> None:
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    class WarmEngine(NBClientEngine):
        """papermill's nbclient engine on a kernel it does not own: kept alive after the run."""

        @classmethod
        def execute_managed_notebook(  # noqa: ANN001, PLR0913
            cls, nb_man, kernel_name, km=None, kernel_cwd=None, kernel_log=None, clients=None,
            **kwargs,
        ):  # fmt: skip
            from jupyter_core.utils import run_sync

            if not km.has_kernel:  # its working folder and log are fixed here, for good
                run_sync(km.start_kernel)(cwd=kernel_cwd, stdout=kernel_log, stderr=kernel_log)
            client = PapermillNotebookClient(
                nb_man, km=km, kernel_name=kernel_name, log_output=False, startup_timeout=120
            )
            # a kernel's client kept from its previous run: a new one waits 0.2 s for IOPub to
            # go quiet (jupyter_client's wait_for_ready) on every run
            client.kc = clients.get(id(km)) if clients is not None else None
            try:
                return client.execute()
            finally:
                if client.kc is not None and clients is not None:
                    clients[id(km)] = client.kc
                elif client.kc is not None:  # close this run's sockets; the kernel stays
                    client.kc.stop_channels()

    papermill_engines.register(_ENGINE, WarmEngine)


class KernelPool:
    """Kernels kept warm across runs; :meth:`shutdown` stops them all."""

    def __init__(self) -> None:
        self._kernels: dict[tuple[int, Path], Any] = {}
        self._logs = contextlib.ExitStack()
        self._lock = threading.Lock()
        self._logs_by_kernel: dict[int, Any] = {}
        self._clients: dict[int, Any] = {}  # id(kernel manager) -> its kept client

    def engine_kwargs(self, cwd: Path, log: Path, save_every_cell: bool = False) -> dict[str, Any]:
        """papermill ``execute_notebook`` arguments that run on this thread's kernel for ``cwd``.

        A kernel started for them writes its own output to ``log`` (appended to). The executed
        notebook is written at the end (or at the failing cell); ``save_every_cell`` also
        writes it after each cell, as a long single run's progress (17 writes cost a short
        backfill run 0.07 s).
        """
        key = (threading.get_ident(), cwd)
        with self._lock:  # also serialises the first import of papermill among workers
            engine = register_engine()  # here, not at creation: a no-op backfill imports none
            from jupyter_client.manager import AsyncKernelManager

            km = self._kernels.get(key)
            log_file = None
            if km is None:
                km = AsyncKernelManager(kernel_name="python3", **kernel_address())
                self._kernels[key] = km
                log.parent.mkdir(parents=True, exist_ok=True)
                log_file = self._logs.enter_context(log.open("ab"))
                self._logs_by_kernel[id(km)] = log_file
        return {
            "engine_name": engine,
            "km": km,
            "kernel_cwd": str(cwd),
            "kernel_log": log_file,
            "clients": self._clients,
            "request_save_on_cell_execute": save_every_cell,
        }

    def start(self, cwd: Path, code: str) -> None:
        """Start this thread's kernel for ``cwd`` now and run ``code`` on it (silently).

        Call :meth:`engine_kwargs` first; the notebook then runs on this kernel.
        """
        from jupyter_core.utils import run_sync

        with self._lock:
            km = self._kernels[(threading.get_ident(), cwd)]
            log = self._logs_by_kernel.get(id(km))
        run_sync(km.start_kernel)(cwd=str(cwd), stdout=log, stderr=log)
        client = km.blocking_client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=120)
            client.execute_interactive(code, silent=True, store_history=False, timeout=120)
        finally:
            client.stop_channels()

    def shutdown(self) -> None:
        """Stop every kernel this pool started and close their logs."""
        from jupyter_core.utils import run_sync

        for client in self._clients.values():
            client.stop_channels()
        self._clients.clear()
        for km in self._kernels.values():
            if km.has_kernel:
                run_sync(km.shutdown_kernel)(now=True)
        self._kernels.clear()
        self._logs.close()
