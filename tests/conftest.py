"""Shared fixtures: a tagged snapshot of this repository, and projects baked from it.

Copier must be pointed at a git repository (a dirty working tree records a `_commit` that
does not exist), so every test bakes from a temporary repository holding a snapshot of the
files git would track here, committed and tagged.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import copier
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from snapshot import REPO, git, snapshot_repo  # noqa: E402

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
