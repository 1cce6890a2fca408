"""Copier task after `copier copy`: record a relative template path as an absolute one.

Copier records the template source (`_src_path`) as it was typed. A relative path such as
`copier copy dsflow my-project` only means something from the folder copier was started in, so
`just new-job`, `just update` and uv (which fetches the runtime from that repository) would not
find the template later. Copier runs this in the new project's folder with the source and the
destination as typed; the folder copier was started in is the project folder with the
destination's parts taken off (or $PWD, which the shell keeps).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ANSWERS = Path(".copier-answers.yml")
PYPROJECT = Path("pyproject.toml")


def started_in(dst_given: str) -> list[Path]:
    """Folders copier may have been started in: those from which ``dst_given`` is here."""
    here = Path.cwd().resolve()
    candidates = []
    dst = Path(os.path.normpath(dst_given))
    if not dst.is_absolute() and ".." not in dst.parts:
        up = here
        for _ in dst.parts:
            up = up.parent
        candidates.append(up)
    if os.environ.get("PWD"):
        candidates.append(Path(os.environ["PWD"]))
    return [c for c in candidates if (c / dst_given).resolve() == here]


def holds_commit(repo: Path, commit: str) -> bool:
    """True when ``repo`` is the template copier rendered: a git repository with ``commit``."""
    if not (repo / "copier.yml").is_file():
        return False
    check = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True
    )
    return check.returncode == 0


def main(src_given: str, dst_given: str, commit: str) -> int:
    if re.match(r"^(\w[\w+.-]*://|git@|gh:|gl:|/)", src_given):
        return 0  # already absolute or a URL
    candidates = [(b / Path(src_given).expanduser()).resolve() for b in started_in(dst_given)]
    # the repository holding the rendered commit, else (uncommitted template edits render from
    # a commit copier made for the occasion) the first folder that is a copier template
    source = next((c for c in candidates if holds_commit(c, commit)), None) or next(
        (c for c in candidates if (c / "copier.yml").is_file()), None
    )
    if source is None:
        print(
            f"dsflow: error: cannot tell where the template {src_given!r} is from here: run "
            "copier with the template's absolute path or URL (the project records it, and "
            "`just setup`, `just new-job` and `just update` need it)",
            file=sys.stderr,
        )
        return 1
    # JSON strings are valid YAML and TOML strings: any path survives quoting
    answers = ANSWERS.read_text()
    line = f"_src_path: {json.dumps(str(source))}"
    ANSWERS.write_text(re.sub(r"(?m)^_src_path: .*$", lambda _: line, answers, count=1))
    pyproject = PYPROJECT.read_text()
    git = f"git = {json.dumps('file://' + str(source))}"
    PYPROJECT.write_text(re.sub(r'git = "file://[^"]*"', lambda _: git, pyproject, count=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
