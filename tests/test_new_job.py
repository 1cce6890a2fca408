"""`just new-job` and friends, run for real inside a baked project with its own environment."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REPO, git, run

pytestmark = pytest.mark.slow


@pytest.fixture
def project(env_project: Path):
    """The shared set-up project, restored to its committed state after each test."""
    yield env_project
    git(env_project, "checkout", "-q", "--", ".")
    git(env_project, "clean", "-qfd")  # untracked, not ignored: .venv and .env stay
    git(env_project, "clean", "-qfdX", "--", "datastore")  # data made by the test


def just(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(["just", *args], cwd=project, check=check, stdin=subprocess.DEVNULL)


def test_just_lists_grouped_documented_recipes(project):
    out = just(project).stdout
    for group in ("[setup]", "[jobs]", "[maintenance]", "[data]"):
        assert group in out
    for recipe in ("setup", "templates", "new-job", "update", "tree", "test"):
        line = next(ln for ln in out.splitlines() if ln.strip().startswith(recipe + " "))
        assert "#" in line, f"recipe {recipe} has no description"


def test_templates_lists_every_job_template(project):
    out = just(project, "templates").stdout
    for name in (
        "download_file",
        "create_table_from_json",
        "create_table_from_csv",
        "create_table_from_sql",
        "plotly_dash_app",
    ):
        line = next(ln for ln in out.splitlines() if ln.strip().startswith(name))
        assert len(line.split(None, 1)[1]) > 20, f"{name}: no description"
    assert "@ v1.0.0" in out


def test_new_job_renders_from_the_recorded_template_version(project):
    result = just(
        project, "new-job", "download_file", "meteoparis", "url=https://x.org/{{ ds }}.json"
    )
    job = project / "jobs" / "download-meteoparis"
    assert "created jobs/download-meteoparis/" in result.stdout
    answers = yaml.safe_load((job / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "v1.0.0"
    assert (
        answers["_src_path"]
        == yaml.safe_load((project / ".copier-answers.yml").read_text())["_src_path"]
    )
    spec = yaml.safe_load((job / "job_specs.yaml").read_text())
    assert spec["job_parameters"]["url"] == "https://x.org/{{ ds }}.json"
    assert spec["grain"] == "daily"  # the project's default grain
    assert [p.name for p in (project / "jobs").iterdir() if p.name.startswith(".new-")] == []
    # the project's own test recipe checks the new job too
    assert just(project, "test").returncode == 0


def test_new_job_from_a_subfolder_and_with_explicit_job_name(project):
    run(
        [
            "just",
            "new-job",
            "create_table_from_sql",
            "daily_temp",
            "source_table=meteo",
            "job_name=build-daily-temp",
            "grain=monthly",
        ],
        cwd=project / "adhoc",
        stdin=subprocess.DEVNULL,
    )
    spec = yaml.safe_load((project / "jobs/build-daily-temp/job_specs.yaml").read_text())
    assert spec["grain"] == "monthly"
    assert spec["outputs"][0]["table"] == "daily_temp"


def _refused(project: Path, *args: str) -> str:
    """Run just new-job ARGS, expect exit 2 with one dsflow line, and jobs/ unchanged."""
    before = sorted(p.name for p in (project / "jobs").iterdir())
    result = just(project, "new-job", *args, check=False)
    assert result.returncode == 2, result
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("dsflow: error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in (project / "jobs").iterdir()) == before
    return lines[0]


def test_unknown_template_lists_the_templates(project):
    line = _refused(project, "download_files", "meteo")
    assert "unknown template 'download_files'" in line
    assert "download_file, create_table_from_json" in line


@pytest.mark.parametrize("bad", ["a/b", "..", "../evil", "two words", "", "Upper"])
def test_bad_job_names_are_refused(project, bad):
    assert "invalid dataset name" in _refused(project, "create_table_from_json", bad)
    assert not (project.parent / "evil").exists()


def test_bad_job_name_override_is_refused(project):
    assert "invalid job name '../x'" in _refused(
        project, "create_table_from_json", "meteo", "job_name=../x"
    )


def test_taken_job_name_leaves_the_existing_job_untouched(project):
    just(project, "new-job", "create_table_from_json", "meteo")
    notebook = project / "jobs/create-table-meteo/notebook.py"
    notebook.write_text("# my edits\n")
    line = _refused(project, "create_table_from_csv", "meteo")
    assert "job 'create-table-meteo' already exists" in line
    assert notebook.read_text() == "# my edits\n"


def test_missing_required_parameter(project):
    line = _refused(project, "download_file", "meteo")
    assert "url is required: pass url=... (URL to fetch for each partition" in line


def test_unknown_parameter(project):
    line = _refused(project, "download_file", "meteo", "url=https://x.org/a", "colour=red")
    assert "unknown parameter(s) for template 'download_file': colour" in line


def test_new_job_outside_a_project(env_project, tmp_path):
    result = run(
        [str(env_project / ".venv/bin/dsflow"), "new-job", "download_file", "x"],
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2
    assert "is not inside a dsflow project" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_tree_shows_partitions(project):
    part = project / "datastore/tables/fct_meteo/ds=2024-01-02"
    part.mkdir(parents=True)
    (part / "_SUCCESS").touch()
    (project / "datastore/tables/fct_meteo/ds=2024-01-03").mkdir()
    out = just(project, "tree").stdout
    assert "fct_meteo/  2 partitions, 1 complete" in out
    assert "ds=2024-01-02  ok" in out and "ds=2024-01-03  --" in out


def test_setup_without_java_says_how_to_install(env_project, tmp_path):
    """`dsflow setup` with no java on PATH and no JAVA_HOME: one line naming the fix."""
    result = run(
        [str(env_project / ".venv/bin/dsflow"), "setup"],
        cwd=env_project,
        check=False,
        env={"PATH": str(tmp_path), "HOME": str(tmp_path)},
    )
    assert result.returncode == 2
    assert "Java not found" in result.stderr and "openjdk-17" in result.stderr


def test_setup_locks_the_versions_the_template_release_was_tested_with(env_project):
    """`just setup` resolves the project's own uv.lock within runtime/constraints.txt: every
    package the runtime release pins has that exact version in the project's lock."""
    import tomllib

    lock = tomllib.loads((env_project / "uv.lock").read_text())
    locked = {p["name"]: p.get("version") for p in lock["package"]}
    pins = {}
    for line in (REPO / "runtime" / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#") and ";" not in line:
            name, _, version = line.partition("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    shared = {name for name in pins if name in locked}
    assert {"pyspark", "pandas", "papermill", "pyarrow", "copier"} <= shared
    assert {n: locked[n] for n in shared} == {n: pins[n] for n in shared}
    runtime = next(p for p in lock["package"] if p["name"] == "dsflow-runtime")
    assert "subdirectory=runtime" in runtime["source"]["git"]
