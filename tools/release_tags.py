"""Releases from the CHANGELOG: tag them in this clone, or check them.

Git tags do not travel with a clone of main, but the CHANGELOG does. Each `## vX.Y.Z` heading
is a release, made at the commit that introduced that heading (the first commit whose
CHANGELOG.md holds it), unless the heading names its commit: `## v0.3.0 — 2026-11-26 (c297258)`.
`python tools/release_tags.py` creates the missing tags (lightweight, local) so copier finds
real release names; `--check` fails when a release maps to no commit, when a tag here points
elsewhere, or when the runtime's version is not the latest release (or, under an
`## Unreleased` heading, not newer than it).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# `## v1.2.3 — date`, optionally ending in `(<commit>)`; `## v1.2.3-rc1` is not a release
HEADING = re.compile(r"^## (v(\d+)\.(\d+)\.(\d+))(?=[ \t]|$)[^\n(]*(?:\(([0-9a-f]{7,40})\))?", re.M)
UNRELEASED = re.compile(r"^## Unreleased\b", re.M)


@dataclass(frozen=True)
class Release:
    """One CHANGELOG release: its tag name and the commit it maps to ('' when none does)."""

    tag: str
    commit: str


def _git(repo: Path, *args: str, check: bool = True) -> str:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise SystemExit(f"release_tags: git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def releases(repo: Path = REPO) -> list[Release]:
    """The CHANGELOG's releases, newest first, each with the commit it maps to."""
    text = (repo / "CHANGELOG.md").read_text()
    found = []
    for match in HEADING.finditer(text):
        tag, named = match.group(1), match.group(5)
        if named:
            commit = _git(
                repo, "rev-parse", "--verify", "--quiet", f"{named}^{{commit}}", check=False
            )
        else:  # the first commit whose diff touches that exact heading line introduced it
            pattern = f"^## {re.escape(tag)}([ \t]|$)"
            added = _git(
                repo, "log", "--reverse", "--format=%H", "-G", pattern, "--", "CHANGELOG.md"
            )
            commit = added.splitlines()[0] if added else ""
        found.append(Release(tag, commit))
    return found


def version_key(tag: str) -> tuple[int, ...]:
    return tuple(int(p) for p in tag.lstrip("v").split("."))


def problems(repo: Path = REPO) -> list[str]:
    """What is wrong with the releases of ``repo`` (empty when all is well)."""
    found = releases(repo)
    issues = [f"{r.tag}: no commit introduces its CHANGELOG heading" for r in found if not r.commit]
    if not found:
        return ["CHANGELOG.md has no `## vX.Y.Z` release heading"]
    for release in found:
        tagged = _git(
            repo, "rev-parse", "--verify", "--quiet", f"{release.tag}^{{commit}}", check=False
        )
        if tagged and release.commit and tagged != release.commit:
            issues.append(
                f"{release.tag}: tagged {tagged[:7]} here, the CHANGELOG says {release.commit[:7]}"
            )
    latest = max((r.tag for r in found), key=version_key)
    runtime = tomllib.loads((repo / "runtime" / "pyproject.toml").read_text())["project"]["version"]
    text = (repo / "CHANGELOG.md").read_text()
    unreleased = UNRELEASED.search(text)
    if unreleased and unreleased.start() < HEADING.search(text).start():
        if version_key(runtime) <= version_key(latest):
            issues.append(
                f"runtime version {runtime} is not newer than {latest} under `## Unreleased`"
            )
    elif f"v{runtime}" != latest:
        issues.append(f"runtime version {runtime} differs from the latest release {latest}")
    return issues


def tag(repo: Path = REPO) -> list[str]:
    """Create the missing release tags in ``repo``; return the ones created."""
    created = []
    for release in releases(repo):
        if not release.commit:
            continue
        if _git(repo, "tag", "--list", release.tag):
            continue
        _git(repo, "tag", release.tag, release.commit)
        created.append(f"{release.tag} -> {release.commit[:7]}")
    return created


def main(argv: list[str]) -> int:
    if "--check" in argv:
        found = problems()
        for line in found:
            print(f"release_tags: {line}", file=sys.stderr)
        if not found:
            print(f"releases ok: {', '.join(r.tag for r in releases())}")
        return 1 if found else 0
    created = tag()
    print("tagged " + ", ".join(created) if created else "release tags: all present")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
