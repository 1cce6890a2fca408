"""``just templates`` and ``just new-job TEMPLATE --help``: each template's parameters, required
ones marked and defaults shown, read from copier.yml's questions (their ``help``, ``default``
and ``when``) and from the template's ``job_specs.yaml`` source (the job parameters a new job
starts with). ``just new-job download_file --help`` used to print argparse's generic usage.

The templates are this checkout's (its working tree committed to a scratch repository) or a
variant of them; the CLI's ``main`` runs with argv as the justfile recipes pass it
(``set positional-arguments``: ``just new-job download_file --help`` reaches dsflow as
``new-job download_file --help``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from dsflow.cli import main

from .conftest import write_project

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = (
    "download_file",
    "create_table_from_json",
    "create_table_from_csv",
    "create_table_from_sql",
    "plotly_dash_app",
)
UNKNOWN = "dsflow: error: unknown template 'nope'; available: " + ", ".join(TEMPLATES)
# a question and a job parameter a template variant adds: help follows copier.yml, not code
EXTRA_QUESTION = """
user_agent:
  type: str
  help: User-Agent header the download sends
  default: dsflow
  when: "{{ template == 'download_file' }}"
"""
EXTRA_PARAMETER = '  pattern: "a # b"              # a quoted value holding a hash\n'


def _template_repo(root: Path, variant: bool) -> Path:
    """A git repository of this checkout's copier.yml and job templates (plus the variant's
    question and job parameter), small enough for copier to clone in a blink."""
    shutil.copy(REPO / "copier.yml", root)
    shutil.copytree(REPO / "job-templates", root / "job-templates")
    shutil.copytree(REPO / "hooks", root / "hooks")
    if variant:
        with (root / "copier.yml").open("a") as handle:
            handle.write(EXTRA_QUESTION)
        spec = root / "job-templates/download_file/job_specs.yaml.jinja"
        text = spec.read_text()
        spec.write_text(text.replace("task_specs:\n", EXTRA_PARAMETER + "task_specs:\n", 1))
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    git += ["-c", "commit.gpgsign=false"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "templates"]):
        subprocess.run(git + args, check=True, capture_output=True)
    return root


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is needed to commit the templates copier reads")
    return _template_repo(tmp_path_factory.mktemp("template"), variant=False)


@pytest.fixture(scope="module")
def variant_repo(tmp_path_factory) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is needed to commit the templates copier reads")
    return _template_repo(tmp_path_factory.mktemp("variant"), variant=True)


def _project(root: Path, source: Path, grain: str | None = None) -> Path:
    settings = {"project": "demo-project", "datastore": "datastore"}
    if grain:
        settings["default_grain"] = grain
    answers = {"_commit": "HEAD", "_src_path": str(source), "template": "project"}
    return write_project(root, settings=settings, answers=answers)


@pytest.fixture
def project(tmp_path: Path, template_repo: Path, monkeypatch) -> Path:
    """A project on this checkout's templates; the current folder is its root."""
    root = _project(tmp_path / "demo", template_repo)
    monkeypatch.chdir(root)
    return root


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """``dsflow ARGV``: exit status, stdout, stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def row(out: str, name: str) -> tuple[str, str]:
    """The (default column, help) of parameter ``name`` in a printed parameter table."""
    found = [ln for ln in out.splitlines() if re.match(rf"\s+{re.escape(name)}\s{{2}}", ln)]
    assert len(found) == 1, f"{name}: {found}\n{out}"
    default, help_text = re.split(r"\s{2,}", found[0].strip(), maxsplit=2)[1:]
    return default, help_text


def block(out: str, template: str) -> str:
    """The part of `just templates` output about ``template``: its header to the next one."""
    match = re.search(rf"^{template}  .*?(?=^\S|\Z)", out, re.M | re.S)
    assert match, out
    return match.group(0)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_new_job_help_prints_the_templates_parameters(project, capsys, flag):
    code, out, err = run_cli(capsys, "new-job", "download_file", flag)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == (
        "download_file: download a URL (http, https, file) into raw/<dataset>/ds=<ds>/"
    )
    assert lines[1] == "usage: just new-job download_file NAME url=... [key=value ...] [--no-input]"
    assert row(out, "NAME")[0] == "required"
    assert row(out, "url") == (
        "required",
        "URL to fetch for each partition (http, https or file); may contain {{ ds }}",
    )
    assert row(out, "job_name")[0] == "download-<NAME>"
    assert row(out, "grain") == (
        "daily",
        "Partition grain of the job's output; one of daily, hourly, weekly, monthly, yearly, none",
    )
    assert row(out, "file_name")[0] == "from url"
    # the job parameters the new job starts with, from its job_specs.yaml source
    assert row(out, "timeout_s") == ("30", "the whole download, retries included")
    assert row(out, "max_bytes") == ("104857600", "refuse bodies over 100 MiB")
    assert row(out, "sha256")[0] == '""'
    assert not (project / "jobs").exists()


@pytest.mark.parametrize(
    ("template", "required", "absent"),
    [
        ("create_table_from_sql", ["NAME", "source_table"], ["url", "delimiter", "y_column"]),
        ("plotly_dash_app", ["NAME", "y_column"], ["url", "table_kind", "source_dataset"]),
        ("create_table_from_csv", ["NAME"], ["url", "source_table", "x_column"]),
        ("create_table_from_json", ["NAME"], ["url", "delimiter", "color_column"]),
    ],
    ids=["sql", "dash", "csv", "json"],
)
def test_help_lists_only_the_questions_the_template_asks(
    project, capsys, template, required, absent
):
    code, out, _ = run_cli(capsys, "new-job", template, "--help")
    assert code == 0
    marked = [ln.split()[0] for ln in out.splitlines() if re.match(r"\s+\S+\s+required\s", ln)]
    assert marked == required
    for name in absent:
        assert not re.search(rf"^\s+{name}\s", out, re.M), f"{template} lists {name}"


def test_help_shows_the_projects_default_grain(tmp_path, template_repo, capsys, monkeypatch):
    monkeypatch.chdir(_project(tmp_path / "demo", template_repo, grain="hourly"))
    code, out, _ = run_cli(capsys, "new-job", "create_table_from_csv", "--help")
    assert code == 0
    assert row(out, "grain")[0] == "hourly"
    assert row(out, "delimiter")[0] == "auto"
    assert row(out, "missing_columns")[0] == "refuse"


def test_templates_lists_each_templates_parameters(project, capsys):
    code, out, err = run_cli(capsys, "templates")
    assert (code, err) == (0, "")
    download = block(out, "download_file")
    assert "  just new-job download_file NAME url=... [key=value ...]" in download
    assert row(download, "url")[0] == "required"
    assert row(download, "job_name")[0] == "download-<NAME>"
    sql = block(out, "create_table_from_sql")
    assert row(sql, "source_table")[0] == "required"
    assert row(sql, "table")[0] == "<NAME>"
    assert not re.search(r"^\s+url\s", sql, re.M)
    dash = block(out, "plotly_dash_app")
    assert row(dash, "y_column")[0] == "required"
    assert row(dash, "x_column")[0] == "ds"
    assert row(dash, "color_column")[0] == '""'
    assert out.rstrip().endswith("just new-job TEMPLATE --help")


def test_help_follows_copier_yml_and_the_spec_source(tmp_path, variant_repo, capsys, monkeypatch):
    monkeypatch.chdir(_project(tmp_path / "demo", variant_repo))
    code, out, _ = run_cli(capsys, "new-job", "download_file", "--help")
    assert code == 0
    assert row(out, "user_agent") == ("dsflow", "User-Agent header the download sends")
    assert row(out, "pattern") == ('"a # b"', "a quoted value holding a hash")
    _, listing, _ = run_cli(capsys, "templates")
    assert "user_agent" in block(listing, "download_file")
    assert not re.search(r"^\s+user_agent\s", block(listing, "create_table_from_sql"), re.M)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_unknown_template_with_help_is_one_line(project, capsys, flag):
    code, out, err = run_cli(capsys, "new-job", "nope", flag)
    assert (code, out, err) == (2, "", UNKNOWN + "\n")


def test_new_job_help_without_a_template_says_where_the_parameters_are(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # no project needed to say how to call it
    with pytest.raises(SystemExit) as exc:
        main(["new-job", "--help"])
    out, err = capsys.readouterr()
    assert (exc.value.code, err) == (0, "")
    assert out.startswith("usage: just new-job ")
    assert "A template's parameters: just new-job TEMPLATE --help" in " ".join(out.split())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            [],
            "give a template and a NAME: just new-job TEMPLATE NAME [key=value ...] "
            "[--no-input]; `just templates` lists the templates",
        ),
        (
            ["download_file"],
            "NAME is missing: just new-job TEMPLATE NAME [key=value ...] [--no-input]; "
            "`just new-job TEMPLATE --help` lists the template's parameters",
        ),
    ],
    ids=["nothing", "template-only"],
)
def test_new_job_without_a_name_says_what_to_type(project, capsys, argv, message):
    code, out, err = run_cli(capsys, "new-job", *argv)
    assert (code, out, err) == (2, "", f"dsflow: error: {message}\n")
    assert not (project / "jobs").exists()


def test_missing_required_parameter_quotes_the_rendered_help(project, capsys):
    code, out, err = run_cli(capsys, "new-job", "download_file", "meteo", "--no-input")
    assert (code, out) == (2, "")
    assert err == (
        "dsflow: error: cannot create the job: url is required: pass url=... (URL to fetch "
        "for each partition (http, https or file); may contain {{ ds }})\n"
    )
    assert list((project / "jobs").iterdir()) == []
