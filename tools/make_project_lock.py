"""Regenerate project-template/uv.lock.jinja: the lock every new project starts with.

Renders the project's pyproject.toml with copier, runs ``uv lock`` on it and turns the
project's own name back into ``{{ project_slug }}`` (uv does not care where that entry sorts).
"""

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import copier

ROOT = Path(__file__).resolve().parents[1]
SLUG = "dsflow-lock-placeholder"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / "project"
        copier.run_copy(
            str(ROOT),
            dst,
            data={"project_slug": SLUG},
            defaults=True,
            unsafe=True,
            quiet=True,
            vcs_ref="HEAD",
        )
        (dst / "uv.lock").unlink(missing_ok=True)
        subprocess.run(["uv", "lock", "--quiet"], cwd=dst, check=True)
        text = (dst / "uv.lock").read_text()
    if "{{" in text or "{%" in text or "{#" in text:
        sys.exit("uv.lock contains Jinja syntax; it cannot become a template")
    text, count = re.subn(rf'^name = "{SLUG}"$', 'name = "{{ project_slug }}"', text, flags=re.M)
    if count != 1:
        sys.exit(f"expected the project's entry once in uv.lock, found {count}")
    (ROOT / "project-template" / "uv.lock.jinja").write_text(text)
    print("wrote project-template/uv.lock.jinja")


if __name__ == "__main__":
    main()
