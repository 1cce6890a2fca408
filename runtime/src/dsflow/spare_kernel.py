"""A spare Jupyter kernel beside the project's Spark Connect server, for the next notebook run.

Starting a kernel and importing pyspark's Connect client costs about 3 s here, more than the
Spark work of a small partition. While the project's server runs, one spare kernel waits with
those imports done; ``just run`` of a notebook job takes it (an atomic rename of its connection
file, so two runs never share one), moves it to the job's folder and environment, runs the
notebook on it, shuts it down and leaves a new spare warming up for the run after.

Every run still gets a fresh interpreter: a spare serves one run. It lives only as long as the
server: it exits when the server is gone, and ``just stop spark`` / ``just stop-all`` stop it.
A server that a run started on its own (not ``just spark``) is stopped by its spare after
``spark.idle_stop_minutes`` (``dsflow.yml``) without a run: nothing of dsflow stays behind,
only Spark's server and one kernel.

Files in ``.dsflow/services/``: ``kernel-spare.json`` (a ready spare's connection file, with
its pid), ``kernel-spare.starting`` (while one warms up), ``kernel-spare.log`` (their output).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .project import PROJECT_ROOT_ENV, Project
from .services import _start_time, get, state_dir

READY = "kernel-spare.json"
STARTING = "kernel-spare.starting"
LOG = "kernel-spare.log"
AUTO_STARTED = "spark.auto"  # holds the pid of a server a run started (stopped when idle)

_CLAIMED = threading.Event()
# what SIGTERM did in the kernel before warm() (``_TERM_SET``): put back when a run claims it
_TERM_HANDLER: Any = None
_TERM_SET = False


@dataclass
class Spare:
    """A spare kernel this process has claimed: its connection info and claimed file."""

    info: dict[str, Any]
    path: Path
    pending: tuple[Any, str] | None = None  # the client and message of the setup sent

    def confirm(self, timeout: float = 10) -> bool:
        """True once the kernel has run the claim's setup (sent without waiting for it)."""
        if self.pending is None:
            return True
        client, msg_id = self.pending
        self.pending = None
        try:
            return _reply(client, msg_id, timeout)
        finally:
            client.stop_channels()

    def engine_kwargs(self) -> dict[str, Any]:
        """papermill ``execute_notebook`` arguments that run on this kernel (see kernels.py)."""
        from jupyter_client.manager import AsyncKernelManager

        from .kernels import register_engine

        class AdoptedKernel(AsyncKernelManager):
            """A kernel started elsewhere: nbclient connects to it and never starts one."""

            @property
            def has_kernel(self) -> bool:
                return True

        km = AdoptedKernel(kernel_name="python3")
        km.load_connection_info(self.info)
        return {"engine_name": register_engine(), "km": km, "kernel_cwd": None, "kernel_log": None}

    def shutdown(self) -> None:
        """Ask the kernel to end (it served its one run) and forget its connection file.

        Not waited for: it releases its Spark session on the way out (about 1 s), while the
        run publishes. Its parent is gone, so init reaps it.
        """
        if self.pending is not None:
            self.pending[0].stop_channels()
            self.pending = None
        if _start_time(self.info["pid"]) == self.info["start_time"]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.info["pid"], signal.SIGTERM)
        self.path.unlink(missing_ok=True)


def claim(project: Project, cwd: Path, env: dict[str, str]) -> Spare | None:
    """The ready spare kernel, told to move to ``cwd`` with ``env`` as its environment; None
    when there is none (no server, or it is still warming up). The move is sent, not waited
    for: :meth:`Spare.confirm` before running anything on it."""
    folder = state_dir(project)
    mine = folder / f"kernel-claimed.{os.getpid()}.{threading.get_ident()}.json"
    try:
        os.rename(folder / READY, mine)  # atomic: one claimant wins, the others get None
    except OSError:
        return None
    try:
        info = json.loads(mine.read_text())
    except (OSError, ValueError):
        mine.unlink(missing_ok=True)
        return None
    spare = Spare(info, mine)
    if _start_time(info.get("pid", 0)) != info.get("start_time"):
        mine.unlink(missing_ok=True)
        return None
    setup = (
        "import os as _os, json as _json\n"
        "from dsflow.spare_kernel import claimed as _claimed\n"
        f"_claimed({os.getpid()}, {_start_time(os.getpid())!r})\n"
        f"_os.chdir({str(cwd)!r})\n"
        "_os.environ.clear()\n"
        f"_os.environ.update(_json.loads({json.dumps(env)!r}))\n"
        "del _os, _json, _claimed\n"
    )
    spare.pending = _send(info, setup)
    return spare


def start(project: Project) -> None:
    """Leave a spare kernel warming up in the background (returns at once).

    Only while the project's own Spark server runs, and only if no spare is ready or starting.
    """
    folder = state_dir(project)
    if get(project, "spark") is None or (folder / READY).exists() or _starting(folder):
        return
    env = dict(os.environ, **{PROJECT_ROOT_ENV: str(project.root)})
    env.pop("JPY_PARENT_PID", None)  # the kernel outlives whoever starts it
    with (folder / LOG).open("ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", "dsflow.spare_kernel", str(project.root)],
            cwd=project.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not in the run's process group: it outlives the run
        )


def stop(project: Project) -> bool:
    """Stop the spare kernel and its starter, if any; True if one ran."""
    folder = state_dir(project)
    found = False
    for name in (READY, STARTING):
        record = _read(folder / name)
        # a starter leads its own process group, with the kernel it is warming up
        group = name == STARTING
        if record and _stop_pid(record.get("pid", 0), record.get("start_time", ""), group):
            found = True
        (folder / name).unlink(missing_ok=True)
    return found


def mark_auto_started(project: Project, pid: int) -> None:
    """Record that a run started the server ``pid``: its spares stop it when idle."""
    (state_dir(project) / AUTO_STARTED).write_text(str(pid))


def claimed(owner: int, owner_start: str) -> None:
    """Called in the kernel by the run that took it: the idle timer stops, and the kernel now
    ends with that run's process (a killed run leaves no kernel behind, as a pooled one)."""
    _CLAIMED.set()
    if _TERM_SET:  # the run's kernel ends as any kernel does
        signal.signal(signal.SIGTERM, signal.SIG_DFL if _TERM_HANDLER is None else _TERM_HANDLER)

    def watch() -> None:
        while _start_time(owner) == owner_start:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="dsflow-owner-watch", daemon=True).start()


def _starting(folder: Path) -> bool:
    record = _read(folder / STARTING)
    return bool(record) and _start_time(record.get("pid", 0)) == record.get("start_time")


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _stop_pid(pid: int, start_time: str, group: bool = False) -> bool:
    """SIGTERM ``pid`` (its process group if ``group``) if it is still the process started at
    ``start_time``; SIGKILL after 3 s."""
    if not pid or not start_time or _start_time(pid) != start_time:
        return False
    kill = os.killpg if group else os.kill
    with contextlib.suppress(ProcessLookupError):
        kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 3
    while _start_time(pid) == start_time and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    if _start_time(pid) == start_time:
        with contextlib.suppress(ProcessLookupError):
            kill(pid, signal.SIGKILL)
    return True


def _execute(info: dict[str, Any], code: str, timeout: float) -> bool:
    """Run ``code`` silently on the kernel of ``info``; True when it succeeded."""
    client, msg_id = _send(info, code)
    try:
        return _reply(client, msg_id, timeout)
    finally:
        client.stop_channels()


def _send(info: dict[str, Any], code: str) -> tuple[Any, str]:
    """Send ``code`` to run silently on the kernel of ``info``: (the open client, message id)."""
    from jupyter_client import BlockingKernelClient

    client = BlockingKernelClient()
    client.load_connection_info(info)
    client.start_channels()
    return client, client.execute(code, silent=True, store_history=False)


def _reply(client: Any, msg_id: str, timeout: float) -> bool:
    """Wait for the kernel's answer to ``msg_id``: True when the code ran without error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            reply = client.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
        except Exception:  # queue.Empty: the kernel did not answer in time
            return False
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"].get("status") == "ok"
    return False


# --- in the kernel ----------------------------------------------------------------------


def warm(root: str, server_pid: int, server_start: str, idle_s: float) -> None:
    """Import what notebook jobs use, then watch: exit when the server is gone, and stop an
    auto-started server (``idle_s`` > 0) once nobody claimed this kernel for that long."""
    import importlib

    from .kernels import SPARK_CLIENT_MODULES

    for module in SPARK_CLIENT_MODULES:
        importlib.import_module(module)
    global _TERM_HANDLER, _TERM_SET
    # an unclaimed spare ran no code of anyone's: `just stop` ends it at once (measured: it
    # took ~1 s to end on SIGTERM otherwise, while the imported clients shut down)
    _TERM_HANDLER = signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    _TERM_SET = True
    threading.Thread(
        target=_watch, args=(Path(root), server_pid, server_start, idle_s), daemon=True
    ).start()


def _watch(root: Path, server_pid: int, server_start: str, idle_s: float) -> None:
    started = time.monotonic()
    while not _CLAIMED.wait(2.0):
        gone = _start_time(server_pid) != server_start
        idle = idle_s > 0 and time.monotonic() - started > idle_s
        if gone or idle:
            _retire(root, stop_server=idle and not gone)


def _retire(root: Path, stop_server: bool) -> None:
    folder = root / ".dsflow" / "services"
    try:  # taken from under a claimant's rename? then it is theirs now
        os.rename(folder / READY, folder / f"kernel-retired.{os.getpid()}.json")
    except OSError:
        if _CLAIMED.wait(10):
            return
    (folder / f"kernel-retired.{os.getpid()}.json").unlink(missing_ok=True)
    if stop_server:
        from .project import find_project
        from .services import stop as stop_services

        with contextlib.suppress(Exception):
            stop_services(find_project(root), ["spark"])
            (folder / AUTO_STARTED).unlink(missing_ok=True)
    os._exit(0)


# --- the starter (python -m dsflow.spare_kernel ROOT) ---------------------------------------


def _launch(root: Path) -> None:
    """Start one kernel, warm it, publish it as ``kernel-spare.json``; then exit."""
    from .project import find_project
    from .settings import load_settings

    project = find_project(root)
    server = get(project, "spark")
    if server is None:
        return
    folder = state_dir(project)
    marker = folder / STARTING
    record = json.dumps({"pid": os.getpid(), "start_time": _start_time(os.getpid())})
    try:
        with marker.open("x") as out:
            out.write(record)
    except FileExistsError:
        if _starting(folder):
            return
        marker.write_text(record)  # a killed starter's marker
    kernel = None
    try:
        auto = (folder / AUTO_STARTED).is_file() and (
            folder / AUTO_STARTED
        ).read_text().strip() == str(server.pid)
        idle_s = load_settings(project).spark_idle_stop_minutes * 60 if auto else 0
        kernel, info = _start_kernel(folder, project.root)
        code = (
            "from dsflow.spare_kernel import warm as _warm\n"
            f"_warm({str(project.root)!r}, {server.pid}, {server.start_time!r}, {idle_s})\n"
            "del _warm\n"
        )
        if not _execute(info, code, timeout=120) or (folder / READY).exists():
            _stop_pid(kernel.pid, info["start_time"])
            return
        partial = folder / f"{READY}.{os.getpid()}.tmp"
        partial.write_text(json.dumps(info))
        os.replace(partial, folder / READY)
        kernel = None
    finally:
        if kernel is not None and kernel.poll() is None:
            kernel.kill()
        marker.unlink(missing_ok=True)


def _start_kernel(folder: Path, cwd: Path) -> tuple[subprocess.Popen, dict[str, Any]]:
    from jupyter_client.connect import write_connection_file

    from .kernels import kernel_address

    path = folder / f"kernel-starting.{os.getpid()}.json"
    write_connection_file(str(path), **kernel_address())
    info = json.loads(path.read_text())
    with (folder / LOG).open("ab") as log:
        kernel = subprocess.Popen(
            [sys.executable, "-m", "ipykernel_launcher", "-f", str(path)],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    info.update(pid=kernel.pid, start_time=_start_time(kernel.pid))
    from jupyter_client import BlockingKernelClient

    client = BlockingKernelClient()
    client.load_connection_info(info)
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
    finally:
        client.stop_channels()
    path.unlink(missing_ok=True)
    return kernel, info


if __name__ == "__main__":
    _launch(Path(sys.argv[1]))
