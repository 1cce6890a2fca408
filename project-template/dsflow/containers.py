"""``runner=docker``: the same ``dsflow run`` inside the compose ``runner`` service."""

from __future__ import annotations

import shutil
import subprocess

from .errors import DsflowError
from .project import Project

COMPOSE_FILE = "docker/compose.yaml"


def compose_run_command(project: Project, words: list[str]) -> list[str]:
    """The command line that runs ``dsflow run WORDS`` in the runner container."""
    return [
        "docker", "compose",
        "--project-directory", str(project.root),
        "-f", str(project.root / COMPOSE_FILE),
        "run", "--rm", "runner",
        "dsflow", "run", *words, "runner=local",
    ]  # fmt: skip


def run_in_container(project: Project, words: list[str], dry_run: bool) -> int:
    """Print (dry run) or execute the compose command; return its exit code."""
    cmd = compose_run_command(project, words)
    if dry_run:
        print(" ".join(cmd))
        return 0
    if (
        shutil.which("docker") is None
        or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode
    ):
        raise DsflowError(
            "runner=docker needs Docker with the compose plugin, which is not available here; "
            "use runner=local, or dry-run=true to print the command"
        )
    return subprocess.run(cmd).returncode
