"""The ``ok ...`` line of ``just run``: a table output counts rows, a raw output (a download,
files a job writes) counts files and bytes instead of "(1 rows)"; run.json keeps ``rows`` as
it was (the file count for raw outputs) and adds ``files`` and ``bytes`` for raw outputs.

The jobs are command-line scripts that import only the standard library (no Spark); the
download job runs dsflow.download against test_download.py's HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dsflow.project import PROJECT_ROOT_ENV, find_project

from . import test_download
from .conftest import job_spec, write_job
from .test_download import SAMPLE_JSON

http_server = test_download.http_server
server = test_download.server

DS = "2024-01-02"
pytestmark = pytest.mark.timeout(60)

# writes each file of its "files" parameter (JSON: name -> size in bytes) into its raw sink, and the
# table it was given into its table sink
WRITER = """
import json, os, pathlib, shutil
specs = json.loads(os.environ["TASK_SPECS"])
sinks = {k: pathlib.Path(v) for k, v in specs["sink_paths"].items()}
for name, size in json.loads(specs["files"]).items():
    path = pathlib.Path(specs["sink_path"]) / name  # the first output: the raw one
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
if "obs" in sinks:
    shutil.copy("obs.parquet", sinks["obs"] / "part-0.parquet")
"""


@pytest.fixture
def project(project_root: Path, make_job, monkeypatch: pytest.MonkeyPatch):
    """The project with two writer jobs; ``run_job`` sets the root in the environment, undone
    here."""
    monkeypatch.setenv(PROJECT_ROOT_ENV, str(project_root))
    files = {"job.py": textwrap.dedent(WRITER)}
    params = {"files": "{}"}
    make_job(
        "write-raw", job_spec("write-raw", outputs=["raw/meteo"], job_parameters=params), files
    )
    both = job_spec("write-both", outputs=["raw/notes", {"table": "obs"}], job_parameters=params)
    folder = make_job("write-both", both, files)
    pq.write_table(pa.table({"id": ["a", "b", "c", "d"]}), folder / "obs.parquet")
    return find_project(project_root)


def ok_line(out: str) -> str:
    """The ok line, its duration and report path replaced (they vary)."""
    line = next(line for line in out.splitlines() if line.startswith("ok "))
    line = re.sub(r" in \d+\.\d s ", " in _ s ", line)
    return re.sub(r"; report: .*$", "; report: _", line)


def run_record(root: Path, job: str) -> dict:
    return json.loads((root / "datastore/job_runs" / job / f"ds={DS}" / "run.json").read_text())


RAW = {
    "one-file-in-kib": ({"meteo.json": 2355}, "1 file, 2.3 KiB"),
    "empty-file": ({"meteo.json": 0}, "1 file, 0 B"),
    "bytes-below-a-kib": ({"meteo.json": 1023}, "1 file, 1023 B"),
    "exactly-one-kib": ({"meteo.json": 1024}, "1 file, 1.0 KiB"),
    "just-under-a-mib-rounds-up": ({"meteo.json": 1024 * 1024 - 1}, "1 file, 1.0 MiB"),
    "several-files-in-sub-folders": (
        {"a.csv": 1000, "b.csv": 1000, "zip/c.csv": 1500 * 1024},
        "3 files, 1.5 MiB",
    ),
    "no-files": ({}, "0 files, 0 B"),
}


@pytest.mark.parametrize("files, shown", RAW.values(), ids=RAW.keys())
def test_a_raw_output_reports_files_and_bytes(project, capsys, files, shown):
    from dsflow.runner import run_job

    run_job(project, "write-raw", DS, {"files": json.dumps(files)})
    assert ok_line(capsys.readouterr().out) == (
        f"ok write-raw ds={DS} in _ s -> raw/meteo/ds={DS} ({shown}); report: _"
    )
    record = run_record(project.root, "write-raw")
    assert record["rows"] == {"raw/meteo": len(files)}  # as run.json always had it
    assert record["files"] == {"raw/meteo": len(files)}
    assert record["bytes"] == {"raw/meteo": sum(files.values())}


def test_a_table_keeps_its_rows_beside_a_raw_output(project, capsys):
    from dsflow.runner import run_job

    run_job(project, "write-both", DS, {"files": json.dumps({"meteo.json": 2355})})
    assert ok_line(capsys.readouterr().out) == (
        f"ok write-both ds={DS} in _ s -> raw/notes/ds={DS} (1 file, 2.3 KiB), "
        f"tables/obs/ds={DS} (4 rows); report: _"
    )
    record = run_record(project.root, "write-both")
    assert record["rows"] == {"raw/notes": 1, "tables/obs": 4}
    assert record["files"] == {"raw/notes": 1}  # raw outputs only
    assert record["bytes"] == {"raw/notes": 2355}


def test_a_download_reports_its_file_and_size(project, server, capsys):
    """A download_file job (module dsflow.download) fetching one JSON file."""
    from dsflow.runner import run_job

    url = server.url(f"/samples/meteo/json/{DS}.json")
    params = {"url": url, "file_name": "meteo.json", "retries": 0, "timeout_s": 10}
    spec = job_spec(
        "fetch",
        script=None,
        module="dsflow.download",
        outputs=["raw/downloads"],
        job_parameters=params,
    )
    write_job(project.root / "jobs", "fetch", spec)
    run_job(find_project(project.root), "fetch", DS)
    size = SAMPLE_JSON.stat().st_size  # 11137 bytes today: 10.9 KiB
    shown = f"{size / 1024:.1f} KiB"
    assert ok_line(capsys.readouterr().out) == (
        f"ok fetch ds={DS} in _ s -> raw/downloads/ds={DS} (1 file, {shown}); report: _"
    )
    assert run_record(project.root, "fetch")["bytes"] == {"raw/downloads": size}
