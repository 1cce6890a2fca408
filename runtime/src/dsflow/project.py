"""Locate a dsflow project and read what copier recorded about it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import DsflowError

ANSWERS_FILE = ".copier-answers.yml"
SETTINGS_FILE = "dsflow.yml"
# Set for what runs on a project's behalf (jobs, kernels, services): their working folder may
# be a job folder, or any folder at all for a Jupyter kernel.
PROJECT_ROOT_ENV = "DSFLOW_PROJECT_ROOT"


@dataclass(frozen=True)
class Project:
    """A dsflow project on disk: its root folder and the copier answers that made it."""

    root: Path
    answers: dict[str, Any]

    @property
    def jobs_dir(self) -> Path:
        return self.root / "jobs"

    @property
    def template_src(self) -> str:
        """Where the project's template came from (a git URL or path)."""
        return str(self.answers["_src_path"])

    @property
    def template_commit(self) -> str:
        """The template version (tag or commit) the project was rendered from."""
        return str(self.answers["_commit"])

    def job_names(self, marker: str = "job_specs.yaml") -> list[str]:
        """Names of the folders in ``jobs/`` that hold ``marker``, sorted."""
        if not self.jobs_dir.is_dir():
            return []
        return sorted(
            p.name
            for p in self.jobs_dir.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / marker).is_file()
        )


def read_answers(folder: Path) -> dict[str, Any]:
    """Read ``.copier-answers.yml`` of a project or job folder."""
    path = folder / ANSWERS_FILE
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise DsflowError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise DsflowError(f"{path}: expected a mapping of answers")
    return data


def find_project(start: Path | None = None) -> Project:
    """Return the dsflow project containing ``start`` (default: the current folder)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / SETTINGS_FILE).is_file() and (folder / ANSWERS_FILE).is_file():
            answers = read_answers(folder)
            if answers.get("template") == "project":
                if "_src_path" not in answers or "_commit" not in answers:
                    raise DsflowError(
                        f"{folder / ANSWERS_FILE} does not record the template source and "
                        "version (_src_path, _commit); re-create the project with "
                        "`copier copy --trust <git repo or URL> <folder>`"
                    )
                return Project(root=folder, answers=answers)
    raise DsflowError(
        f"{here} is not inside a dsflow project (no dsflow.yml with a project "
        f"{ANSWERS_FILE} above it); create one with `copier copy --trust <template> <folder>`"
    )


def current_project() -> Project:
    """The project code running on a project's behalf belongs to: ``$DSFLOW_PROJECT_ROOT``
    when set (``just run``, ``just jupyter`` and the services set it), else the project
    containing the current folder (a notebook or script run by hand)."""
    root = os.environ.get(PROJECT_ROOT_ENV)
    return find_project(Path(root) if root else None)
