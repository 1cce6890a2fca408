"""Copier task after `copier copy`: record a relative template path as an absolute one.

Copier records the template source (`_src_path`) as it was typed. A relative path such as
`copier copy dsflow my-project` only means something from the folder copier was started in, so
`just new-job`, `just update` and uv (which fetches the runtime from that repository) would not
find the template later. Copier runs this in the new project's folder with the source and the
destination as typed; the folder copier was started in is the project folder with the
destination's parts taken off (or $PWD, which the shell keeps).
"""

from __future__ import annotations

import os
import re
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
    return [c for c in candidates if (c / dst_given).resolve() == here or dst.is_absolute()]


def main(src_given: str, dst_given: str) -> int:
    if re.match(r"^(\w[\w+.-]*://|git@|gh:|gl:|/)", src_given):
        return 0  # already absolute or a URL
    source = None
    for base in started_in(dst_given):
        candidate = (base / Path(src_given).expanduser()).resolve()
        if (candidate / "copier.yml").is_file():
            source = candidate
            break
    if source is None:
        print(
            f"dsflow: warning: cannot tell where the template {src_given!r} is; give copier an "
            "absolute path or a URL, or set _src_path in .copier-answers.yml and the runtime's "
            "git = in pyproject.toml to one",
            file=sys.stderr,
        )
        return 0
    answers = ANSWERS.read_text()
    ANSWERS.write_text(
        re.sub(r"(?m)^_src_path: .*$", lambda _: f"_src_path: {source}", answers, count=1)
    )
    pyproject = PYPROJECT.read_text()
    PYPROJECT.write_text(
        re.sub(r'git = "file://[^"]*"', lambda _: f'git = "file://{source}"', pyproject, count=1)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
