"""Shared fixtures: a tagged snapshot of this repository, and projects baked from it.

Copier must be pointed at a git repository (a dirty working tree records a `_commit` that
does not exist), so every test bakes from a temporary repository holding a snapshot of the
files git would track here, committed and tagged.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import copier
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from dsflow import settings  # noqa: E402
from dsflow.envfile import SPARK_TOKEN  # noqa: E402
from ports import shift_ports  # noqa: E402
from snapshot import REPO, git, snapshot_repo  # noqa: E402

REMOTE_ENV = "DSFLOW_SPARK_REMOTE"
# Spark's class archive (`just setup`, ~50 s of CPU once per machine) saves ~5 s per cold JVM,
# and the suite starts few: its servers run without it but tests/test_spark_class_archive.py
ARCHIVE_ENV = "DSFLOW_SPARK_CLASS_ARCHIVE"
os.environ[ARCHIVE_ENV] = "off"

__all__ = ["FIGURES", "REPO", "git", "snapshot_repo"]

# the reliability figures printed at the end of a test session: tests marked `bad_input`
# count when they pass; fault-injection tests (tests/test_reliability.py) add their own
FIGURES = {"bad inputs": 0, "faults injected": 0, "partitions checked": 0, "partitions lost": 0}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call" and report.passed and item.get_closest_marker("bad_input"):
        FIGURES["bad inputs"] += 1
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    # an xdist worker hands its counts to the controller, which prints the sum
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["dsflow_figures"] = dict(FIGURES)


@pytest.hookimpl(optionalhook=True)  # an xdist hook: absent when xdist is not running
def pytest_testnodedown(node, error) -> None:  # noqa: ANN001
    for key, value in getattr(node, "workeroutput", {}).get("dsflow_figures", {}).items():
        FIGURES[key] += value


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    if any(FIGURES.values()):
        terminalreporter.write_line(
            f"reliability: {FIGURES['bad inputs']} bad inputs refused, "
            f"{FIGURES['faults injected']} faults injected, "
            f"{FIGURES['partitions checked']} partitions checked, "
            f"{FIGURES['partitions lost']} partitions lost"
        )


# `just test` runs the suite on two xdist workers, a module to a worker: the longest modules
# start first and the runtime's many short unit tests fill in at the end, so neither worker
# is left alone with a long module while the other idles
LONGEST_FIRST = ("test_demo", "test_pipelines", "test_update", "test_rollups", "test_run")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.stem
        if name in LONGEST_FIRST:
            return LONGEST_FIRST.index(name)
        return len(LONGEST_FIRST) + (item.path.parent.name == "runtime")

    items.sort(key=rank)  # stable: each module keeps its own order


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tagged (v1.0.0) git snapshot of this template repository."""
    return snapshot_repo(tmp_path_factory.mktemp("template") / "dsflow")


def bake(src: Path, dst: Path, *, own_ports: bool = True, **data: object) -> Path:
    """Render a project (or, with template=<job template>, a job) with copier's API.

    With ``own_ports``, a project baked on a second xdist worker gets its own ports (see
    :func:`offset_ports`) unless ``data`` sets ports itself.
    """
    copier.run_copy(
        str(src), dst, data=data, defaults=True, unsafe=True, quiet=True, overwrite=True
    )
    asked = any(key.endswith("_port") for key in data)
    if own_ports and not asked and (dst / "dsflow.yml").is_file() and "template" not in data:
        offset_ports(dst)
    return dst


# xdist runs the suite in two processes at once: a project each worker bakes takes ports
# PORT_OFFSET above the defaults, so two projects' services never meet on one port
WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
PORT_OFFSET = 100 * WORKER


def offset_ports(project: Path) -> None:
    """Move the project's ports (dsflow.yml) up by this worker's PORT_OFFSET."""
    shift_ports(project, PORT_OFFSET)


# dsflow.yml's defaults (project-template/dsflow.yml.jinja and copier.yml agree with them)
DEFAULT_PORTS = dict(settings.DEFAULT_PORTS)


def port(service: str) -> int:
    """The port ``service`` of a project this worker baked listens on: the default, shifted."""
    return DEFAULT_PORTS[service] + PORT_OFFSET


@pytest.fixture
def baker(template_repo: Path, tmp_path: Path) -> Callable[..., Path]:
    """bake a project from the tagged snapshot into a fresh folder; returns its path."""

    def _bake(name: str = "project", **data: object) -> Path:
        return bake(template_repo, tmp_path / name, **data)

    return _bake


def run(cmd: list[str], cwd: Path, check: bool = True, **kw) -> subprocess.CompletedProcess:
    """Run a command, capture text output, and show it when an expected success fails."""
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, **kw)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{cmd} exited {result.returncode}\n--- stdout\n{result.stdout}\n"
            f"--- stderr\n{result.stderr}"
        )
    return result


def just(project: Path, *args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    """Run a project recipe (``just ARGS``) in ``project`` with no stdin."""
    return run(["just", *args], cwd=project, check=check, stdin=subprocess.DEVNULL, **kw)


def init_git(project: Path) -> None:
    """Make ``project`` a git repository with everything committed (copier update needs it)."""
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "baked")


@pytest.fixture(scope="session")
def golden_project(tmp_path_factory: pytest.TempPathFactory, template_repo: Path) -> Path:
    """A baked, committed project whose environment `just setup` has built (slow: once a run,
    shared by the xdist workers); tests get copies of it (:func:`env_project`) and never
    change it."""
    import fcntl

    # the xdist workers' temporary folders share a parent (this run's): the first worker
    # there builds, the others wait on the lock and use what it built; without xdist that
    # parent holds every earlier run, so the run's own folder is used
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "golden"
    shared.mkdir(exist_ok=True)
    project = shared / "demo-project"
    with (shared / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / ".done").exists():
            if project.exists():  # a worker that failed half-way
                shutil.rmtree(project)
            bake(template_repo, project, own_ports=False)
            run(["just", "setup"], cwd=project)
            init_git(project)  # after setup, as the README says: uv.lock is committed too
            (shared / ".done").touch()
    return project


@pytest.fixture(scope="module")
def env_project(tmp_path_factory: pytest.TempPathFactory, golden_project: Path) -> Path:
    """A module's own copy of the set-up project: the jobs one module adds are not the next
    module's, whichever order (or xdist worker) runs them."""
    return copy_project(golden_project, tmp_path_factory.mktemp("env") / golden_project.name)


def copy_project(src: Path, dst: Path, *, own_ports: bool = True) -> Path:
    """Copy a set-up project; its .venv as hard links (1 s instead of 15 for 1.3 GB).

    Safe: uv replaces installed files (a new inode), it never writes into them. The editable
    install of the project's own package (a .pth naming its src/) is rewritten to the copy.
    With ``own_ports`` the copy takes this worker's ports (:func:`offset_ports`).
    """
    dst.mkdir(parents=True)
    for item in src.iterdir():
        flags = "-al" if item.name == ".venv" else "-a"
        subprocess.run(["cp", flags, str(item), str(dst / item.name)], check=True)
    for pth in (dst / ".venv/lib").glob("python*/site-packages/*.pth"):
        text = pth.read_text()
        if str(src) in text:
            pth.unlink()  # a new file: the hard link stays the original's
            pth.write_text(text.replace(str(src), str(dst)))
    if own_ports:
        offset_ports(dst)
    return dst


@pytest.fixture(scope="session")
def shared_spark(golden_project: Path) -> Iterator[str]:
    """One warm Spark Connect server for every project of the test session.

    A cold Spark costs ~10 s a run here. Through ``DSFLOW_SPARK_REMOTE`` (a Connect server
    elsewhere, as a user would set it) and the token in ``SPARK_CONNECT_AUTHENTICATE_TOKEN``,
    every run and backfill the tests start uses this server, started from golden_project's
    environment on a free port. Tests about how Spark starts (the project's own server, its
    spare kernel, a cold start) run without both variables: see :func:`own_spark_env`.
    """
    import secrets
    import socket

    from dsflow.project import find_project
    from dsflow.spark_server import server_launch

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = secrets.token_urlsafe(32)
    log = (golden_project.parent / "shared-spark.log").open("wb")
    command, launch_env = server_launch(find_project(golden_project), port)
    server = subprocess.Popen(
        command,
        cwd=golden_project,
        env={**os.environ, **launch_env, "SPARK_LOCAL_IP": "127.0.0.1", SPARK_TOKEN: token,
             "PYSPARK_PYTHON": str(golden_project / ".venv/bin/python")},
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, stopped as one below
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not listening(port):
            assert server.poll() is None, f"the shared Spark server exited: {log.name}"
            assert time.monotonic() < deadline, f"the shared Spark server did not start: {log.name}"
            time.sleep(0.25)
        url = f"sc://localhost:{port}"
        os.environ.update({REMOTE_ENV: url, SPARK_TOKEN: token})
        yield url
    finally:
        os.environ.pop(REMOTE_ENV, None)
        os.environ.pop(SPARK_TOKEN, None)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


@pytest.fixture
def other_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A folder on another filesystem than the projects': /dev/shm (tmpfs) when it is one,
    else a folder outside the project (a datastore moved there is still a second location)."""
    import tempfile

    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shm.stat().st_dev != tmp_path.stat().st_dev:
        folder = Path(tempfile.mkdtemp(prefix="dsflow-lake-", dir=shm))
    else:
        folder = tmp_path / "elsewhere"
        folder.mkdir()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def move_datastore(project: Path, folder: Path, publish: str = "swap") -> None:
    """Point ``project``'s dsflow.yml at ``folder`` (as a file:// URI) with ``publish``."""
    import re

    settings = project / "dsflow.yml"
    text, moved = re.subn(
        r"^datastore: datastore\b", f"datastore: file://{folder}", settings.read_text(), flags=re.M
    )
    text, chosen = re.subn(
        r"^datastore_publish: swap\b", f"datastore_publish: {publish}", text, flags=re.M
    )
    assert moved == chosen == 1, text
    settings.write_text(text)


def listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(autouse=True)
def _warm_spark(request: pytest.FixtureRequest) -> None:
    """Slow tests (tests/*.py) run on the shared server; the runtime's unit tier needs none."""
    if request.node.path.parent == Path(__file__).parent:
        request.getfixturevalue("shared_spark")


def own_spark_env() -> dict[str, str]:
    """The environment without the shared server: runs use the project's own Spark."""
    return {k: v for k, v in os.environ.items() if k not in (REMOTE_ENV, SPARK_TOKEN)}
