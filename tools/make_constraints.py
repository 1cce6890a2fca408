"""Write runtime/constraints.txt: the versions this release's runtime is tested with.

They come from the repository's uv.lock (the runtime is a workspace member, so the tests run on
exactly these). Projects get them as `[tool.uv] constraint-dependencies` in their
pyproject.toml, so `just setup` resolves the project's own uv.lock within them.
Run through `just lock` after changing runtime/pyproject.toml.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / "runtime" / "constraints.txt"
HEADER = (
    "# The versions the dsflow runtime of this release is tested with (from the repository's\n"
    "# uv.lock; regenerate with `just lock`). Projects resolve within them.\n"
)


def constraints() -> str:
    """The runtime's locked dependencies, one ``name==version [; marker]`` per line."""
    out = subprocess.run(
        [
            "uv", "export", "--frozen", "--no-hashes", "--no-emit-workspace", "--no-dev",
            "--no-header", "--no-annotate", "--package", "dsflow-runtime",
        ],
        cwd=REPO, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    return HEADER + "\n".join(lines) + "\n"


def main() -> int:
    text = constraints()
    if "--check" in sys.argv[1:]:
        if not TARGET.is_file() or TARGET.read_text() != text:
            print(f"{TARGET.relative_to(REPO)} is out of date: run `just lock`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(REPO)} ({text.count('==')} pins)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
