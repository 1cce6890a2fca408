"""Background services a project starts (Spark Connect, dashboards, ...) and how they stop.

Each service runs in its own process group; ``.dsflow/services/<name>.json`` records its PID,
the process start time (so a reused PID is never mistaken for it), port and URL. Stopping
signals that process group only: never anything found by name.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from .child_lifetime import die_with_parent
from .errors import DsflowError
from .project import Project

STATE_DIR = Path(".dsflow") / "services"


@dataclass(frozen=True)
class Service:
    """A running (or recorded) background service."""

    name: str
    pid: int
    start_time: str
    port: int
    url: str
    log: str
    command: list[str]
    stop_signal: str = "SIGTERM"  # what asks it to stop (then SIGKILL after a grace period)
    stop_last: bool = False  # stopped once the others have ended (a database they write to)

    @property
    def alive(self) -> bool:
        # no recorded start time (no /proc) proves nothing: never signal such a PID
        return bool(self.start_time) and _start_time(self.pid) == self.start_time


def _start_time(pid: int) -> str:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks), '' if there is no such process
    or it has ended (a zombie: its parent, often init, has not reaped it yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[1].split()
    return "" if _ended(pid, fields[0]) else fields[19]


def _ended(pid: int, state: str) -> bool:
    """Whether a process in ``state`` (field 3 of its stat) has ended: dead, or a zombie whose
    threads are all gone (a main thread that exited before the others shows Z too)."""
    if state == "X":
        return True
    if state != "Z":
        return False
    try:
        return len(os.listdir(f"/proc/{pid}/task")) <= 1
    except OSError:
        return True


def process_running(pid: int) -> bool:
    """True when process ``pid`` exists and has not ended (a zombie has); without /proc to
    tell, whether the process exists at all."""
    if not Path("/proc/self/stat").is_file():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process: it exists
            pass
        return True
    return _start_time(pid) != ""


def group_running(pgid: int) -> bool:
    """True when a process of group ``pgid`` still runs (zombies do not count)."""
    if not Path("/proc/self/stat").is_file():  # no /proc to tell: assume it does
        return True
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[2] == str(pgid) and not _ended(int(stat_file.parent.name), fields[0]):
            return True
    return False


def state_dir(project: Project) -> Path:
    return project.root / STATE_DIR


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on ``host:port`` (we could bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def get(project: Project, name: str) -> Service | None:
    """The service ``name`` if it is running; a stale record (process gone) is removed."""
    path = state_dir(project) / f"{name}.json"
    try:
        service = Service(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if not service.alive:
        path.unlink(missing_ok=True)
        return None
    return service


def running(project: Project) -> list[Service]:
    """Every running service of the project, by name."""
    folder = state_dir(project)
    names = sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
    return [s for s in (get(project, n) for n in names) if s is not None]


def start(
    project: Project,
    name: str,
    command: list[str],
    port: int,
    url: str,
    port_setting: str,
    env: dict[str, str] | None = None,
    ready: Callable[[], bool] | None = None,
    timeout: float = 90.0,
    announce: str | None = None,
    tied: bool = False,
    stop_signal: str = "SIGTERM",
    stop_last: bool = False,
) -> Service:
    """Start ``command`` in the background as service ``name`` and wait until it answers.

    ``port_setting`` tells the user how to pick another port when ``port`` is taken;
    ``announce`` is printed once the service is known not to run and its port is free. Two
    starts of one service at once are serialised: the second finds the first running.
    A ``tied`` service dies with this process, however it ends (a backfill's own server).
    """
    folder = state_dir(project)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        existing = get(project, name)
        if existing:
            raise DsflowError(
                f"{name} is already running at {existing.url} (pid {existing.pid}); "
                f"stop it with `just stop {name}`"
            )
        if not port_free(port):
            raise DsflowError(f"port {port} on 127.0.0.1 is already in use; {port_setting}")
        if announce:
            print(announce, flush=True)
        log = folder / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                command,
                cwd=project.root,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() signals exactly that
                preexec_fn=die_with_parent() if tied else None,  # noqa: PLW1509
            )
        service = Service(
            name, proc.pid, _start_time(proc.pid), port, url, str(log), command, stop_signal,
            stop_last,
        )  # fmt: skip
        (folder / f"{name}.json").write_text(json.dumps(asdict(service), indent=2) + "\n")
        check = ready or (lambda: listening(port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                (folder / f"{name}.json").unlink(missing_ok=True)
                tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
                raise DsflowError(
                    f"{name} exited with {proc.returncode} at start: {tail[0]} ({log})"
                )
            if check():
                return service
            time.sleep(0.25)
        stop_service(service)
        raise DsflowError(f"{name} did not answer on port {port} within {timeout:.0f} s; see {log}")


def stop_service(service: Service, grace: float = 10.0) -> bool:
    """Signal the service's process group (its ``stop_signal``), SIGKILL it after ``grace``
    seconds; True if it ran."""
    if not service.alive:
        return False
    try:
        os.killpg(service.pid, getattr(signal, service.stop_signal, signal.SIGTERM))
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _group_alive(service.pid):
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(service.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10  # killed processes still have to be reaped
    while _group_alive(service.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return True


def _group_alive(pgid: int) -> bool:
    # reap the leader if it is our own child, or it lingers as a zombie member of the group
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pgid, os.WNOHANG)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # ended processes can wait a while to be reaped (init does it on its own schedule: ~2 s
    # on some machines); they hold no port or file any more
    return group_running(pgid)


def stop(project: Project, names: list[str] | None = None) -> list[str]:
    """Stop the named services (all when ``names`` is None); returns the names stopped.

    They are stopped at once (a JVM takes seconds to end: a cluster's four would add up),
    those started with ``stop_last`` after the others.
    """
    from concurrent.futures import ThreadPoolExecutor

    chosen = [s for s in running(project) if names is None or s.name in names]
    stopped = []
    for wave in (
        [s for s in chosen if not s.stop_last],
        [s for s in chosen if s.stop_last],
    ):
        with ThreadPoolExecutor(max_workers=max(len(wave), 1)) as pool:
            ended = list(pool.map(stop_service, wave))
        for service, ran in zip(wave, ended, strict=True):
            if ran:
                stopped.append(service.name)
            (state_dir(project) / f"{service.name}.json").unlink(missing_ok=True)
    return stopped
