"""dsflow.execute for command-line jobs: the command a spec runs (script by suffix, or
``python -m <module>``), and run_script's log, terminal output and one-line failure.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from dsflow.execute import JobFailed, run_script, script_command
from dsflow.specs import load_spec

from .conftest import job_spec, write_job


def spec_with(tmp_path: Path, script: str, code: str = "echo hi\n"):
    return load_spec(write_job(tmp_path, "job", job_spec("job", script=script), {script: code}))


def test_python_script_runs_with_this_interpreter(tmp_path):
    spec = spec_with(tmp_path, "job.py", "print('hi')\n")
    assert script_command(spec) == [sys.executable, str(tmp_path / "job" / "job.py")]


def test_shell_script_runs_with_bash(tmp_path):
    spec = spec_with(tmp_path, "bin/run.sh")
    assert script_command(spec) == ["bash", str(tmp_path / "job" / "bin" / "run.sh")]


def test_other_files_run_as_executables(tmp_path):
    spec = spec_with(tmp_path, "run")
    assert script_command(spec) == [str(tmp_path / "job" / "run")]


def test_module_job_runs_python_dash_m(tmp_path):
    spec = load_spec(write_job(tmp_path, "fetch", job_spec("fetch", script=None, module="a.b")))
    assert script_command(spec) == [sys.executable, "-m", "a.b"]


def test_script_gets_task_specs_and_runs_in_the_job_folder(tmp_path, capfd):
    code = (
        "import json, os, sys\n"
        "specs = json.loads(os.environ['TASK_SPECS'])\n"
        "print('cwd', os.getcwd())\n"
        "print('ds', specs['ds'], 'when', specs['when'])\n"
        "print('to the log only', file=sys.stderr)\n"
    )
    spec = spec_with(tmp_path, "job.py", code)
    log = tmp_path / "log.txt"
    run_script(script_command(spec), {"ds": "2024-01-02", "when": Path("/x")}, spec.folder, log)
    out, err = capfd.readouterr()
    assert out == f"cwd {spec.folder}\nds 2024-01-02 when /x\n"
    assert "to the log only" not in out + err
    logged = log.read_text()
    assert f"cwd {spec.folder}\n" in logged and "to the log only\n" in logged


def test_a_failing_script_is_one_line_with_its_last_error(tmp_path, capfd):
    code = (
        "import sys\n"
        "print('working')\n"
        "sys.stderr.write('first\\nboom: bad row 7\\n\\n')\n"
        "sys.exit(3)\n"
    )
    spec = spec_with(tmp_path, "job.py", code)
    with pytest.raises(JobFailed) as info:
        run_script(script_command(spec), {}, spec.folder, tmp_path / "log.txt")
    assert str(info.value) == "job.py exited 3: boom: bad row 7"
    assert info.value.exit_code == 1
    assert capfd.readouterr().out == "working\n"


def test_a_module_job_runs_the_runtime_downloader(tmp_path, capfd):
    spec = load_spec(
        write_job(tmp_path, "fetch", job_spec("fetch", script=None, module="dsflow.download"))
    )
    source = tmp_path / "source.json"
    source.write_text('{"a": 1}\n')
    sink = tmp_path / "sink"
    sink.mkdir()
    params = {"job_name": "fetch", "ds": "2024-01-02", "sink_path": str(sink), "retries": 0}
    run_script(
        script_command(spec), {**params, "url": source.as_uri()}, spec.folder, sink.parent / "a.log"
    )
    assert (sink / "source.json").read_text() == '{"a": 1}\n'
    assert capfd.readouterr().out.startswith("downloaded 9 bytes, wrote source.json, in ")

    missing = (tmp_path / "missing.json").as_uri()
    with pytest.raises(JobFailed) as info:
        run_script(
            script_command(spec), {**params, "url": missing}, spec.folder, tmp_path / "b.log"
        )
    assert str(info.value) == (
        f"dsflow.download exited 1: fetch: ds=2024-01-02: cannot read {missing}: "
        "No such file or directory"
    )
    assert json.loads((sink / "source.json").read_text()) == {"a": 1}  # left as it was
