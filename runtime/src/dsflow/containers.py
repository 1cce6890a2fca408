"""Docker compose: `runner=docker` (`dsflow run` in the runner service), `just up` / `just down`."""

from __future__ import annotations

import os
import shutil
import subprocess

from .errors import DsflowError
from .project import Project
from .settings import load_settings

COMPOSE_FILE = "docker/compose.yaml"


def _compose(project: Project) -> list[str]:
    # no --project-directory: compose resolves the file's relative paths (`..`, the project)
    # against the project directory, which must stay the file's own folder, docker/
    return [
        "docker", "compose",
        "-f", str(project.root / COMPOSE_FILE),
        "--env-file", str(project.root / ".env"),
    ]  # fmt: skip


def compose_run_command(project: Project, words: list[str]) -> list[str]:
    """The command line that runs ``dsflow run WORDS`` in the runner container."""
    return _compose(project) + [
        "run", "--rm", "runner",
        "python", "-m", "dsflow", "run", *words, "runner=local",
    ]  # fmt: skip


def compose_ports(project: Project) -> dict[str, str]:
    """The host ports the stack publishes (on 127.0.0.1), from ``ports`` in dsflow.yml."""
    settings = load_settings(project)
    return {
        "JUPYTER_PORT": str(settings.port("jupyter")),
        "AIRFLOW_PORT": str(settings.port("airflow")),
        "EXPLORER_PORT": str(settings.port("explorer")),
    }


def compose_stack_command(project: Project, action: str) -> list[str]:
    """``docker compose ... up -d`` (or ``down``) of the services profile."""
    cmd = _compose(project) + ["--profile", "services"]
    return cmd + (["up", "-d", "--build"] if action == "up" else ["down"])


def run_in_container(project: Project, words: list[str], dry_run: bool) -> int:
    """Print (dry run) or execute the compose command; return its exit code."""
    return run_compose(compose_run_command(project, words), dry_run)


def run_compose(cmd: list[str], dry_run: bool, env: dict[str, str] | None = None) -> int:
    """Print (dry run) or execute a compose command line with ``env`` added; return its exit
    code."""
    if dry_run:
        print(" ".join([*(f"{k}={v}" for k, v in (env or {}).items()), *cmd]))
        return 0
    if (
        shutil.which("docker") is None
        or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode
    ):
        raise DsflowError(
            "this needs Docker with the compose plugin, which is not available here; "
            "dry-run=true prints the command (and runner=local runs jobs without Docker)"
        )
    return subprocess.run(cmd, env={**os.environ, **(env or {})}).returncode
