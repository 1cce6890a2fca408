"""`just update` on a project with uncommitted work: the one-line refusal names the files (the
first five, then how many more), changes nothing, and exits 2 as before.

Each test writes a project in a tmp git repository; nothing reaches copier or the network
(the refusal comes before any update).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from dsflow.errors import DsflowError
from dsflow.update import check_clean, uncommitted_files

from .conftest import write_file, write_job, write_project

pytestmark = pytest.mark.timeout(60)

TODO = (
    " and copier update refuses to merge over them: commit them (git add -A && git commit -m "
    "'...') or stash them (git stash -u), then run `just update` again"
)


# a committer for the tmp repositories, whatever the machine's git configuration says
IDENTITY = ("-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false")


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *IDENTITY, *args], cwd=cwd, capture_output=True, text=True, check=True
    )
    return result.stdout


@pytest.fixture
def repo(project_root: Path) -> Path:
    """The project with one job, committed: a clean work tree."""
    write_job(project_root / "jobs", "fetch")
    write_file(project_root / "README.md", "# demo\n")
    git(project_root, "init", "-q")
    git(project_root, "add", "-A")
    git(project_root, "commit", "-q", "-m", "dsflow project")
    return project_root


def refusal(root: Path) -> str:
    with pytest.raises(DsflowError) as refused:
        check_clean(root)
    assert refused.value.exit_code == 2
    return str(refused.value)


def modify(root: Path) -> None:
    (root / "dsflow.yml").write_text("project: demo-project\ndatastore: elsewhere\n")


def untracked(root: Path) -> None:
    write_file(root / "notes.txt", "todo\n")


def modified_and_untracked(root: Path) -> None:
    modify(root)
    untracked(root)


def staged(root: Path) -> None:
    write_file(root / "jobs/fetch/job.py", "print('changed')\n")
    git(root, "add", "jobs/fetch/job.py")


def deleted(root: Path) -> None:
    (root / "README.md").unlink()


def renamed(root: Path) -> None:
    git(root, "mv", "README.md", "READ_ME.md")


def untracked_folder(root: Path) -> None:
    for name in ("a.txt", "b.txt", "c.txt"):
        write_file(root / "scratch" / name, name)


def seven_files(root: Path) -> None:
    for i in range(7):
        write_file(root / f"f{i}.txt", str(i))


def five_files(root: Path) -> None:
    for i in range(5):
        write_file(root / f"f{i}.txt", str(i))


def space_in_name(root: Path) -> None:
    write_file(root / "my notes.txt", "todo\n")


def newline_in_name(root: Path) -> None:
    write_file(root / "bad\nname.txt", "todo\n")


DIRTY: dict[str, tuple[Callable[[Path], None], str]] = {
    "modified-tracked-file": (modify, "dsflow.yml"),
    "untracked-file": (untracked, "notes.txt"),
    "modified-then-untracked": (modified_and_untracked, "dsflow.yml, notes.txt"),
    "staged-change-in-a-job": (staged, "jobs/fetch/job.py"),
    "deleted-file": (deleted, "README.md"),
    "renamed-file-names-the-new-path": (renamed, "READ_ME.md"),
    "untracked-folder-is-one-entry": (untracked_folder, "scratch/"),
    "five-files-all-named": (five_files, "f0.txt, f1.txt, f2.txt, f3.txt, f4.txt"),
    "seven-files-five-named-then-counted": (
        seven_files,
        "f0.txt, f1.txt, f2.txt, f3.txt, f4.txt and 2 more",
    ),
    "space-in-a-name": (space_in_name, "my notes.txt"),
    "newline-in-a-name-stays-one-line": (newline_in_name, "'bad\\nname.txt'"),
}


@pytest.mark.parametrize("make_dirty, named", DIRTY.values(), ids=DIRTY.keys())
def test_the_refusal_names_the_uncommitted_files(repo, make_dirty, named):
    make_dirty(repo)
    message = refusal(repo)
    assert message == f"the project has uncommitted changes ({named}){TODO}"
    assert "\n" not in message


def test_a_clean_project_is_not_refused(repo):
    assert check_clean(repo) is None
    assert uncommitted_files(repo) == []


def test_ignored_files_are_not_uncommitted(repo):
    write_file(repo / ".gitignore", "datastore/\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "ignore the datastore")
    write_file(repo / "datastore/raw/x/ds=2024-01-02/data.json", "{}")
    assert check_clean(repo) is None


def test_a_project_in_a_sub_folder_names_its_own_files_only(tmp_path):
    """A project inside a larger repository: paths relative to the project, and changes
    elsewhere in the repository do not stop its update."""
    top = tmp_path / "monorepo"
    root = write_project(top / "projects" / "demo")
    write_file(top / "other.txt", "x\n")
    git(top, "init", "-q")
    git(top, "add", "-A")
    git(top, "commit", "-q", "-m", "start")
    (top / "other.txt").write_text("changed elsewhere\n")
    assert check_clean(root) is None
    modify(root)
    write_file(root / "jobs/new/job.py", "print(1)\n")
    assert refusal(root) == f"the project has uncommitted changes (dsflow.yml, jobs/){TODO}"


def test_just_update_prints_the_refusal_in_one_line_and_changes_nothing(repo, monkeypatch, capsys):
    from dsflow.cli import main

    modified_and_untracked(repo)
    before = (repo / "dsflow.yml").read_text()
    head = git(repo, "rev-parse", "HEAD")
    monkeypatch.chdir(repo)
    assert main(["update"]) == 2
    err = capsys.readouterr().err
    assert (
        err == f"dsflow: error: the project has uncommitted changes (dsflow.yml, notes.txt){TODO}\n"
    )
    assert (repo / "dsflow.yml").read_text() == before
    assert (repo / "notes.txt").read_text() == "todo\n"
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == " M dsflow.yml\n?? notes.txt\n"
