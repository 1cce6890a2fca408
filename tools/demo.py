"""The README's first quickstart command: scaffold a demo project and walk through it.

uv run just demo [DEST]     (default: ./demo-project, recreated each time)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from snapshot import GIT_ID, is_clean, snapshot_repo

ROOT = Path(__file__).resolve().parents[1]


def step(title: str, cmd: list[str], cwd: Path) -> None:
    print(f"\n==> {title}\n$ {' '.join(cmd)}", flush=True)
    subprocess.run(cmd, cwd=cwd, check=True)


def main(dest: str) -> None:
    project = (ROOT / dest).resolve() if not Path(dest).is_absolute() else Path(dest)
    template = project.parent / f".{project.name}-template"
    for old in (project, template):
        if old.exists():
            shutil.rmtree(old)
    if is_clean():
        source, ref = ROOT, "HEAD"
    else:  # uncommitted template edits: render them from a tagged snapshot
        print(f"(working tree has uncommitted changes: rendering a snapshot in {template})")
        source, ref = snapshot_repo(template, tag="v0.0.0-dev"), "v0.0.0-dev"
    step(
        "scaffold a project with copier",
        [
            "copier",
            "copy",
            "--trust",
            "--defaults",
            "--quiet",
            "--vcs-ref",
            ref,
            str(source),
            str(project),
        ],
        ROOT,
    )
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=project, check=True)
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    subprocess.run(
        ["git", *GIT_ID, "commit", "-q", "-m", "dsflow project"], cwd=project, check=True
    )
    step("set it up: environment, Java check, kernel, secrets", ["just", "setup"], project)
    step("its recipes", ["just"], project)
    step("its job templates", ["just", "templates"], project)
    step(
        "create a job from a template",
        [
            "just",
            "new-job",
            "download_file",
            "meteoparis",
            "url=https://example.org/meteo/{{ ds }}.json",
        ],
        project,
    )
    step("the datastore", ["just", "tree"], project)
    step("the project's own tests", ["just", "test"], project)
    print(f"\nDemo project ready in {project}\n  cd {project} && just")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "demo-project")
