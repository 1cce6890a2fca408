"""The job templates of the template version a project records, read from copier.yml."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import copier
from copier.errors import CopierError

from .errors import DsflowError
from .project import Project


@dataclass(frozen=True)
class JobTemplate:
    """One job template: its folder name under job-templates/ and its one-line description."""

    name: str
    description: str


@contextmanager
def template_checkout(project: Project) -> Iterator[copier.Worker]:
    """A copier worker on the project's template source, at the version the project records."""
    try:
        with copier.Worker(
            src_path=project.template_src, vcs_ref=project.template_commit, quiet=True
        ) as worker:
            yield worker
    except (CopierError, ValueError, OSError) as exc:
        raise DsflowError(
            f"cannot read the template {project.template_src} at {project.template_commit}: "
            f"{' '.join(str(exc).split())}"
        ) from None


def job_templates(worker: copier.Worker) -> list[JobTemplate]:
    """List the job templates offered by the ``template`` question of copier.yml."""
    question = worker.template.questions_data.get("template", {})
    result = []
    for label, value in (question.get("choices") or {}).items():
        if value == "project":
            continue
        _, _, description = str(label).partition(": ")
        result.append(JobTemplate(name=str(value), description=description))
    return result


def list_job_templates(project: Project) -> list[JobTemplate]:
    """The job templates available to ``project``."""
    with template_checkout(project) as worker:
        return job_templates(worker)
