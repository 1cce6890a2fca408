"""``just update``: carry the project and every job to a newer template release."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import copier
from copier.errors import CopierError

from .errors import DsflowError
from .project import ANSWERS_FILE, Project, read_answers

CONFLICT_MARKER = "<<<<<<< before updating"


@dataclass
class UpdateReport:
    """What one ``just update`` did: versions per subproject, changed and conflicting files."""

    versions: dict[str, tuple[str, str]] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def _git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DsflowError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def _check_clean(root: Path) -> None:
    inside = subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"], cwd=root, capture_output=True
    )
    if inside.returncode != 0:
        raise DsflowError(
            "the project is not a git repository; copier update needs one: "
            "git init && git add -A && git commit -m 'dsflow project'"
        )
    if _git(root, "status", "--porcelain", "--", ".").strip():
        raise DsflowError(
            "the project has uncommitted changes and copier update refuses to merge over "
            "them: commit them (git add -A && git commit -m '...') or stash them "
            "(git stash -u), then run `just update` again"
        )


def _update_one(folder: Path, vcs_ref: str | None) -> tuple[str, str]:
    before = str(read_answers(folder).get("_commit", "?"))
    try:
        copier.run_update(
            dst_path=folder,
            vcs_ref=vcs_ref,
            defaults=True,
            overwrite=True,
            unsafe=True,
            quiet=True,
            conflict="inline",
            skip_answered=True,
        )
    except (CopierError, ValueError) as exc:
        message = " ".join(str(exc).split())
        raise DsflowError(f"copier update of {folder} failed: {message}") from None
    return before, str(read_answers(folder).get("_commit", "?"))


def update_project(project: Project, vcs_ref: str | None = None) -> UpdateReport:
    """Run ``copier update`` on the project, then on each job; report changes and conflicts.

    The project goes first: its template never touches ``jobs/``, so each job's own
    subproject is still clean when its turn comes. Nothing is committed: the result is left
    in the work tree for review (``git diff``).
    """
    root = project.root
    _check_clean(root)
    report = UpdateReport()
    report.versions["project"] = _update_one(root, vcs_ref)
    for job in project.job_names(marker=ANSWERS_FILE):
        report.versions[f"jobs/{job}"] = _update_one(project.jobs_dir / job, vcs_ref)
    status = _git(root, "status", "--porcelain", "--untracked-files=all", "--", ".")
    for line in status.splitlines():
        path = line[3:].strip().strip('"')
        report.changed.append(f"{line[:2].strip() or '?'} {path}")
        full = root / path
        if path.endswith(".rej") or (full.is_file() and _has_marker(full)):
            report.conflicts.append(path)
    return report


def _has_marker(path: Path) -> bool:
    try:
        return CONFLICT_MARKER in path.read_text(errors="replace")
    except OSError:
        return False
