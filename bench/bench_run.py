"""A cold `just run` of a Spark notebook job against the naive papermill + nbconvert CLI pair.

    uv run just bench-run

Both sides run the same create_table_from_json notebook on the same raw partition, each as
fresh processes (cold JVM, cold kernel), in one project, alternating, N times each. The naive
side is what the original sandbox did per (job, ds): `papermill` CLI, then
`jupyter nbconvert --to html` as a separate process. Prints medians and their ratio
(DESIGN §10 budget: ratio <= 0.5).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
from pathlib import Path

from harness import set_up_project, template, timed

RUNS = 3
DS = "2024-01-02"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        project = set_up_project(template(base), base / "project")
        subprocess.run(
            ["just", "new-job", "create_table_from_json", "obs"],
            cwd=project, check=True, capture_output=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        raw = project / "datastore/raw/obs" / f"ds={DS}"
        raw.mkdir(parents=True)
        rows = [{"station": f"s{i % 3}", "temperature_c": i / 10} for i in range(72)]
        (raw / "obs.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (raw / "_SUCCESS").touch()
        venv = project / ".venv/bin"
        job = project / "jobs/create-table-obs"
        subprocess.run(
            [venv / "jupytext", "--set-kernel", "python3", "--to", "ipynb",
             "-o", base / "naive.ipynb", job / "notebook.py"],
            check=True, capture_output=True,
        )  # fmt: skip
        ours, naive = [], []
        for i in range(RUNS):
            ours.append(timed(["just", "run", "job=create-table-obs", f"ds={DS}"], project))
            out = base / f"naive-{i}"
            out.mkdir()
            naive.append(
                timed(
                    [venv / "papermill", base / "naive.ipynb", out / "out.ipynb", "-k", "python3",
                     "-p", "source_path", str(raw), "-p", "sink_path", str(out / "table"),
                     "--cwd", str(job)],
                    project,
                )
                + timed([venv / "jupyter", "nbconvert", "--to", "html", out / "out.ipynb"], project)
            )  # fmt: skip
    ours_m, naive_m = statistics.median(ours), statistics.median(naive)
    print(f"cold `just run` (Spark notebook job), median of {RUNS}: {ours_m:.1f} s")
    print(f"naive papermill CLI + nbconvert CLI,   median of {RUNS}: {naive_m:.1f} s")
    print(f"ratio ours/naive: {ours_m / naive_m:.2f}  (budget <= 0.50)")


if __name__ == "__main__":
    main()
