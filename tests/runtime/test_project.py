"""dsflow.project (find_project, read_answers, Project) and dsflow.settings.load_settings on
small project folders: a dsflow.yml and a project .copier-answers.yml, nothing baked.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dsflow.errors import DsflowError
from dsflow.project import Project, find_project, read_answers
from dsflow.settings import Settings, load_settings

from .conftest import ANSWERS, write_job, write_project, write_yaml


def one_line(exc: pytest.ExceptionInfo[DsflowError]) -> str:
    message = str(exc.value)
    assert "\n" not in message, message
    assert exc.value.exit_code == 2
    return message


# ------------------------------------------------------------------ find_project


def test_found_from_its_root_and_from_deep_inside(project_root):
    deep = project_root / "jobs" / "clean" / "sub"
    deep.mkdir(parents=True)
    for start in (project_root, deep):
        project = find_project(start)
        assert project.root == project_root.resolve()
        assert project.answers == ANSWERS
        assert project.template_src == "https://example.org/dsflow.git"
        assert project.template_commit == "v1.0.0"
        assert project.jobs_dir == project_root.resolve() / "jobs"


def test_default_start_is_the_current_folder(project_root, monkeypatch):
    monkeypatch.chdir(project_root)
    assert find_project().root == project_root.resolve()


def test_a_job_folder_answers_file_is_not_a_project(project_root):
    """A job's own .copier-answers.yml (template: <job template>) does not stop the search."""
    job = write_job(project_root / "jobs", "fetch")
    write_yaml(job / ".copier-answers.yml", {"_commit": "v1.0.0", "template": "download_file"})
    write_yaml(job / "dsflow.yml", {"project": "not-this"})
    assert find_project(job).root == project_root.resolve()


def test_outside_any_project(tmp_path):
    with pytest.raises(DsflowError) as exc:
        find_project(tmp_path)
    assert one_line(exc) == (
        f"{tmp_path.resolve()} is not inside a dsflow project (no dsflow.yml with a project "
        ".copier-answers.yml above it); create one with `copier copy --trust <template> <folder>`"
    )


def test_settings_without_answers_is_not_a_project(tmp_path):
    (tmp_path / "dsflow.yml").write_text("project: x\n")
    with pytest.raises(DsflowError, match="is not inside a dsflow project"):
        find_project(tmp_path)


@pytest.mark.parametrize("missing", ["_src_path", "_commit"])
def test_answers_without_template_source_or_version(tmp_path, missing):
    answers = {k: v for k, v in ANSWERS.items() if k != missing}
    root = write_project(tmp_path / "p", answers=answers)
    with pytest.raises(DsflowError) as exc:
        find_project(root)
    assert one_line(exc) == (
        f"{root.resolve() / '.copier-answers.yml'} does not record the template source and "
        "version (_src_path, _commit); re-create the project with "
        "`copier copy --trust <git repo or URL> <folder>`"
    )


def test_job_names_are_sorted_folders_with_a_spec(project_root):
    write_job(project_root / "jobs", "zeta")
    write_job(project_root / "jobs", "alpha")
    (project_root / "jobs" / "no-spec").mkdir()
    write_job(project_root / "jobs", ".new-staging")
    (project_root / "jobs" / "stray.yaml").write_text("x: 1\n")
    write_yaml(project_root / "jobs" / "alpha" / ".copier-answers.yml", {"template": "x"})
    project = find_project(project_root)
    assert project.job_names() == ["alpha", "zeta"]
    assert project.job_names(marker=".copier-answers.yml") == ["alpha"]


def test_no_jobs_folder_means_no_jobs(project_root):
    assert find_project(project_root).job_names() == []


# ------------------------------------------------------------------ read_answers


def test_read_answers_of_a_folder(tmp_path):
    write_yaml(tmp_path / ".copier-answers.yml", "_commit: v1.2.0\ntemplate: project\n")
    assert read_answers(tmp_path) == {"_commit": "v1.2.0", "template": "project"}
    write_yaml(tmp_path / ".copier-answers.yml", "")
    assert read_answers(tmp_path) == {}


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("_commit: [v1\n", "not valid YAML (ParserError)"),
        ("- a\n- b\n", "expected a mapping of answers"),
    ],
)
def test_read_answers_refuses_what_is_not_a_mapping(tmp_path, text, cause):
    write_yaml(tmp_path / ".copier-answers.yml", text)
    with pytest.raises(DsflowError) as exc:
        read_answers(tmp_path)
    assert one_line(exc) == f"{tmp_path / '.copier-answers.yml'}: {cause}"


# ------------------------------------------------------------------ load_settings


def settings_of(tmp_path: Path, settings: dict | str) -> Settings:
    root = write_project(tmp_path / "p", settings=settings)
    return load_settings(Project(root, ANSWERS))


def test_defaults_for_what_is_left_out(tmp_path):
    settings = settings_of(tmp_path, "")
    assert settings == Settings(
        project="p",
        datastore=tmp_path / "p" / "datastore",
        default_grain="daily",
        runner="local",
        spark_master="local[2]",
        spark_remote="",
        ports={},
    )


def test_settings_as_the_template_writes_them(tmp_path):
    text = """\
project: demo-project
datastore: data/store
default_grain: hourly
runner: docker
spark:
  master: "local[4]"
  remote: ""
ports:
  jupyter: 8888
  explorer: "8049"
"""
    settings = settings_of(tmp_path, text)
    assert settings.project == "demo-project"
    assert settings.datastore == tmp_path / "p" / "data" / "store"
    assert settings.default_grain == "hourly"
    assert settings.runner == "docker"
    assert settings.spark_master == "local[4]"
    assert settings.spark_remote == ""
    assert settings.ports == {"jupyter": 8888, "explorer": 8049}


def test_absolute_datastore_is_kept(tmp_path):
    store = tmp_path / "elsewhere"
    assert settings_of(tmp_path, {"datastore": str(store)}).datastore == store


def test_a_file_uri_datastore_is_its_folder(tmp_path):
    store = tmp_path / "mounted" / "store"
    assert settings_of(tmp_path, {"datastore": f"file://{store}"}).datastore == store


def test_the_publish_protocol_is_swap_unless_set(tmp_path):
    assert settings_of(tmp_path, {}).datastore_publish == "swap"
    chosen = settings_of(tmp_path / "b", {"datastore_publish": "success-last"})
    assert chosen.datastore_publish == "success-last"


@pytest.mark.bad_input
def test_an_unknown_publish_protocol_is_one_line(tmp_path):
    with pytest.raises(DsflowError) as exc:
        settings_of(tmp_path, {"datastore_publish": "rename"})
    assert one_line(exc).endswith(
        "datastore_publish must be swap or success-last (a datastore on a filesystem without "
        "atomic folder renames), not 'rename'"
    )


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("value", "cause"),
    [
        ("s3a://bucket/lake", "a s3a:// datastore is not supported yet; mount the bucket"),
        ("gs://bucket/lake", "a gs:// datastore is not supported yet"),
        ("file://relative/x", "a file:// URI is absolute"),
        ("", "datastore is empty: give a folder"),
    ],
)
def test_a_datastore_that_is_no_folder_is_one_line_and_makes_nothing(tmp_path, value, cause):
    with pytest.raises(DsflowError, match=re.escape(cause)):
        settings_of(tmp_path, {"datastore": value})
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == [
        ".copier-answers.yml",
        "dsflow.yml",
    ]  # nothing written


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("default_grain: decadal\n", ": default_grain must be one of daily, hourly, weekly, "),
        ("runner: kubernetes\n", ": runner must be local or docker, not 'kubernetes'"),
        ("project: x\nports: [1\n", " line 3: not valid YAML"),
    ],
)
def test_bad_settings_are_one_line_errors_naming_the_file(tmp_path, text, cause):
    with pytest.raises(DsflowError) as exc:
        settings_of(tmp_path, text)
    assert one_line(exc).startswith(f"{tmp_path / 'p' / 'dsflow.yml'}{cause}")


def test_a_port_that_is_not_a_number_is_a_one_line_error(tmp_path):
    with pytest.raises(DsflowError) as exc:
        settings_of(tmp_path, "ports:\n  jupyter: auto\n")
    assert one_line(exc).startswith(f"{tmp_path / 'p' / 'dsflow.yml'}: ")


def test_spark_that_is_not_a_mapping_is_a_one_line_error(tmp_path):
    with pytest.raises(DsflowError) as exc:
        settings_of(tmp_path, "spark: local[2]\n")
    assert one_line(exc).startswith(f"{tmp_path / 'p' / 'dsflow.yml'}: ")
