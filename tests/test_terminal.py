"""Real terminal journeys: copier and `just new-job` driven through a pseudo-terminal.

The other tests call copier's API or run commands with no stdin, so copier never prompts. A
user runs the same commands in a terminal, where copier asks its questions with questionary
(prompt_toolkit) and renders every help text, default and validator on the way; bugs there
(`'ds' is undefined` after the last question, once) only show up behind a terminal. These tests
spawn the real commands in a 40x120 pseudo-terminal with TERM=xterm-256color, read the
prompts as they are drawn, press keys like a user (Enter, arrows, Ctrl-U, Ctrl-C) and check what
the commands leave behind.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pytest
import yaml

BIN = Path(sys.executable).parent  # the dev venv: copier, just
COPIER = BIN / "copier"

ENTER = "\r"
DOWN = "\x1b[B"
CLEAR = "\x15"  # Ctrl-U: erase the default copier pre-fills, before typing another answer
CTRL_C = "\x03"
CPR_REQUEST = "\x1b[6n"  # prompt_toolkit asks where the cursor is; xterm answers ESC[row;colR
ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")

JOB_TEMPLATES = [
    "download_file",
    "create_table_from_json",
    "create_table_from_csv",
    "create_table_from_sql",
    "plotly_dash_app",
]


class Terminal:
    """One command running in a pseudo-terminal, and what the user saw of it."""

    def __init__(self, command: str | Path, args: list[str], cwd: Path) -> None:
        env = dict(os.environ)
        env.update(TERM="xterm-256color", PWD=str(cwd))  # what a shell in ``cwd`` would set
        env["PATH"] = os.pathsep.join(
            [str(BIN), str(Path.home() / ".local" / "bin"), env.get("PATH", "")]
        )
        self.transcript = io.StringIO()
        self.child = pexpect.spawn(
            str(command),
            [str(a) for a in args],
            cwd=str(cwd),
            env=env,
            encoding="utf-8",
            dimensions=(40, 120),
            timeout=120,
        )
        self.child.logfile_read = self.transcript

    @property
    def text(self) -> str:
        """Everything the command printed, without the terminal's escape sequences."""
        return ANSI.sub("", self.transcript.getvalue()).replace("\r", "")

    @property
    def tail(self) -> str:
        """The last screenfuls of :attr:`text`, blank lines dropped, for failure messages."""
        return re.sub(r"\n\s*\n", "\n", self.text)[-4000:]

    def expect(self, pattern: str | type[pexpect.EOF]) -> None:
        """Wait until ``pattern`` (a regex, or EOF) shows, answering cursor-position requests."""
        try:
            while self.child.expect([re.escape(CPR_REQUEST), pattern]) == 0:
                self.child.send("\x1b[1;1R")
        except (pexpect.TIMEOUT, pexpect.EOF) as exc:
            what = "the end of the command" if pattern is pexpect.EOF else repr(pattern)
            raise AssertionError(
                f"waiting for {what}, got {type(exc).__name__}; the terminal showed:\n{self.tail}"
            ) from None

    def answer(self, prompt: str, keys: str = "") -> None:
        """Wait for a question whose help text contains ``prompt``, press ``keys`` then Enter."""
        self.expect(re.escape(prompt))
        self.child.send(keys + ENTER)

    def finish(self) -> int:
        """Wait for the command to end; return its exit status."""
        self.expect(pexpect.EOF)
        self.child.close()
        assert self.child.exitstatus is not None, f"killed by signal {self.child.signalstatus}"
        return self.child.exitstatus

    def assert_clean_output(self) -> None:
        for bad in ("undefined", "Traceback"):
            assert bad not in self.text, f"{bad!r} in the terminal:\n{self.tail}"


@pytest.fixture
def terminal() -> Iterator[Callable[..., Terminal]]:
    """Start commands in pseudo-terminals; whatever is still running at the end is killed."""
    started: list[Terminal] = []

    def _start(command: str | Path, *args: str, cwd: Path) -> Terminal:
        term = Terminal(command, list(args), cwd)
        started.append(term)
        return term

    yield _start
    for term in started:
        if term.child.isalive():
            term.child.close(force=True)


def answers_of(folder: Path) -> dict:
    return yaml.safe_load((folder / ".copier-answers.yml").read_text())


# ---------------------------------------------------------------- copier copy


def test_copier_copy_in_a_terminal(template_repo, tmp_path, terminal):
    """A user runs `copier copy --trust <repo> my-project` and answers every question.

    They see "What to render" with `project` highlighted and press Enter; type a project name
    over the default and keep the slug derived from it; type a description and an author; pick
    Python 3.12 and the `weekly` grain with the down arrow; keep the Spark master; type another
    Jupyter port; keep the other ports. Copier then lists the files it creates and runs the task
    that makes the template path absolute, with no error, and the project records the answers.
    """
    term = terminal(COPIER, "copy", "--trust", str(template_repo), "my-project", cwd=tmp_path)
    term.answer("What to render")  # project: the first choice, already highlighted
    term.answer("Human-readable project name", CLEAR + "Weather Lab")
    # the slug question offers the slug of the typed name; Enter keeps it
    term.expect(r"Folder-, package- and container-friendly name[^\n]*\n[^\n]*weather-lab")
    term.child.send(ENTER)
    term.answer("One sentence on what the project", CLEAR + "Daily weather for Paris")
    term.answer("Who maintains the project", CLEAR + "Ada Lovelace")
    term.answer("Python version of the project", DOWN)  # 3.11 -> 3.12
    term.answer("Spark master for jobs")
    term.answer("Partition grain new jobs get", DOWN + DOWN)  # daily -> hourly -> weekly
    term.answer("Port Jupyter Lab listens on", CLEAR + "8899")
    term.answer("Port of the Airflow UI")
    term.answer("First port for Dash dashboards")
    status = term.finish()

    assert status == 0, term.tail
    term.assert_clean_output()
    assert "Copying from template version 1.0.0" in term.text
    project = tmp_path / "my-project"
    assert "create  dsflow.yml" in term.text
    answers = answers_of(project)
    assert answers["_commit"] == "v1.0.0"
    assert answers["_src_path"] == str(template_repo)
    assert answers["template"] == "project"
    assert answers["project_name"] == "Weather Lab"
    assert answers["project_slug"] == "weather-lab"
    assert answers["description"] == "Daily weather for Paris"
    assert answers["author_name"] == "Ada Lovelace"
    assert answers["python_version"] == "3.12"
    assert answers["spark_master"] == "local[2]"
    assert answers["default_grain"] == "weekly"
    assert (answers["jupyter_port"], answers["airflow_port"], answers["dash_port"]) == (
        8899,
        8080,
        8050,
    )
    settings = yaml.safe_load((project / "dsflow.yml").read_text())
    assert settings["project"] == "weather-lab"
    assert settings["default_grain"] == "weekly"
    assert settings["spark"]["master"] == "local[2]"
    assert settings["ports"]["jupyter"] == 8899
    assert (project / ".python-version").read_text().strip() == "3.12"
    assert (project / "src" / "weather_lab" / "__init__.py").is_file()
    pyproject = (project / "pyproject.toml").read_text()
    assert 'name = "weather-lab"' in pyproject
    assert 'description = "Daily weather for Paris"' in pyproject
    assert f'git = "file://{template_repo}"' in pyproject


def test_copier_copy_from_a_relative_template_path(template_repo, terminal):
    """A user next to the template folder runs `copier copy --trust --defaults dsflow my-project`.

    Copier accepts the relative source; the project it makes records the template's absolute
    path, in .copier-answers.yml and in pyproject.toml's uv git source, so `just setup`,
    `just new-job` and `just update` find the template from the project folder later.
    """
    workdir = template_repo.parent
    project = workdir / "relative-src-project"
    try:
        term = terminal(
            COPIER,
            "copy",
            "--trust",
            "--defaults",
            template_repo.name,
            project.name,
            cwd=workdir,
        )
        status = term.finish()
        assert status == 0, term.tail
        term.assert_clean_output()
        assert "cannot tell where the template" not in term.text
        answers = answers_of(project)
        assert answers["_src_path"] == str(template_repo)
        assert Path(answers["_src_path"]).is_absolute()
        assert answers["_commit"] == "v1.0.0"
        pyproject = (project / "pyproject.toml").read_text()
        assert f'git = "file://{template_repo}"' in pyproject
    finally:
        shutil.rmtree(project, ignore_errors=True)


# ---------------------------------------------------------------- just new-job


@pytest.fixture
def project(env_project: Path) -> Iterator[Path]:
    """The shared set-up project; the job folders a test adds to jobs/ are removed after it."""
    jobs = env_project / "jobs"
    before = set(jobs.iterdir())
    yield env_project
    for path in set(jobs.iterdir()) - before:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def job_folders(project: Path) -> list[str]:
    return sorted(p.name for p in (project / "jobs").iterdir())


def new_job(terminal: Callable[..., Terminal], project: Path, template: str, name: str) -> Terminal:
    return terminal("just", "new-job", template, name, cwd=project)


URL = "https://example.org/meteo/{{ ds }}.json"

# template -> (NAME, the questions in the order copier asks them with the keys a user presses,
#              the job folder, what jobs/<folder>/job_specs.yaml must hold afterwards)
JOURNEYS: dict[str, tuple[str, list[tuple[str, str]], str, dict[str, object]]] = {
    "download_file": (
        "tty_meteo",
        [
            ("Job folder name under jobs/", ""),  # keep download-tty-meteo
            ("URL to fetch for each partition", URL),  # typed literally, {{ ds }} included
            ("File name to store the download under", CLEAR + "observations.json"),
        ],
        "download-tty-meteo",
        {
            "job_name": "download-tty-meteo",
            "outputs": ["raw/tty_meteo"],
            "job_parameters.url": URL,
            "job_parameters.file_name": "observations.json",
        },
    ),
    "create_table_from_json": (
        "tty_obs",
        [
            ("Job folder name under jobs/", CLEAR + "load-tty-obs"),
            ("Raw dataset to read", CLEAR + "tty_meteo"),
            ("Table the job writes", CLEAR + "fct_tty_obs"),
            ("fact (a partition holds", DOWN),  # fact -> dimension
        ],
        "load-tty-obs",
        {
            "job_name": "load-tty-obs",
            "inputs": ["raw/tty_meteo"],
            "outputs": [{"table": "fct_tty_obs", "kind": "dimension"}],
        },
    ),
    "create_table_from_csv": (
        "tty_stations",
        [
            ("Job folder name under jobs/", ""),  # keep create-table-tty-stations
            ("Raw dataset to read", ""),  # keep tty_stations
            ("Table the job writes", CLEAR + "dim_tty_stations"),
            ("fact (a partition holds", ""),  # keep fact
            ("CSV delimiter", CLEAR + ";"),
        ],
        "create-table-tty-stations",
        {
            "job_name": "create-table-tty-stations",
            "inputs": ["raw/tty_stations"],
            "outputs": [{"table": "dim_tty_stations", "kind": "fact"}],
            "job_parameters.delimiter": ";",
        },
    ),
    "create_table_from_sql": (
        "tty_daily",
        [
            ("Job folder name under jobs/", ""),  # keep create-table-tty-daily
            ("Table the job writes", ""),  # keep tty_daily
            ("fact (a partition holds", ""),  # keep fact
            ("Table(s) the SQL reads", "fct_tty_obs,dim_tty_stations"),
        ],
        "create-table-tty-daily",
        {
            "job_name": "create-table-tty-daily",
            "inputs": [{"table": "fct_tty_obs"}, {"table": "dim_tty_stations"}],
            "outputs": [{"table": "tty_daily", "kind": "fact"}],
        },
    ),
    "plotly_dash_app": (
        "tty_daily",
        [
            ("Job folder name under jobs/", ""),  # keep dash-tty-daily
            ("Table the job writes (datastore/tables/<table>/) or", ""),  # keep tty_daily
            ("Column for the chart's x axis", ""),  # keep ds
            ("Column for the chart's y axis", "temperature"),
            ("Column whose values get one line each", "station"),
        ],
        "dash-tty-daily",
        {
            "job_name": "dash-tty-daily",
            "inputs": [{"table": "tty_daily"}],
            "job_parameters.x_column": "ds",
            "job_parameters.y_column": "temperature",
            "job_parameters.color_column": "station",
        },
    ),
}


def spec_value(spec: dict, dotted: str) -> object:
    value: object = spec
    for key in dotted.split("."):
        assert isinstance(value, dict) and key in value, f"no {dotted} in {spec}"
        value = value[key]
    return value


@pytest.mark.slow
@pytest.mark.parametrize("template", JOB_TEMPLATES)
def test_new_job_in_a_terminal(project, terminal, template):
    """A user in the project runs `just new-job TEMPLATE NAME` and answers its questions.

    Each question shows its help text with the default pre-filled; the user keeps some, types
    over others (a URL with a literal `{{ ds }}`, table names, a delimiter, columns) and picks
    from a choice list with the arrow keys. The command prints "created jobs/<job>/ from
    template TEMPLATE (v1.0.0)" and the job's specs hold exactly what was typed.
    """
    name, steps, folder, expected = JOURNEYS[template]
    term = new_job(terminal, project, template, name)
    for prompt, keys in steps:
        term.answer(prompt, keys)
    status = term.finish()

    assert status == 0, term.tail
    term.assert_clean_output()
    assert f"created jobs/{folder}/ from template {template} (v1.0.0)" in term.text
    job = project / "jobs" / folder
    spec = yaml.safe_load((job / "job_specs.yaml").read_text())
    for key, value in expected.items():
        assert spec_value(spec, key) == value, f"{key} in {job / 'job_specs.yaml'}"
    assert spec["grain"] == "daily"  # the project's default grain, not asked
    answers = answers_of(job)
    assert (answers["template"], answers["name"], answers["_commit"]) == (
        template,
        name,
        "v1.0.0",
    )
    assert not [f for f in job_folders(project) if f.startswith(".new-")]


@pytest.mark.slow
def test_new_job_download_url_with_ds_is_stored_verbatim(project, terminal):
    """The URL a user types with `{{ ds }}` reaches job_specs.yaml and the answers untouched."""
    term = new_job(terminal, project, "download_file", "tty_verbatim")
    term.answer("Job folder name under jobs/")
    term.answer("URL to fetch for each partition", URL)
    term.answer("File name to store the download under")  # keep the default from the URL
    status = term.finish()

    assert status == 0, term.tail
    term.assert_clean_output()
    job = project / "jobs" / "download-tty-verbatim"
    assert f'url: "{URL}"' in (job / "job_specs.yaml").read_text()
    assert yaml.safe_load((job / "job_specs.yaml").read_text())["job_parameters"]["url"] == URL
    assert answers_of(job)["url"] == URL


@pytest.mark.slow
def test_ctrl_c_during_new_job_prompts_creates_nothing(project, terminal):
    """A user presses Ctrl-C at the second question of `just new-job create_table_from_json`.

    The command stops with one line, "dsflow: error: cancelled; nothing was created", a
    non-zero exit status, and jobs/ as it was (no job folder, no hidden staging folder).
    """
    before = job_folders(project)
    term = new_job(terminal, project, "create_table_from_json", "tty_cancelled")
    term.answer("Job folder name under jobs/")
    term.expect(re.escape("Raw dataset to read"))
    term.child.send(CTRL_C)
    status = term.finish()

    assert status != 0
    assert "cancelled; nothing was created" in term.text, term.tail
    assert "Traceback" not in term.text
    assert job_folders(project) == before


@pytest.mark.slow
def test_invalid_url_is_refused_and_asked_again(project, terminal):
    """A user types `ftp://x` at the URL question of `just new-job download_file`.

    The prompt stays, showing the validator's message ("url is required and must start with
    http://, https:// or file:// (got 'ftp://x')"); the user erases it, types a valid URL, and
    the job is created with that URL.
    """
    term = new_job(terminal, project, "download_file", "tty_retry")
    term.answer("Job folder name under jobs/")
    term.answer("URL to fetch for each partition", "ftp://x")
    term.expect(re.escape("must start with http://, https:// or file:// (got 'ftp://x')"))
    term.child.send(CLEAR + "https://example.org/retry.csv" + ENTER)
    term.answer("File name to store the download under")  # keep retry.csv
    status = term.finish()

    assert status == 0, term.tail
    term.assert_clean_output()
    assert "created jobs/download-tty-retry/" in term.text
    spec = yaml.safe_load((project / "jobs/download-tty-retry/job_specs.yaml").read_text())
    assert spec["job_parameters"]["url"] == "https://example.org/retry.csv"
    assert spec["job_parameters"]["file_name"] == "retry.csv"


@pytest.mark.slow
def test_invalid_job_name_is_refused_and_asked_again(project, terminal):
    """A user types `Bad Name` as the job folder name of `just new-job create_table_from_json`.

    The prompt stays, showing "job_name must be lowercase letters, digits, '-' and '_',
    starting with a letter (got 'Bad Name')"; the user types a valid name and the job is made.
    """
    term = new_job(terminal, project, "create_table_from_json", "tty_renamed")
    term.answer("Job folder name under jobs/", CLEAR + "Bad Name")
    term.expect(re.escape("job_name must be lowercase letters, digits, '-' and '_'"))
    term.child.send(CLEAR + "tty-renamed-job" + ENTER)
    term.answer("Raw dataset to read")
    term.answer("Table the job writes")
    term.answer("fact (a partition holds")
    status = term.finish()

    assert status == 0, term.tail
    term.assert_clean_output()
    assert "created jobs/tty-renamed-job/" in term.text
    assert not (project / "jobs" / "Bad Name").exists()
    spec = yaml.safe_load((project / "jobs/tty-renamed-job/job_specs.yaml").read_text())
    assert spec["job_name"] == "tty-renamed-job"
    assert spec["outputs"] == [{"table": "tty_renamed", "kind": "fact"}]
