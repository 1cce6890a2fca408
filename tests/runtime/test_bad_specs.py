"""Bad job specs refused at load, in one line naming the file, the line and the key: dataset and
job names (one rule, dsflow.names), ``partitions: last_<N>`` bounds and ``checks:`` arguments,
which used to fail only after the job ran, as a raw ValueError or TypeError.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from dsflow.errors import DsflowError
from dsflow.graph import build_graph
from dsflow.project import find_project
from dsflow.settings import load_settings
from dsflow.specs import load_spec

from .conftest import job_spec, write_job

RULE = "use lowercase letters, digits, '-' and '_', starting with a letter, at most 64 characters"
HEAD = "job_name: clean\nclass: command-line\nscript: job.py\n"


def spec_with(key: str, *entries: Any) -> str:
    """A spec whose ``key`` list holds ``entries``, one a line from line 5 (JSON is YAML)."""
    return HEAD + f"{key}:\n" + "".join(f"  - {json.dumps(e)}\n" for e in entries)


def refused(tmp_path: Path, text: str, name: str = "clean") -> tuple[str, str]:
    """(the spec file, the one-line message load_spec refuses it with)."""
    folder = write_job(tmp_path, name, text, {"job.py": ""})
    with pytest.raises(DsflowError) as info:
        load_spec(folder)
    message = str(info.value)
    assert "\n" not in message and info.value.exit_code == 2, message
    return str(folder / "job_specs.yaml"), message


# ------------------------------------------------------------------ dataset names


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("entry", "shown"),
    [
        pytest.param("raw/a\x00b", "'a\\x00b'", id="nul-byte"),
        pytest.param({"table": "a\nb"}, "'a\\nb'", id="newline"),
        pytest.param({"table": "meteo\n"}, "'meteo\\n'", id="trailing-newline"),
        pytest.param("tables/<b>x", "'<b>x'", id="html"),
        pytest.param({"raw": "<script>"}, "'<script>'", id="script-tag"),
        pytest.param("tables/a&b", "'a&b'", id="ampersand"),
        pytest.param({"table": 'a"b'}, "'a\"b'", id="double-quote"),
        pytest.param({"table": "_hidden"}, "'_hidden'", id="leading-underscore"),
        pytest.param("raw/.hidden", "'.hidden'", id="leading-dot"),
        pytest.param({"table": "a/b"}, "'a/b'", id="slash"),
        pytest.param({"table": "a b"}, "'a b'", id="space"),
        pytest.param({"table": "Meteo"}, "'Meteo'", id="uppercase"),
        pytest.param({"table": "t" * 300}, f"{'t' * 40!r}... (300 characters)", id="300-chars"),
        pytest.param({"raw": ""}, "(empty)", id="empty"),
        pytest.param({"table": None}, "(empty)", id="null"),
        pytest.param({"table": True}, "True (not text: put the name in quotes)", id="yaml-boolean"),
    ],
)
def test_bad_dataset_names_are_refused(tmp_path, entry, shown):
    path, message = refused(tmp_path, spec_with("inputs", entry))
    assert message == f"{path}:5: inputs: invalid dataset name {shown}: {RULE}"


def test_an_output_name_is_checked_on_its_own_line(tmp_path):
    path, message = refused(tmp_path, spec_with("outputs", "tables/ok", {"table": "_x"}))
    assert message == f"{path}:6: outputs: invalid dataset name '_x': {RULE}"


@pytest.mark.parametrize("entry", ["raw/meteo", {"table": "dim_station"}, "tables/a-b_1"])
def test_good_dataset_names_load(tmp_path, entry):
    folder = write_job(tmp_path, "clean", spec_with("inputs", entry), {"job.py": ""})
    assert len(load_spec(folder).inputs) == 1


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("job_name", "shown"),
    [
        pytest.param("j" * 300, f"{'j' * 40!r}... (300 characters)", id="300-chars"),
        pytest.param("yes", "True (not text: put the name in quotes)", id="yaml-boolean"),
        pytest.param('"a\\nb"', "'a\\nb'", id="newline"),
    ],
)
def test_bad_job_names_in_a_spec_are_refused(tmp_path, job_name, shown):
    text = f"job_name: {job_name}\nclass: command-line\nscript: job.py\n"
    path, message = refused(tmp_path, text)
    assert message == f"{path}:1: job_name: invalid job name {shown}: {RULE}"


# ------------------------------------------------------------------ partitions: last_<N>

BOUNDS = "partitions must be same, previous, all or last_<N> with N from 1 to 1000"


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("mapping", "shown"),
    [
        pytest.param("last_99999999", "'last_99999999'", id="huge"),
        pytest.param("last_1001", "'last_1001'", id="just-over"),
        pytest.param("last_0", "'last_0'", id="zero"),
        pytest.param("last_-1", "'last_-1'", id="negative"),
        pytest.param("last_", "'last_'", id="no-number"),
        pytest.param("last_7x", "'last_7x'", id="trailing-letter"),
        pytest.param("last_\u0663", "'last_\u0663'", id="arabic-digit"),
        pytest.param(
            "last_" + "9" * 5000, f"{'last_' + '9' * 35!r}... (5005 characters)", id="5000-digits"
        ),
        pytest.param(7, "'7'", id="a-number"),
        pytest.param("latest", "'latest'", id="unknown-word"),
    ],
)
def test_partitions_out_of_bounds_are_refused(tmp_path, mapping, shown):
    path, message = refused(tmp_path, spec_with("inputs", {"table": "x", "partitions": mapping}))
    assert message == f"{path}:5: inputs: {BOUNDS}, not {shown}"


@pytest.mark.parametrize("mapping", ["last_1", "last_07", "last_1000", "previous", "all"])
def test_partitions_within_bounds_load(tmp_path, mapping):
    entry = {"table": "x", "partitions": mapping}
    folder = write_job(tmp_path, "clean", spec_with("inputs", entry), {"job.py": ""})
    assert load_spec(folder).inputs[0].partitions == mapping


# ------------------------------------------------------------------ checks: arguments


ROWS = "min_rows needs a whole number of rows (0 or more), got"
SCHEMA = "schema needs a mapping of column: type name (string, int64, double, ...), got"


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("check", "problem"),
    [
        pytest.param({"min_rows": "ten"}, f"{ROWS} 'ten'", id="min_rows-text"),
        pytest.param({"min_rows": "10"}, f"{ROWS} '10'", id="min_rows-quoted-number"),
        pytest.param({"min_rows": None}, f"{ROWS} None", id="min_rows-missing"),
        pytest.param({"min_rows": -1}, f"{ROWS} -1", id="min_rows-negative"),
        pytest.param({"min_rows": 1.5}, f"{ROWS} 1.5", id="min_rows-fraction"),
        pytest.param({"min_rows": True}, f"{ROWS} True", id="min_rows-boolean"),
        pytest.param({"min_rows": [1]}, f"{ROWS} [1]", id="min_rows-list"),
        pytest.param(
            {"not_null": None},
            "not_null needs a column name or a list of column names, got None",
            id="not_null-missing",
        ),
        pytest.param(
            {"not_null": []},
            "not_null needs a column name or a list of column names, got []",
            id="not_null-empty-list",
        ),
        pytest.param(
            {"not_null": [1]},
            "not_null needs a column name or a list of column names, got [1]",
            id="not_null-number",
        ),
        pytest.param(
            {"not_null": {"column": "x"}},
            "not_null needs a column name or a list of column names, got {'column': 'x'}",
            id="not_null-extra-mapping",
        ),
        pytest.param(
            {"unique": ""},
            "unique needs a column name or a list of column names, got ''",
            id="unique-empty",
        ),
        pytest.param({"schema": ["id"]}, f"{SCHEMA} ['id']", id="schema-list"),
        pytest.param({"schema": {}}, f"{SCHEMA} {{}}", id="schema-empty"),
        pytest.param({"schema": {"id": 5}}, f"{SCHEMA} {{'id': 5}}", id="schema-number-type"),
        pytest.param(
            {"schema": {"v": "notatype"}},
            "schema: column v: unknown type 'notatype' (pyarrow's names, as a partition's files "
            "show them: int64, double, string, bool, date32[day], timestamp[us], "
            "decimal128(10, 2), ...)",
            id="schema-unknown-type",
        ),
        pytest.param(
            {"sql": None},
            "sql needs a query selecting the offending rows of `this`, got None",
            id="sql-missing",
        ),
        pytest.param(
            {"sql": ["SELECT 1"]},
            "sql needs a query selecting the offending rows of `this`, got ['SELECT 1']",
            id="sql-list",
        ),
        pytest.param(
            {"min_rows": 1, "not_null": "x"},
            "each check is a one-key mapping, got {'min_rows': 1, 'not_null': 'x'}",
            id="two-checks-in-one",
        ),
        pytest.param("min_rows", "each check is a one-key mapping, got 'min_rows'", id="bare"),
        pytest.param(
            {"max_rows": 5},
            "unknown check 'max_rows' (known: min_rows, not_null, unique, schema, sql)",
            id="unknown-check",
        ),
    ],
)
def test_bad_check_arguments_are_refused_at_load(tmp_path, check, problem):
    """The bad check is the second entry: the line is its own (6), not the `checks:` key's."""
    path, message = refused(tmp_path, spec_with("checks", {"min_rows": 1}, check))
    assert message == f"{path}:6: checks: {problem}"


def test_a_long_argument_is_shown_cut(tmp_path):
    path, message = refused(tmp_path, spec_with("checks", {"sql": 7 * 10**70}))
    shown = repr(7 * 10**70)[:60]
    assert message == (
        f"{path}:5: checks: sql needs a query selecting the offending rows of `this`, "
        f"got {shown}..."
    )


def test_valid_checks_load_unchanged(tmp_path):
    checks = [
        {"min_rows": 0},
        {"not_null": "station"},
        {"not_null": ["a", "b"]},
        {"unique": ["station", "observed_at"]},
        {"schema": {"station": "string", "2024": "double"}},
        {"sql": "SELECT * FROM this WHERE t < -90"},
    ]
    folder = write_job(tmp_path, "clean", spec_with("checks", *checks), {"job.py": ""})
    assert load_spec(folder).checks == checks


# ------------------------------------------------------------------ the graph


def test_job_names_differing_only_by_dash_and_underscore_are_refused(project_root):
    jobs = project_root / "jobs"
    write_job(jobs, "load-a", job_spec("load-a", outputs=["tables/a"]))
    write_job(jobs, "load_a", job_spec("load_a", outputs=["tables/b"]))
    project = find_project(project_root)
    with pytest.raises(DsflowError) as info:
        build_graph(project, load_settings(project))
    assert str(info.value) == (
        "jobs load-a and load_a differ only by '-' and '_': Airflow DAG code cannot tell them "
        "apart; rename one"
    )
