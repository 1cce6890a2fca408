"""dsflow.specs.load_spec on job folders written in tmp_path: the ``module:`` key of command-line
jobs, ``JobSpec.code_name``, and the one-line errors that name the file, line and key.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dsflow.errors import DsflowError
from dsflow.specs import DatasetRef, load_spec

from .conftest import job_spec, write_job


def refused(folder: Path, default_grain: str = "daily") -> str:
    """The message of the DsflowError load_spec raises for ``folder``; it must be one line."""
    with pytest.raises(DsflowError) as info:
        load_spec(folder, default_grain)
    message = str(info.value)
    assert "\n" not in message, message
    assert info.value.exit_code == 2
    return message


def spec_file(folder: Path) -> str:
    return str(folder / "job_specs.yaml")


# ------------------------------------------------------------------ script or module


def test_module_job_runs_a_module_and_has_no_script(tmp_path):
    folder = write_job(
        tmp_path,
        "fetch",
        "job_name: fetch\nclass: command-line\nmodule: dsflow.download\noutputs: [raw/meteo]\n",
    )
    spec = load_spec(folder)
    assert spec.module == "dsflow.download"
    assert spec.script is None
    assert spec.job_class == "command-line"
    assert spec.code_name == "-m dsflow.download"
    assert spec.outputs == [DatasetRef("raw", "meteo")]


def test_a_single_name_is_a_module_too(tmp_path):
    folder = write_job(tmp_path, "fetch", job_spec("fetch", script=None, module="mytool"))
    assert load_spec(folder).code_name == "-m mytool"


def test_script_job_has_its_file_as_code_name(tmp_path):
    folder = write_job(tmp_path, "clean", job_spec("clean"))
    spec = load_spec(folder)
    assert spec.module is None
    assert spec.script == (folder / "job.py").resolve()
    assert spec.code_name == "job.py"


def test_code_name_of_a_script_in_a_subfolder_and_of_a_notebook(tmp_path):
    shell = write_job(
        tmp_path, "shell", job_spec("shell", script="bin/run.sh"), {"bin/run.sh": "echo hi\n"}
    )
    assert load_spec(shell).code_name == "run.sh"
    notebook = write_job(
        tmp_path,
        "explore",
        job_spec("explore", **{"class": "notebook", "script": "explore.ipynb"}),
        {"explore.ipynb": "{}"},
    )
    assert load_spec(notebook).code_name == "explore.ipynb"


def test_script_and_module_together_are_refused(tmp_path):
    folder = write_job(
        tmp_path,
        "fetch",
        "job_name: fetch\nclass: command-line\nscript: job.py\nmodule: dsflow.download\n",
        {"job.py": "print('ok')\n"},
    )
    assert refused(folder) == (
        f"{spec_file(folder)}:4: module: give either script or module, not both"
    )


def test_neither_script_nor_module_is_refused(tmp_path):
    folder = write_job(tmp_path, "fetch", "job_name: fetch\nclass: command-line\n")
    assert refused(folder) == (
        f"{spec_file(folder)}: script: missing: name the notebook or script file of the job"
    )


@pytest.mark.parametrize("job_class", ["notebook", "dashboard"])
def test_module_on_a_job_that_is_not_command_line_is_refused(tmp_path, job_class):
    folder = write_job(
        tmp_path, "explore", f"job_name: explore\nclass: {job_class}\nmodule: dsflow.download\n"
    )
    assert refused(folder) == (
        f"{spec_file(folder)}:3: module: only a command-line job runs a module (a dotted name)"
    )


@pytest.mark.parametrize(
    "module",
    [
        "dsflow/download.py",
        "dsflow..download",
        "dsflow.download:main",
        "-m dsflow.download",
        "dsflow.",
        "2fast.module",
        "dsflow download",
        "",
    ],
)
def test_module_that_is_not_a_dotted_name_is_refused(tmp_path, module):
    text = f"job_name: fetch\nclass: command-line\nmodule: {json.dumps(module)}\n"
    folder = write_job(tmp_path, "fetch", text)
    assert refused(folder) == (
        f"{spec_file(folder)}:3: module: {module!r} is not a dotted Python module name"
    )


def test_module_with_a_trailing_newline_is_refused(tmp_path):
    # a YAML block scalar (`module: |`) keeps the newline; `python -m` would then fail at run time
    folder = write_job(
        tmp_path, "fetch", "job_name: fetch\nclass: command-line\nmodule: |\n  x.y\n"
    )
    assert "is not a dotted Python module name" in refused(folder)


# ------------------------------------------------------------------ the other keys


def test_unknown_key_is_named_with_its_line(tmp_path):
    folder = write_job(
        tmp_path, "clean", "job_name: clean\nclass: command-line\nscript: job.py\nscirpt: x\n"
    )
    message = refused(folder)
    assert message.startswith(f"{spec_file(folder)}:4: scirpt: unknown key (known: ")
    assert "module" in message and "script" in message


@pytest.mark.parametrize(
    ("script", "files", "cause"),
    [
        ("../other.py", {}, "'../other.py' must be a file inside the job folder"),
        ("/etc/hostname", {}, "'/etc/hostname' must be a file inside the job folder"),
        ("missing.py", {}, "'missing.py' does not exist in "),
    ],
)
def test_script_must_be_a_file_inside_the_job_folder(tmp_path, script, files, cause):
    (tmp_path / "other.py").write_text("print('outside')\n")
    folder = write_job(tmp_path, "clean", job_spec("clean", script=script), files)
    assert refused(folder).startswith(f"{spec_file(folder)}:3: script: {cause}")


def test_notebook_job_needs_a_notebook(tmp_path):
    folder = write_job(
        tmp_path,
        "explore",
        job_spec("explore", **{"class": "notebook", "script": "run.sh"}),
        {"run.sh": "echo hi\n"},
    )
    assert refused(folder) == (
        f"{spec_file(folder)}:3: script: a notebook job needs a .ipynb or a jupytext .py file"
    )


def test_job_name_must_match_the_folder(tmp_path):
    folder = write_job(tmp_path, "clean", job_spec("tidy"))
    assert refused(folder) == (
        f"{spec_file(folder)}:1: job_name: 'tidy' differs from the folder name 'clean'"
    )


def test_unknown_class_is_refused(tmp_path):
    folder = write_job(tmp_path, "clean", job_spec("clean", **{"class": "spark"}))
    assert refused(folder) == (
        f"{spec_file(folder)}:2: class: must be one of notebook, command-line, dashboard, "
        "not 'spark'"
    )


def test_invalid_yaml_names_its_line(tmp_path):
    folder = write_job(tmp_path, "clean", "job_name: clean\nclass: [command-line\n")
    message = refused(folder)
    assert message.startswith(f"{spec_file(folder)}:3: not valid YAML (")


def test_missing_spec_file(tmp_path):
    (tmp_path / "clean").mkdir()
    assert refused(tmp_path / "clean") == (
        f"{tmp_path / 'clean' / 'job_specs.yaml'}: missing; every job folder needs a job_specs.yaml"
    )


def test_grain_defaults_to_the_project_grain(tmp_path):
    folder = write_job(tmp_path, "clean", job_spec("clean"))
    assert load_spec(folder).grain == "daily"
    assert load_spec(folder, default_grain="hourly").grain == "hourly"
    explicit = write_job(tmp_path, "monthly-job", job_spec("monthly-job", grain="monthly"))
    assert load_spec(explicit, default_grain="hourly").grain == "monthly"
    bad = write_job(tmp_path, "bad", job_spec("bad", grain="decadal"))
    assert refused(bad).startswith(f"{spec_file(bad)}:4: grain: must be one of ")


def test_inputs_and_outputs_are_parsed(tmp_path):
    spec = job_spec(
        "clean",
        inputs=[
            "raw/meteo",
            {"table": "dim_station"},
            {"table": "observations", "partitions": "last_7", "external": True},
        ],
        outputs=["tables/daily_meteo"],
    )
    loaded = load_spec(write_job(tmp_path, "clean", spec))
    assert loaded.inputs == [
        DatasetRef("raw", "meteo"),
        DatasetRef("tables", "dim_station", kind="dimension"),
        DatasetRef("tables", "observations", partitions="last_7", external=True),
    ]
    assert [ref.path for ref in loaded.outputs] == ["tables/daily_meteo"]


@pytest.mark.parametrize(
    ("entry", "cause"),
    [
        ({"table": "x", "partitions": "last_0"}, "partitions must be same, previous, all or "),
        ({"table": "x", "kind": "lookup"}, "kind must be fact or dimension, not 'lookup'"),
        ("meteo", "entry {'?': 'meteo'} names no table"),
        ({"table": "a/b"}, "invalid dataset name 'a/b'"),
    ],
)
def test_bad_inputs_are_refused(tmp_path, entry, cause):
    """The line is the entry's own (the first entry is on line 5, under `inputs:`)."""
    folder = write_job(tmp_path, "clean", job_spec("clean", inputs=[entry]))
    assert refused(folder).startswith(f"{spec_file(folder)}:5: inputs: {cause}")


def test_unknown_check_is_refused(tmp_path):
    folder = write_job(tmp_path, "clean", job_spec("clean", checks=[{"max_rows": 5}]))
    assert refused(folder) == (
        f"{spec_file(folder)}:5: checks: unknown check 'max_rows' "
        "(known: min_rows, not_null, unique, schema, sql)"
    )


def test_an_anchor_bomb_is_refused_before_it_expands(tmp_path):
    """Nine levels of twelve aliases would be 12**9 strings once expanded (a hash of the
    parameters, a report): refused at load, naming the line of the first alias too many."""
    lines = ["job_name: bomb", "class: command-line", "script: job.py", 'a0: &a0 "lol"']
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 12) + "]")
    folder = write_job(tmp_path, "bomb", "\n".join(lines) + "\n", {"job.py": ""})
    assert refused(folder) == (
        f"{spec_file(folder)}:13: more than 100 YAML aliases (*name): write the values out instead"
    )


@pytest.mark.bad_input
@pytest.mark.parametrize(("levels", "width"), [(8, 11), (9, 10), (4, 25)])
def test_an_anchor_bomb_under_the_alias_limit_is_refused_too(tmp_path, levels, width):
    """89 or 90 aliases, each repeating the one before, expand to 10**9 values: the limit is
    on what the document expands to, not only on how many aliases it holds."""
    lines = ["job_name: bomb", "class: command-line", "script: job.py", "job_parameters:"]
    lines.append("  a0: &a0 [" + ", ".join(['"x"'] * 10) + "]")
    for level in range(1, levels + 1):
        lines.append(f"  a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    folder = write_job(tmp_path, "bomb", "\n".join(lines) + "\n", {"job.py": ""})
    message = refused(folder)
    assert message.startswith(f"{spec_file(folder)}:")
    assert message.endswith(
        ": this value expands to more than 20000 values through YAML aliases (*name): write "
        "the values out instead"
    )


def test_a_spec_larger_than_a_spec_needs_is_refused(tmp_path):
    body = "job_name: big\nclass: command-line\nscript: job.py\ndescription: " + "x" * 300_000
    folder = write_job(tmp_path, "big", body + "\n", {"job.py": ""})
    size = (folder / "job_specs.yaml").stat().st_size
    assert refused(folder) == (
        f"{spec_file(folder)}: {size} bytes, more than a job spec needs (at most 256 KiB)"
    )
