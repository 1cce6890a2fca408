"""Shared fixtures: a tagged snapshot of this repository, and projects baked from it.

Copier must be pointed at a git repository (a dirty working tree records a `_commit` that
does not exist), so every test bakes from a temporary repository holding a snapshot of the
files git would track here, committed and tagged.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import copier
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from dsflow.envfile import SPARK_TOKEN  # noqa: E402
from snapshot import REPO, git, snapshot_repo  # noqa: E402

REMOTE_ENV = "DSFLOW_SPARK_REMOTE"

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


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    if any(FIGURES.values()):
        terminalreporter.write_line(
            f"reliability: {FIGURES['bad inputs']} bad inputs refused, "
            f"{FIGURES['faults injected']} faults injected, "
            f"{FIGURES['partitions checked']} partitions checked, "
            f"{FIGURES['partitions lost']} partitions lost"
        )


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tagged (v1.0.0) git snapshot of this template repository."""
    return snapshot_repo(tmp_path_factory.mktemp("template") / "dsflow")


def bake(src: Path, dst: Path, **data: object) -> Path:
    """Render a project (or, with template=<job template>, a job) with copier's API."""
    copier.run_copy(
        str(src), dst, data=data, defaults=True, unsafe=True, quiet=True, overwrite=True
    )
    return dst


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
def env_project(tmp_path_factory: pytest.TempPathFactory, template_repo: Path) -> Path:
    """A baked, committed project whose environment `just setup` has built (shared, slow)."""
    project = bake(template_repo, tmp_path_factory.mktemp("env") / "demo-project")
    run(["just", "setup"], cwd=project)
    init_git(project)  # after setup, as the README says: uv.lock is committed with the rest
    return project


@pytest.fixture(scope="session")
def shared_spark(env_project: Path) -> Iterator[str]:
    """One warm Spark Connect server for every project of the test session.

    A cold Spark costs ~10 s a run here. Through ``DSFLOW_SPARK_REMOTE`` (a Connect server
    elsewhere, as a user would set it) and the token in ``SPARK_CONNECT_AUTHENTICATE_TOKEN``,
    every run and backfill the tests start uses this server, started from env_project's
    environment on a free port. Tests about how Spark starts (the project's own server, its
    spare kernel, a cold start) run without both variables: see :func:`own_spark_env`.
    """
    import secrets
    import socket

    from dsflow.project import find_project
    from dsflow.spark_server import server_command

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = secrets.token_urlsafe(32)
    log = (env_project.parent / "shared-spark.log").open("wb")
    server = subprocess.Popen(
        server_command(find_project(env_project), port),
        cwd=env_project,
        env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", SPARK_TOKEN: token,
             "PYSPARK_PYTHON": str(env_project / ".venv/bin/python")},
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, stopped as one below
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not _listening(port):
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


def _listening(port: int) -> bool:
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
