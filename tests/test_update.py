"""`just update`: copier update of a project and its jobs to a newer template tag."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import bake, git, init_git, run, snapshot_repo

pytestmark = pytest.mark.slow


@pytest.fixture
def versions(tmp_path: Path):
    """A template snapshot at v1.0.0 and a project (with one job) baked from it and set up."""
    repo = snapshot_repo(tmp_path / "template")
    project = bake(repo, tmp_path / "project")
    init_git(project)
    run(["just", "setup"], cwd=project)
    run(
        ["just", "new-job", "create_table_from_json", "meteo"],
        cwd=project,
        stdin=subprocess.DEVNULL,
    )
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "add job")
    return repo, project


def release(repo: Path, tag: str, edits: dict[str, tuple[str, str]]) -> None:
    """Commit ``edits`` (path -> (old, new) text replacement) to the template and tag it."""
    for rel, (old, new) in edits.items():
        path = repo / rel
        text = path.read_text()
        assert old in text, f"{old!r} not in {rel}"
        path.write_text(text.replace(old, new, 1))
    git(repo, "commit", "-q", "-am", f"release {tag}")
    git(repo, "tag", tag)


NOTEBOOK_TEMPLATE = "job-templates/create_table_from_json/notebook.py"


def second_line(path: Path) -> str:
    """The notebook's title line: whatever the template says today."""
    return path.read_text().splitlines()[1]


def just_update(project: Path, check: bool = True) -> subprocess.CompletedProcess:
    return run(["just", "update"], cwd=project, check=check, stdin=subprocess.DEVNULL)


def test_update_merges_template_changes_and_keeps_user_edits(versions):
    repo, project = versions
    # the user's edits, committed
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\n## Our notes\n\nKeep this.\n")
    notebook = project / "jobs/create-table-meteo/notebook.py"
    notebook.write_text(notebook.read_text() + "\n# %%\nprint('user cell')\n")
    adhoc = project / "adhoc/explore.py"
    adhoc.write_text("# %%\nprint('mine')\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "user edits")
    data = project / "datastore/tables/meteo/ds=2024-01-02"
    data.mkdir(parents=True)
    (data / "part-0.parquet").write_bytes(b"PAR1 not really")

    release(
        repo,
        "v1.1.0",
        {
            "project-template/README.md.jinja": ("## Layout", "## Layout (v1.1)"),
            NOTEBOOK_TEMPLATE: (
                second_line(repo / NOTEBOOK_TEMPLATE),
                "# # Title changed in v1.1",
            ),
        },
    )
    result = just_update(project)
    assert "project: v1.0.0 -> v1.1.0" in result.stdout
    assert "jobs/create-table-meteo: v1.0.0 -> v1.1.0" in result.stdout
    assert "CONFLICT" not in result.stdout + result.stderr

    text = readme.read_text()
    assert "## Layout (v1.1)" in text and "Keep this." in text
    nb = notebook.read_text()
    assert "# # Title changed in v1.1" in nb and "print('user cell')" in nb
    assert "<<<<<<< before updating" not in text + nb
    assert adhoc.read_text() == "# %%\nprint('mine')\n"
    assert (data / "part-0.parquet").read_bytes() == b"PAR1 not really"
    answers = yaml.safe_load((project / "jobs/create-table-meteo/.copier-answers.yml").read_text())
    assert answers["_commit"] == "v1.1.0"
    # a second run finds nothing to do
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "update to v1.1.0")
    assert "up to date" in just_update(project).stdout


def test_conflicting_edit_is_surfaced_not_lost(versions):
    repo, project = versions
    notebook = project / "jobs/create-table-meteo/notebook.py"
    title = second_line(notebook)
    notebook.write_text(notebook.read_text().replace(title, "# # Meteo table, my title"))
    git(project, "commit", "-q", "-am", "user edits the title")
    release(repo, "v1.1.0", {NOTEBOOK_TEMPLATE: (title, "# # Title from raw JSON")})
    result = just_update(project, check=False)
    assert result.returncode == 1
    assert "CONFLICTS in 1 file(s): jobs/create-table-meteo/notebook.py" in result.stderr
    text = notebook.read_text()
    assert "<<<<<<<" in text and ">>>>>>>" in text
    assert "my title" in text and "from raw JSON" in text


def test_update_refuses_uncommitted_changes(versions):
    repo, project = versions
    release(repo, "v1.1.0", {"project-template/README.md.jinja": ("## Layout", "## Files")})
    (project / "README.md").write_text("uncommitted\n")
    result = just_update(project, check=False)
    assert result.returncode == 2
    assert "uncommitted changes" in result.stderr and "git stash" in result.stderr
    assert (project / "README.md").read_text() == "uncommitted\n"
