"""What a run checks of its input partitions before the job starts (``check_input_files``):
inputs no job writes (raw data a user drops in) read as they are; a corrupt table file is named
with its partition."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dsflow.errors import DsflowError
from dsflow.project import PROJECT_ROOT_ENV, find_project
from dsflow.runner import run_job

from .conftest import job_spec

DS = "2024-01-02"


@pytest.mark.parametrize("writers", [0, 2], ids=["no-writer", "two-writers-elsewhere"])
def test_inputs_no_single_job_writes_are_read_as_they_are(
    project_root, make_job, monkeypatch, writers
):
    monkeypatch.setenv(PROJECT_ROOT_ENV, str(project_root))
    landing = project_root / "datastore/raw/landing" / f"ds={DS}"
    landing.mkdir(parents=True)
    (landing / "drop.csv").write_text("a\n1\n")
    (landing / "_SUCCESS").write_text("")
    dropped = project_root / "datastore/tables/dropped" / f"ds={DS}"
    dropped.mkdir(parents=True)
    pq.write_table(pa.table({"id": [1]}), dropped / "part-0.parquet")
    (dropped / "_SUCCESS").write_text("")
    spec = job_spec(
        "reads-landing", inputs=["raw/landing", {"table": "dropped"}], outputs=["raw/seen"]
    )
    make_job("reads-landing", spec)
    if writers == 2:  # both claim the table: no single job to name in a hint
        for name in ("w-one", "w-two"):
            make_job(name, job_spec(name, outputs=[{"table": "dropped"}]))
    project = find_project(project_root)
    if writers == 0:
        assert run_job(project, "reads-landing", DS).status == "success"

    (dropped / "part-0.parquet").write_bytes(b"not parquet")
    with pytest.raises(DsflowError) as refused:
        run_job(project, "reads-landing", DS)
    message = str(refused.value)
    if writers == 2:  # the one-writer rule speaks first only for the job's own outputs
        assert "not readable Parquet" in message
    assert message.startswith(f"input tables/dropped/ds={DS}: part-0.parquet is not readable")
    assert message.endswith("; replace the file or re-run the job that writes it")
