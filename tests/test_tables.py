"""Tables and partitions for real: a job per grain writes and Spark reads its partitions back;
dimension snapshots as of a day; incomplete partitions invisible; input partition mappings;
each check passing and failing; bad partition values and grains.

Spark runs for real: a Spark Connect server (`just spark`) started for this module and stopped
after it, reached from the project's own Python.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import git, just

pytestmark = pytest.mark.slow

# one command-line job writes rows {n, label, ds_seen}; its spec is filled per test
WRITE_PY = """
import json, os, pathlib
import pyarrow as pa, pyarrow.parquet as pq
specs = json.loads(os.environ["TASK_SPECS"])
n = int(specs["rows"])
labels = [specs["label"]] * n
if specs["defect"] == "null":
    labels[0] = None
ids = list(range(n))
if specs["defect"] == "duplicate":
    ids[-1] = 0
values = [float(i) for i in ids]
if specs["defect"] == "negative":
    values[0] = -1.0
table = pa.table({"id": ids, "label": labels, "value": values, "ds_seen": [specs["ds"]] * n})
pq.write_table(table, pathlib.Path(specs["sink_path"]) / "part-0.parquet")
print(json.dumps(specs.get("source_paths", {})))
"""


def spec(name: str, grain: str, table: str, kind: str = "fact", **extra: object) -> str:
    body = {
        "job_name": name,
        "class": "command-line",
        "script": "write.py",
        "grain": grain,
        "outputs": [{"table": table, "kind": kind}],
        "job_parameters": {"rows": 3, "label": name, "defect": "none"},
        **extra,
    }
    return json.dumps(body, indent=2)  # JSON is YAML


JOBS = {
    "g-daily": spec("g-daily", "daily", "t_daily"),
    "g-hourly": spec("g-hourly", "hourly", "t_hourly"),
    "g-weekly": spec("g-weekly", "weekly", "t_weekly"),
    "g-monthly": spec("g-monthly", "monthly", "t_monthly"),
    "g-none": spec("g-none", "none", "t_none"),
    "snap": spec("snap", "daily", "dim_snap", kind="dimension"),
    "uses-snap": spec("uses-snap", "daily", "t_uses_snap", inputs=[{"table": "dim_snap"}]),
    "last-3": spec(
        "last-3", "daily", "t_last3", inputs=[{"table": "t_daily", "partitions": "last_3"}]
    ),
    "previous": spec(
        "previous", "daily", "t_prev", inputs=[{"table": "t_daily", "partitions": "previous"}]
    ),
    "checked": spec(
        "checked",
        "daily",
        "t_checked",
        checks=[
            {"min_rows": 2},
            {"not_null": ["label"]},
            {"unique": ["id"]},
            {"schema": {"id": "int64", "label": "string"}},
            {"sql": "SELECT * FROM this WHERE value < 0"},
        ],
    ),
    # writes t_hourly only while a test points it there (a dataset has one writer)
    "wrong-grain": spec("wrong-grain", "daily", "t_wrong_grain"),
    "reads-hourly": spec("reads-hourly", "daily", "t_rh", inputs=[{"table": "t_hourly"}]),
    "cumulative": spec(
        "cumulative", "daily", "t_cum", inputs=[{"table": "t_cum", "partitions": "previous"}]
    ),
}


@pytest.fixture(scope="module")
def project(env_project: Path):
    for name, text in JOBS.items():
        folder = env_project / "jobs" / name
        folder.mkdir(parents=True)
        (folder / "job_specs.yaml").write_text(text)
        (folder / "write.py").write_text(textwrap.dedent(WRITE_PY))
    git(env_project, "add", "-A")
    git(env_project, "commit", "-q", "-m", "table tests")
    yield env_project
    just(env_project, "stop-all")
    git(env_project, "rm", "-rq", *[f"jobs/{j}" for j in JOBS])
    git(env_project, "commit", "-q", "-m", "remove table tests")
    git(env_project, "clean", "-qfdX", "--", "datastore")


def spark_rows(project: Path, code: str) -> object:
    """Run ``code`` with ``spark`` (the project's, through its Connect server) in the project's
    Python; it must print one JSON document, returned parsed."""
    prelude = "import json\nfrom dsflow.spark import spark_session\nspark = spark_session()\n"
    result = subprocess.run(
        [str(project / ".venv/bin/python"), "-c", prelude + textwrap.dedent(code)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def refused(project: Path, *args: str, code: int = 2) -> str:
    result = just(project, *args, check=False)
    assert result.returncode == code, result
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("dsflow: error: "), result.stderr
    return lines[0].removeprefix("dsflow: error: ")


@contextlib.contextmanager
def edited_spec(project: Path, job: str, edit):
    """Apply ``edit`` to the job's spec (JSON, which is YAML) for the duration of the block."""
    path = project / "jobs" / job / "job_specs.yaml"
    original = path.read_text()
    data = json.loads(original)
    edit(data)
    path.write_text(json.dumps(data, indent=2))
    try:
        yield
    finally:
        path.write_text(original)


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# ------------------------------------------------------------------ grains


@pytest.mark.parametrize(
    ("job", "ds", "folder"),
    [
        ("g-daily", "2024-02-29", "t_daily/ds=2024-02-29"),
        ("g-hourly", "2024-01-02T05", "t_hourly/ds=2024-01-02/hr=05"),
        ("g-weekly", "2024-W05", "t_weekly/ds=2024-01-29"),
        ("g-monthly", "2024-02", "t_monthly/ds=2024-02"),
        ("g-none", "", "t_none"),
    ],
)
def test_each_grain_publishes_its_layout(project, job, ds, folder):
    args = ["run", f"job={job}"] + ([f"ds={ds}"] if ds else [])
    just(project, *args)
    part = project / "datastore/tables" / folder
    assert (part / "_SUCCESS").is_file()
    meta = json.loads((part / "_dsflow.json").read_text())
    assert meta["grain"] == job.removeprefix("g-")
    assert pq.read_table(part / "part-0.parquet").num_rows == 3


def test_spark_reads_every_grain_back_with_its_keys(project):
    for job, ds in [("g-hourly", "2024-01-02T06"), ("g-daily", "2024-03-01")]:
        just(project, "run", f"job={job}", f"ds={ds}")
    got = spark_rows(
        project,
        """
        from dsflow.tables import load_tables
        load_tables(spark)
        out = {}
        for view, cols in [("t_daily", "ds"), ("t_hourly", "ds, hr"), ("t_weekly", "ds"),
                           ("t_monthly", "ds"), ("t_none", "ds_seen")]:
            rows = spark.sql(f"SELECT DISTINCT {cols} FROM {view} ORDER BY {cols}").collect()
            out[view] = ["/".join(str(v) for v in r) for r in rows]
        print(json.dumps(out))
        """,
    )
    assert got == {
        "t_daily": ["2024-02-29", "2024-03-01"],
        "t_hourly": ["2024-01-02/05", "2024-01-02/06"],
        "t_weekly": ["2024-01-29"],
        "t_monthly": ["2024-02"],
        "t_none": [""],
    }


@pytest.mark.parametrize(
    ("job", "ds", "message"),
    [
        (
            "g-hourly",
            "2024-01-02T25",
            "invalid ds '2024-01-02T25' for grain hourly: expected YYYY-MM-DDTHH (00-23)",
        ),
        (
            "g-weekly",
            "2024-W54",
            "invalid ds '2024-W54' for grain weekly: expected YYYY-Www or the date of any day in the week",
        ),
        ("g-monthly", "2024-13", "invalid ds '2024-13' for grain monthly: expected YYYY-MM"),
    ],
)
def test_partition_values_that_do_not_fit_the_grain(project, job, ds, message):
    assert refused(project, "run", f"job={job}", f"ds={ds}") == message


def writes(table: str):
    def edit(data: dict) -> None:
        data["outputs"][0]["table"] = table

    return edit


def test_job_whose_grain_differs_from_its_table(project):
    just(project, "run", "job=g-hourly", "ds=2024-01-02T07")
    before = files(project / "datastore/tables/t_hourly")
    with (
        edited_spec(project, "g-hourly", writes("t_hourly_elsewhere")),
        edited_spec(project, "wrong-grain", writes("t_hourly")),
    ):
        assert refused(project, "run", "job=wrong-grain", "ds=2024-01-02") == (
            "job wrong-grain declares grain daily, but tables/t_hourly is hourly: "
            "set `grain: hourly` in its job_specs.yaml or write another table"
        )
    assert files(project / "datastore/tables/t_hourly") == before


def test_a_dataset_written_by_two_jobs_is_refused_by_run(project):
    """`just graph` refuses two writers; `just run` must too, or one job overwrites the
    other's partitions."""
    just(project, "run", "job=g-hourly", "ds=2024-01-02T09")
    before = files(project / "datastore/tables/t_hourly")
    with edited_spec(project, "wrong-grain", writes("t_hourly")):
        for job, other, ds in [
            ("g-hourly", "wrong-grain", "2024-01-02T09"),
            ("wrong-grain", "g-hourly", "2024-01-02"),
        ]:
            assert refused(project, "run", f"job={job}", f"ds={ds}") == (
                f"tables/t_hourly is also an output of job {other}: a dataset has one writer; "
                "rename the output of one of them in its job_specs.yaml"
            )
    assert files(project / "datastore/tables/t_hourly") == before


# ------------------------------------------------------------------ facts and dimensions


def test_dimension_as_of_picks_the_latest_snapshot_before(project):
    for day, label in [("2024-01-01", "first"), ("2024-01-03", "third")]:
        just(project, "run", "job=snap", f"ds={day}", f"label={label}")
    got = spark_rows(
        project,
        """
        from dsflow.tables import load_tables
        out = {}
        for as_of in ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-09"]:
            load_tables(spark, as_of=as_of)
            out[as_of] = [r[0] for r in spark.sql("SELECT DISTINCT label FROM dim_snap").collect()]
        out["history"] = spark.sql("SELECT COUNT(DISTINCT ds) FROM dim_snap_history").collect()[0][0]
        print(json.dumps(out))
        """,
    )
    assert got == {
        "2024-01-01": ["first"],
        "2024-01-02": ["first"],
        "2024-01-03": ["third"],
        "2024-01-09": ["third"],
        "history": 2,
    }
    # a job reading the dimension on day 2 is given day 1's snapshot
    result = just(project, "run", "job=uses-snap", "ds=2024-01-02")
    assert '"dim_snap": "' in result.stdout and 'dim_snap/ds=2024-01-01"' in result.stdout


def test_dimension_with_no_snapshot_before(project):
    just(project, "run", "job=snap", "ds=2024-01-01")
    assert refused(project, "run", "job=uses-snap", "ds=2023-12-31") == (
        "dimension tables/dim_snap has no snapshot at or before ds=2023-12-31; "
        "run it first: just run job=snap ds=2023-12-31"
    )
    got = spark_rows(
        project,
        """
        from dsflow.tables import load_tables
        views = load_tables(spark, as_of="2023-12-31")
        print(json.dumps([views["dim_snap"], views["dim_snap_history"]]))
        """,
    )
    assert got[0] == (
        "not registered: dimension table dim_snap has no snapshot at or before 2023-12-31 "
        "(its first is ds=2024-01-01)"
    )
    assert got[1].startswith("dimension, all ")  # the history stays


def test_incomplete_partitions_and_staging_are_invisible(project):
    just(project, "run", "job=g-daily", "ds=2024-05-01")
    table = project / "datastore/tables/t_daily"
    for folder in (table / "ds=2024-05-02", table / "_staging-g-daily-x"):
        folder.mkdir()  # no _SUCCESS: a half-written partition, a killed run's staging
        pq.write_table(
            pa.table({"id": [99], "label": ["half"], "value": [0.0], "ds_seen": ["x"]}),
            folder / "p.parquet",
        )
    got = spark_rows(
        project,
        """
        from dsflow.tables import load_tables
        load_tables(spark)
        print(json.dumps(spark.sql("SELECT COUNT(*) FROM t_daily WHERE label = 'half'").collect()[0][0]))
        """,
    )
    assert got == 0
    # the pyarrow reader of dashboards agrees
    code = "from dsflow.dashboards import read_table; print(len(read_table('t_daily')[lambda f: f.label == 'half']))"
    out = subprocess.run(
        [str(project / ".venv/bin/python"), "-c", code],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "0"
    shutil.rmtree(table / "ds=2024-05-02")
    shutil.rmtree(table / "_staging-g-daily-x")


def test_notebook_helpers(project):
    """The seed's notebook helpers, and partitions read and written alike from Spark and pandas."""
    just(project, "run", "job=g-daily", "ds=2024-09-01")
    got = spark_rows(
        project,
        """
        import pathlib, tempfile
        from dsflow.notebook import display, list_raw, list_tables, read_partition, sql, write_partition
        row = list_tables().set_index("table").loc["t_daily"]
        counted = sql("SELECT COUNT(*) AS n FROM t_daily WHERE ds = :ds", ds="2024-09-01", show=0)
        part = "datastore/tables/t_daily/ds=2024-09-01"
        frame = read_partition(part)
        display(frame)
        out = pathlib.Path(tempfile.mkdtemp())
        n_pandas = write_partition(frame.assign(ds="x"), out / "pandas")
        n_spark = write_partition(read_partition(part, engine="spark"), out / "spark")
        print(json.dumps({
            "kind": row["kind"], "count": int(counted.collect()[0]["n"]), "rows": len(frame),
            "n_pandas": n_pandas, "n_spark": n_spark,
            "pandas_columns": sorted(read_partition(out / "pandas").columns),
            "spark_columns": sorted(read_partition(out / "spark", engine="arrow").column_names),
            "raw_is_a_frame": list(list_raw().columns),
        }))
        """,
    )
    assert got == {
        "kind": "fact",
        "count": 3,
        "rows": 3,
        "n_pandas": 3,
        "n_spark": 3,
        "pandas_columns": ["ds_seen", "id", "label", "value"],
        "spark_columns": ["ds_seen", "id", "label", "value"],
        "raw_is_a_frame": ["dataset", "partitions", "first", "last"],
    }


# ------------------------------------------------------------------ input mappings


def test_last_n_and_previous_mappings(project):
    for day in ["2024-06-01", "2024-06-02", "2024-06-03"]:
        just(project, "run", "job=g-daily", f"ds={day}")
    result = just(project, "run", "job=last-3", "ds=2024-06-03")
    paths = json.loads(result.stdout.splitlines()[1])["t_daily"]
    assert [p.rsplit("/", 1)[1] for p in paths] == [
        "ds=2024-06-01",
        "ds=2024-06-02",
        "ds=2024-06-03",
    ]
    result = just(project, "run", "job=previous", "ds=2024-06-03")
    assert json.loads(result.stdout.splitlines()[1])["t_daily"].endswith("t_daily/ds=2024-06-02")
    assert refused(project, "run", "job=last-3", "ds=2024-06-04") == (
        "missing upstream partition tables/t_daily/ds=2024-06-04; run it first: just run job=g-daily ds=2024-06-04"
    )
    assert refused(project, "run", "job=previous", "ds=2024-06-01") == (
        "missing upstream partition tables/t_daily/ds=2024-05-31; run it first: just run job=g-daily ds=2024-05-31"
    )


def test_a_job_reading_its_own_previous_partition(project):
    first = just(project, "run", "job=cumulative", "ds=2024-08-01")  # nothing before it: fine
    assert json.loads(first.stdout.splitlines()[1]) == {"t_cum": []}
    second = just(project, "run", "job=cumulative", "ds=2024-08-02")
    assert json.loads(second.stdout.splitlines()[1])["t_cum"].endswith("t_cum/ds=2024-08-01")


def test_a_daily_job_over_an_hourly_table_waits_for_its_whole_day(project):
    """A rollup across grains (dsflow.mapping): the day reads its 24 hours, all of them."""
    just(project, "run", "job=g-hourly", "ds=2024-03-05T08")  # a day no other test touches
    assert refused(project, "run", "job=reads-hourly", "ds=2024-03-05") == (
        "missing upstream partition tables/t_hourly/ds=2024-03-05/hr=00 and 22 more of "
        "ds=2024-03-05; run them first: just backfill job=g-hourly start=2024-03-05T00 "
        "end=2024-03-05T23"
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("rows=many", "parameter rows: expected a number (int), got 'many'"),
        (
            "nope=1",
            "unknown parameter 'nope' for job g-daily (its job_parameters: defect, label, rows)",
        ),
    ],
)
def test_bad_parameter_override(project, override, message):
    assert refused(project, "run", "job=g-daily", "ds=2024-01-02", override) == message


# ------------------------------------------------------------------ checks


def test_checks_pass(project):
    result = just(project, "run", "job=checked", "ds=2024-07-01")
    record = json.loads((project / "datastore/job_runs/checked/ds=2024-07-01/run.json").read_text())
    assert record["checks"] == [
        "min_rows=2: 3 rows",
        "not_null(label)",
        "unique(id)",
        "schema (2 columns)",
        "sql: SELECT * FROM this WHERE value < 0",
    ]
    assert "ok checked ds=2024-07-01" in result.stdout


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("rows=1", "check min_rows=2 failed: 1 rows"),
        ("defect=null", "check not_null(label) failed: 1 null rows"),
        ("defect=duplicate", "check unique(id) failed: 1 duplicate rows"),
        (
            "defect=negative",
            "check sql failed: 1 offending rows for 'SELECT * FROM this WHERE value < 0'",
        ),
    ],
)
def test_failing_check_keeps_the_previous_partition(project, override, message):
    just(project, "run", "job=checked", "ds=2024-07-02")
    part = project / "datastore/tables/t_checked/ds=2024-07-02"
    before = files(part)
    result = just(project, "run", "job=checked", "ds=2024-07-02", override, check=False)
    assert result.returncode == 1
    assert f"dsflow: error: checked ds=2024-07-02 failed: {message}; report: " in result.stderr
    assert files(part) == before
    record = json.loads((project / "datastore/job_runs/checked/ds=2024-07-02/run.json").read_text())
    assert record["status"] == "failed" and message in record["error"]


def test_schema_check_failing(project):
    def edit(data):
        data["checks"][3] = {"schema": {"id": "int64", "label": "int64"}}

    with edited_spec(project, "checked", edit):
        result = just(project, "run", "job=checked", "ds=2024-07-03", check=False)
    assert result.returncode == 1
    assert "failed: check schema failed: label: expected int64, got string" in result.stderr
    assert not (project / "datastore/tables/t_checked/ds=2024-07-03").exists()


@pytest.mark.parametrize(
    ("index", "check", "message"),
    [
        (1, {"not_null": ["nope"]}, "check not_null: no column nope in the output"),
        (
            4,
            {"sql": "SELECT * FROM this WHERE nope < 0"},
            "check sql 'SELECT * FROM this WHERE nope < 0' cannot run: [UNRESOLVED_COLUMN",
        ),
    ],
)
def test_check_naming_a_missing_column(project, index, check, message):
    def edit(data):
        data["checks"][index] = check

    with edited_spec(project, "checked", edit):
        result = just(project, "run", "job=checked", "ds=2024-07-04", check=False)
    assert result.returncode == 1
    assert f"failed: {message}" in result.stderr
    assert not (project / "datastore/tables/t_checked/ds=2024-07-04").exists()


def test_unknown_check_is_a_spec_error(project):
    def edit(data):
        data["checks"][0] = {"max_rows": 2}

    with edited_spec(project, "checked", edit):
        message = refused(project, "run", "job=checked", "ds=2024-07-05")
    assert re.fullmatch(
        r".*/jobs/checked/job_specs\.yaml:\d+: checks: unknown check 'max_rows' "
        r"\(known: min_rows, not_null, unique, schema, sql\)",
        message,
    ), message
