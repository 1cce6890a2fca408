"""Rendering a project and every job template with copier, from a tagged git snapshot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO, bake

EXPECTED_PROJECT_FILES = {
    ".copier-answers.yml",
    ".env.example",
    ".gitignore",
    ".python-version",
    "README.md",
    "adhoc/.gitkeep",
    "airflow/dags/.gitkeep",
    "airflow/requirements.txt",
    "config/spark-defaults.conf",
    "datastore/job_runs/.gitkeep",
    "datastore/raw/.gitkeep",
    "datastore/tables/.gitkeep",
    "docker/airflow/Dockerfile",
    "docker/compose.yaml",
    "docker/runner/Dockerfile",
    "dsflow.yml",
    "dsflow/__init__.py",
    "dsflow/__main__.py",
    "dsflow/specs.py",
    "dsflow/spark.py",
    "dsflow/runner.py",
    "dsflow/reports.py",
    "dsflow/publish.py",
    "dsflow/partitions.py",
    "dsflow/locks.py",
    "dsflow/execute.py",
    "dsflow/containers.py",
    "dsflow/checks.py",
    "dsflow/bootstrap.py",
    "dsflow/cli.py",
    "dsflow/envfile.py",
    "dsflow/errors.py",
    "dsflow/kvargs.py",
    "dsflow/names.py",
    "dsflow/new_job.py",
    "dsflow/project.py",
    "dsflow/settings.py",
    "dsflow/templates.py",
    "dsflow/tree.py",
    "dsflow/update.py",
    "dsflow/adhoc.py",
    "dsflow/airflow_env.py",
    "dsflow/backfill.py",
    "dsflow/dags.py",
    "dsflow/dashboards.py",
    "dsflow/graph.py",
    "dsflow/kernels.py",
    "dsflow/notebook.py",
    "dsflow/pairing.py",
    "dsflow/schemas.py",
    "dsflow/services.py",
    "dsflow/spark_server.py",
    "dsflow/status.py",
    "dsflow/tables.py",
    "dsflow/lab.py",
    "dsflow/explorer.py",
    "jobs/.gitkeep",
    "justfile",
    "pyproject.toml",
    "tests/test_project.py",
    "uv.lock",
}
JOB_TEMPLATES = {
    "download_file": {"url": "https://example.org/data/{{ ds }}.json"},
    "create_table_from_json": {},
    "create_table_from_csv": {},
    "create_table_from_sql": {"source_table": "meteo"},
    "plotly_dash_app": {"y_column": "temperature"},
}
JOB_FILES = {  # beyond README.md, job_specs.yaml and .copier-answers.yml
    "download_file": {"download.py"},
    "create_table_from_json": {"notebook.py"},
    "create_table_from_csv": {"notebook.py"},
    "create_table_from_sql": {"notebook.py", "query.sql"},
    "plotly_dash_app": {"app.py"},
}
JINJA_LEFTOVER = re.compile(r"\{\{|\{%|\{#")
# placeholders the runtime fills per run (job_specs.yaml, docs); anything else is a leftover
RUNTIME_PLACEHOLDER = re.compile(r"\{\{ (ds|ds_nodash|partition|job_name|job_parameters\.\w+) \}\}")


def leftover_jinja(text: str) -> re.Match | None:
    return JINJA_LEFTOVER.search(RUNTIME_PLACEHOLDER.sub("", text))


def files_of(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def rendered_from_jinja(template_dir: Path, out: Path) -> list[Path]:
    """Output files whose source in ``template_dir`` ended in ``.jinja``."""
    result = []
    for src in template_dir.rglob("*.jinja"):
        rel = src.relative_to(template_dir).as_posix()[: -len(".jinja")]
        rel = rel.replace("{{_copier_conf.answers_file}}", ".copier-answers.yml")
        result.append(out / rel)
    return result


def test_project_file_set(baker):
    """A default project has exactly the documented files, and answers record the tag."""
    project = baker()
    assert files_of(project) == EXPECTED_PROJECT_FILES
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "v1.0.0"
    assert answers["template"] == "project"
    assert answers["project_slug"] == "my-dsflow-project"


def test_no_jinja_left_in_rendered_files(baker, template_repo):
    """Files rendered from .jinja sources contain no {{, {% or {# (except escaped {{ ds }})."""
    project = baker(project_name="Weather Lab")
    outputs = rendered_from_jinja(template_repo / "project-template", project)
    assert project / "pyproject.toml" in outputs
    for path in outputs:
        assert not leftover_jinja(path.read_text()), f"unrendered Jinja in {path}"
    assert 'name = "weather-lab"' in (project / "pyproject.toml").read_text()
    assert 'name = "weather-lab"' in (project / "uv.lock").read_text()


def test_answers_drive_settings(baker):
    """Project answers land in dsflow.yml."""
    project = baker(spark_master="local[1]", default_grain="hourly", jupyter_port=9999)
    settings = yaml.safe_load((project / "dsflow.yml").read_text())
    assert settings["spark"]["master"] == "local[1]"
    assert settings["default_grain"] == "hourly"
    assert settings["ports"]["jupyter"] == 9999


@pytest.mark.parametrize("template", sorted(JOB_TEMPLATES))
def test_every_job_template_renders(template, baker, template_repo):
    """Each job template renders into jobs/<job>/ with its own answers file and valid spec."""
    project = baker()
    job = bake(
        template_repo,
        project / "jobs" / "the-job",
        template=template,
        name="meteo",
        **JOB_TEMPLATES[template],
    )
    common = {"README.md", "job_specs.yaml", ".copier-answers.yml"}
    assert files_of(job) == common | JOB_FILES[template]
    answers = yaml.safe_load((job / ".copier-answers.yml").read_text())
    assert answers["template"] == template
    assert answers["_commit"] == "v1.0.0"
    spec = yaml.safe_load((job / "job_specs.yaml").read_text())
    assert spec["job_name"] == answers["job_name"]
    assert (job / spec["script"]).is_file()
    assert (job / "README.md").is_file()
    for path in rendered_from_jinja(template_repo / "job-templates" / template, job):
        assert not leftover_jinja(path.read_text()), f"unrendered Jinja in {path}"


def test_missing_required_parameter_is_refused(baker, template_repo, tmp_path):
    """download_file without url, under --defaults: copier refuses and writes nothing."""
    baker()
    dst = tmp_path / "job"
    with pytest.raises(ValueError, match="url is required"):
        bake(template_repo, dst, template="download_file", name="meteo")
    assert not dst.exists()


def test_every_question_has_help_and_default():
    """copier.yml: each question explains itself and has a default (pawamoy/copier-uv style)."""
    config = yaml.safe_load((REPO / "copier.yml").read_text())
    questions = {k: v for k, v in config.items() if not k.startswith("_")}
    assert questions
    for name, question in questions.items():
        assert question.get("help"), f"{name} has no help"
        assert "default" in question, f"{name} has no default"


def test_job_templates_match_the_template_question():
    """Every folder in job-templates/ is offered by the `template` question, and vice versa."""
    config = yaml.safe_load((REPO / "copier.yml").read_text())
    offered = set(config["template"]["choices"].values()) - {"project"}
    folders = {p.name for p in (REPO / "job-templates").iterdir() if p.is_dir()}
    assert offered == folders == set(JOB_TEMPLATES)
