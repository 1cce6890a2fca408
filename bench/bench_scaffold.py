"""Whole-process timings of scaffolding, for the record (no budget yet).

    uv run just bench

Measures `copier copy` of a project and `just new-job` inside a set-up project, each as a
separate process, from a tagged snapshot of this repository; prints the median of N runs.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from snapshot import GIT_ID, snapshot_repo  # noqa: E402

RUNS = 5


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        repo = snapshot_repo(base / "template")
        copy_times = [
            timed(
                ["copier", "copy", "--trust", "--defaults", "-q", str(repo), str(base / f"p{i}")],
                base,
            )
            for i in range(RUNS)
        ]
        project = base / "p0"
        for args in (["init", "-q"], ["add", "-A"], [*GIT_ID, "commit", "-q", "-m", "p"]):
            subprocess.run(["git", *args], cwd=project, check=True)
        subprocess.run(["just", "setup"], cwd=project, check=True, capture_output=True)
        job_times = [
            timed(["just", "new-job", "create_table_from_json", f"t{i}"], project)
            for i in range(RUNS)
        ]
    print(f"copier copy (project), median of {RUNS}: {statistics.median(copy_times):.2f} s")
    print(f"just new-job,          median of {RUNS}: {statistics.median(job_times):.2f} s")


if __name__ == "__main__":
    main()
