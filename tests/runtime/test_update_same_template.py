"""`just update` moves a job whose template did not change between two releases without
copier's merge (five clones of the template per job): dsflow.update.TemplateHistory says so
only when the job template's folder and copier.yml are identical and the template reads no
other file. These tests build a small template repository; nothing reaches copier."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from dsflow.update import TemplateHistory, _move_release

pytestmark = pytest.mark.timeout(60)

IDENTITY = ("-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *IDENTITY, *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def release(repo: Path, tag: str, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", tag)
    git(repo, "tag", tag)


@pytest.fixture
def template(tmp_path: Path) -> Path:
    repo = tmp_path / "template"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    release(repo, "v1.0.0", {
        "copier.yml": "template:\n  type: str\n",
        "job-templates/a/job.py.jinja": "A = 1\n",
        "job-templates/b/job.py.jinja": "B = 1\n",
        "project-template/README.md.jinja": "# project\n",
    })  # fmt: skip
    release(repo, "v1.1.0", {"project-template/README.md.jinja": "# project v1.1\n"})
    release(repo, "v1.2.0", {"job-templates/b/job.py.jinja": "B = 2\n"})
    return repo


def test_only_the_job_templates_that_changed_are_merged(template, tmp_path):
    history = TemplateHistory(tmp_path)
    src = str(template)
    assert history.job_unchanged(src, "a", "v1.0.0", "v1.1.0")  # only the project changed
    assert history.job_unchanged(src, "b", "v1.0.0", "v1.1.0")
    assert history.job_unchanged(src, "a", "v1.0.0", "v1.2.0")
    assert not history.job_unchanged(src, "b", "v1.0.0", "v1.2.0")  # its own file changed
    assert not history.job_unchanged(src, "b", "v1.1.0", "v1.2.0")
    head = git(template, "rev-parse", "HEAD").strip()
    described = f"v1.1.0-1-g{head[:7]}"  # how copier records an untagged commit
    assert history.job_unchanged(src, "a", "v1.0.0", described)


def test_a_change_to_copier_yml_merges_every_job(template, tmp_path):
    release(template, "v1.3.0", {"copier.yml": "template:\n  type: str\n  help: which\n"})
    history = TemplateHistory(tmp_path)
    assert not history.job_unchanged(str(template), "a", "v1.2.0", "v1.3.0")


def test_a_template_that_reads_another_file_is_always_merged(template, tmp_path):
    release(template, "v1.3.0", {"job-templates/a/job.py.jinja": "{% include 'shared.txt' %}\n"})
    release(template, "v1.4.0", {"shared.txt": "changed outside the job's folder\n"})
    history = TemplateHistory(tmp_path)
    assert not history.job_unchanged(str(template), "a", "v1.3.0", "v1.4.0")


def test_what_it_cannot_tell_is_merged(template, tmp_path):
    history = TemplateHistory(tmp_path)
    src = str(template)
    assert not history.job_unchanged(src, "a", "v0.9.0", "v1.1.0")  # unknown release
    assert not history.job_unchanged(src, "gone", "v1.0.0", "v1.1.0")  # no such template
    assert not history.job_unchanged(str(tmp_path / "nowhere"), "a", "v1.0.0", "v1.1.0")


def test_the_release_moves_in_the_answers_file_and_nothing_else(tmp_path):
    answers = tmp_path / ".copier-answers.yml"
    text = "# Changes here will be overwritten by Copier\n_commit: v1.0.0\n_src_path: /t\nname: x\n"
    answers.write_text(text)
    _move_release(tmp_path, "_commit: v1.1.0")
    assert answers.read_text() == text.replace("_commit: v1.0.0", "_commit: v1.1.0")
