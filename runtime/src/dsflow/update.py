"""``just update``: carry the project and every job to a newer template release.

Each item (the project, then each job) is its own copier subproject and is updated on its own;
whatever happens to one (a conflict, a refused update) is recorded and the next one still goes.
Copier marks a conflicted file as unmerged in git's index, which makes the next item's update
fail (``git write-tree``): so each item's unmerged entries are set aside after its update and
put back once every item is done, for ``git status`` and merge tools to see. And copier builds a
job's update from the index, not the work tree: a file the project's update deleted but left in
the index came back with the next job's update. So each item's result is staged before the next
item goes, and unstaged at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import copier
import yaml
from copier.errors import CopierError

from .bootstrap import compile_run_modules
from .errors import DsflowError
from .project import ANSWERS_FILE, Project, read_answers

# Copier's inline conflict markers; only whole lines count (a file may mention them in text).
CONFLICT_LINE = re.compile(r"^(<<<<<<< before updating|>>>>>>> after updating)\s*$", re.M)
# how many uncommitted files the refusal to update names before it counts the rest
MAX_NAMED = 5


@dataclass
class ItemResult:
    """One subproject's update: release before and after, and the error that stopped it;
    ``same_template`` when the job's template did not change (only its release was moved)."""

    before: str
    after: str
    error: str = ""
    same_template: bool = False


@dataclass
class UpdateReport:
    """What one ``just update`` did: each item's result, changed and conflicting files."""

    items: dict[str, ItemResult] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    synced: str = ""  # how the environment was re-synced, or why it was not

    @property
    def failed(self) -> list[str]:
        return [name for name, item in self.items.items() if item.error]


def _git(root: Path, *args: str, input: str | None = None) -> str:
    result = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=False, input=input
    )
    if result.returncode != 0:
        raise DsflowError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def check_clean(root: Path) -> None:
    """Refuse to update a project that is not a git repository or has uncommitted changes."""
    inside = subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"], cwd=root, capture_output=True
    )
    if inside.returncode != 0:
        raise DsflowError(
            "the project is not a git repository; copier update needs one: "
            "git init && git add -A && git commit -m 'dsflow project'"
        )
    dirty = uncommitted_files(root)
    if dirty:
        raise DsflowError(
            f"the project has uncommitted changes ({_some(dirty)}) and copier update refuses "
            "to merge over them: commit them (git add -A && git commit -m '...') or stash "
            "them (git stash -u), then run `just update` again"
        )


def uncommitted_files(root: Path) -> list[str]:
    """Changed, staged and untracked paths under ``root``, relative to it, in git's order.

    An untracked folder is one entry (``notes/``), as ``git status`` shows it.
    """
    top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
    found = []
    for _, path in _status(root, top, untracked="normal"):
        rel = _relative(root, top, path)
        found.append(rel + "/" if path.endswith("/") else rel)
    return found


def _some(paths: list[str], limit: int = MAX_NAMED) -> str:
    """The first ``limit`` paths, then how many more; each on one line (repr when unprintable)."""
    names = [p if p.isprintable() else repr(p) for p in paths[:limit]]
    more = len(paths) - limit
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def _update_one(folder: Path, vcs_ref: str | None) -> ItemResult:
    try:
        before = str(read_answers(folder).get("_commit", "?"))
    except DsflowError as exc:
        return ItemResult("?", "?", str(exc))
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
    except (CopierError, ValueError, OSError, subprocess.SubprocessError) as exc:
        return ItemResult(before, before, " ".join(str(exc).split()) or type(exc).__name__)
    except Exception as exc:  # plumbum's git errors and the like: one item fails, not the run
        message = " ".join(str(exc).split())[:300]
        return ItemResult(before, before, f"{type(exc).__name__}: {message}")
    try:
        return ItemResult(before, str(read_answers(folder).get("_commit", "?")))
    except DsflowError as exc:
        return ItemResult(before, "?", str(exc))


# what renders a job besides its own folder: a change there and copier must merge the job again
JOB_INPUTS = ("copier.yml",)
# Jinja that reads another file of the template: a job template using it could change without
# a change in its own folder, so such a job is always merged by copier (POSIX classes: git grep)
_JINJA_READS_FILE = r"\{%[-+]?[[:space:]]*(include|import|from|extends)([^[:alnum:]_]|$)"
# copier.yml settings with which an update does more than merge the job's files (run code,
# read other files): a release that has any of them merges every job through copier
_UPDATE_EFFECTS = ("_migrations", "_external_data", "_jinja_extensions")
_COMMIT_LINE = re.compile(r"^_commit:.*$", re.M)


class TemplateHistory:
    """A bare clone of a template source, made on first use, to tell which job templates
    changed between two releases (a local source is cloned with hard links: a fraction of a
    second). Copier clones the template five times per job it updates (~3 s a job); a job whose
    template did not change needs none of that, only its release moved."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._clones: dict[str, Path | None] = {}
        self._plain: dict[tuple[Path, str], bool] = {}  # every job of an update asks the same

    def _clone(self, src: str) -> Path | None:
        # a source git cannot clone as written (copier's gh:... or git+https://...) gives None:
        # its jobs are merged by copier, as before
        if src not in self._clones:
            dst = self._workdir / f"template-{len(self._clones)}.git"
            done = subprocess.run(
                ["git", "clone", "--bare", "--quiet", src, str(dst)],
                capture_output=True,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},  # never ask for a password
            )
            self._clones[src] = dst if done.returncode == 0 else None
        return self._clones[src]

    @staticmethod
    def _plain_settings(repo: Path, release: str) -> bool:
        """True when copier.yml at ``release`` makes an update only merge files: no
        migrations, external data, Jinja extensions or ``!include``, and every task limited
        to ``copier copy``."""
        shown = subprocess.run(
            ["git", "--git-dir", str(repo), "show", f"{release}:copier.yml"],
            capture_output=True,
            text=True,
        )
        if shown.returncode != 0:
            return False
        try:
            settings = yaml.safe_load(shown.stdout)  # a !include tag does not load: False
        except yaml.YAMLError:
            return False
        if not isinstance(settings, dict) or any(key in settings for key in _UPDATE_EFFECTS):
            return False
        tasks = settings.get("_tasks") or []
        return isinstance(tasks, list) and all(
            isinstance(task, dict) and "_copier_operation == 'copy'" in str(task.get("when", ""))
            for task in tasks
        )

    def job_unchanged(self, src: str, template: str, old: str, new: str) -> bool:
        """True when job template ``template`` renders the same at releases ``old`` and
        ``new`` of ``src``: its folder and copier.yml identical, and no Jinja reading another
        file, ``new`` a later release than ``old``, and copier.yml asking an update for
        nothing but the merge (:meth:`_plain_settings`). Anything it cannot tell (no clone, an
        unknown release) is False."""
        repo = self._clone(src)
        if repo is None:
            return False
        folder = f"job-templates/{template}"

        def git(*args: str) -> int:
            return subprocess.run(
                ["git", "--git-dir", str(repo), *args], capture_output=True
            ).returncode

        for release in (old, new):
            if git("rev-parse", "--quiet", "--verify", f"{release}^{{commit}}") != 0:
                return False
        if git("merge-base", "--is-ancestor", old, new) != 0:  # copier refuses a downgrade
            return False
        if (repo, new) not in self._plain:
            self._plain[repo, new] = self._plain_settings(repo, new)
        if git("cat-file", "-e", f"{new}:{folder}") != 0 or not self._plain[repo, new]:
            return False
        if git("diff", "--quiet", old, new, "--", *JOB_INPUTS, folder) != 0:
            return False
        return git("grep", "--quiet", "-E", _JINJA_READS_FILE, new, "--", folder) == 1


def _move_release(folder: Path, commit_line: str) -> None:
    """Set the job's release in its answers file to the project's (``_commit: ...``), as
    copier's update would have written it."""
    answers = folder / ANSWERS_FILE
    answers.write_text(_COMMIT_LINE.sub(lambda _: commit_line, answers.read_text(), count=1))


def _same_template_update(
    history: TemplateHistory, folder: Path, project_answers: dict, commit_line: str
) -> ItemResult | None:
    """The job's update when its template did not change since its release: the release moved
    to the project's; None when copier must merge it (or cannot be sure)."""
    try:
        answers = read_answers(folder)
    except DsflowError:
        return None
    before, after = str(answers.get("_commit", "")), str(project_answers.get("_commit", ""))
    src, template = answers.get("_src_path"), answers.get("template")
    if not before or not after or src != project_answers.get("_src_path") or not template:
        return None
    if before == after:
        return ItemResult(before, after, same_template=True)
    if not history.job_unchanged(str(src), str(template), before, after):
        return None
    _move_release(folder, commit_line)
    return ItemResult(before, after, same_template=True)


def _set_aside_unmerged(top: Path) -> list[str]:
    """Index lines of unmerged entries, which are then reset so the next update can run."""
    lines = [line for line in _git(top, "ls-files", "-z", "--unmerged").split("\0") if line]
    paths = sorted({line.split("\t", 1)[1] for line in lines if "\t" in line})
    if paths:
        _git(top, "reset", "-q", "--", *paths)
    return lines


def _restore_unmerged(top: Path, lines: list[str]) -> None:
    if not lines:
        return
    paths = sorted({line.split("\t", 1)[1] for line in lines})
    drop = [f"0 {'0' * 40}\t{p}" for p in paths]
    _git(top, "update-index", "-z", "--index-info", input="\0".join([*drop, *lines]) + "\0")


def has_conflict_markers(path: Path) -> bool:
    """True when ``path`` holds a line that is exactly one of copier's conflict markers."""
    try:
        return bool(CONFLICT_LINE.search(path.read_text(errors="replace")))
    except OSError:
        return False


def update_project(project: Project, vcs_ref: str | None = None, sync: bool = True) -> UpdateReport:
    """Run ``copier update`` on the project, then on each job; report changes and conflicts.

    The project goes first: its template never touches ``jobs/``, so each job's own
    subproject is still clean when its turn comes. Nothing is committed: the result is left
    in the work tree for review (``git diff``). With ``sync``, the environment is re-locked and
    re-synced to the new runtime pin afterwards (unless pyproject.toml is in conflict).
    """
    root = project.root
    check_clean(root)
    report = UpdateReport()
    top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
    unmerged: list[str] = []
    items = [("project", root)] + [
        (f"jobs/{job}", project.jobs_dir / job) for job in project.job_names(marker=ANSWERS_FILE)
    ]
    try:
        with tempfile.TemporaryDirectory(prefix="dsflow-update-") as workdir:
            history = TemplateHistory(Path(workdir))
            project_answers: tuple[dict, str] | None = None
            for name, folder in items:
                result = None
                if project_answers is not None:
                    result = _same_template_update(history, folder, *project_answers)
                if result is None:
                    result = _update_one(folder, vcs_ref)
                report.items[name] = result
                if folder == root and not result.error:  # the release the jobs go to
                    project_answers = _release_of(root)
                unmerged += _set_aside_unmerged(top)
                _git(root, "add", "-A", "--", ".")
    finally:  # whatever stopped the loop: the result unstaged, the conflicts unmerged again
        _git(root, "reset", "-q", "--", ".")
        _restore_unmerged(top, unmerged)
    conflicted = {line.split("\t", 1)[1] for line in unmerged}
    report.conflicts = _conflicts(root, top, conflicted)
    if sync:
        report.synced = resync(root, report.conflicts)
    report.changed = _changed(root, top)
    return report


def _release_of(root: Path) -> tuple[dict, str] | None:
    """The project's answers after its update, and their ``_commit:`` line as copier wrote it."""
    try:
        answers = read_answers(root)
        line = _COMMIT_LINE.search((root / ANSWERS_FILE).read_text())
    except (DsflowError, OSError):
        return None
    return (answers, line.group(0)) if line else None


def _status(root: Path, top: Path, untracked: str = "all") -> list[tuple[str, str]]:
    """(status code, path relative to the repository top) of each changed file under root;
    ``untracked="normal"`` gives an untracked folder as one entry ending in ``/``."""
    out = _git(root, "status", "--porcelain", "-z", f"--untracked-files={untracked}", "--", ".")
    entries, fields = [], out.split("\0")
    while fields:
        entry = fields.pop(0)
        if not entry:
            continue
        code, path = entry[:2], entry[3:]
        if code[0] in "RC" and fields:
            fields.pop(0)  # -z gives a rename's old path as a field of its own
        entries.append((code, path))
    return entries


def _relative(root: Path, top: Path, path: str) -> str:
    return (top / path).relative_to(root).as_posix()


def _changed(root: Path, top: Path) -> list[str]:
    return [f"{code.strip() or '?'} {_relative(root, top, p)}" for code, p in _status(root, top)]


def _conflicts(root: Path, top: Path, unmerged: set[str]) -> list[str]:
    found = []
    for _, path in _status(root, top):
        rel = _relative(root, top, path)
        if path in unmerged or rel.endswith(".rej") or has_conflict_markers(root / rel):
            found.append(rel)
    return found


def resync(root: Path, conflicts: list[str]) -> str:
    """Re-lock and re-sync the project's environment to the runtime its pyproject.toml pins."""
    if "pyproject.toml" in conflicts:
        return "not re-synced: resolve pyproject.toml first, then run `just setup`"
    uv = shutil.which("uv")
    if not uv:
        return "not re-synced: uv is not on PATH; install it, then run `just setup`"
    for args in (["lock", "--quiet"], ["sync", "--locked", "--quiet"]):
        # offline first, from uv's cache, as `just setup` does (see the project's justfile)
        result = subprocess.run([uv, *args, "--offline"], cwd=root, capture_output=True)
        if result.returncode != 0:
            result = subprocess.run([uv, *args], cwd=root, capture_output=True, text=True)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["?"])[-1]
            return f"not re-synced: uv {args[0]} failed ({last}); fix it, then run `just setup`"
    python = root / ".venv" / "bin" / "python"
    if python.is_file():  # the bytecode of what a run imports, as `just setup` writes it
        compile_run_modules(str(python))
    return "environment re-synced (uv lock, uv sync)"
