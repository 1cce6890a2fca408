"""What makes a single run fast without changing what it does: the converted-notebook cache,
the row counts read from footers, and the `spark.server` / `spark.idle_stop_minutes` settings
that decide whether a run starts the project's Spark Connect server."""

from __future__ import annotations

import builtins
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dsflow.checks import run_checks
from dsflow.errors import DsflowError
from dsflow.execute import read_notebook
from dsflow.project import find_project
from dsflow.settings import load_settings

from .conftest import SETTINGS, write_project

NOTEBOOK = """# %% tags=["parameters"]
ds = "2024-01-01"

# %%
print(ds)
"""


def _no_jupytext(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `import jupytext` fail: a read that still works did not convert."""
    real = builtins.__import__

    def guarded(name, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if name == "jupytext":
            raise ImportError("jupytext must not be imported for a cached notebook")
        return real(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "jupytext", raising=False)
    monkeypatch.setattr(builtins, "__import__", guarded)


def test_a_converted_notebook_is_read_from_the_cache_the_second_time(tmp_path, monkeypatch):
    script = tmp_path / "notebook.py"
    script.write_text(NOTEBOOK)
    cache = tmp_path / "cache"
    first = read_notebook(script, cache)
    assert [c.cell_type for c in first.cells] == ["code", "code"]
    assert first.cells[0].metadata["tags"] == ["parameters"]
    assert len(list(cache.glob("*.ipynb"))) == 1
    _no_jupytext(monkeypatch)
    second = read_notebook(script, cache)
    assert [c.source for c in second.cells] == [c.source for c in first.cells]
    assert second.metadata["kernelspec"]["name"] == "python3"


def test_an_edited_notebook_is_converted_again(tmp_path):
    script = tmp_path / "notebook.py"
    script.write_text(NOTEBOOK)
    cache = tmp_path / "cache"
    read_notebook(script, cache)
    script.write_text(NOTEBOOK.replace("print(ds)", "print(ds * 2)"))
    edited = read_notebook(script, cache)
    assert edited.cells[1].source == "print(ds * 2)"  # never the stale conversion
    assert len(list(cache.glob("*.ipynb"))) == 2


def test_a_torn_cache_file_is_converted_again(tmp_path):
    script = tmp_path / "notebook.py"
    script.write_text(NOTEBOOK)
    cache = tmp_path / "cache"
    read_notebook(script, cache)
    (cached,) = cache.glob("*.ipynb")
    cached.write_text('{"cells": [')  # a run killed while writing it
    assert read_notebook(script, cache).cells[1].source == "print(ds)"


def test_min_rows_counts_footers_and_value_checks_read_every_file(tmp_path):
    folder = tmp_path / "staged"
    folder.mkdir()
    pq.write_table(pa.table({"k": [1, 2], "v": [1.0, None]}), folder / "part-0.parquet")
    pq.write_table(pa.table({"k": [3], "v": [2.5]}), folder / "part-1.parquet")
    assert run_checks(folder, [{"min_rows": 3}]) == ["min_rows=3: 3 rows"]
    assert run_checks(folder, [{"min_rows": 1}, {"unique": "k"}]) == [
        "min_rows=1: 3 rows",
        "unique(k)",
    ]
    with pytest.raises(DsflowError, match=r"check not_null\(v\) failed: 1 null rows"):
        run_checks(folder, [{"not_null": "v"}])


def test_spark_server_settings_default_to_auto_and_30_minutes(tmp_path):
    settings = load_settings(find_project(write_project(tmp_path / "p")))
    assert (settings.spark_server, settings.spark_idle_stop_minutes) == ("auto", 30.0)
    custom = {**SETTINGS, "spark": {"server": "manual", "idle_stop_minutes": 2.5}}
    settings = load_settings(find_project(write_project(tmp_path / "q", custom)))
    assert (settings.spark_server, settings.spark_idle_stop_minutes) == ("manual", 2.5)


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("spark", "message"),
    [
        ({"server": "always"}, "spark.server must be auto or manual, not 'always'"),
        ({"server": True}, "spark.server must be auto or manual, not True"),
        ({"idle_stop_minutes": 0}, "spark.idle_stop_minutes must be a positive number of minutes"),
        ({"idle_stop_minutes": -5}, "spark.idle_stop_minutes must be a positive number"),
        ({"idle_stop_minutes": "soon"}, "spark.idle_stop_minutes must be a positive number"),
        ({"idle_stop_minutes": True}, "spark.idle_stop_minutes must be a positive number"),
    ],
    ids=["unknown-mode", "boolean-mode", "zero", "negative", "text", "boolean"],
)
def test_bad_spark_server_settings_are_one_line(tmp_path, spark, message):
    project = find_project(write_project(tmp_path / "p", {**SETTINGS, "spark": spark}))
    with pytest.raises(DsflowError) as caught:
        load_settings(project)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith(str(project.root / "dsflow.yml"))
