"""What the benchmarks share: timing a whole process, and a set-up project to time things in."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from snapshot import GIT_ID, snapshot_repo  # noqa: E402


def timed(cmd: list, cwd: Path) -> float:
    """Wall-clock seconds of ``cmd`` as its own process (it must succeed)."""
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - start


def template(base: Path) -> Path:
    """A tagged snapshot of this repository under ``base``."""
    return snapshot_repo(base / "template")


def set_up_project(repo: Path, project: Path) -> Path:
    """Bake ``project`` from ``repo``, commit it and run its `just setup`."""
    subprocess.run(
        ["copier", "copy", "--trust", "--defaults", "-q", str(repo), str(project)],
        check=True,
        capture_output=True,
    )
    subprocess.run(["just", "setup"], cwd=project, check=True, capture_output=True)
    for args in (["init", "-q"], ["add", "-A"], [*GIT_ID, "commit", "-q", "-m", "p"]):
        subprocess.run(["git", *args], cwd=project, check=True)
    return project
