"""`just run job=X ds=Y`: the run protocol, for real (papermill, Spark, scripts), in a set-up project."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import git, just, port, run

pytestmark = pytest.mark.slow

JOBS: dict[str, dict[str, str]] = {
    # a notebook (.ipynb) writing a small Parquet partition with pyarrow
    "squares": {
        "job_specs.yaml": """
            job_name: squares
            class: notebook
            script: squares.ipynb
            outputs:
              - table: squares
            job_parameters:
              n: 3
            checks:
              - min_rows: 1
              - not_null: [x]
        """,
    },
    # the same as a jupytext percent .py notebook, reading squares' partition
    "cubes": {
        "job_specs.yaml": """
            job_name: cubes
            class: notebook
            script: cubes.py
            inputs:
              - table: squares
            outputs:
              - table: cubes
            job_parameters:
              fail: "no"
        """,
        "cubes.py": """
            # %% tags=["parameters"]
            ds = ""
            sink_path = ""
            source_paths = {}
            fail = "no"

            # %%
            import pyarrow.parquet as pq

            squares = pq.read_table(source_paths["squares"])

            # %%
            if fail == "yes":
                raise ValueError("cubes cannot be computed today")

            # %%
            import pyarrow as pa
            xs = squares.column("x").to_pylist()
            pq.write_table(pa.table({"x": xs, "cube": [x**3 for x in xs]}), f"{sink_path}/part-0.parquet")
        """,
    },
    # a command-line script: parameters arrive in TASK_SPECS; sleeps on demand (kill, lock tests)
    "drop-file": {
        "job_specs.yaml": """
            job_name: drop-file
            class: command-line
            script: drop.py
            outputs:
              - raw/drops
            job_parameters:
              text: hello
              sleep: "0"
            task_specs:
              greeting: "{{ job_parameters.text }} on {{ ds }}"
        """,
        "drop.py": """
            import json, os, pathlib, time
            specs = json.loads(os.environ["TASK_SPECS"])
            out = pathlib.Path(specs["sink_path"])
            (out / "first-half.txt").write_text(specs["greeting"])
            print("half written", flush=True)
            time.sleep(float(specs["sleep"]))
            (out / "greeting.txt").write_text(specs["greeting"])
            print("done")
        """,
    },
}


def _squares_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('ds = ""\nsink_path = ""\nn = 1')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(
            "import pyarrow as pa, pyarrow.parquet as pq\n"
            "t = pa.table({'x': list(range(int(n))), 'sq': [i * i for i in range(int(n))]})\n"
            "pq.write_table(t, f'{sink_path}/part-0.parquet')\n"
            "print('rows', t.num_rows)"
        ),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


@pytest.fixture(scope="module")
def project(env_project: Path) -> Path:
    """The set-up project with the hand-written jobs above, committed."""
    for job, files in JOBS.items():
        folder = env_project / "jobs" / job
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(textwrap.dedent(text).lstrip())
    nbformat.write(_squares_notebook(), env_project / "jobs/squares/squares.ipynb")
    git(env_project, "add", "-A")
    git(env_project, "commit", "-q", "-m", "test jobs")
    yield env_project
    git(env_project, "rm", "-rq", *[f"jobs/{j}" for j in JOBS])
    git(env_project, "commit", "-q", "-m", "remove test jobs")
    git(env_project, "clean", "-qfdX", "--", "datastore")


def refused(project: Path, *args: str, code: int = 2) -> str:
    """just ARGS must fail with ``code`` and exactly one `dsflow: error:` line, no traceback."""
    result = just(project, *args, check=False)
    assert result.returncode == code, result
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("dsflow: error: "), result.stderr
    return lines[0]


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def visible(dataset: Path) -> list[str]:
    return sorted(p.name for p in dataset.iterdir() if not p.name.startswith(("_", ".")))


def test_notebook_job_publishes_partition_with_report(project):
    result = just(project, "run", "job=squares", "ds=2024-01-02", "n=4")
    part = project / "datastore/tables/squares/ds=2024-01-02"
    assert (part / "_SUCCESS").is_file()
    import pyarrow.parquet as pq

    assert pq.read_table(part / "part-0.parquet").column("sq").to_pylist() == [0, 1, 4, 9]
    meta = json.loads((part / "_dsflow.json").read_text())
    assert meta["rows"] == 4 and meta["job"] == "squares"
    report = project / "datastore/job_runs/squares/ds=2024-01-02"
    record = json.loads((report / "run.json").read_text())
    assert record["status"] == "success"
    assert record["rows"] == {"tables/squares": 4}
    assert record["parameters"]["n"] == 4  # the override took the default's type
    assert record["checks"] == ["min_rows=1: 4 rows", "not_null(x)"]
    assert re.fullmatch(r"c2:[0-9a-f]{16}", record["code_hash"]) and record["duration_s"] > 0
    html = (report / "report.html").read_text()
    assert "rows 4" in html
    # it opens offline: no script, module or stylesheet from the internet (require.js, MathJax)
    assert not re.search(r"""(src|href)=["']https?:|from ["']https?:""", html)
    assert "tables/squares/ds=2024-01-02 (4 rows)" in result.stdout
    out = just(project, "report", "job=squares").stdout
    assert "squares ds=2024-01-02: success" in out and "report.html" in out


def test_jupytext_notebook_reads_upstream(project):
    just(project, "run", "job=squares", "ds=2024-01-03", "n=3")
    just(project, "run", "job=cubes", "ds=2024-01-03")
    import pyarrow.parquet as pq

    table = pq.read_table(project / "datastore/tables/cubes/ds=2024-01-03/part-0.parquet")
    assert table.column("cube").to_pylist() == [0, 1, 8]
    record = json.loads((project / "datastore/job_runs/cubes/ds=2024-01-03/run.json").read_text())
    assert set(record["upstream"]) == {"tables/squares"}


def test_script_job_gets_task_specs(project):
    just(project, "run", "job=drop-file", "ds=2024-02-01", "text=bonjour")
    part = project / "datastore/raw/drops/ds=2024-02-01"
    assert (part / "greeting.txt").read_text() == "bonjour on 2024-02-01"
    log = (project / "datastore/job_runs/drop-file/ds=2024-02-01/log.txt").read_text()
    assert "half written" in log and "done" in log


def test_failing_notebook_keeps_previous_partition(project):
    just(project, "run", "job=squares", "ds=2024-01-05", "n=2")
    just(project, "run", "job=cubes", "ds=2024-01-05")
    part = project / "datastore/tables/cubes/ds=2024-01-05"
    before = tree_bytes(part)
    result = just(project, "run", "job=cubes", "ds=2024-01-05", "fail=yes", check=False)
    assert result.returncode == 1
    assert "cubes ds=2024-01-05 failed: cell" in result.stderr
    assert "ValueError: cubes cannot be computed today" in result.stderr
    assert tree_bytes(part) == before
    assert not list(part.parent.glob("_staging-*"))
    report = project / "datastore/job_runs/cubes/ds=2024-01-05"
    html = (report / "report.html").read_text()
    assert "cubes cannot be computed today" in html and "ValueError" in html
    assert json.loads((report / "run.json").read_text())["status"] == "failed"


def test_failing_check_blocks_publish(project):
    just(project, "run", "job=squares", "ds=2024-01-06", "n=2")
    part = project / "datastore/tables/squares/ds=2024-01-06"
    before = tree_bytes(part)
    result = just(project, "run", "job=squares", "ds=2024-01-06", "n=0", check=False)
    assert result.returncode == 1
    assert "check min_rows=1 failed: 0 rows" in result.stderr
    assert tree_bytes(part) == before


def test_sigkill_mid_write_leaves_previous_partition(project):
    just(project, "run", "job=drop-file", "ds=2024-03-01", "text=v1")
    part = project / "datastore/raw/drops/ds=2024-03-01"
    before = tree_bytes(part)
    proc = subprocess.Popen(
        ["just", "run", "job=drop-file", "ds=2024-03-01", "text=v2", "sleep=60"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert b"half written" in proc.stdout.readline() + proc.stdout.readline()
        staged = list(part.parent.glob("_staging-drop-file-*/first-half.txt"))
        assert staged and staged[0].read_text() == "v2 on 2024-03-01"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert tree_bytes(part) == before
    assert "ds=2024-03-01" in visible(part.parent)
    just(project, "run", "job=drop-file", "ds=2024-03-01", "text=v3")
    assert (part / "greeting.txt").read_text() == "v3 on 2024-03-01"
    assert not list(part.parent.glob("_staging-*")), "stale staging not cleaned"


def test_concurrent_runs_of_one_partition(project):
    first = subprocess.Popen(
        ["just", "run", "job=drop-file", "ds=2024-04-01", "text=first", "sleep=4"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.2)
    deadline = time.time() + 30
    while not list((project / "datastore/raw/drops").glob("_staging-drop-file-*")):
        assert time.time() < deadline and first.poll() is None
        time.sleep(0.1)
    line = refused(project, "run", "job=drop-file", "ds=2024-04-01", "text=second", code=3)
    assert "already running" in line
    assert first.wait(timeout=60) == 0
    part = project / "datastore/raw/drops/ds=2024-04-01"
    assert (part / "greeting.txt").read_text() == "first on 2024-04-01"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["job=nope", "ds=2024-01-02"], "unknown job 'nope'; jobs: cubes, drop-file, squares"),
        (["job=squares", "ds=2024-13-01"], "invalid ds '2024-13-01' for grain daily"),
        (["job=squares", "ds=yesterday"], "invalid ds 'yesterday' for grain daily"),
        (["job=squares", "ds="], "invalid ds an empty value for grain daily"),
        (["job=squares", "ds=2024-01-02", "colour=red"], "unknown parameter 'colour'"),
        (["job=../squares", "ds=2024-01-02"], "invalid job name '../squares'"),
        (["job=a/b", "ds=2024-01-02"], "invalid job name 'a/b'"),
        (["ds=2024-01-02"], "which job?"),
        (["job=squares", "ds"], "expected key=value, got 'ds'"),
        (
            ["job=cubes", "ds=1999-01-01"],
            "missing upstream partition tables/squares/ds=1999-01-01; "
            "run it first: just run job=squares ds=1999-01-01",
        ),
    ],
)
def test_bad_input(project, args, message):
    assert message in refused(project, "run", *args)
    assert not (project / "datastore/tables/cubes/ds=1999-01-01").exists()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("job_name: broken\nclass: notebook\n\tscript: x.py\n", "job_specs.yaml:3: not valid YAML"),
        ("job_name: broken\nclass: notebook\n", "job_specs.yaml: script: missing"),
        (
            "job_name: broken\nclass: notebook\nscript: gone.py\n",
            "job_specs.yaml:3: script: 'gone.py' does not exist",
        ),
        (
            "job_name: broken\nclass: notebok\nscript: x.py\n",
            "job_specs.yaml:2: class: must be one of",
        ),
        ("job_name: broken\nclas: notebook\n", "job_specs.yaml:2: clas: unknown key"),
    ],
)
def test_malformed_spec(project, spec, message):
    folder = project / "jobs/broken"
    folder.mkdir(exist_ok=True)
    (folder / "job_specs.yaml").write_text(spec)
    (folder / "x.py").write_text("")
    try:
        line = refused(project, "run", "job=broken", "ds=2024-01-02")
        assert message in line
        assert str(folder) in line
    finally:
        import shutil

        shutil.rmtree(folder)


def test_docker_runner_dry_run_command(project):
    """No Docker engine runs here: check the exact compose command line instead."""
    out = just(project, "run", "job=squares", "ds=2024-01-02", "runner=docker", "dry-run=true")
    assert out.stdout.strip() == (
        f"docker compose -f {project}/docker/compose.yaml --env-file {project}/.env "
        "run --rm runner python -m dsflow run job=squares ds=2024-01-02 runner=local"
    )


@pytest.mark.parametrize(("action", "tail"), [("up", "up -d --build"), ("down", "down")])
def test_compose_stack_dry_run_commands(project, action, tail):
    """No Docker engine runs here: `just up` / `just down` are checked by their command line,
    and without dry-run they say Docker is missing (exit 2)."""
    out = just(project, action, "dry-run=true").stdout.strip()
    # the ports published on 127.0.0.1 come from dsflow.yml (its defaults, shifted on a second
    # xdist worker); no --project-directory, so compose resolves the file's `..` paths from
    # docker/
    assert out == (
        f"JUPYTER_PORT={port('jupyter')} AIRFLOW_PORT={port('airflow')} "
        f"EXPLORER_PORT={port('explorer')} "
        f"docker compose -f {project}/docker/compose.yaml "
        f"--env-file {project}/.env --profile services {tail}"
    )
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode:
        result = just(project, action, check=False)
        assert result.returncode == 2
        assert "needs Docker with the compose plugin" in result.stderr


def test_compose_file_is_valid(project):
    """The compose file (runner, Jupyter, explorer, Airflow and its Postgres) passes the
    compose-spec schema shipped with check-jsonschema; no engine runs it here."""
    run(
        [
            "check-jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(project / "docker/compose.yaml"),
        ],
        cwd=project,
    )
    broken = project / "datastore/broken-compose.yaml"
    broken.write_text(yaml.safe_dump({"services": {"runner": {"image": 3, "ports": "x"}}}))
    result = run(
        ["check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(broken)],
        cwd=project,
        check=False,
    )
    assert result.returncode == 1


def test_compose_builds_find_their_files(project):
    """No engine builds the images here, so check what a build would first trip on: every
    service that builds names a Dockerfile in the project, each COPY source exists in the
    build context, and base images carry a version tag."""
    compose = yaml.safe_load((project / "docker/compose.yaml").read_text())
    runner = compose["services"]["runner"]
    mounts = {
        target: (project / "docker" / source).resolve()
        for source, target in (v.split(":") for v in runner["volumes"])
    }
    assert mounts == {"/project": project.resolve(), "/data": (project / "datastore").resolve()}
    built = {name: svc["build"] for name, svc in compose["services"].items() if "build" in svc}
    assert {"runner", "jupyter", "explorer", "airflow"} <= set(built)
    for name, build in built.items():
        context = (project / "docker" / build["context"]).resolve()
        dockerfile = context / build["dockerfile"]
        assert dockerfile.is_file(), f"{name}: {dockerfile} missing"
        for line in dockerfile.read_text().splitlines():
            words = line.split()
            if words[:1] == ["FROM"]:
                assert ":" in words[1] and not words[1].endswith(":latest"), line
            if words[:1] == ["COPY"] and not words[1].startswith("--from"):
                for source in words[1:-1]:
                    assert (context / source).exists(), f"{name}: {line}: {source} missing"


def test_spark_notebook_job_from_template(project):
    """create_table_from_json (a cold Spark session): raw JSON Lines -> a Parquet partition."""
    just(project, "new-job", "create_table_from_json", "obs")
    raw = project / "datastore/raw/obs/ds=2024-01-02"
    raw.mkdir(parents=True)
    rows = [{"station": s, "temperature_c": t} for s, t in [("a", 1.5), ("b", 2.5), ("a", 3.0)]]
    (raw / "obs.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (raw / "_SUCCESS").touch()
    result = just(project, "run", "job=create-table-obs", "ds=2024-01-02")
    assert "tables/obs/ds=2024-01-02 (3 rows)" in result.stdout
    import pyarrow.parquet as pq

    table = pq.read_table(project / "datastore/tables/obs/ds=2024-01-02")
    assert sorted(table.column("temperature_c").to_pylist()) == [1.5, 2.5, 3.0]
    html = (project / "datastore/job_runs/create-table-obs/ds=2024-01-02/report.html").read_text()
    assert "temperature_c" in html  # the schema and sample are in the report


def test_download_job_from_template_over_file_url(project):
    """download_file through `just run`: the URL's {{ ds }} is filled, the file published."""
    from conftest import REPO

    url = f"file://{REPO}/samples/meteo/json/{{{{ ds }}}}.json"
    just(project, "new-job", "download_file", "meteo_raw", f"url={url}", "file_name=obs.json")
    just(project, "run", "job=download-meteo-raw", "ds=2024-01-03")
    part = project / "datastore/raw/meteo_raw/ds=2024-01-03"
    assert (part / "_SUCCESS").is_file()
    assert (part / "obs.json").read_bytes() == (
        REPO / "samples/meteo/json/2024-01-03.json"
    ).read_bytes()
    result = just(project, "run", "job=download-meteo-raw", "ds=2024-01-09", check=False)
    assert result.returncode == 1
    assert "download-meteo-raw: ds=2024-01-09:" in result.stderr
    assert not (project / "datastore/raw/meteo_raw/ds=2024-01-09").exists()
