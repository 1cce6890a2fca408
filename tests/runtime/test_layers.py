"""The runtime's layering: read-only views stay clear of the executor, default ports are
written once, and the table-driven CLI still offers (and documents) every command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import dsflow
import pytest
from dsflow.cli import COMMANDS, main
from dsflow.settings import DEFAULT_PORTS

from .conftest import job_spec, write_job, write_project

RUNTIME = Path(dsflow.__file__).parent
REPO = Path(__file__).resolve().parents[2]
# What executes jobs: a read-only view importing any of these pays for it on every call
# (papermill and pyspark take seconds) and could not run where they are absent.
EXECUTOR = ("dsflow.runner", "dsflow.execute", "dsflow.kernels", "papermill", "pyspark")
READ_ONLY = ("dsflow.status", "dsflow.tree", "dsflow.explorer", "dsflow.cli")
# Print which EXECUTOR modules the code before it loaded, as a JSON list.
REPORT = (
    "import json, sys\n"
    f"bad = {EXECUTOR!r}\n"
    "print(json.dumps(sorted(m for m in sys.modules if m.startswith(bad) and "
    "(m in bad or m.split('.')[0] in bad))))\n"
)


def executor_modules(code: str, cwd: Path | None = None) -> list[str]:
    """The executor modules a fresh interpreter has loaded after running ``code``."""
    result = subprocess.run(
        [sys.executable, "-c", code + "\n" + REPORT],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_read_only_views_do_not_import_the_executor():
    assert executor_modules(f"import {', '.join(READ_ONLY)}") == []


def test_status_and_tree_commands_do_not_import_the_executor(tmp_path):
    """`just status` and `just tree` on a project with a published partition (so staleness is
    worked out: code hash, parameters, upstream) and a reader of it."""
    root = write_project(tmp_path / "p")
    write_job(root / "jobs", "src", job_spec("src", outputs=["tables/t_src"]))
    reader = job_spec("agg", inputs=[{"table": "t_src", "partitions": "all"}])
    write_job(root / "jobs", "agg", {**reader, "outputs": ["tables/t_agg"]})
    part = root / "datastore" / "tables" / "t_src" / "ds=2024-01-02"
    part.mkdir(parents=True)
    (part / "_SUCCESS").write_text("")
    meta = {"run_id": "r1", "code_hash": "c2:0", "parameters_hash": "0", "grain": "daily"}
    (part / "_dsflow.json").write_text(json.dumps(meta))
    code = (
        "from dsflow.cli import main\n"
        "assert main(['status', 'start=2024-01-01', 'end=2024-01-03']) == 0\n"
        "assert main(['status', 'format=json']) == 0\n"
        "assert main(['tree']) == 0\n"
    )
    assert executor_modules(code, cwd=root) == []


def test_default_ports_are_written_in_settings_only():
    pattern = re.compile(
        r"(?<!\d)(" + "|".join(str(p) for p in DEFAULT_PORTS.values()) + r")(?!\d)"
    )
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted(RUNTIME.glob("*.py"))
        if path.name != "settings.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    listed = set(re.findall(r"^    (\S+)", out, re.M))
    assert listed == {cmd.name for cmd in COMMANDS}
    # every command the project's justfile calls exists
    justfile = (REPO / "project-template" / "justfile").read_text()
    assert set(re.findall(r'"\{\{ dsflow \}\}" ([\w-]+)', justfile)) <= listed


@pytest.mark.parametrize(
    "name",
    # airflow-cli hands --help to Airflow itself (installing it on first use)
    [cmd.name for cmd in COMMANDS if cmd.name != "airflow-cli"],
)
def test_each_command_has_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: just {name} ")
    cmd = next(cmd for cmd in COMMANDS if cmd.name == name)
    # what the command does, as argparse wrapped it
    assert " ".join((cmd.description or cmd.help).split()) in " ".join(out.split())
