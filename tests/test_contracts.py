"""Table contracts in a real project: a daily table built from raw JSON days whose types drift.

Day 1 fixes the table's schema; a day whose temperatures arrive as text is refused with one
line naming the table, the column, both types and the raw partition, and nothing changes on
disk; a day of whole numbers is published as doubles. The command-line job writes Parquet with
pyarrow: no Spark, except in the last test (a legacy partition read through ``load_tables``).
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import git, just

pytestmark = pytest.mark.slow

SPEC = {
    "job_name": "weather",
    "class": "command-line",
    "script": "build.py",
    "inputs": ["raw/weather"],
    "outputs": [{"table": "weather"}],
}
BUILD_PY = """
import json, os, pathlib
import pyarrow.json as pj, pyarrow.parquet as pq
specs = json.loads(os.environ["TASK_SPECS"])
table = pj.read_json(pathlib.Path(specs["source_paths"]["weather"]) / "data.jsonl")
pq.write_table(table, pathlib.Path(specs["sink_path"]) / "part-0.parquet")
"""
# what the source served each day: numbers, then numbers as text, then whole numbers
DAYS = {
    "2024-01-01": [
        {"station": "paris", "temp_max": 7.5, "temp_min": 1.25},
        {"station": "lyon", "temp_max": 9.0, "temp_min": -0.5},
    ],
    "2024-01-02": [
        {"station": "paris", "temp_max": "8.1", "temp_min": 2.0},
        {"station": "lyon", "temp_max": "10.2", "temp_min": 0.5},
    ],
    "2024-01-03": [
        {"station": "paris", "temp_max": 6, "temp_min": 1},
        {"station": "lyon", "temp_max": 11, "temp_min": -2},
    ],
}


def write_raw(project: Path, day: str, rows: list[dict]) -> Path:
    folder = project / "datastore" / "raw" / "weather" / f"ds={day}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "_SUCCESS").write_text("")
    return folder / "data.jsonl"


@pytest.fixture(scope="module")
def project(env_project: Path):
    folder = env_project / "jobs" / "weather"
    folder.mkdir(parents=True)
    (folder / "job_specs.yaml").write_text(json.dumps(SPEC, indent=2))  # JSON is YAML
    (folder / "build.py").write_text(textwrap.dedent(BUILD_PY))
    git(env_project, "add", "-A")
    git(env_project, "commit", "-q", "-m", "contract tests")
    for day, rows in DAYS.items():
        write_raw(env_project, day, rows)
    yield env_project
    git(env_project, "rm", "-rq", "jobs/weather")
    git(env_project, "commit", "-q", "-m", "remove contract tests")
    git(env_project, "clean", "-qfdX", "--", "datastore")


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def python(project: Path, code: str) -> str:
    result = subprocess.run(
        [str(project / ".venv/bin/python"), "-c", textwrap.dedent(code)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


def test_the_first_publish_fixes_the_schema_and_drift_is_refused(project):
    table = project / "datastore" / "tables" / "weather"
    just(project, "run", "job=weather", "ds=2024-01-01")
    assert json.loads((table / "_schema.json").read_text()) == {
        "columns": [
            {"name": "station", "type": "string"},
            {"name": "temp_max", "type": "double"},
            {"name": "temp_min", "type": "double"},
        ],
        "evolution": False,
        "fixed_by": "first publish: job weather, ds=2024-01-01",
    }
    before = files(table)

    result = just(project, "run", "job=weather", "ds=2024-01-02", check=False)
    report = project / "datastore/job_runs/weather/ds=2024-01-02/log.txt"
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "dsflow: error: weather ds=2024-01-02 failed: table tables/weather: column temp_max is "
        "string in this partition, the table's schema says double (source "
        f"raw/weather/ds=2024-01-02); nothing published; report: {report}"
    ]
    assert not (table / "ds=2024-01-02").exists()
    assert files(table) == before
    record = json.loads((report.parent / "run.json").read_text())
    assert record["status"] == "failed" and "column temp_max is string" in record["error"]


def test_a_refused_rerun_keeps_the_published_partition_byte_identical(project):
    table = project / "datastore" / "tables" / "weather"
    just(project, "run", "job=weather", "ds=2024-01-01")
    before = files(table)
    source = write_raw(project, "2024-01-01", DAYS["2024-01-02"])  # the source drifted
    try:
        result = just(project, "run", "job=weather", "ds=2024-01-01", check=False)
    finally:
        write_raw(project, "2024-01-01", DAYS["2024-01-01"])
    assert result.returncode == 1
    assert "column temp_max is string in this partition" in result.stderr
    assert "(source raw/weather/ds=2024-01-01); nothing published" in result.stderr
    assert files(table) == before
    assert source.is_file()


def test_whole_numbers_where_doubles_are_expected_are_published_as_doubles(project):
    just(project, "run", "job=weather", "ds=2024-01-01")
    result = just(project, "run", "job=weather", "ds=2024-01-03")
    assert "schema tables/weather: column temp_max: bigint coerced to double" in result.stdout
    part = project / "datastore/tables/weather/ds=2024-01-03"
    published = pd.read_parquet(part)
    source = pd.read_json(
        project / "datastore/raw/weather/ds=2024-01-03/data.jsonl", lines=True
    ).astype({"temp_max": "float64", "temp_min": "float64"})
    pd.testing.assert_frame_equal(published, source)
    assert pq.read_schema(part / "part-0.parquet").field("temp_min").type == pa.float64()
    # the pyarrow reader of dashboards reads every day with the table's schema
    got = python(
        project,
        """
        import json
        from dsflow.dashboards import read_table
        frame = read_table("weather")
        print(json.dumps({"dtypes": {c: str(t) for c, t in frame.dtypes.items()},
                          "days": sorted(frame.ds.unique())}))
        """,
    )
    assert json.loads(got) == {
        "dtypes": {
            "station": "object",
            "temp_max": "float64",
            "temp_min": "float64",
            "ds": "object",
        },
        "days": ["2024-01-01", "2024-01-03"],
    }


def test_spark_reads_a_legacy_partition_with_the_contracts_types(project):
    """Not run by the contracts helper (no Spark allowed then): int32 written before the
    contract, double after it; Spark reads both as double through load_tables."""
    table = project / "datastore" / "tables" / "legacy_ints"
    for day, data in [
        ("2024-02-01", pa.table({"n": pa.array([1, 2], pa.int32()), "k": ["a", "b"]})),
        ("2024-02-02", pa.table({"n": pa.array([2.5], pa.float64()), "k": ["c"]})),
    ]:
        part = table / f"ds={day}"
        part.mkdir(parents=True)
        pq.write_table(data, part / "part-0.parquet")
        (part / "_SUCCESS").write_text("")
    (table / "_schema.json").write_text(
        json.dumps(
            {
                "columns": [{"name": "n", "type": "double"}, {"name": "k", "type": "string"}],
                "evolution": False,
                "fixed_by": "test",
            }
        )
    )
    got = python(
        project,
        """
        import json
        from dsflow.spark import spark_session
        from dsflow.tables import load_tables
        spark = spark_session()
        load_tables(spark)
        frame = spark.table("legacy_ints")
        rows = frame.orderBy("ds", "k").collect()
        print(json.dumps({
            "types": {f.name: f.dataType.simpleString() for f in frame.schema.fields},
            "rows": [[r["n"], r["k"], r["ds"]] for r in rows],
        }))
        """,
    )
    assert json.loads(got) == {
        "types": {"n": "double", "k": "string", "ds": "string"},
        "rows": [[1.0, "a", "2024-02-01"], [2.0, "b", "2024-02-01"], [2.5, "c", "2024-02-02"]],
    }
