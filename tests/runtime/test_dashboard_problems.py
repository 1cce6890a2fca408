"""Dashboards and the explorer over data that cannot be read: the unreadable partitions are left
out and named (table, partition, file, the command that rewrites them), the rest is shown, and
a page answers HTTP 200 with an error panel instead of a 500.

Tables are written by hand in a tmp project's datastore, as :mod:`dsflow.publish` leaves them
(``part-0.parquet``, ``_dsflow.json``, ``_SUCCESS``); pages are requested through Flask's test
client: no server, no Spark.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dsflow.contracts import Contract, write_contract
from dsflow.dashboards import (
    MAX_LISTED,
    ReadProblem,
    TableData,
    guard_layout,
    load_table,
    problem_panel,
    read_table,
    serve,
    unreadable_partitions,
)
from dsflow.errors import DsflowError
from dsflow.project import PROJECT_ROOT_ENV

from .conftest import job_spec, write_job

REPO = Path(__file__).resolve().parents[2]
TEMPLATE_APP = REPO / "job-templates/plotly_dash_app/app.py"
DAYS = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
BAD = "2024-01-03"
GOOD = [d for d in DAYS if d != BAD]
MAGIC = (
    "Parquet magic bytes not found in footer. Either the file is corrupted or this is not a "
    "parquet file."
)


def publish(table: Path, key: str, data: pa.Table, job: str | None = None) -> Path:
    """A complete partition of ``table`` at ``key`` (``""``: the table is unpartitioned)."""
    part = table.joinpath(*key.split("/")) if key else table
    part.mkdir(parents=True, exist_ok=True)
    pq.write_table(data, part / "part-0.parquet")
    meta = {"kind": "fact", **({"job": job} if job else {})}
    (part / "_dsflow.json").write_text(json.dumps(meta))
    (part / "_SUCCESS").write_text("")
    return part


def rows(day: str) -> pa.Table:
    n = int(day[-2:])
    return pa.table({"n": [n, 10 * n], "label": [f"a{n}", f"b{n}"]})


@pytest.fixture
def project(project_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tmp project, current (as a served dashboard's is), with job write-x writing
    fct_x: five daily partitions."""
    monkeypatch.setenv(PROJECT_ROOT_ENV, str(project_root))
    write_job(project_root / "jobs", "write-x", job_spec("write-x", outputs=["tables/fct_x"]))
    for day in DAYS:
        publish(project_root / "datastore/tables/fct_x", f"ds={day}", rows(day))
    return project_root


def bad_file(project: Path, day: str = BAD) -> Path:
    return project / f"datastore/tables/fct_x/ds={day}/part-0.parquet"


def shown_days(data: TableData) -> list[str]:
    return sorted(set(data.frame["ds"]))


def flip_page_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for i in range(8, 60):  # the first data page's header; the footer stays intact
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate_footer_length(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:-8] + (10**6).to_bytes(4, "little") + b"PAR1")


# ------------------------------------------------------------------ a corrupt file

CORRUPTIONS: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated to half": (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), MAGIC),
    "empty file": (lambda p: p.write_bytes(b""), "Parquet file size is 0 bytes"),
    "not parquet at all": (lambda p: p.write_text("station,temp\nparis,3\n"), MAGIC),
    "footer claims more bytes than the file has": (
        truncate_footer_length,
        "Parquet file size is {size} bytes, smaller than the size reported by footer's "
        "(1000000bytes)",
    ),
    "corrupt data page, footer intact": (
        flip_page_bytes,
        "Couldn't deserialize thrift: Variable-length int over 10 bytes. Deserializing page "
        "header failed.",
    ),
}


@pytest.mark.bad_input
@pytest.mark.parametrize("corruption", CORRUPTIONS, ids=list(CORRUPTIONS))
def test_a_corrupt_file_leaves_its_partition_out_and_names_it(project, corruption):
    damage, reason = CORRUPTIONS[corruption]
    path = bad_file(project)
    damage(path)
    data = load_table("fct_x", DAYS[0], DAYS[-1])
    assert shown_days(data) == GOOD
    assert len(data.frame) == 2 * len(GOOD)
    (problem,) = data.problems
    assert problem == ReadProblem(
        "fct_x",
        f"ds={BAD}",
        path,
        f"table fct_x, partition ds={BAD}, file part-0.parquet: not readable Parquet "
        f"({reason.format(size=path.stat().st_size)}); re-run the job that writes it: "
        f"just run job=write-x ds={BAD}",
    )


def test_read_table_refuses_instead_of_leaving_partitions_out(project):
    bad_file(project).write_bytes(b"")
    bad_file(project, "2024-01-05").write_bytes(b"")
    with pytest.raises(DsflowError) as exc:
        read_table("fct_x")
    assert str(exc.value) == (
        f"table fct_x, partition ds={BAD}, file part-0.parquet: not readable Parquet (Parquet "
        f"file size is 0 bytes); re-run the job that writes it: just run job=write-x ds={BAD} "
        "(and 1 more)"
    )
    assert read_table("fct_nothing").empty  # a table not published yet: no rows, no error


def test_a_good_table_reads_as_before(project):
    data = load_table("fct_x", "2024-01-02", "2024-01-04")
    assert (shown_days(data), data.problems) == (["2024-01-02", "2024-01-03", "2024-01-04"], [])
    assert read_table("fct_x", "2024-01-02", "2024-01-04").equals(data.frame)


# ------------------------------------------------------------------ other unreadable data


@pytest.mark.bad_input
def test_a_column_of_another_type_than_the_other_partitions(project):
    publish(project / "datastore/tables/fct_x", f"ds={BAD}", pa.table({"n": ["x", "y"]}))
    data = load_table("fct_x")
    assert shown_days(data) == GOOD and data.frame["n"].dtype == "int64"
    assert [p.message for p in data.problems] == [
        f"table fct_x, partition ds={BAD}, file part-0.parquet: column n is string here but "
        f"bigint in the other partitions; re-run the job that writes it: just run job=write-x "
        f"ds={BAD}"
    ]


@pytest.mark.bad_input
def test_the_odd_partition_is_the_one_left_out_even_when_it_comes_first(project):
    publish(project / "datastore/tables/fct_x", f"ds={DAYS[0]}", pa.table({"n": ["x", "y"]}))
    data = load_table("fct_x")
    assert shown_days(data) == DAYS[1:]
    assert [p.partition for p in data.problems] == [f"ds={DAYS[0]}"]


@pytest.mark.bad_input
def test_a_value_the_tables_schema_cannot_hold(project):
    table = project / "datastore/tables/fct_x"
    write_contract(table, Contract({"n": "bigint", "label": "string"}, fixed_by="test"))
    publish(table, f"ds={BAD}", pa.table({"n": ["abc", "12"], "label": ["a", "b"]}))
    data = load_table("fct_x")
    assert shown_days(data) == GOOD
    assert [p.message for p in data.problems] == [
        f"table fct_x, partition ds={BAD}, file part-0.parquet: column n is string, which "
        f"cannot be read as bigint (the table's schema); re-run the job that writes it: "
        f"just run job=write-x ds={BAD}"
    ]


@pytest.mark.bad_input
def test_an_unreadable_contract_is_a_problem_of_the_whole_table(project):
    contract = project / "datastore/tables/fct_x/_schema.json"
    contract.write_text("{not json")
    data = load_table("fct_x")
    assert data.frame.empty
    assert [p.message for p in data.problems] == [
        f"{contract} cannot be read (JSONDecodeError): fix it, or delete it and the next "
        "publish fixes the table's schema again"
    ]


@pytest.mark.bad_input
def test_a_missing_table_folder(project):
    shutil.rmtree(project / "datastore/tables/fct_x")
    data = load_table("fct_x")
    folder = project / "datastore/tables/fct_x"
    assert data.frame.empty
    assert data.problems == [
        ReadProblem(
            "fct_x",
            "",
            folder,
            f"table fct_x: no folder {folder} (nothing published yet?); run the job that "
            "writes it: just run job=write-x",
        )
    ]
    assert load_table("fct_other").problems[0].message == (
        f"table fct_other: no folder {project / 'datastore/tables/fct_other'} (nothing "
        "published yet?); no job of this project writes fct_other: add one (just new-job) "
        "or correct the table's name"
    )


@pytest.mark.bad_input
def test_an_hourly_partition_names_its_hour(project):
    table = project / "datastore/tables/fct_hours"
    for hour in ("04", "05"):
        publish(table, f"ds=2024-01-02/hr={hour}", rows("2024-01-02"), job="write-hours")
    (table / "ds=2024-01-02/hr=05/part-0.parquet").write_bytes(b"")
    data = load_table("fct_hours")
    assert sorted(set(data.frame["hr"])) == ["04"]
    assert [p.message for p in data.problems] == [
        "table fct_hours, partition ds=2024-01-02/hr=05, file part-0.parquet: not readable "
        "Parquet (Parquet file size is 0 bytes); re-run the job that writes it: "
        "just run job=write-hours ds=2024-01-02T05"
    ]


@pytest.mark.bad_input
def test_an_unpartitioned_table(project):
    write_job(project / "jobs", "lookup", job_spec("lookup", grain="none", outputs=["tables/lk"]))
    part = publish(project / "datastore/tables/lk", "", rows("2024-01-01"))
    (part / "part-0.parquet").write_bytes(b"")
    data = load_table("lk")
    assert data.frame.empty
    assert [p.message for p in data.problems] == [
        "table lk, partition (unpartitioned), file part-0.parquet: not readable Parquet "
        "(Parquet file size is 0 bytes); re-run the job that writes it: just run job=lookup"
    ]


@pytest.mark.bad_input
def test_with_no_known_writer_the_message_gives_the_path(project):
    table = project / "datastore/tables/fct_orphan"
    for day in DAYS[:2]:
        publish(table, f"ds={day}", rows(day))
    path = table / f"ds={DAYS[1]}/part-0.parquet"
    path.write_bytes(b"")
    (problem,) = load_table("fct_orphan").problems
    assert problem.message == (
        f"table fct_orphan, partition ds={DAYS[1]}, file part-0.parquet: not readable Parquet "
        f"(Parquet file size is 0 bytes); no job of this project writes fct_orphan: replace "
        f"or remove {path}"
    )


def test_the_partitions_own_record_names_its_writer_when_no_spec_does(project):
    table = project / "datastore/tables/fct_old"
    publish(table, f"ds={BAD}", rows(BAD), job="retired-job")
    (table / f"ds={BAD}/part-0.parquet").write_bytes(b"")
    (problem,) = load_table("fct_old").problems
    assert problem.message.endswith(
        f"; re-run the job that writes it: just run job=retired-job ds={BAD}"
    )


# ------------------------------------------------------------------ the panels


def test_the_panel_warns_above_the_rows_that_were_read(project):
    bad_file(project).write_bytes(b"")
    panel = load_table("fct_x").panel()
    assert panel.role == "alert" and panel.style["borderLeft"] == "6px solid #ff7f0e"
    title, items = panel.children
    assert title.children == (
        "Some partitions of fct_x could not be read and are left out; the rest is shown:"
    )
    assert [li.children for li in items.children] == [
        f"table fct_x, partition ds={BAD}, file part-0.parquet: not readable Parquet (Parquet "
        f"file size is 0 bytes); re-run the job that writes it: just run job=write-x ds={BAD}"
    ]


def test_the_panel_is_an_error_when_nothing_could_be_read(project):
    for day in DAYS:
        bad_file(project, day).write_bytes(b"")
    data = load_table("fct_x")
    panel = data.panel()
    assert data.frame.empty and len(data.problems) == 5
    assert panel.style["borderLeft"] == "6px solid #d62728"
    assert panel.children[0].children == "fct_x could not be read:"


def test_no_problem_no_panel(project):
    panel = load_table("fct_x").panel()
    assert type(panel).__name__ == "Div" and panel.children is None


def test_a_long_list_is_cut_short():
    panel = problem_panel([f"problem {i}" for i in range(MAX_LISTED + 5)], "title")
    items = [li.children for li in panel.children[1].children]
    assert items[0] == "problem 0" and items[-1] == "... and 5 more"
    assert len(items) == MAX_LISTED + 1


# ------------------------------------------------------------------ the pages, over HTTP


def load_template_app(project: Path, name: str = "dash-x") -> object:
    """The plotly_dash_app template's app.py in job ``name`` of ``project``, imported."""
    spec = {
        "job_name": name,
        "class": "dashboard",
        "script": "app.py",
        "inputs": [{"table": "fct_x"}],
        "job_parameters": {"x_column": "ds", "y_column": "n", "color_column": ""},
    }
    folder = write_job(project / "jobs", name, spec, {"app.py": TEMPLATE_APP.read_text()})
    module_spec = importlib.util.spec_from_file_location(f"dsflow_test_{name}", folder / "app.py")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def get_layout(app: object) -> tuple[int, str]:
    response = app.server.test_client().get("/_dash-layout")
    return response.status_code, response.get_data(as_text=True)


def test_the_dashboard_template_shows_the_rest_and_a_warning(project):
    bad_file(project).write_bytes(b"")
    module = load_template_app(project)
    status, body = get_layout(module.app)
    assert status == 200
    text = json.dumps(json.loads(body))
    assert "Some partitions of fct_x could not be read and are left out; the rest is shown:" in text
    assert f"just run job=write-x ds={BAD}" in text
    figure, sample, panel = module.update(DAYS[0], DAYS[-1])  # the date picker's callback
    assert sorted(set(figure.data[0].x)) == GOOD
    assert {row["ds"] for row in sample} <= set(GOOD)
    assert f"partition ds={BAD}, file part-0.parquet" in panel.children[1].children[0].children


def test_the_dashboard_template_when_nothing_can_be_read(project):
    for day in DAYS:
        bad_file(project, day).write_bytes(b"")
    module = load_template_app(project)
    status, body = get_layout(module.app)
    assert status == 200 and "fct_x could not be read:" in body


def test_a_layout_that_raises_answers_200_with_the_error(capsys):
    from dash import Dash, html

    failure: list[Exception] = []

    def layout() -> object:
        if failure:
            raise failure[0]
        return html.Div("fine")

    app = Dash(__name__)
    app.layout = layout
    app.run = lambda **_: None  # serve() without a server: it guards the layout
    serve(app)
    failure.append(DsflowError("table fct_x: cannot read it; do this"))
    status, body = get_layout(app)
    assert status == 200
    assert (
        "This page could not be built:" in body and "table fct_x: cannot read it; do this" in body
    )
    failure[0] = ValueError("boom")
    status, body = get_layout(app)
    assert status == 200
    (item,) = json.loads(body)["props"]["children"][0]["props"]["children"][1]["props"]["children"]
    assert item["props"]["children"] == (
        "ValueError: boom (the traceback is in this dashboard's log: `just services` shows where)"
    )
    assert "Traceback" in capsys.readouterr().err
    assert guard_layout(app.layout) is app.layout  # guarded once


# ------------------------------------------------------------------ the explorer


def test_the_explorer_lists_unreadable_partitions(project):
    from dsflow.explorer import build_app

    bad_file(project).write_bytes(b"")
    publish(project / "datastore/tables/fct_x", "ds=2024-01-05", pa.table({"n": ["x", "y"]}))
    status, body = get_layout(build_app())
    assert status == 200
    text = json.dumps(json.loads(body))
    assert "Partitions that cannot be read (a dashboard leaves them out):" in text
    assert [p.message for p in unreadable_partitions(project / "datastore")] == [
        f"table fct_x, partition ds={BAD}, file part-0.parquet: not readable Parquet (Parquet "
        f"file size is 0 bytes); re-run the job that writes it: just run job=write-x ds={BAD}",
        "table fct_x, partition ds=2024-01-05, file part-0.parquet: column n is string here "
        "but bigint in the other partitions; re-run the job that writes it: just run "
        "job=write-x ds=2024-01-05",
    ]
    assert f"just run job=write-x ds={BAD}" in text


def test_the_explorer_sees_a_rewritten_file(project):
    bad_file(project).write_bytes(b"")
    assert len(unreadable_partitions(project / "datastore")) == 1
    publish(project / "datastore/tables/fct_x", f"ds={BAD}", rows(BAD))
    assert unreadable_partitions(project / "datastore") == []


def test_the_explorer_page_survives_any_failure(project, monkeypatch):
    import dsflow.explorer

    def unreadable(datastore: Path) -> list:
        raise PermissionError(13, "Permission denied", str(datastore / "tables"))

    monkeypatch.setattr(dsflow.explorer, "_tables_rows", unreadable)
    status, body = get_layout(dsflow.explorer.build_app())
    assert status == 200
    text = json.dumps(json.loads(body))
    assert "This page could not be built:" in text
    assert (
        f"PermissionError: [Errno 13] Permission denied: '{project / 'datastore/tables'}'" in text
    )


@pytest.mark.bad_input
def test_the_explorer_names_an_unreadable_contract(project):
    contract = project / "datastore/tables/fct_x/_schema.json"
    contract.write_text("[1, 2")
    assert [p.message for p in unreadable_partitions(project / "datastore")] == [
        f"{contract} cannot be read (JSONDecodeError): fix it, or delete it and the next "
        "publish fixes the table's schema again"
    ]
