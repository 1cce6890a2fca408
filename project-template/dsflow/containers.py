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
        "python", "-m", "dsflow", "run", *words, "runner=local",
    ]  # fmt: skip


def compose_stack_command(project: Project, action: str) -> list[str]:
    """``docker compose ... up -d`` (or ``down``) of the services profile."""
    cmd = [
        "docker", "compose",
        "--project-directory", str(project.root),
        "-f", str(project.root / COMPOSE_FILE),
        "--env-file", str(project.root / ".env"),
        "--profile", "services",
    ]  # fmt: skip
    return cmd + (["up", "-d", "--build"] if action == "up" else ["down"])


def run_in_container(project: Project, words: list[str], dry_run: bool) -> int:
    """Print (dry run) or execute the compose command; return its exit code."""
    return run_compose(compose_run_command(project, words), dry_run)


def run_compose(cmd: list[str], dry_run: bool) -> int:
    """Print (dry run) or execute a compose command line; return its exit code."""
    if dry_run:
        print(" ".join(cmd))
        return 0
    if (
        shutil.which("docker") is None
        or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode
    ):
        raise DsflowError(
            "this needs Docker with the compose plugin, which is not available here; "
            "dry-run=true prints the command (and runner=local runs jobs without Docker)"
        )
    return subprocess.run(cmd).returncode
