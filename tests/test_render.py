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
    "jobs/.gitkeep",
    "justfile",
    "pyproject.toml",
    "src/my_dsflow_project/__init__.py",
    "tests/test_project.py",
}
JOB_TEMPLATES = {
    "download_file": {"url": "https://example.org/data/{{ ds }}.json"},
    "create_table_from_json": {},
    "create_table_from_csv": {},
    "create_table_from_sql": {"source_table": "meteo"},
    "plotly_dash_app": {"y_column": "temperature"},
}
JOB_FILES = {  # beyond README.md, job_specs.yaml and .copier-answers.yml
    "download_file": set(),  # its logic is the runtime's dsflow.download
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
        if "{{ project_slug | replace('-', '_') }}" in rel:  # the project's own package
            package = next((out / "src").iterdir()).name
            rel = rel.replace("{{ project_slug | replace('-', '_') }}", package)
        result.append(out / rel)
    return result


def test_project_file_set(baker):
    """A default project has exactly the documented files (no vendored runtime, no lock: uv.lock
    is made by `just setup`), and answers record the tag."""
    project = baker()
    assert files_of(project) == EXPECTED_PROJECT_FILES
    assert not any(name.startswith("dsflow/") or name == "uv.lock" for name in files_of(project))
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
    assert (project / "src" / "weather_lab" / "__init__.py").is_file()


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
    if template == "download_file":
        assert spec["module"] == "dsflow.download" and "script" not in spec
    else:
        assert (job / spec["script"]).is_file()
    assert (job / "README.md").is_file()
    for path in rendered_from_jinja(template_repo / "job-templates" / template, job):
        assert not leftover_jinja(path.read_text()), f"unrendered Jinja in {path}"


def test_missing_required_parameter_is_refused(baker, template_repo, tmp_path):
    """download_file without url, under --defaults: copier refuses and writes nothing."""
    baker()
    dst = tmp_path / "job"
    with pytest.raises(ValueError, match='Question "url" is required'):
        bake(template_repo, dst, template="download_file", name="meteo")
    assert not dst.exists()


def test_every_question_has_help_and_default():
    """copier.yml: each question explains itself and has a default (pawamoy/copier-uv style),
    except the required ones, which say so: copier checks a default against the validator
    before it prompts, so an empty default for a required answer would fail in a terminal."""
    config = yaml.safe_load((REPO / "copier.yml").read_text())
    questions = {k: v for k, v in config.items() if not k.startswith("_")}
    assert questions
    required = {name for name, q in questions.items() if "default" not in q}
    assert required == {"url", "source_table", "y_column"}
    for name, question in questions.items():
        assert question.get("help"), f"{name} has no help"
        if name in required:
            assert question["help"].endswith("— required"), name
            assert question.get("validator"), name


def test_job_templates_match_the_template_question():
    """Every folder in job-templates/ is offered by the `template` question, and vice versa."""
    config = yaml.safe_load((REPO / "copier.yml").read_text())
    offered = set(config["template"]["choices"].values()) - {"project"}
    folders = {p.name for p in (REPO / "job-templates").iterdir() if p.is_dir()}
    assert offered == folders == set(JOB_TEMPLATES)


def test_project_pins_the_runtime_at_the_rendered_commit(baker, template_repo):
    """pyproject.toml takes dsflow-runtime from the template repository at the exact commit of
    the release it was rendered from, with the constraints that release was tested with."""
    import tomllib

    from conftest import git

    project = baker()
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    source = pyproject["tool"]["uv"]["sources"]["dsflow-runtime"]
    assert source == {
        "git": f"file://{template_repo}",
        "rev": git(template_repo, "rev-parse", "v1.0.0^{commit}").strip(),
        "subdirectory": "runtime",
    }
    assert "dsflow-runtime" in pyproject["project"]["dependencies"]
    shipped = [
        line
        for line in (template_repo / "runtime" / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert pyproject["tool"]["uv"]["constraint-dependencies"] == shipped
    assert any(line.startswith("pyspark==") for line in shipped)


def test_runtime_constraints_match_the_repository_lock():
    """runtime/constraints.txt is what `just lock` makes from uv.lock (so it is what the tests
    ran with)."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "make_constraints.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def _copy_relative(template_repo: Path, dst: str, pwd: Path):
    """`copier copy --trust --defaults <relative template> DST` from the template's parent."""
    import os
    import subprocess
    import sys

    copier_cli = str(Path(sys.executable).parent / "copier")
    env = {**os.environ, "PWD": str(pwd)}
    return subprocess.run(
        [copier_cli, "copy", "--trust", "--defaults", template_repo.name, dst],
        cwd=template_repo.parent, env=env, capture_output=True, text=True,
    )  # fmt: skip


def test_relative_template_with_an_absolute_destination(template_repo, tmp_path):
    """`copier copy dsflow /abs/project` from the template's parent: the shell's $PWD tells where
    copier ran, so the project records the template's absolute path."""
    dst = tmp_path / "abs-project"
    result = _copy_relative(template_repo, str(dst), pwd=template_repo.parent)
    assert result.returncode == 0, result.stderr
    answers = yaml.safe_load((dst / ".copier-answers.yml").read_text())
    assert answers["_src_path"] == str(template_repo)
    assert f'git = "file://{template_repo}"' in (dst / "pyproject.toml").read_text()


def test_relative_template_that_cannot_be_located_is_an_error(template_repo, tmp_path):
    """With an absolute destination and a $PWD that is not where copier ran, the template cannot
    be found later: copier fails with the reason instead of making a project that cannot set
    up."""
    dst = tmp_path / "lost-project"
    result = _copy_relative(template_repo, str(dst), pwd=tmp_path)
    assert result.returncode != 0
    assert "cannot tell where the template 'dsflow' is from here" in result.stderr
    assert not (dst / "pyproject.toml").exists()
