"""``just new-job TEMPLATE NAME [key=value ...]``: render a job from the project's template."""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import copier
from copier.errors import CopierError

from .errors import DsflowError
from .names import check_job_name
from .project import ANSWERS_FILE, Project, read_answers
from .settings import load_settings
from .templates import job_templates, template_checkout

_NAME_HELP = "lowercase letters, digits and underscores, starting with a letter"
# copier's words for a question without a default that got no answer
_REQUIRED = re.compile(r'Question "(\w+)" is required')


def new_job(
    project: Project,
    template: str,
    name: str,
    params: dict[str, str],
    interactive: bool | None = None,
) -> Path:
    """Render job template ``template`` into ``jobs/<job_name>/`` and return that folder.

    The job is rendered into a hidden staging folder first, so a refused parameter, a taken
    name or an interrupted prompt leaves ``jobs/`` exactly as it was.
    """
    if interactive is None:
        interactive = sys.stdin.isatty()
    check_job_name(name)
    if "-" in name:
        raise DsflowError(f"invalid name {name!r}: {_NAME_HELP} (tables cannot contain '-')")
    if "job_name" in params:
        check_job_name(params["job_name"])
    data: dict[str, str] = {"grain": load_settings(project).default_grain}
    data.update(params)
    data.update(template=template, name=name)

    project.jobs_dir.mkdir(exist_ok=True)
    with template_checkout(project) as worker:
        known = [t.name for t in job_templates(worker)]
        if template not in known:
            raise DsflowError(f"unknown template {template!r}; available: {', '.join(known)}")
        staging = Path(tempfile.mkdtemp(prefix=".new-", dir=project.jobs_dir))
        try:
            _render(project, staging, data, interactive, worker.template.questions_data)
            answers = read_answers(staging)
            unknown = sorted(set(params) - set(answers))
            if unknown:
                raise DsflowError(
                    f"unknown parameter(s) for template {template!r}: {', '.join(unknown)}; "
                    f"see `just templates` and job-templates/{template}/README.md"
                )
            job_name = check_job_name(str(answers["job_name"]))
            target = project.jobs_dir / job_name
            if target.exists():
                raise DsflowError(
                    f"job {job_name!r} already exists in jobs/; pick another NAME or "
                    "pass job_name=<new name>"
                )
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _render(
    project: Project,
    dst: Path,
    data: dict[str, str],
    interactive: bool,
    questions: dict[str, Any],
) -> None:
    try:
        copier.run_copy(
            src_path=project.template_src,
            dst_path=dst,
            data=data,
            vcs_ref=project.template_commit,
            defaults=not interactive,
            unsafe=True,
            quiet=True,
            overwrite=True,
        )
    except KeyboardInterrupt:  # first: copier's prompt interrupt is also a CopierError
        raise DsflowError("cancelled; nothing was created") from None
    except (CopierError, ValueError) as exc:
        message = " ".join(str(exc).split())
        required = _REQUIRED.fullmatch(message)
        if required:
            name = required.group(1)
            help_text = str(questions.get(name, {}).get("help", "")).split(" — ")[0]
            message = f"{name} is required: pass {name}=... ({help_text})"
        raise DsflowError(f"cannot create the job: {message}") from None
    if not (dst / ANSWERS_FILE).is_file():
        raise DsflowError("cannot create the job: the template rendered no answers file")
