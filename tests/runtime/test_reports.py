"""dsflow.reports.code_hash: what a run executes. Docs, copier's answers, hidden files, caches
and the spec's descriptive keys leave it alone (a docs-only template update keeps partitions up
to date); the code files and the spec keys that shape output change it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dsflow.reports import CODE_HASH_SCHEME, code_hash
from dsflow.specs import load_spec

from .conftest import job_spec, write_file, write_job, write_yaml

SPEC = job_spec(
    "clean",
    description="Cleans the meteo observations.",
    grain="daily",
    inputs=["raw/meteo"],
    outputs=["tables/meteo"],
    checks=[{"min_rows": 1}],
    job_parameters={"threshold": 3},
    task_specs={"sink_path": "tables/meteo/{{ partition }}"},
)
FILES: dict[str, str | bytes] = {
    "job.py": "print('clean')\n",
    "other.py": "print('other')\n",
    "lib/helpers.py": "LIMIT = 3\n",
    "query.sql": "SELECT * FROM meteo\n",
    "README.md": "# clean\n",
    "docs/notes.md": "notes\n",
    ".copier-answers.yml": "_commit: v1.0.0\ntemplate: create_table_from_sql\n",
    ".env": "TOKEN=1\n",
    "__pycache__/job.cpython-311.pyc": b"\x00\x01",
    "lib/__pycache__/helpers.cpython-311.pyc": b"\x00\x01",
    ".ipynb_checkpoints/job-checkpoint.py": "print('old')\n",
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_job(tmp_path, "clean", SPEC, FILES)


def hash_of(folder: Path) -> str:
    """The code hash of the job as it is on disk now (the spec re-read)."""
    return code_hash(load_spec(folder))


def edit(rel: str, content: str | bytes = "changed\n") -> Callable[[Path], None]:
    def _edit(folder: Path) -> None:
        write_file(folder / rel, content)

    return _edit


def respec(**keys: Any) -> Callable[[Path], None]:
    """Rewrite job_specs.yaml with ``keys`` replaced (None drops a key)."""

    def _respec(folder: Path) -> None:
        spec = {k: v for k, v in {**SPEC, **keys}.items() if v is not None}
        write_yaml(folder / "job_specs.yaml", spec)

    return _respec


def rewrite_spec_text(folder: Path) -> None:
    """The same spec with comments and another key order."""
    lines = (folder / "job_specs.yaml").read_text().splitlines()
    assert lines[0].startswith("job_name:") and lines[1].startswith("class:")
    (folder / "job_specs.yaml").write_text(
        "# a comment\n" + "\n".join([lines[1], lines[0], *lines[2:]]) + "\n"
    )


def test_hash_is_stable_and_marked_with_its_scheme(folder):
    """Hashes carry their scheme, so ones recorded by an older scheme are told apart."""
    value = hash_of(folder)
    assert value == hash_of(folder)
    assert value.startswith(CODE_HASH_SCHEME)
    assert re.fullmatch(r"[0-9a-f]{16}", value.removeprefix(CODE_HASH_SCHEME)), value


@pytest.mark.parametrize(
    "change",
    [
        edit("README.md"),
        edit("docs/notes.md"),
        edit("CHANGES.MD"),
        edit(".copier-answers.yml", "_commit: v2.0.0\ntemplate: create_table_from_sql\n"),
        edit(".env", "TOKEN=2\n"),
        edit(".cache/state.py"),
        edit("lib/.hidden.py"),
        edit("__pycache__/job.cpython-311.pyc", b"\x02"),
        edit("lib/__pycache__/helpers.cpython-311.pyc", b"\x02"),
        edit(".ipynb_checkpoints/job-checkpoint.py"),
        respec(description="Something else entirely."),
        respec(description=None),
        respec(job_parameters={"threshold": 4, "extra": "x"}),
        rewrite_spec_text,
    ],
    ids=[
        "README.md",
        "docs/notes.md",
        "CHANGES.MD",
        "copier-answers",
        "hidden-file",
        "hidden-folder",
        "hidden-nested",
        "pycache",
        "nested-pycache",
        "ipynb_checkpoints",
        "description",
        "description-dropped",
        "job_parameters",
        "comments-and-key-order",
    ],
)
def test_changes_that_do_not_run_keep_the_hash(folder, change):
    before = hash_of(folder)
    change(folder)
    assert hash_of(folder) == before


@pytest.mark.parametrize(
    "change",
    [
        edit("job.py", "print('clean, differently')\n"),
        edit("lib/helpers.py", "LIMIT = 4\n"),
        edit("query.sql", "SELECT * FROM meteo WHERE 1 = 1\n"),
        edit("lib/new_helper.py"),
        edit("data/lookup.csv", "a,b\n"),
        respec(inputs=["raw/meteo", "tables/dim_station"]),
        respec(outputs=["tables/meteo_clean"]),
        respec(checks=[{"min_rows": 10}]),
        respec(checks=None),
        respec(grain="hourly"),
        respec(task_specs={"sink_path": "tables/meteo/{{ ds }}"}),
        respec(script="other.py"),
        respec(script=None, module="dsflow.download"),
        respec(**{"class": "notebook"}),
    ],
    ids=[
        "script",
        "helper-module",
        "query.sql",
        "new-code-file",
        "data-file",
        "inputs",
        "outputs",
        "checks",
        "checks-dropped",
        "grain",
        "task_specs",
        "script-key",
        "module-key",
        "class",
    ],
)
def test_changes_to_what_runs_change_the_hash(folder, change):
    before = hash_of(folder)
    change(folder)
    assert hash_of(folder) != before


def test_a_moved_code_file_changes_the_hash(folder):
    before = hash_of(folder)
    (folder / "lib" / "helpers.py").rename(folder / "helpers.py")
    assert hash_of(folder) != before


def test_module_jobs_differ_by_module(tmp_path):
    one = write_job(
        tmp_path / "a", "fetch", job_spec("fetch", script=None, module="dsflow.download")
    )
    two = write_job(tmp_path / "b", "fetch", job_spec("fetch", script=None, module="mytool.fetch"))
    same = write_job(
        tmp_path / "c", "fetch", job_spec("fetch", script=None, module="dsflow.download")
    )
    (same / "README.md").write_text("# fetch\n")
    assert hash_of(one) != hash_of(two)
    assert hash_of(one) == hash_of(same)


def test_a_notebook_change_changes_the_hash(tmp_path):
    spec = job_spec("explore", **{"class": "notebook", "script": "explore.py"})
    folder = write_job(tmp_path, "explore", spec, {"explore.py": "# %%\nx = 1\n"})
    before = hash_of(folder)
    (folder / "explore.py").write_text("# %%\nx = 2\n")
    assert hash_of(folder) != before


def test_saving_a_notebook_with_new_outputs_keeps_the_hash(make_job):
    """Jupyter rewrites outputs, execution counts and metadata on save: not a code change; a
    changed cell source is."""
    import json

    from dsflow.reports import code_hash
    from dsflow.specs import load_spec

    def notebook(source: str, outputs: list) -> str:
        cell = {"cell_type": "code", "source": [source], "metadata": {}, "outputs": outputs,
                "execution_count": len(outputs)}  # fmt: skip
        return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})

    spec = {"job_name": "nb", "class": "notebook", "script": "nb.ipynb"}
    folder = make_job("nb", spec, files={"nb.ipynb": notebook("x = 1", [])})
    before = code_hash(load_spec(folder))
    (folder / "nb.ipynb").write_text(notebook("x = 1", [{"output_type": "stream", "text": "1"}]))
    assert code_hash(load_spec(folder)) == before
    (folder / "nb.ipynb").write_text(notebook("x = 2", []))
    assert code_hash(load_spec(folder)) != before
