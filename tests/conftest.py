"""Shared fixtures: a tagged snapshot of this repository, and projects baked from it.

Copier must be pointed at a git repository (a dirty working tree records a `_commit` that
does not exist), so every test bakes from a temporary repository holding a snapshot of the
files git would track here, committed and tagged.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import copier
import pytest

REPO = Path(__file__).resolve().parents[1]
GIT_ID = ["-c", "user.name=dsflow tests", "-c", "user.email=tests@dsflow.invalid"]


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` with a fixed identity; return stdout."""
    out = subprocess.run(
        ["git", *GIT_ID, *args], cwd=cwd, check=True, capture_output=True, text=True
    )
    return out.stdout


def snapshot_repo(dst: Path, tag: str = "v1.0.0") -> Path:
    """Copy the files git tracks (or would track) here into ``dst``, commit and tag them."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for raw in filter(None, files):
        rel = raw.decode()
        src = REPO / rel
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the working tree
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            target.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, target)
    git(dst, "init", "-q", "-b", "main")
    git(dst, "add", "-A")
    git(dst, "commit", "-q", "-m", "template snapshot")
    git(dst, "tag", tag)
    return dst


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


def init_git(project: Path) -> None:
    """Make ``project`` a git repository with everything committed (copier update needs it)."""
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "baked")


@pytest.fixture(scope="session")
def env_project(tmp_path_factory: pytest.TempPathFactory, template_repo: Path) -> Path:
    """A baked, committed project whose environment `just setup` has built (shared, slow)."""
    project = bake(template_repo, tmp_path_factory.mktemp("env") / "demo-project")
    init_git(project)
    run(["just", "setup"], cwd=project)
    return project
