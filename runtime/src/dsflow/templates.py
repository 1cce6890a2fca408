"""The job templates of the template version a project records, and their parameters.

One source of truth: the questions of copier.yml (their ``help``, ``default`` and the ``when``
tying a question to a template) and each template's ``job_specs.yaml`` source for the job
parameters a new job starts with.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import copier
import jinja2
import yaml
from copier.errors import CopierError

from .errors import DsflowError
from .project import Project


@dataclass(frozen=True)
class JobTemplate:
    """One job template: its folder name under job-templates/ and its one-line description."""

    name: str
    description: str


@contextmanager
def template_checkout(project: Project, **options: Any) -> Iterator[copier.Worker]:
    """A copier worker on the project's template source, at the version the project records
    (one clone of it, however much the worker is asked); ``options`` are copier.Worker's
    (``dst_path``, ``data``, ... for a worker that then renders with ``run_copy``)."""
    options.setdefault("quiet", True)
    try:
        with copier.Worker(
            src_path=project.template_src, vcs_ref=project.template_commit, **options
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


# new-job passes its NAME argument as this question's answer; in help it is shown as NAME
NAME_QUESTION = "name"
NAME_LABEL = "NAME"
_TEMPLATE_QUESTION = "template"  # which template: the first argument of new-job, not a parameter
_REQUIRED_SUFFIX = re.compile(r"\s+—\s+required\s*$")
_JOB_PARAMETER = re.compile(r"^  ([A-Za-z_][\w-]*):(.*)$")  # one key of the job_parameters block


@dataclass(frozen=True)
class TemplateParameter:
    """One parameter of a job template, as help shows it.

    ``default`` is the value shown (a derived one as ``download-<NAME>`` or ``from url``);
    empty when ``required``.
    """

    name: str
    required: bool
    default: str
    help: str


def find_job_template(worker: copier.Worker, name: str) -> JobTemplate:
    """The job template called ``name``; an unknown name is refused with the available ones."""
    templates = job_templates(worker)
    for template in templates:
        if template.name == name:
            return template
    known = ", ".join(t.name for t in templates)
    raise DsflowError(f"unknown template {name!r}; available: {known}")


def _render(worker: copier.Worker, text: str, context: Mapping[str, Any]) -> str | None:
    """``text`` rendered by copier's own Jinja environment, or None when it cannot be."""
    try:
        return worker.jinja_env.from_string(text).render(**context)
    except jinja2.TemplateError:
        return None


def _shown(value: Any) -> str:
    """A default as a user would type it: YAML spelling for booleans, ``""`` for empty."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value) if str(value) != "" else '""'


def question_help(worker: copier.Worker, question: str, context: Mapping[str, Any]) -> str:
    """The help of a copier.yml question on one line: rendered (``{{ '{{ ds }}' }}`` reads
    ``{{ ds }}``), without the trailing "— required" that help marks in its own column."""
    raw = str(worker.template.questions_data.get(question, {}).get("help", ""))
    rendered = _render(worker, raw, context) if "{" in raw else raw
    return _REQUIRED_SUFFIX.sub("", " ".join((rendered or raw).split()))


def _placeholders(worker: copier.Worker, template: str) -> dict[str, Any]:
    """What help renders copier expressions with: each question's answer as ``<question>``."""
    context: dict[str, Any] = {
        q: f"<{NAME_LABEL if q == NAME_QUESTION else q}>" for q in worker.template.questions_data
    }
    context[_TEMPLATE_QUESTION] = template
    return context


def _applies(worker: copier.Worker, data: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    """Whether copier asks this question for the template in ``context`` (its ``when``)."""
    when = data.get("when", True)
    if isinstance(when, bool):
        return when
    rendered = _render(worker, str(when), context)
    if rendered is None:
        return True  # depends on another answer: the question may be asked
    return rendered.strip().lower() not in ("", "false", "no", "off", "0", "none", "null")


def _default(worker: copier.Worker, data: Mapping[str, Any], context: Mapping[str, Any]) -> str:
    """A question's default as help shows it: computed ones rendered with placeholders."""
    value = data.get("default")
    if not isinstance(value, str) or "{" not in value:
        return _shown(value)
    rendered = _render(worker, value, context)
    if rendered is None:
        return "computed"
    for question, placeholder in context.items():
        if question == _TEMPLATE_QUESTION:
            continue
        # a whole other answer, transformed (a URL's last segment, say): name where it comes from
        if rendered == placeholder and value.strip() != f"{{{{ {question} }}}}":
            return f"from {question}"
    return _shown(rendered)


def question_parameters(
    worker: copier.Worker, template: str, defaults: Mapping[str, str] | None = None
) -> list[TemplateParameter]:
    """The copier.yml questions ``template`` asks (their ``when``), in copier.yml's order.

    ``defaults`` replace a question's own default (the project's grain, say); ``name``, the
    NAME argument of new-job, comes first as ``NAME``.
    """
    context = _placeholders(worker, template)
    result = []
    for question, data in worker.template.questions_data.items():
        if question == _TEMPLATE_QUESTION or not isinstance(data, dict):
            continue
        if not _applies(worker, data, context):
            continue
        required = "default" not in data or question == NAME_QUESTION
        if required:
            default = ""
        elif defaults and question in defaults:
            default = _shown(defaults[question])
        else:
            default = _default(worker, data, context)
        help_text = question_help(worker, question, context)
        choices = data.get("choices")
        if isinstance(choices, list) and not all(str(c) in help_text for c in choices):
            help_text += f"; one of {', '.join(str(c) for c in choices)}"
        label = NAME_LABEL if question == NAME_QUESTION else question
        result.append(TemplateParameter(label, required, default, help_text))
    # stable: NAME, then the other required ones, then the rest in copier.yml's order
    result.sort(key=lambda p: (p.name != NAME_LABEL, not p.required))
    return result


def _spec_file(worker: copier.Worker, template: str) -> Path | None:
    """The template's ``job_specs.yaml`` source in the checkout, found as copier finds it."""
    subdirectory = _render(worker, worker.template.subdirectory, {"template": template})
    if subdirectory is None:
        return None
    suffix = worker.template.templates_suffix or ""
    path = Path(worker.template.local_abspath) / subdirectory / f"job_specs.yaml{suffix}"
    return path if path.is_file() else None


def _value_and_comment(rest: str) -> tuple[str, str]:
    """Split ``value  # comment`` where YAML does: the first ``#`` after a blank that leaves
    the value unchanged (a ``#`` inside a quoted value is not a comment)."""
    try:
        whole = yaml.safe_load(rest)
    except yaml.YAMLError:
        return rest.strip(), ""
    for match in re.finditer(r"\s#", rest):
        try:
            if yaml.safe_load(rest[: match.start()]) == whole:
                return rest[: match.start()].strip(), rest[match.end() :].strip()
        except yaml.YAMLError:
            continue
    return rest.strip(), ""


def job_parameters(worker: copier.Worker, template: str) -> list[TemplateParameter]:
    """The ``job_parameters`` a job made from ``template`` starts with, read from its
    ``job_specs.yaml`` source: value as written there, help from the line's comment.

    Keys whose value comes from a question are left out: the questions list them.
    """
    path = _spec_file(worker, template)
    if path is None:
        return []
    context = _placeholders(worker, template)
    asked = {q for q, d in worker.template.questions_data.items() if isinstance(d, dict)}
    result = []
    inside = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if not inside:
            inside = line.split("#")[0].strip() == "job_parameters:"
            continue
        if line.strip() == "" or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            break  # the next top-level key
        if "{" in line:
            line = _render(worker, line, context) or line
        match = _JOB_PARAMETER.match(line)
        if match is None or match.group(1) in asked:
            continue
        value, comment = _value_and_comment(match.group(2))
        result.append(TemplateParameter(match.group(1), False, value or "(nested)", comment))
    return result


def parameter_lines(parameters: list[TemplateParameter], indent: str = "  ") -> list[str]:
    """One aligned line per parameter: name, ``required`` or its default, help."""
    if not parameters:
        return []
    width = max(len(p.name) for p in parameters)
    shown = [("required" if p.required else p.default) for p in parameters]
    default_width = max(len(s) for s in shown)
    return [
        f"{indent}{p.name:<{width}}  {s:<{default_width}}  {p.help}".rstrip()
        for p, s in zip(parameters, shown, strict=True)
    ]


def usage_line(template: str, parameters: list[TemplateParameter]) -> str:
    """``just new-job TEMPLATE NAME key=... [key=value ...]`` with the required keys."""
    required = [f"{p.name}=..." for p in parameters if p.required and p.name != NAME_LABEL]
    return " ".join(["just new-job", template, NAME_LABEL, *required, "[key=value ...]"])
