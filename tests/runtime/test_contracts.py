"""Table contracts without a JVM: a staged partition checked by column name against its table's
schema (fixed, equal, widened, all-null, new and missing columns, drift refused with one
line, empty dimension snapshots), the run protocol keeping the previous partition, and the
pyarrow readers reading every partition with the table's schema."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dsflow.contract_enforcement import ContractViolation, enforce
from dsflow.contracts import Contract, declared_columns, read_contract, write_contract
from dsflow.errors import DsflowError
from dsflow.partitions import Partition
from dsflow.project import PROJECT_ROOT_ENV, find_project
from dsflow.specs import DatasetRef
from dsflow.sqltypes import normalize_type, spark_type

from .conftest import job_spec

DAY = Partition("daily", "2024-01-05")
SOURCE = "raw/weather/ds=2024-01-05"


@pytest.fixture
def table(tmp_path: Path) -> Path:
    folder = tmp_path / "datastore" / "tables" / "weather"
    folder.mkdir(parents=True)
    return folder


def stage(table: Path, data: pa.Table, name: str = "part-0.parquet") -> Path:
    staged = table / "_staging-x"
    staged.mkdir(exist_ok=True)
    pq.write_table(data, staged / name)
    return staged


def output(**keys) -> DatasetRef:
    return DatasetRef(
        "tables",
        keys.pop("name", "weather"),
        kind=keys.pop("kind", "fact"),
        schema=keys.pop("schema", None),
        evolve=keys.pop("evolve", False),
        allow_empty=keys.pop("allow_empty", False),
    )


def check(table: Path, staged: Path, ref: DatasetRef | None = None):
    return enforce(staged, table, ref or output(), "make-weather", DAY, SOURCE)


def fix(table: Path, **columns: str) -> None:
    write_contract(table, Contract(columns, fixed_by="test"))


def file_of(staged: Path) -> pa.Table:
    return pq.read_table(staged / "part-0.parquet")


WEATHER = pa.table(
    {
        "station": ["a", "b", "c"],
        "temp_max": pa.array([1.5, None, 3.0], pa.float64()),
        "rain": pa.array([0, 2, 5], pa.int64()),
    }
)


# ------------------------------------------------------------------ fixing the contract


def test_first_publish_fixes_the_partitions_schema(table):
    staged = stage(table, WEATHER)
    result = check(table, staged)
    assert result.changed
    assert result.contract.columns == {"station": "string", "temp_max": "double", "rain": "bigint"}
    assert not (table / "_schema.json").exists()  # the runner writes it after the publish
    write_contract(table, result.contract)
    assert json.loads((table / "_schema.json").read_text()) == {
        "columns": [
            {"name": "station", "type": "string"},
            {"name": "temp_max", "type": "double"},
            {"name": "rain", "type": "bigint"},
        ],
        "evolution": False,
        "fixed_by": "first publish: job make-weather, ds=2024-01-05",
    }
    assert read_contract(table) == result.contract


def test_a_declared_schema_is_the_contract_and_the_data_must_fit_it(table):
    data = WEATHER.set_column(2, "rain", pa.array([0, 2, 5], pa.int32()))
    staged = stage(table, data)
    declared = "station STRING, temp_max double, rain DOUBLE"
    result = check(table, staged, output(schema=declared))
    assert result.contract.columns == {"station": "string", "temp_max": "double", "rain": "double"}
    assert result.contract.fixed_by == "declared by job make-weather"
    assert file_of(staged).column("rain").to_pylist() == [0.0, 2.0, 5.0]
    assert file_of(staged).schema.field("rain").type == pa.float64()

    wrong = stage(table, data.set_column(0, "station", pa.array([1, 2, 3])))
    with pytest.raises(ContractViolation) as refused:
        check(table, wrong, output(schema=declared))
    assert str(refused.value) == (
        "table tables/weather: column station is bigint in this partition, the table's schema "
        f"says string (source {SOURCE}); nothing published"
    )


def test_the_partition_columns_are_never_part_of_the_contract(table):
    staged = stage(table, WEATHER.append_column("ds", pa.array(["x"] * 3)))
    assert "ds" not in check(table, staged).contract.columns


def test_no_data_and_no_declaration_fixes_nothing(table):
    staged = table / "_staging-x"
    staged.mkdir()
    result = check(table, staged)
    assert result.contract is None and not result.changed


# ------------------------------------------------------------------ a contract present


def test_the_same_schema_passes_untouched(table):
    fix(table, station="string", temp_max="double", rain="bigint")
    staged = stage(table, WEATHER)
    before = (staged / "part-0.parquet").read_bytes()
    result = check(table, staged)
    assert not result.changed and result.notes == []
    assert (staged / "part-0.parquet").read_bytes() == before


def test_columns_are_matched_by_name_not_position(table):
    fix(table, station="string", temp_max="double", rain="bigint")
    staged = stage(table, WEATHER.select(["rain", "temp_max", "station"]))
    assert not check(table, staged).changed


@pytest.mark.parametrize(
    ("arrow", "values", "contract", "expected"),
    [
        (pa.int32(), [1, None, -3], "double", pa.float64()),
        (pa.int64(), [2**40, 7, None], "double", pa.float64()),
        (pa.int8(), [1, 2, 3], "smallint", pa.int16()),
        (pa.int16(), [1, 2, 3], "int", pa.int32()),
        (pa.int32(), [1, 2, 3], "bigint", pa.int64()),
        (pa.float32(), [0.5, 1.25, None], "double", pa.float64()),
    ],
)
def test_a_safe_widening_is_coerced(table, arrow, values, contract, expected):
    fix(table, station="string", value=contract)
    staged = stage(table, pa.table({"station": ["a", "b", "c"], "value": pa.array(values, arrow)}))
    (staged / ".part-0.parquet.crc").write_bytes(b"spark's checksum")
    result = check(table, staged)
    assert not (staged / ".part-0.parquet.crc").exists()  # stale: Spark would refuse the file
    data = file_of(staged)
    assert data.schema.field("value").type == expected
    assert data.column("value").to_pylist() == [None if v is None else float(v) for v in values]
    assert data.column("station").to_pylist() == ["a", "b", "c"]
    assert result.notes == [f"column value: {spark_type(arrow)} coerced to {contract}"]
    assert not result.changed


@pytest.mark.parametrize(
    "arrow", [pa.string(), pa.null(), pa.bool_(), pa.struct([("a", pa.int32())])]
)
def test_an_all_null_column_takes_the_contracts_type(table, arrow):
    fix(table, station="string", temp_max="double")
    staged = stage(table, pa.table({"station": ["a", "b"], "temp_max": pa.nulls(2, arrow)}))
    check(table, staged)
    data = file_of(staged)
    assert data.schema.field("temp_max").type == pa.float64()
    assert data.column("temp_max").to_pylist() == [None, None]


def test_a_type_change_is_refused_with_one_line(table):
    fix(table, station="string", temp_max="double", rain="bigint")
    drift = WEATHER.set_column(1, "temp_max", pa.array(["1.5", "", "3.0"]))
    staged = stage(table, drift)
    before = (staged / "part-0.parquet").read_bytes()
    with pytest.raises(ContractViolation) as refused:
        check(table, staged)
    assert str(refused.value) == (
        "table tables/weather: column temp_max is string in this partition, the table's "
        "schema says double (source raw/weather/ds=2024-01-05); nothing published"
    )
    assert refused.value.exit_code == 1 and isinstance(refused.value, DsflowError)
    assert (staged / "part-0.parquet").read_bytes() == before


def test_a_narrowing_is_refused(table):
    """An inferred contract too narrow for later data (integers on the first day only): the
    refusal says how to widen it on purpose."""
    fix(table, station="string", rain="int")
    staged = stage(table, WEATHER.select(["station", "rain"]))  # bigint
    with pytest.raises(ContractViolation) as refused:
        check(table, staged)
    assert str(refused.value) == (
        "table tables/weather: column rain is bigint in this partition, the table's schema "
        "says int (source raw/weather/ds=2024-01-05); nothing published; if bigint is right, "
        "declare it: `schema: {rain: bigint}` on this output in jobs/make-weather/"
        "job_specs.yaml (partitions published as int read as bigint)"
    )


def test_a_new_column_is_refused_unless_the_schema_may_evolve(table):
    fix(table, station="string", temp_max="double")
    staged = stage(table, WEATHER)
    with pytest.raises(ContractViolation) as refused:
        check(table, staged)
    assert str(refused.value) == (
        "table tables/weather: column rain (bigint) is new in this partition, the table's "
        f"schema has no such column (source {SOURCE}); nothing published; to accept new "
        "columns add `schema_evolution: true` to this output in "
        "jobs/make-weather/job_specs.yaml"
    )
    result = check(table, staged, output(evolve=True))
    assert result.changed and result.contract.evolution
    assert result.contract.columns == {"station": "string", "temp_max": "double", "rain": "bigint"}
    assert "column rain (bigint) added" in result.notes


def test_a_missing_column_is_refused_or_filled_with_nulls_when_the_schema_may_evolve(table):
    fix(table, station="string", temp_max="double", rain="bigint")
    staged = stage(table, WEATHER.select(["station", "rain"]))
    with pytest.raises(ContractViolation) as refused:
        check(table, staged)
    assert str(refused.value) == (
        "table tables/weather: column temp_max (double) is missing in this partition "
        f"(source {SOURCE}); nothing published; to fill missing columns with nulls add "
        "`schema_evolution: true` to this output in jobs/make-weather/job_specs.yaml"
    )
    check(table, staged, output(evolve=True))
    data = file_of(staged)
    assert data.schema.field("temp_max").type == pa.float64()
    assert data.column("temp_max").to_pylist() == [None, None, None]


def test_a_column_without_values_yet_takes_the_first_type_it_gets(table):
    staged = stage(table, pa.table({"station": ["a"], "note": pa.nulls(1)}))
    first = check(table, staged)
    assert first.contract.columns["note"] == "void"
    assert "`note`" not in first.contract.ddl()  # Spark's Parquet reader has no null type
    write_contract(table, first.contract)
    staged = stage(table, pa.table({"station": ["a"], "note": ["hello"]}))
    second = check(table, staged)
    assert second.changed and second.contract.columns["note"] == "string"


def test_a_changed_declaration_wins_and_evolved_columns_stay(table):
    write_contract(table, Contract({"station": "string", "extra": "int"}, True, "x"))
    data = pa.table({"station": [1], "extra": pa.array([2], pa.int32())})
    result = check(table, stage(table, data), output(schema={"station": "bigint"}, evolve=True))
    assert result.changed
    assert result.contract.columns == {"station": "bigint", "extra": "int"}
    assert result.contract.fixed_by == "declared by job make-weather"
    assert result.notes == ["column station declared bigint (was string)"]


# ------------------------------------------------------------------ dimensions


def test_an_empty_dimension_snapshot_is_refused_unless_allowed(table):
    empty = stage(table, WEATHER.slice(0, 0))
    dim = output(name="dim_stations", kind="dimension")
    with pytest.raises(ContractViolation) as refused:
        check(table, empty, dim)
    assert str(refused.value) == (
        "table tables/dim_stations: this snapshot has 0 rows, and a dimension's latest "
        f"snapshot stands for every later day (source {SOURCE}); nothing published; to "
        "publish empty snapshots add `allow_empty: true` to this output in "
        "jobs/make-weather/job_specs.yaml"
    )
    allowed = output(name="dim_stations", kind="dimension", allow_empty=True)
    assert check(table, empty, allowed).contract is not None
    assert check(table, empty).contract is not None  # a fact partition may be empty


# ------------------------------------------------------------------ type names


@pytest.mark.parametrize(
    ("arrow", "spark"),
    [
        (pa.bool_(), "boolean"),
        (pa.int8(), "tinyint"),
        (pa.int16(), "smallint"),
        (pa.int32(), "int"),
        (pa.int64(), "bigint"),
        (pa.float32(), "float"),
        (pa.float64(), "double"),
        (pa.string(), "string"),
        (pa.large_string(), "string"),
        (pa.binary(), "binary"),
        (pa.date32(), "date"),
        (pa.timestamp("ns"), "timestamp"),
        (pa.timestamp("us", tz="UTC"), "timestamp"),
        (pa.decimal128(10, 2), "decimal(10,2)"),
        (pa.list_(pa.int32()), "array<int>"),
        (pa.map_(pa.string(), pa.float64()), "map<string,double>"),
        (pa.struct([("a", pa.int32()), ("b c", pa.string())]), "struct<a:int,`b c`:string>"),
        (pa.dictionary(pa.int32(), pa.string()), "string"),
        (pa.null(), "void"),
    ],
)
def test_spark_type_names(arrow, spark):
    assert spark_type(arrow) == spark
    assert normalize_type(spark) == spark


def test_declared_types_are_normalized(tmp_path):
    assert declared_columns("`a b` STRING, n Integer, amount decimal(12, 2), t timestamp") == {
        "a b": "string",
        "n": "int",
        "amount": "decimal(12,2)",
        "t": "timestamp",
    }
    assert declared_columns({"x": "LONG", "y": {"type": "array<struct<k: int>>"}}) == {
        "x": "bigint",
        "y": "array<struct<k:int>>",
    }
    path = tmp_path / "config" / "schemas" / "w.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("format: csv\ncolumns:\n  station: string\n  temp: double\n")
    assert declared_columns("config/schemas/w.yaml", tmp_path) == {
        "station": "string",
        "temp": "double",
    }
    with pytest.raises(DsflowError) as bad:
        declared_columns({"x": "dobule"})
    assert str(bad.value).startswith(
        "the declared schema: column x: unknown type 'dobule' (known: array<..>, bigint, "
    )


def test_a_damaged_contract_file_says_how_to_recover(table):
    (table / "_schema.json").write_text("{not json")
    with pytest.raises(DsflowError) as bad:
        read_contract(table)
    assert str(bad.value) == (
        f"{table}/_schema.json cannot be read (JSONDecodeError): fix it, or delete it and the "
        "next publish fixes the table's schema again"
    )


# ------------------------------------------------------------------ readers


def publish_by_hand(table: Path, key: str, data: pa.Table, kind: str = "fact") -> Path:
    part = table.joinpath(*key.split("/"))
    part.mkdir(parents=True)
    pq.write_table(data, part / "part-0.parquet")
    (part / "_dsflow.json").write_text(json.dumps({"kind": kind}))
    (part / "_SUCCESS").write_text("")
    return part


def test_read_arrow_reads_legacy_partitions_with_the_contracts_types(table):
    from dsflow.tables import read_arrow

    publish_by_hand(table, "ds=2024-01-01", pa.table({"n": pa.array([1, 2], pa.int32())}))
    publish_by_hand(
        table,
        "ds=2024-01-02",
        pa.table({"n": pa.array([3], pa.int64()), "gone": ["x"]}),
    )
    half = table / "ds=2024-01-03"  # no _SUCCESS: never read
    half.mkdir()
    pq.write_table(pa.table({"n": ["not a number"]}), half / "part-0.parquet")
    fix(table, n="double", added="string")
    got = read_arrow("weather", datastore=table.parent.parent)
    assert got.schema == pa.schema(
        [("n", pa.float64()), ("added", pa.string()), ("ds", pa.string())]
    )
    assert got.to_pylist() == [
        {"n": 1.0, "added": None, "ds": "2024-01-01"},
        {"n": 2.0, "added": None, "ds": "2024-01-01"},
        {"n": 3.0, "added": None, "ds": "2024-01-02"},
    ]
    ranged = read_arrow("weather", start="2024-01-02", datastore=table.parent.parent)
    assert ranged.column("ds").to_pylist() == ["2024-01-02"]


def test_read_arrow_names_a_partition_the_contract_cannot_read(table):
    from dsflow.tables import read_arrow

    publish_by_hand(table, "ds=2024-01-01", pa.table({"n": ["one"]}))
    fix(table, n="double")
    with pytest.raises(DsflowError) as bad:
        read_arrow("weather", datastore=table.parent.parent)
    assert str(bad.value) == (
        "table weather, partition ds=2024-01-01: column n is string, which cannot be read as "
        "double (the table's schema): re-run that partition"
    )


def test_read_arrow_gives_a_dimensions_snapshot_as_of_a_day(tmp_path):
    from dsflow.tables import read_arrow

    store = tmp_path / "datastore"
    dim = store / "tables" / "dim_stations"
    for day, n in [("2024-01-01", 1), ("2024-01-03", 2)]:
        rows = pa.table({"id": pa.array(range(n), pa.int32())})
        publish_by_hand(dim, f"ds={day}", rows, kind="dimension")
    fix(dim, id="bigint")
    latest = read_arrow("dim_stations", datastore=store)
    assert latest.column("ds").to_pylist() == ["2024-01-03", "2024-01-03"]
    assert latest.schema.field("id").type == pa.int64()
    as_of = read_arrow("dim_stations", as_of="2024-01-02", datastore=store)
    assert as_of.column("ds").to_pylist() == ["2024-01-01"]
    history = read_arrow("dim_stations", history=True, datastore=store)
    assert history.column("ds").to_pylist() == ["2024-01-01", "2024-01-03", "2024-01-03"]
    with pytest.raises(DsflowError, match="has no snapshot at or before 2023-12-31"):
        read_arrow("dim_stations", as_of="2023-12-31", datastore=store)


def test_dashboards_and_notebook_readers_apply_the_contract(table, monkeypatch):
    from dsflow.dashboards import read_table
    from dsflow.notebook import read_partition

    part = publish_by_hand(table, "ds=2024-01-01", pa.table({"n": pa.array([1, 2], pa.int32())}))
    publish_by_hand(table, "ds=2024-01-02", pa.table({"n": pa.array([3], pa.int64())}))
    fix(table, n="double")
    frame = read_table("weather", datastore=table.parent.parent)
    expected = pd.DataFrame({"n": [1.0, 2.0, 3.0], "ds": ["2024-01-01"] * 2 + ["2024-01-02"]})
    pd.testing.assert_frame_equal(frame, expected)
    assert read_partition(part)["n"].tolist() == [1.0, 2.0]
    assert read_partition(part, engine="arrow").schema == pa.schema([("n", pa.float64())])
    assert read_table("nothing", datastore=table.parent.parent).empty


# ------------------------------------------------------------------ the run protocol

# the job copies one of these files (written with pyarrow here) into its sink: a child process
# that imports nothing but the standard library
VARIANTS = {
    "double": pa.table({"id": ["a", "b"], "value": [1.0, 2.0]}),
    "int": pa.table({"id": ["a", "b"], "value": [1, 2]}),
    "string": pa.table({"id": ["a", "b"], "value": ["1", "2"]}),
    "null-id": pa.table({"id": ["a", None], "value": ["1", "2"]}),
}
WRITER = """
import json, os, pathlib, shutil
specs = json.loads(os.environ["TASK_SPECS"])
shutil.copy(specs["variant"] + ".parquet", pathlib.Path(specs["sink_path"]) / "part-0.parquet")
"""


@pytest.fixture
def runner_project(project_root, make_job, monkeypatch):
    monkeypatch.setenv(PROJECT_ROOT_ENV, str(project_root))
    for name, grain, table in [("make-w", "daily", "w"), ("make-u", "none", "u")]:
        spec = job_spec(
            name,
            grain=grain,
            outputs=[{"table": table}],
            job_parameters={"variant": "double"},
            checks=[{"not_null": ["id"]}],
        )
        folder = make_job(name, spec, {"job.py": textwrap.dedent(WRITER)})
        for variant, data in VARIANTS.items():
            pq.write_table(data, folder / f"{variant}.parquet")
    return find_project(project_root)


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_run_refused_by_the_contract_keeps_the_previous_partition(runner_project):
    from dsflow.execute import JobFailed
    from dsflow.runner import run_job

    store = runner_project.root / "datastore" / "tables" / "w"
    with pytest.raises(JobFailed, match="check not_null"):  # fails after the contract check
        run_job(runner_project, "make-w", "2024-01-01", {"variant": "null-id"})
    assert not (store / "_schema.json").exists()  # a failed run fixes nothing
    run_job(runner_project, "make-w", "2024-01-02")  # double: fixes the contract
    contract = json.loads((store / "_schema.json").read_text())
    assert contract == {
        "columns": [{"name": "id", "type": "string"}, {"name": "value", "type": "double"}],
        "evolution": False,
        "fixed_by": "first publish: job make-w, ds=2024-01-02",
    }
    before = files(store)
    with pytest.raises(JobFailed) as refused:
        run_job(runner_project, "make-w", "2024-01-02", {"variant": "string"})
    assert str(refused.value).startswith(
        "make-w ds=2024-01-02 failed: table tables/w: column value is string in this "
        "partition, the table's schema says double (source job make-w, which reads no "
        "input); nothing published; report: "
    )
    assert files(store) == before  # the partition and the contract, byte for byte
    run_job(runner_project, "make-w", "2024-01-03", {"variant": "int"})  # widened
    data = pq.read_table(store / "ds=2024-01-03" / "part-0.parquet")
    assert data.column("value").to_pylist() == [1.0, 2.0]
    assert data.schema.field("value").type == pa.float64()
    assert sorted(p.name for p in store.iterdir()) == [
        "_schema.json",
        "ds=2024-01-02",
        "ds=2024-01-03",
    ]


def test_an_unpartitioned_table_keeps_its_contract_across_publishes(runner_project):
    from dsflow.execute import JobFailed
    from dsflow.runner import run_job

    store = runner_project.root / "datastore" / "tables" / "u"
    run_job(runner_project, "make-u")
    assert read_contract(store).columns == {"id": "string", "value": "double"}
    run_job(runner_project, "make-u", None, {"variant": "int"})
    assert read_contract(store).columns == {"id": "string", "value": "double"}
    assert pq.read_table(store / "part-0.parquet").column("value").to_pylist() == [1.0, 2.0]
    before = files(store)
    with pytest.raises(JobFailed, match="column value is string in this partition"):
        run_job(runner_project, "make-u", None, {"variant": "string"})
    assert files(store) == before


def test_a_new_contract_names_older_partitions_it_cannot_read(runner_project, capfd):
    from dsflow.runner import run_job

    store = runner_project.root / "datastore" / "tables" / "w"
    publish_by_hand(store, "ds=2023-12-31", VARIANTS["string"])  # before contracts existed
    run_job(runner_project, "make-w", "2024-01-02")
    err = capfd.readouterr().err
    assert err.splitlines() == [
        "warning: table tables/w: ds=2023-12-31: value is string, the schema says double: "
        "readers fail on that partition until it is re-run"
    ]


def run_cells(text: str) -> dict:
    """Run a generated notebook's cells up to its Spark part; returns its variables."""
    scope: dict = {}
    exec(text.split("# Spark SQL over every table")[0], scope)
    return scope


def test_adhoc_opens_a_table_as_readers_see_it(project_root, monkeypatch):
    from dsflow.adhoc import adhoc_notebook_text

    monkeypatch.chdir(project_root)
    monkeypatch.delenv(PROJECT_ROOT_ENV, raising=False)

    project = find_project(project_root)
    tables = project_root / "datastore" / "tables"
    publish_by_hand(tables / "dim_x", "ds=2024-01-01", VARIANTS["int"], kind="dimension")
    part = publish_by_hand(tables / "fct_y", "ds=2024-01-01", VARIANTS["int"])
    dim = adhoc_notebook_text("look", project, tables / "dim_x")
    assert "frame = read_table('dim_x')" in dim
    assert "# A dimension: this reads its latest snapshot only;" in dim
    fact = adhoc_notebook_text("look", project, tables / "fct_y")
    assert "frame = read_table('fct_y')" in fact and "complete partitions only" in fact
    one = adhoc_notebook_text("look", project, part)
    assert "frame = read_partition(path)" in one
    assert "path = find_project().root / 'datastore/tables/fct_y/ds=2024-01-01'" in one
    fix(tables / "fct_y", id="string", value="double")
    publish_by_hand(tables / "dim_x", "ds=2024-01-02", VARIANTS["double"], kind="dimension")
    assert run_cells(dim)["frame"].to_dict("list") == {
        "id": ["a", "b"],
        "value": [1.0, 2.0],
        "ds": ["2024-01-02", "2024-01-02"],
    }
    assert run_cells(fact)["frame"]["value"].tolist() == [1.0, 2.0]  # the contract's type
    assert run_cells(one)["frame"]["value"].tolist() == [1.0, 2.0]


def test_an_unreadable_declared_schema_stops_the_run_before_it_runs(runner_project, make_job):
    from dsflow.runner import run_job

    spec = job_spec("bad", outputs=[{"table": "b", "schema": {"x": "dobule"}}])
    folder = make_job("bad", spec, {"job.py": "raise SystemExit('never run')\n"})
    with pytest.raises(DsflowError) as refused:
        run_job(runner_project, "bad", "2024-01-01")
    assert str(refused.value).startswith(
        f"{folder}/job_specs.yaml: output tables/b: the declared schema: column x: unknown "
        "type 'dobule' (known: "
    )
    assert not (runner_project.root / "datastore" / "job_runs" / "bad").exists()
