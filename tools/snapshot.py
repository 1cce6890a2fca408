"""Snapshot this repository into a fresh, tagged git repository.

Copier records the template commit in every project; a dirty working tree would record a
commit that exists nowhere. Tests, benchmarks and the demo therefore render from a snapshot:
the files git tracks or would track here, committed and tagged in a temporary repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GIT_ID = ["-c", "user.name=dsflow", "-c", "user.email=dsflow@dsflow.invalid"]


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` with a fixed identity; return stdout."""
    out = subprocess.run(
        ["git", *GIT_ID, *args], cwd=cwd, check=True, capture_output=True, text=True
    )
    return out.stdout


def snapshot_files(dst: Path) -> list[str]:
    """Copy the files git tracks (or would track) here into ``dst``; return their paths."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    copied = []
    for raw in filter(None, files):
        rel = raw.decode()
        src = REPO / rel
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the working tree
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            target.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, target)
        copied.append(rel)
    return copied


def snapshot_repo(dst: Path, tag: str = "v1.0.0") -> Path:
    """Copy the files git tracks (or would track) here into ``dst``, commit and tag them."""
    snapshot_files(dst)
    git(dst, "init", "-q", "-b", "main")
    git(dst, "add", "-A")
    git(dst, "commit", "-q", "-m", "template snapshot")
    git(dst, "tag", tag)
    return dst


def is_clean(repo: Path = REPO) -> bool:
    """True when ``repo`` has no uncommitted or untracked (non-ignored) files."""
    return not git(repo, "status", "--porcelain").strip()


def released_clone(dst: Path, version: str | None = None) -> Path:
    """A clone of main as a user gets it (no tags), plus the working tree as one more commit.

    With ``version``, that commit also releases the working tree as ``<version>``: the
    CHANGELOG's ``## Unreleased`` heading becomes ``## <version>``, or a heading of that name is
    added above the latest release. Tags are *not* made here: ``tools/release_tags.py`` in the
    clone makes them, as the README says.
    """
    subprocess.run(
        ["git", "clone", "-q", "--no-tags", "--branch", "main", f"file://{REPO}", str(dst)],
        check=True,
        capture_output=True,
    )
    for child in dst.iterdir():
        if child.name != ".git":
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    tree = snapshot_files(dst)
    if version:
        changelog = dst / "CHANGELOG.md"
        text = changelog.read_text()
        heading = f"## {version} — release test"
        if "\n## Unreleased" in text:
            text = text.replace("\n## Unreleased", f"\n{heading}", 1)
        else:
            text = text.replace("\n## v", f"\n{heading}\n\n* (this working tree)\n\n## v", 1)
        changelog.write_text(text)
    git(dst, "add", "-A")
    git(dst, "commit", "-q", "--allow-empty", "-m", f"working tree ({len(tree)} files)")
    return dst
