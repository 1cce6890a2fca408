"""Helpers of the runtime's unit tier: small projects and job folders written in tmp_path.

Nothing here bakes a project, starts Spark or reaches the network: the runtime is imported
from the root dev environment, where ``dsflow-runtime`` is installed editable.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ANSWERS: dict[str, Any] = {
    "_commit": "v1.0.0",
    "_src_path": "https://example.org/dsflow.git",
    "template": "project",
    "project_name": "Demo project",
}
SETTINGS: dict[str, Any] = {"project": "demo-project", "datastore": "datastore"}


def write_yaml(path: Path, data: dict[str, Any] | str) -> Path:
    """Write ``data`` as YAML (a string is written as it is, to control lines and quoting)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def write_project(
    root: Path,
    settings: dict[str, Any] | str | None = None,
    answers: dict[str, Any] | str | None = None,
) -> Path:
    """A project folder: ``dsflow.yml`` and a project ``.copier-answers.yml`` (no jobs yet)."""
    root.mkdir(parents=True, exist_ok=True)
    write_yaml(root / "dsflow.yml", SETTINGS if settings is None else settings)
    write_yaml(root / ".copier-answers.yml", ANSWERS if answers is None else answers)
    return root


def write_file(path: Path, content: str | bytes) -> None:
    """Write ``content`` (text or bytes) to ``path``, making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


def write_job(
    jobs_dir: Path,
    name: str,
    spec: dict[str, Any] | str | None = None,
    files: dict[str, str | bytes] | None = None,
) -> Path:
    """``jobs_dir/name/`` with ``job_specs.yaml`` and ``files`` (relative path -> content).

    The default spec is a command-line job running ``job.py`` (written too unless ``files``
    is given); a dict ``spec`` is dumped as YAML, a string written verbatim.
    """
    folder = jobs_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    if spec is None:
        spec = {"job_name": name, "class": "command-line", "script": "job.py"}
    if files is None:
        files = {"job.py": "print('ok')\n"} if isinstance(spec, dict) and spec.get("script") else {}
    for rel, content in files.items():
        write_file(folder / rel, content)
    write_yaml(folder / "job_specs.yaml", spec)
    return folder


def job_spec(name: str, **keys: Any) -> dict[str, Any]:
    """A command-line job spec running ``job.py``; ``keys`` add or replace keys (None drops)."""
    spec: dict[str, Any] = {"job_name": name, "class": "command-line", "script": "job.py"}
    spec.update(keys)
    return {k: v for k, v in spec.items() if v is not None}


@pytest.fixture
def project_root(tmp_path: Path) -> Path:
    """A minimal project (dsflow.yml + project answers) in tmp_path/demo-project."""
    return write_project(tmp_path / "demo-project")


@pytest.fixture
def make_job(project_root: Path) -> Callable[..., Path]:
    """``make_job(name, spec=None, files=None)``: a job folder in the project's jobs/."""

    def _make(
        name: str,
        spec: dict[str, Any] | str | None = None,
        files: dict[str, str | bytes] | None = None,
    ) -> Path:
        return write_job(project_root / "jobs", name, spec, files)

    return _make
