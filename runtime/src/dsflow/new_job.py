"""``just new-job TEMPLATE NAME [key=value ...]``: render a job from the project's template."""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import copier
from copier.errors import CopierError

from .errors import DsflowError
from .names import check_name, normalised_name, quoted
from .project import ANSWERS_FILE, Project, read_answers
from .settings import load_settings
from .templates import (
    NAME_LABEL,
    find_job_template,
    job_parameters,
    parameter_lines,
    question_help,
    question_parameters,
    template_checkout,
    usage_line,
)
from .umask import follow_umask

# copier's words for a question without a default that got no answer
_REQUIRED = re.compile(r'Question "(\w+)" is required')
# Answers that name something follow the name rule; the label says what they name.
_NAMED = {
    "name": "dataset",
    "job_name": "job",
    "table": "table",
    "source_dataset": "source dataset",
}
_NAME_LISTS = {"source_table": "source table"}  # comma-separated names
_TAB_ALLOWED = {"delimiter"}  # a tab is a CSV delimiter; any other answer is one plain line


def check_answers(answers: Mapping[str, Any]) -> None:
    """Refuse an answer that is not a name by the name rule (when it names something) or that
    holds a control or invisible format character (newline, tab, NUL, bidi override...).

    The job templates emit each answer that is a whole value of ``job_specs.yaml`` as a YAML
    (JSON) scalar, so it reads back as exactly itself; names also go into paths (``raw/<name>``)
    and comments, which the name rule keeps safe.
    """
    for key, value in answers.items():
        if key.startswith("_") or not isinstance(value, str):
            continue  # copier's own (_commit, _src_path), and typed answers
        if key in _NAMED:
            check_name(value, _NAMED[key])
        elif key in _NAME_LISTS:
            for part in value.split(","):
                check_name(part.strip(), _NAME_LISTS[key])
        for char in value:
            if char == "\t" and key in _TAB_ALLOWED:
                continue
            if unicodedata.category(char).startswith("C"):
                raise DsflowError(
                    f"invalid {key} {quoted(value)}: it holds the control character {char!r}; "
                    "give it on one line, without control characters"
                )


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
    check_name(name, "dataset")
    if "-" in name:
        raise DsflowError(
            f"invalid dataset name {name!r}: use lowercase letters, digits and '_' "
            "(it names a table too, and a table name cannot contain '-')"
        )
    check_answers(params)  # before copier runs: a hostile value never reaches a template
    data: dict[str, str] = {"grain": load_settings(project).default_grain}
    data.update(params)
    data.update(template=template, name=name)

    project.jobs_dir.mkdir(exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".new-", dir=project.jobs_dir))
    options = dict(dst_path=staging, data=data, defaults=not interactive, unsafe=True,
                   overwrite=True)  # fmt: skip
    try:
        with template_checkout(project, **options) as worker:  # one clone: the listing, the render
            find_job_template(worker, template)
            _render(staging, data, worker)
            answers = read_answers(staging)
            unknown = sorted(set(params) - set(answers))
            if unknown:
                raise DsflowError(
                    f"unknown parameter(s) for template {template!r}: {', '.join(unknown)}; "
                    f"see `just templates` and job-templates/{template}/README.md"
                )
            try:
                check_answers(answers)  # the ones typed at copier's prompts too
            except DsflowError as exc:
                if "job_name" in params or not str(exc).startswith("invalid job name"):
                    raise
                raise DsflowError(
                    f"{exc}; it is made from NAME: pass job_name=<a shorter name>"
                ) from None
            job_name = str(answers["job_name"])
            target = project.jobs_dir / job_name
            if target.exists():
                raise DsflowError(
                    f"job {job_name!r} already exists in jobs/; pick another NAME or "
                    "pass job_name=<new name>"
                )
            for other in project.job_names():
                if normalised_name(other) == normalised_name(job_name):
                    raise DsflowError(
                        f"job {job_name!r} would collide with job {other!r}: names differing "
                        "only by '-' and '_' are one name to Airflow; pick another NAME or "
                        "pass job_name=<new name>"
                    )
            follow_umask(staging)  # mkdtemp made it 0700
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _render(dst: Path, data: dict[str, str], worker: copier.Worker) -> None:
    try:
        worker.run_copy()
    except KeyboardInterrupt:  # first: copier's prompt interrupt is also a CopierError
        raise DsflowError("cancelled; nothing was created") from None
    except (CopierError, ValueError) as exc:
        message = " ".join(str(exc).split())
        required = _REQUIRED.fullmatch(message)
        if required:
            name = required.group(1)
            help_text = question_help(worker, name, data)
            message = f"{name} is required: pass {name}=... ({help_text})"
        raise DsflowError(f"cannot create the job: {message}") from None
    if not (dst / ANSWERS_FILE).is_file():
        raise DsflowError("cannot create the job: the template rendered no answers file")


def new_job_help(project: Project, template: str) -> str:
    """What ``just new-job TEMPLATE --help`` prints: the usage line, the parameters new-job
    takes (copier.yml's questions) and the job parameters the new job starts with."""
    with template_checkout(project) as worker:
        found = find_job_template(worker, template)
        grain = {"grain": load_settings(project).default_grain}  # what new_job fills in
        questions = question_parameters(worker, template, defaults=grain)
        spec = job_parameters(worker, template)
    lines = [
        f"{found.name}: {found.description}",
        f"usage: {usage_line(template, questions)} [--no-input]",
        "",
        f"Parameters ({NAME_LABEL}, then key=value):",
        *parameter_lines(questions),
    ]
    if spec:
        lines += [
            "",
            "Job parameters (job_specs.yaml; one run overrides them: just run job=JOB key=value):",
            *parameter_lines(spec),
        ]
    lines += ["", "The new job's README.md explains each in full."]
    return "\n".join(lines)
