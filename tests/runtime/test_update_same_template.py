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


@pytest.mark.parametrize(
    "settings",
    [
        "_migrations:\n  - echo migrating\n",
        "_tasks:\n  - echo on every update\n",
        "_external_data:\n  other: other.yml\n",
        "_jinja_extensions:\n  - extensions.py:Mine\n",
        "shared: !include shared.yml\n",
    ],
    ids=["migrations", "task-on-update", "external-data", "jinja-extension", "yaml-include"],
)
def test_a_release_whose_update_does_more_than_merge_merges_every_job(template, tmp_path, settings):
    """copier.yml at the new release with migrations, tasks that run on update, external data,
    Jinja extensions or an !include: copier's update may change the job even though its
    folder did not, so copier merges it."""
    yml = template / "copier.yml"
    release(template, "v1.3.0", {"copier.yml": yml.read_text() + settings})
    release(template, "v1.4.0", {"project-template/README.md.jinja": "# project v1.4\n"})
    history = TemplateHistory(tmp_path)
    assert not history.job_unchanged(str(template), "a", "v1.3.0", "v1.4.0")


def test_a_task_only_for_copy_still_moves_the_release(template, tmp_path):
    yml = template / "copier.yml"
    task = "_tasks:\n  - command: echo\n    when: \"{{ _copier_operation == 'copy' }}\"\n"
    release(template, "v1.3.0", {"copier.yml": yml.read_text() + task})
    release(template, "v1.4.0", {"project-template/README.md.jinja": "# project v1.4\n"})
    assert TemplateHistory(tmp_path).job_unchanged(str(template), "a", "v1.3.0", "v1.4.0")


def test_an_older_release_is_never_taken_by_moving(template, tmp_path):
    """Copier refuses a downgrade; a job is not moved back either (to=<older release>)."""
    assert not TemplateHistory(tmp_path).job_unchanged(str(template), "a", "v1.1.0", "v1.0.0")


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


ANSWERS_TEMPLATE = (
    "# Changes here will be overwritten by Copier; do not edit manually\n"
    "{{ _copier_answers|to_nice_yaml -}}"
)


def test_a_moved_release_is_what_copiers_merge_leaves(tmp_path):
    """The job copier merges and the job whose release is moved end up byte for byte the same
    (a local edit kept, the answers file included), for a release that did not change the
    job's template."""
    import copier

    repo = tmp_path / "template"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    release(repo, "v1.0.0", {
        "copier.yml": (
            '_subdirectory: "{{ \'project-template\' if template == \'project\' else '
            "'job-templates/' ~ template }}\"\n_answers_file: .copier-answers.yml\n"
            "template:\n  type: str\n  default: project\nname:\n  type: str\n  default: x\n"
        ),
        "job-templates/a/job.py.jinja": "NAME = '{{ name }}'\n",
        "job-templates/a/{{_copier_conf.answers_file}}.jinja": ANSWERS_TEMPLATE,
        "project-template/README.md": "# project\n",
    })  # fmt: skip
    merged, moved = tmp_path / "merged", tmp_path / "moved"
    copier.run_copy(str(repo), merged, data={"template": "a", "name": "meteo"}, defaults=True,
                    vcs_ref="v1.0.0", quiet=True, unsafe=True)  # fmt: skip
    with (merged / "job.py").open("a") as job:
        job.write("EDITED = True  # a user's line\n")
    git(merged, "init", "-q", "-b", "main")
    git(merged, "add", "-A")
    git(merged, "commit", "-q", "-m", "job")
    subprocess.run(["cp", "-a", str(merged), str(moved)], check=True)
    release(repo, "v1.1.0", {"project-template/README.md": "# project v1.1\n"})

    history = TemplateHistory(tmp_path / "work")
    (tmp_path / "work").mkdir()
    assert history.job_unchanged(str(repo), "a", "v1.0.0", "v1.1.0")
    copier.run_update(merged, defaults=True, overwrite=True, unsafe=True, quiet=True,
                      conflict="inline", skip_answered=True)  # fmt: skip
    _move_release(moved, "_commit: v1.1.0")

    def files(root: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts
        }

    assert files(merged) == files(moved)
    assert b"_commit: v1.1.0" in files(moved)[".copier-answers.yml"]
    assert b"EDITED = True" in files(moved)["job.py"]
