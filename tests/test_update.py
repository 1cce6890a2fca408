"""`just update`: copier update of a project and all its jobs to newer template releases.

Projects here are made from template snapshots committed and tagged in temporary repositories
(v1.0.0, then releases the tests commit), except the last tests, which use a clone of main as
users get it: no tags until `tools/release_tags.py` derives them from the CHANGELOG.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import copier
import pytest
import yaml
from conftest import REPO, bake, copy_project, git, init_git, run, snapshot_repo
from snapshot import released_clone

pytestmark = pytest.mark.slow

SAMPLES = REPO / "samples" / "meteo" / "json"
JSON_NOTEBOOK = "job-templates/create_table_from_json/notebook.py"
CSV_NOTEBOOK = "job-templates/create_table_from_csv/notebook.py"
JOBS = ("create-table-meteo", "create-table-stations", "download-meteo")


def commit(project: Path, message: str) -> None:
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", message)


@pytest.fixture(scope="module")
def _golden(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Set up once per module: (the folder each test works in, a pristine copy of it)."""
    base = tmp_path_factory.mktemp("update")
    repo = snapshot_repo(base / "template")
    project = bake(repo, base / "project")
    run(["just", "setup"], cwd=project)
    for args in (
        ["create_table_from_json", "meteo"],
        ["create_table_from_csv", "stations", "source_dataset=meteo"],
        ["download_file", "meteo", f"url=file://{SAMPLES}/{{{{ ds }}}}.json"],
    ):
        run(["just", "new-job", *args], cwd=project, stdin=subprocess.DEVNULL)
    init_git(project)
    golden = tmp_path_factory.mktemp("update-golden") / "base"
    _copy(base, golden)
    return base, golden


def _copy(src: Path, dst: Path) -> None:
    """Copy the module's folder: its template as it is, its project by :func:`copy_project`."""
    dst.mkdir(parents=True)
    for item in src.iterdir():
        if item.name == "project":
            copy_project(item, dst / "project", own_ports=False)  # baked with them
        else:
            run(["cp", "-a", str(item), str(dst / item.name)], cwd=dst)


@pytest.fixture
def versions(_golden: tuple[Path, Path]):
    """A template snapshot at v1.0.0 and a set-up, committed project with three jobs, restored
    from the module's pristine copy at the same paths (a venv does not move)."""
    base, golden = _golden
    shutil.rmtree(base)
    _copy(golden, base)
    return base / "template", base / "project"


def release(
    repo: Path, tag: str, edits: dict[str, tuple[str, str]], remove: tuple[str, ...] = ()
) -> str:
    """Commit ``edits`` (path -> (old, new) text replacement) and the removal of ``remove`` to
    the template, tag it; return the commit."""
    for rel in remove:
        git(repo, "rm", "-q", rel)
    for rel, (old, new) in edits.items():
        path = repo / rel
        text = path.read_text()
        assert old in text, f"{old!r} not in {rel}"
        path.write_text(text.replace(old, new, 1))
    git(repo, "commit", "-q", "-am", f"release {tag}")
    git(repo, "tag", tag)
    return git(repo, "rev-parse", "HEAD").strip()


def first_cell(path: Path) -> str:
    """The first `# %%` line of a jupytext notebook: a line template and user may both edit."""
    return next(line for line in path.read_text().splitlines() if line.startswith("# %%"))


def just_update(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(["just", "update", *args], cwd=project, check=check, stdin=subprocess.DEVNULL)


def answers_commit(folder: Path) -> str:
    return yaml.safe_load((folder / ".copier-answers.yml").read_text())["_commit"]


def runtime_pin(project: Path) -> str:
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    return pyproject["tool"]["uv"]["sources"]["dsflow-runtime"]["rev"]


def test_conflicts_in_three_places_are_all_listed_and_everything_is_updated(versions):
    """Conflicts in the project's justfile and in two jobs: every item still reaches v1.1.0,
    all three files are listed, exit 1 (never 70), the way out of a broken justfile is printed,
    and the runtime pin and the environment move to v1.1.0."""
    repo, project = versions
    recipe_doc = "# list the recipes\n"
    (project / "justfile").write_text(
        (project / "justfile").read_text().replace(recipe_doc, "# list the recipes (ours)\n", 1)
    )
    for job in ("create-table-meteo", "create-table-stations"):
        notebook = project / "jobs" / job / "notebook.py"
        cell = first_cell(notebook)
        notebook.write_text(notebook.read_text().replace(cell, f"{cell} our cell", 1))
    commit(project, "user edits")
    new_commit = release(
        repo,
        "v1.1.0",
        {
            "project-template/justfile": (recipe_doc, "# list the recipes (v1.1)\n"),
            JSON_NOTEBOOK: (first_cell(repo / JSON_NOTEBOOK), "# %% v1.1 json cell"),
            CSV_NOTEBOOK: (first_cell(repo / CSV_NOTEBOOK), "# %% v1.1 csv cell"),
        },
    )
    result = just_update(project, check=False)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "internal error" not in out and "Traceback" not in out
    expected = [
        "jobs/create-table-meteo/notebook.py",
        "jobs/create-table-stations/notebook.py",
        "justfile",
    ]
    assert f"CONFLICTS in 3 file(s): {', '.join(expected)}" in result.stderr
    assert ".venv/bin/dsflow COMMAND" in result.stderr  # just cannot parse the justfile now
    assert "project" in result.stdout and "v1.0.0 -> v1.1.0" in result.stdout
    for job in JOBS:
        assert f"jobs/{job}" in result.stdout
        assert answers_commit(project / "jobs" / job) == "v1.1.0"
    assert answers_commit(project) == "v1.1.0"
    assert result.stdout.count("v1.0.0 -> v1.1.0") == 4
    justfile = (project / "justfile").read_text()
    assert "(ours)" in justfile and "(v1.1)" in justfile and "<<<<<<< before updating" in justfile
    json_nb = (project / "jobs/create-table-meteo/notebook.py").read_text()
    assert "our cell" in json_nb and "v1.1 json cell" in json_nb
    # git sees the three as unmerged, as after any merge
    unmerged = git(project, "diff", "--name-only", "--diff-filter=U").split()
    assert sorted(unmerged) == expected
    # the runtime moved with the template, and the environment was re-synced to it
    assert runtime_pin(project) == new_commit
    assert new_commit in (project / "uv.lock").read_text()
    assert "re-synced" in result.stdout
    direct = next(
        (project / ".venv/lib").glob("python3.*/site-packages/dsflow_runtime-*.dist-info")
    )
    assert new_commit in (direct / "direct_url.json").read_text()


def test_update_merges_template_changes_and_keeps_user_edits(versions):
    """Edits on other lines than the template's survive; a file the template drops goes; data
    and adhoc notebooks are never touched; a second update finds nothing to do."""
    repo, project = versions
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\n## Our notes\n\nKeep this.\n")
    notebook = project / "jobs/create-table-meteo/notebook.py"
    notebook.write_text(notebook.read_text() + "\n# %%\nprint('user cell')\n")
    adhoc = project / "adhoc/explore.py"
    adhoc.write_text("# %%\nprint('mine')\n")
    commit(project, "user edits")
    data = project / "datastore/tables/meteo/ds=2024-01-02"
    data.mkdir(parents=True)
    (data / "part-0.parquet").write_bytes(b"PAR1 not really")
    release(
        repo,
        "v1.1.0",
        {
            "project-template/README.md.jinja": ("## Layout", "## Layout (v1.1)"),
            JSON_NOTEBOOK: (first_cell(repo / JSON_NOTEBOOK), "# %% Title changed in v1.1"),
        },
        remove=("project-template/.env.example",),
    )
    result = just_update(project)
    assert "CONFLICT" not in result.stdout + result.stderr
    # a file the release drops is gone, even though three job updates ran after the project's
    assert not (project / ".env.example").exists()
    assert "D .env.example" in result.stdout
    text = readme.read_text()
    assert "## Layout (v1.1)" in text and "Keep this." in text
    nb = notebook.read_text()
    assert "# %% Title changed in v1.1" in nb and "print('user cell')" in nb
    assert adhoc.read_text() == "# %%\nprint('mine')\n"
    assert (data / "part-0.parquet").read_bytes() == b"PAR1 not really"
    commit(project, "update to v1.1.0")
    again = just_update(project)
    assert "nothing changed" in again.stdout
    assert again.stdout.count("v1.1.0 (unchanged)") == 4


def test_update_across_two_releases_and_to_a_named_one(versions):
    """From v1.0.0, `just update to=v1.1.0` stops there; `just update` then takes v1.2.0 with
    both releases' changes. A job whose template a release did not change only has its release
    moved (no merge by copier); the one whose template changed is merged."""
    repo, project = versions
    release(repo, "v1.1.0", {"project-template/README.md.jinja": ("## Layout", "## Layout v1.1")})
    release(
        repo,
        "v1.2.0",
        {JSON_NOTEBOOK: (first_cell(repo / JSON_NOTEBOOK), "# %% from v1.2")},
    )
    result = just_update(project, "to=v1.1.0")
    for job in JOBS:  # v1.1.0 changed the project's README only
        assert f"jobs/{job}" in result.stdout
    assert result.stdout.count("v1.0.0 -> v1.1.0 (its template did not change)") == len(JOBS)
    assert answers_commit(project) == "v1.1.0"
    assert answers_commit(project / "jobs/create-table-meteo") == "v1.1.0"
    assert "from v1.2" not in (project / "jobs/create-table-meteo/notebook.py").read_text()
    commit(project, "to v1.1.0")
    result = just_update(project)
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if "->" in line}
    assert lines["jobs/create-table-meteo"].endswith("v1.1.0 -> v1.2.0")  # merged by copier
    for job in ("create-table-stations", "download-meteo"):
        assert lines[f"jobs/{job}"].endswith("v1.1.0 -> v1.2.0 (its template did not change)")
    assert "## Layout v1.1" in (project / "README.md").read_text()
    assert "# %% from v1.2" in (project / "jobs/create-table-meteo/notebook.py").read_text()
    assert all(answers_commit(project / "jobs" / job) == "v1.2.0" for job in JOBS)


def test_an_update_that_changes_no_job_code_keeps_partitions_up_to_date(versions):
    """A published partition stays up to date after an update that only changes READMEs: the
    code hash covers what runs, not docs or answers."""
    repo, project = versions
    run(["just", "run", "job=download-meteo", "ds=2024-01-02"], cwd=project)
    status = run(
        ["just", "status", "format=json", "start=2024-01-02", "end=2024-01-02"], cwd=project
    )
    assert '"complete"' in status.stdout or "complete" in status.stdout
    release(
        repo,
        "v1.1.0",
        {
            "project-template/README.md.jinja": ("## Layout", "## Layout (v1.1)"),
            "job-templates/download_file/README.md.jinja": ("## Run it", "## Run this job"),
        },
    )
    just_update(project)
    assert "## Run this job" in (project / "jobs/download-meteo/README.md").read_text()
    plan = run(
        [
            "just",
            "backfill",
            "start=2024-01-02",
            "end=2024-01-02",
            "job=download-meteo",
            "dry-run=true",
        ],
        cwd=project,
    )
    assert "plan: 0 to run, 1 up to date" in plan.stdout, plan.stdout
    assert "code changed" not in plan.stdout


def test_update_refuses_uncommitted_changes(versions):
    """Uncommitted work is never merged over: exit 2, the way out is named, the file kept."""
    repo, project = versions
    release(repo, "v1.1.0", {"project-template/README.md.jinja": ("## Layout", "## Files")})
    (project / "README.md").write_text("uncommitted\n")
    result = just_update(project, check=False)
    assert result.returncode == 2
    assert "uncommitted changes" in result.stderr and "git stash" in result.stderr
    assert (project / "README.md").read_text() == "uncommitted\n"


def release_tags(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return run([sys.executable, str(repo / "tools" / "release_tags.py"), *args], cwd=repo)


def test_a_fresh_clone_gets_release_names_from_the_changelog(tmp_path):
    """A clone of main has no tags; the release recipe derives them from the CHANGELOG, so a
    project records a real release name, and every CHANGELOG release maps to a commit."""
    clone = released_clone(tmp_path / "dsflow", version="v9.9.9")
    assert git(clone, "tag").strip() == ""
    release_tags(clone)
    tags = git(clone, "tag").split()
    assert {"v0.1.0", "v0.2.0", "v0.3.0", "v9.9.9"} <= set(tags)
    assert git(clone, "rev-parse", "v9.9.9^{commit}") == git(clone, "rev-parse", "HEAD")
    # the real v0.3.0 release, named in its heading
    assert git(clone, "rev-parse", "v0.3.0^{commit}").startswith("c297258")
    project = bake(clone, tmp_path / "project")
    assert answers_commit(project) == "v9.9.9"


def test_the_repository_releases_are_consistent(tmp_path):
    """What CI checks: every CHANGELOG release maps to a commit of main, and the runtime's
    version is the latest release (or newer, under `## Unreleased`)."""
    clone = released_clone(tmp_path / "dsflow")
    result = release_tags(clone, "--check")
    assert "releases ok" in result.stdout


def test_a_v0_3_project_with_a_vendored_runtime_moves_to_the_package(tmp_path):
    """A project made at v0.3.0 (runtime vendored in dsflow/, templated uv.lock, a download job
    with its own download.py and a published partition) updates from an untagged clone with
    `just update to=<release>` as the CHANGELOG's migration note says: update, commit,
    `just setup`. Afterwards no runtime code and no templated lock are left, the runtime is the
    package at the new release's commit, the job runs the runtime's downloader, and the
    partition is still up to date."""
    clone = released_clone(tmp_path / "dsflow", version="v9.9.9")
    release_tags(clone)
    project = tmp_path / "old-project"
    copier.run_copy(str(clone), project, vcs_ref="v0.3.0", defaults=True, unsafe=True, quiet=True)
    assert (project / "dsflow" / "runner.py").is_file() and (project / "uv.lock").is_file()
    run(["just", "setup"], cwd=project)
    url = f"url=file://{SAMPLES}/{{{{ ds }}}}.json"
    run(["just", "new-job", "download_file", "meteo", url], cwd=project, stdin=subprocess.DEVNULL)
    assert (project / "jobs/download-meteo/download.py").is_file()
    run(["just", "run", "job=download-meteo", "ds=2024-01-02"], cwd=project)
    init_git(project)

    result = just_update(project, "to=v9.9.9")  # the old runtime's updater
    assert "v0.3.0 -> v9.9.9" in result.stdout
    commit(project, "update to v9.9.9")
    warned = run(["just", "setup"], cwd=project)  # the new justfile and runtime
    if (project / "dsflow").exists():  # the old updater leaves it when the project has jobs
        assert "dsflow/ still holds the runtime v0.3.0 vendored" in warned.stderr
        git(project, "rm", "-r", "-q", "dsflow")
    run(["just", "setup"], cwd=project)
    commit(project, "the runtime is a package")
    assert not (project / "dsflow").exists()
    assert answers_commit(project) == "v9.9.9"
    assert answers_commit(project / "jobs/download-meteo") == "v9.9.9"
    assert runtime_pin(project) == git(clone, "rev-parse", "v9.9.9^{commit}").strip()
    lock = (project / "uv.lock").read_text()
    assert 'name = "dsflow-runtime"' in lock and "subdirectory=runtime" in lock
    job = project / "jobs/download-meteo"
    assert not (job / "download.py").exists()
    assert yaml.safe_load((job / "job_specs.yaml").read_text())["module"] == "dsflow.download"
    plan = run(
        ["just", "backfill", "start=2024-01-02", "end=2024-01-02", "dry-run=true"], cwd=project
    )
    assert "plan: 0 to run, 1 up to date" in plan.stdout, plan.stdout
    run(["just", "run", "job=download-meteo", "ds=2024-01-03"], cwd=project)
    served = (SAMPLES / "2024-01-03.json").read_bytes()
    assert (project / "datastore/raw/meteo/ds=2024-01-03/2024-01-03.json").read_bytes() == served
