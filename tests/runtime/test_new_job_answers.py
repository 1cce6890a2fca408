"""``just new-job`` answers (dsflow.new_job): names follow the one name rule, free text holds
no control character, and what reaches ``job_specs.yaml`` is emitted as YAML scalars, so the
spec reads back as exactly the answers. A URL holding a quote and a newline once rewrote the new
job's outputs (exit 0).

The refusals need no template: they come before copier runs. The round trips render the job
templates of this checkout (its working tree, committed to a scratch repository, through
copier) into a project in tmp_path.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from dsflow import new_job as new_job_module
from dsflow.errors import DsflowError
from dsflow.new_job import check_answers, new_job
from dsflow.project import find_project

from .conftest import job_spec, write_job, write_project

REPO = Path(__file__).resolve().parents[2]
RULE = "use lowercase letters, digits, '-' and '_', starting with a letter, at most 64 characters"
CONTROL = "give it on one line, without control characters"
# the attack: close the quoted value, then write another key into the spec
HOSTILE_URL = 'https://x.org/a.json"\noutputs: [tables/other]\n#'


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory) -> Path:
    """A git repository holding this checkout's copier.yml and job templates, as they are in
    the working tree: small, so copier clones it in a blink."""
    repo = tmp_path_factory.mktemp("template")
    shutil.copy(REPO / "copier.yml", repo)
    shutil.copytree(REPO / "job-templates", repo / "job-templates")
    shutil.copytree(REPO / "hooks", repo / "hooks")
    git = [
        "git",
        "-C",
        str(repo),
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.org",
        "-c",
        "commit.gpgsign=false",
    ]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "templates"]):
        subprocess.run(git + args, check=True, capture_output=True)
    return repo


@pytest.fixture
def project(tmp_path: Path, request):
    """A project whose template is this checkout's (the refusals never read it)."""
    source = request.getfixturevalue("template_repo") if shutil.which("git") else REPO
    root = write_project(
        tmp_path / "demo",
        answers={"_commit": "HEAD", "_src_path": str(source), "template": "project"},
    )
    return find_project(root)


def refused(project, template: str, name: str, **params: str) -> str:
    """The one-line message new_job refuses with; nothing was created in jobs/."""

    def listing() -> list[Path]:
        return sorted(project.jobs_dir.iterdir()) if project.jobs_dir.is_dir() else []

    before = listing()
    with pytest.raises(DsflowError) as info:
        new_job(project, template, name, params, interactive=False)
    message = str(info.value)
    assert "\n" not in message and info.value.exit_code == 2, message
    assert listing() == before
    return message


def control(key: str, shown: str, char: str) -> str:
    return f"invalid {key} {shown}: it holds the control character {char!r}; {CONTROL}"


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("template", "name", "params", "message"),
    [
        pytest.param(
            "download_file",
            "meteo",
            {"url": HOSTILE_URL},
            control("url", f"{HOSTILE_URL[:40]!r}... (47 characters)", "\n"),
            id="url-quote-newline-outputs",
        ),
        pytest.param(
            "download_file",
            "meteo",
            {"url": "https://x.org/\x00"},
            control("url", "'https://x.org/\\x00'", "\x00"),
            id="url-nul",
        ),
        pytest.param(
            "download_file",
            "meteo",
            {"url": "https://x.org/\r"},
            control("url", "'https://x.org/\\r'", "\r"),
            id="url-carriage-return",
        ),
        pytest.param(
            "download_file",
            "meteo",
            {"url": "https://x.org/\ta"},
            control("url", "'https://x.org/\\ta'", "\t"),
            id="url-tab",
        ),
        pytest.param(
            "download_file",
            "meteo",
            {"url": "https://x.org/\u202egpj.exe"},
            control("url", "'https://x.org/\\u202egpj.exe'", "\u202e"),
            id="url-bidi-override",
        ),
        pytest.param(
            "download_file",
            "meteo",
            {"url": "https://x.org/a", "file_name": "a\nb"},
            control("file_name", "'a\\nb'", "\n"),
            id="file_name-newline",
        ),
        pytest.param(
            "create_table_from_csv",
            "meteo",
            {"delimiter": ";\n"},
            control("delimiter", "';\\n'", "\n"),
            id="delimiter-newline",
        ),
        pytest.param(
            "plotly_dash_app",
            "meteo",
            {"y_column": "t", "x_column": "ds\x85"},
            control("x_column", "'ds\\x85'", "\x85"),
            id="x_column-next-line",
        ),
        pytest.param(
            "create_table_from_csv",
            "../evil",
            {},
            f"invalid dataset name '../evil': {RULE}",
            id="name-parent-folder",
        ),
        pytest.param(
            "create_table_from_csv",
            "x" * 300,
            {},
            f"invalid dataset name {'x' * 40!r}... (300 characters): {RULE}",
            id="name-300-characters",
        ),
        pytest.param(
            "create_table_from_csv",
            "_meteo",
            {},
            f"invalid dataset name '_meteo': {RULE}",
            id="name-leading-underscore",
        ),
        pytest.param(
            "create_table_from_csv",
            "a\nb",
            {},
            f"invalid dataset name 'a\\nb': {RULE}",
            id="name-newline",
        ),
        pytest.param(
            "create_table_from_csv",
            "",
            {},
            f"invalid dataset name (empty): {RULE}",
            id="name-empty",
        ),
        pytest.param(
            "create_table_from_csv",
            "a-b",
            {},
            "invalid dataset name 'a-b': use lowercase letters, digits and '_' (it names a "
            "table too, and a table name cannot contain '-')",
            id="name-dash",
        ),
        pytest.param(
            "create_table_from_csv",
            "meteo",
            {"job_name": "../x"},
            f"invalid job name '../x': {RULE}",
            id="job_name-parent-folder",
        ),
        pytest.param(
            "create_table_from_csv",
            "meteo",
            {"job_name": "j" * 300},
            f"invalid job name {'j' * 40!r}... (300 characters): {RULE}",
            id="job_name-300-characters",
        ),
        pytest.param(
            "create_table_from_csv",
            "meteo",
            {"job_name": "Job"},
            f"invalid job name 'Job': {RULE}",
            id="job_name-uppercase",
        ),
        pytest.param(
            "create_table_from_csv",
            "meteo",
            {"source_dataset": "m\noutputs: [tables/other]"},
            f"invalid source dataset name 'm\\noutputs: [tables/other]': {RULE}",
            id="source_dataset-newline",
        ),
        pytest.param(
            "create_table_from_csv",
            "meteo",
            {"table": "<b>t</b>"},
            f"invalid table name '<b>t</b>': {RULE}",
            id="table-markup",
        ),
        pytest.param(
            "create_table_from_sql",
            "daily",
            {"source_table": "meteo,../b"},
            f"invalid source table name '../b': {RULE}",
            id="source_table-parent-folder",
        ),
        pytest.param(
            "create_table_from_sql",
            "daily",
            {"source_table": "meteo,,obs"},
            f"invalid source table name (empty): {RULE}",
            id="source_table-empty-part",
        ),
    ],
)
def test_bad_answers_are_refused_before_anything_is_rendered(
    project, template, name, params, message
):
    assert refused(project, template, name, **params) == message


def test_a_tab_is_a_delimiter_and_nothing_else():
    check_answers({"delimiter": "\t", "url": "https://x.org/{{ ds }}?a=1&b=é 😀"})
    with pytest.raises(DsflowError):
        check_answers({"file_name": "a\tb"})


# ------------------------------------------------------------------ rendered for real

needs_git = pytest.mark.skipif(
    shutil.which("git") is None, reason="copier renders the templates from a git repository"
)


def spec_of(folder: Path) -> dict:
    return yaml.safe_load((folder / "job_specs.yaml").read_text())


@needs_git
def test_quotes_and_markup_in_a_url_round_trip_exactly(project):
    url = 'https://x.org/{{ ds }}.json?q="a" #b: c\\d&e=<f>é😀'
    folder = new_job(project, "download_file", "meteo", {"url": url}, interactive=False)
    spec = spec_of(folder)
    assert spec["job_parameters"]["url"] == url
    assert spec["outputs"] == ["raw/meteo"]
    assert spec["job_name"] == folder.name == "download-meteo"


@needs_git
def test_even_an_unchecked_newline_cannot_change_the_outputs(project, monkeypatch):
    """With the answer check switched off, the template alone keeps the hostile URL a string:
    job_specs.yaml is emitted, not pasted."""
    monkeypatch.setattr(new_job_module, "check_answers", lambda answers: None)
    folder = new_job(project, "download_file", "meteo", {"url": HOSTILE_URL}, interactive=False)
    spec = spec_of(folder)
    assert spec["job_parameters"]["url"] == HOSTILE_URL
    assert spec["outputs"] == ["raw/meteo"]


@needs_git
def test_a_name_colliding_with_a_job_by_dash_and_underscore_is_refused(project):
    existing = write_job(project.jobs_dir, "download_meteo", job_spec("download_meteo"))
    before = sorted(p.name for p in project.jobs_dir.iterdir())
    message = refused(project, "download_file", "meteo", url="https://x.org/a")
    assert message == (
        "job 'download-meteo' would collide with job 'download_meteo': names differing only by "
        "'-' and '_' are one name to Airflow; pick another NAME or pass job_name=<new name>"
    )
    assert sorted(p.name for p in project.jobs_dir.iterdir()) == before
    assert spec_of(existing) == job_spec("download_meteo")


@needs_git
def test_a_job_name_made_too_long_from_name_says_to_pass_job_name(project):
    name = "n" * 60  # a valid dataset name; `create-table-` makes the job name 73 characters
    message = refused(project, "create_table_from_json", name)
    job_name = f"create-table-{name}"
    assert message == (
        f"invalid job name {job_name[:40]!r}... (73 characters): {RULE}; it is made from NAME: "
        "pass job_name=<a shorter name>"
    )
    folder = new_job(
        project, "create_table_from_json", name, {"job_name": "meteo"}, interactive=False
    )
    assert spec_of(folder)["outputs"] == [{"table": name, "kind": "fact"}]
