"""Whole-process timings of scaffolding, for the record (no budget yet).

    uv run just bench

Measures `copier copy` of a project and `just new-job` inside a set-up project, each as a
separate process, from a tagged snapshot of this repository; prints the median of N runs.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from harness import set_up_project, template, timed

RUNS = 5


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        repo = template(base)
        copy_times = [
            timed(
                ["copier", "copy", "--trust", "--defaults", "-q", str(repo), str(base / f"p{i}")],
                base,
            )
            for i in range(RUNS)
        ]
        project = set_up_project(repo, base / "project")
        job_times = [
            timed(["just", "new-job", "create_table_from_json", f"t{i}"], project)
            for i in range(RUNS)
        ]
    print(f"copier copy (project), median of {RUNS}: {statistics.median(copy_times):.2f} s")
    print(f"just new-job,          median of {RUNS}: {statistics.median(job_times):.2f} s")


if __name__ == "__main__":
    main()
