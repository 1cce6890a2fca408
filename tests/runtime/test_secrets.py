"""Secrets (issue 14, item 3): credentials in URLs are written nowhere and shown nowhere, specs
reference secrets from the project's ``.env`` as ``${NAME}``, and HTTP basic auth works.

The end-to-end tests run ``just run``'s protocol (:func:`dsflow.runner.run_job`) on a
``module: dsflow.download`` job against the test HTTP server of test_download.py (127.0.0.1),
then read every file the run left: the password is in none of them, nor in what was printed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dsflow.envfile import lookup_values, read_env
from dsflow.errors import DsflowError
from dsflow.partitions import parse_partition
from dsflow.project import PROJECT_ROOT_ENV, Project, find_project
from dsflow.redaction import redact_file, redact_text, redact_url, redact_value
from dsflow.resolve import (
    parameters_hash,
    resolve_parameters,
    resolve_secrets,
    secret_names,
    substitute_secrets,
)
from dsflow.settings import load_settings
from dsflow.specs import find_job

from . import test_download
from .conftest import job_spec, write_job
from .test_download import AUTH_IN_URL, AUTH_PASSWORD, AUTH_USER, SAMPLE_JSON, Server

# test_download.py's HTTP server on 127.0.0.1 (basic auth on /private/), for this module too
http_server = test_download.http_server
server = test_download.server

DS = "2024-01-02"
JOB = "fetch"
LABEL = f"{JOB} ds={DS}"
# every form the test password could be written in
PASSWORD_FORMS = (AUTH_PASSWORD, AUTH_IN_URL.split(":", 1)[1], "s3cret")

pytestmark = pytest.mark.timeout(60)


# ------------------------------------------------------------------ a project with a download job


@pytest.fixture
def project(project_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project root; ``runner.run_job`` sets the root in the environment, undone here."""
    monkeypatch.setenv(PROJECT_ROOT_ENV, str(project_root))
    for name in ("API_USER", "API_PASSWORD", "API_KEY", "TOKEN", "NOPE", "MIRROR"):
        monkeypatch.delenv(name, raising=False)
    return project_root


def download_job(root: Path, url: str, **keys: object) -> Project:
    """A ``module: dsflow.download`` job named fetch, writing raw/files, fetching ``url``."""
    spec = job_spec(
        JOB,
        script=None,
        module="dsflow.download",
        outputs=["raw/files"],
        job_parameters={"url": url, "file_name": "x.json", "retries": 0, "timeout_s": 10},
        **keys,
    )
    write_job(root / "jobs", JOB, spec)
    return find_project(root)


def write_env(root: Path, text: str) -> None:
    path = root / ".env"
    path.write_text(text)
    path.chmod(0o600)


def run(project: Project, **overrides: str):
    from dsflow.runner import run_job

    return run_job(project, JOB, DS, overrides)


def files_holding(root: Path, words: tuple[str, ...], skip: tuple[str, ...] = (".env",)) -> list:
    """Every file under ``root`` (but ``skip``, relative paths) holding any of ``words``."""
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and rel not in skip:
            data = path.read_bytes()
            found += [f"{rel}: {w}" for w in words if w.encode() in data]
    return found


def run_record(root: Path) -> dict:
    return json.loads((root / "datastore/job_runs" / JOB / f"ds={DS}" / "run.json").read_text())


def history(root: Path) -> list[dict]:
    lines = (root / "datastore/job_runs" / JOB / "history.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


# ------------------------------------------------------------------ credentials written in a URL


def test_url_credentials_authenticate_and_are_written_nowhere(project, server: Server, capfd):
    url = server.with_credentials("/private/x.json")
    result = run(download_job(project, url))
    assert result.status == "success"
    published = project / "datastore/raw/files" / f"ds={DS}" / "x.json"
    assert published.read_bytes() == SAMPLE_JSON.read_bytes()
    shown = url.replace(AUTH_IN_URL, "***")
    assert run_record(project)["parameters"]["url"] == shown
    assert history(project)[-1]["parameters"]["job_parameters"]["url"] == shown
    out = capfd.readouterr()
    # the spec holds the password: the user wrote it there; nothing dsflow wrote holds it
    assert files_holding(project, PASSWORD_FORMS, skip=(f"jobs/{JOB}/job_specs.yaml",)) == []
    assert not any(w in out.out + out.err for w in PASSWORD_FORMS)


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("path", "userinfo", "cause"),
    [
        (
            "/private/x.json",
            "alice:s3cret-wrong",
            "HTTP 401 Unauthorized for {shown}: the server refused the user name and password",
        ),
        (
            "/missing.json",
            "alice:s3cret-p%40ss",
            "HTTP 404 Not Found for {shown}",
        ),
    ],
    ids=["http-401", "http-404"],
)
def test_a_failed_download_shows_and_writes_no_password(
    project, server, capfd, path, userinfo, cause
):
    url = server.with_credentials(path, userinfo)
    with pytest.raises(DsflowError) as failed:
        run(download_job(project, url))
    shown = url.replace(userinfo, "***")
    report = project / "datastore/job_runs" / JOB / f"ds={DS}" / "log.txt"
    assert str(failed.value) == (
        f"{LABEL} failed: dsflow.download exited 1: {JOB}: ds={DS}: "
        f"{cause.format(shown=shown)}; report: {report}"
    )
    assert report.read_text().strip() == f"{JOB}: ds={DS}: {cause.format(shown=shown)}"
    assert run_record(project)["status"] == "failed"
    assert not (project / "datastore/raw/files" / f"ds={DS}").exists()
    out = capfd.readouterr()
    assert files_holding(project, ("s3cret",), skip=(f"jobs/{JOB}/job_specs.yaml",)) == []
    assert "s3cret" not in out.out + out.err


def test_a_file_url_with_credentials_fails_without_showing_them(project, capfd):
    url = "file://alice:s3cret-pw@localhost/etc/hostname"
    with pytest.raises(DsflowError) as failed:
        run(download_job(project, url))
    cause = "file URLs take no user name or password: file://***@localhost/etc/hostname"
    assert f"dsflow.download exited 1: {JOB}: ds={DS}: {cause}; report: " in str(failed.value)
    out = capfd.readouterr()
    assert files_holding(project, ("s3cret",), skip=(f"jobs/{JOB}/job_specs.yaml",)) == []
    assert "s3cret" not in out.out + out.err + str(failed.value)


# ------------------------------------------------------------------ ${NAME} from .env


def test_secrets_from_env_authenticate_and_are_written_nowhere(project, server, capfd):
    write_env(project, f"API_USER={AUTH_USER}\nAPI_PASSWORD='{AUTH_PASSWORD}'\n")
    template = server.url("/private/x.json").replace("://", "://${API_USER}:${API_PASSWORD}@")
    proj = download_job(project, template)
    result = run(proj)
    assert result.status == "success"
    published = project / "datastore/raw/files" / f"ds={DS}" / "x.json"
    assert published.read_bytes() == SAMPLE_JSON.read_bytes()
    # records keep the reference, never the value
    record = run_record(project)
    assert record["parameters"]["url"] == template
    assert record["parameters"]["job_parameters"]["url"] == template
    out = capfd.readouterr()
    assert files_holding(project, PASSWORD_FORMS) == []  # all but .env itself
    assert not any(w in out.out + out.err for w in PASSWORD_FORMS)

    # a rotated password does not change the parameters hash: no partition turns stale
    write_env(project, f"API_USER={AUTH_USER}\nAPI_PASSWORD=rotated-password\n")
    settings = load_settings(proj)
    params = resolve_parameters(find_job(proj, JOB), parse_partition(DS, "daily"), {}, settings)
    assert parameters_hash(params, settings) == record["parameters_hash"]


def test_a_secret_in_a_query_string_is_put_back_as_its_reference(project, server, capfd):
    """The job prints the URL it fetched, key included: log, record and error line get the
    reference back instead."""
    write_env(project, "API_KEY=k3y-0123456789\n")
    template = server.url("/missing.json") + "?key=${API_KEY}"
    with pytest.raises(DsflowError) as failed:
        run(download_job(project, template))
    report = project / "datastore/job_runs" / JOB / f"ds={DS}" / "log.txt"
    line = f"{JOB}: ds={DS}: HTTP 404 Not Found for {template}"
    assert str(failed.value) == (
        f"{LABEL} failed: dsflow.download exited 1: {line}; report: {report}"
    )
    assert report.read_text().strip() == line
    assert run_record(project)["error"] == f"dsflow.download exited 1: {line}"
    assert history(project)[-1]["error"] == f"dsflow.download exited 1: {line}"
    assert files_holding(project, ("k3y-0123456789",)) == []
    out = capfd.readouterr()
    assert "k3y-0123456789" not in out.out + out.err


def test_a_short_secret_value_leaves_records_and_paths_alone(project, server, monkeypatch, capsys):
    """ETL_USER=data: run.json, history and `just report` are built from ${ETL_USER} and keep
    datastore/ and data.csv as they are (they once read ${ETL_USER}store/, ${ETL_USER}.csv)."""
    from dsflow.cli import main

    write_env(project, "ETL_USER=data\n")
    template = server.url(f"/samples/meteo/json/{DS}.json") + "?user=${ETL_USER}"
    result = run(download_job(project, template), file_name="data.csv")
    assert result.status == "success"
    assert (project / "datastore/raw/files" / f"ds={DS}" / "data.csv").is_file()
    report = project / "datastore/job_runs" / JOB / f"ds={DS}" / "log.txt"
    record = run_record(project)
    assert record["parameters"]["file_name"] == "data.csv"
    assert record["parameters"]["url"] == template  # the reference, as the spec has it
    assert record["report"] == str(report)
    assert history(project)[-1]["report"] == str(report)
    for path in (report.parent / "run.json", report.parent.parent / "history.jsonl"):
        text = path.read_text()
        assert "${ETL_USER}store" not in text and "${ETL_USER}.csv" not in text
    # what the job wrote gets values hidden where they stand alone, as a password would be
    assert "wrote ${ETL_USER}.csv" in report.read_text()
    capsys.readouterr()
    monkeypatch.chdir(project)
    assert main(["report", f"job={JOB}"]) == 0
    shown = capsys.readouterr().out
    assert f"  report: {report}\n" in shown and "${ETL_USER}" not in shown


def test_a_secret_a_job_prints_is_replaced_in_its_log(project, capfd):
    """Value redaction still applies to what a job writes: a whole token, in the log and in
    the job's error line; the same letters inside a longer word are left."""
    write_env(project, "API_KEY=k3y-0123456789\nETL_USER=data\n")
    script = (
        "import json, os, sys\n"
        "p = json.loads(os.environ['TASK_SPECS'])\n"
        "print('key:', p['key'], 'user:', p['user'], 'in', p['sink_path'])\n"
        "sys.exit('failed with key ' + p['key'])\n"
    )
    spec = job_spec(
        JOB, outputs=["raw/files"], job_parameters={"key": "${API_KEY}", "user": "${ETL_USER}"}
    )
    write_job(project / "jobs", JOB, spec, files={"job.py": script})
    with pytest.raises(DsflowError) as failed:
        run(find_project(project))
    log = (project / "datastore/job_runs" / JOB / f"ds={DS}" / "log.txt").read_text()
    # stdout and stderr reach the log from two threads: either line may come first
    lines = log.splitlines()
    assert any(
        ln.startswith("key: ${API_KEY} user: ${ETL_USER} in " + str(project / "datastore"))
        for ln in lines
    ), log
    assert "failed with key ${API_KEY}" in lines
    assert "failed with key ${API_KEY}" in str(failed.value)
    assert "failed with key ${API_KEY}" in run_record(project)["error"]
    assert files_holding(project, ("k3y-0123456789",)) == []
    out = capfd.readouterr()
    assert "k3y-0123456789" not in out.out + out.err + str(failed.value)


# a password with every character that means something in a URL, and words to look for
HARD_PASSWORD = test_download.HARD_PASSWORD
HARD_WORDS = ("alpha7", "bravo8", "charlie9", "delta", "echo0", "foxtrot", "golf1")


def test_a_password_with_url_characters_authenticates(project, server, capfd):
    """/ ? # % @ : in a ${NAME} password: percent-encoded in the URL's user-info, so the URL
    stays one URL (it once failed with `Port could not be cast to integer value as 'se'`)."""
    write_env(project, f"API_USER={AUTH_USER}\nAPI_PASSWORD='{HARD_PASSWORD}'\n")
    template = server.url("/private-hard/x.json").replace("://", "://${API_USER}:${API_PASSWORD}@")
    result = run(download_job(project, template))
    assert result.status == "success"
    assert server.hits("/private-hard/x.json") == 1
    assert run_record(project)["parameters"]["url"] == template
    out = capfd.readouterr()
    assert files_holding(project, HARD_WORDS) == []
    assert not any(w in out.out + out.err for w in HARD_WORDS)


@pytest.mark.bad_input
def test_a_wrong_password_with_url_characters_shows_no_part_of_it(project, server, capfd):
    wrong = HARD_PASSWORD.replace("golf1", "golf2")
    write_env(project, f"API_USER={AUTH_USER}\nAPI_PASSWORD='{wrong}'\n")
    template = server.url("/private-hard/x.json").replace("://", "://${API_USER}:${API_PASSWORD}@")
    with pytest.raises(DsflowError) as failed:
        run(download_job(project, template))
    shown = server.url("/private-hard/x.json").replace("://", "://***@")
    cause = f"HTTP 401 Unauthorized for {shown}: the server refused the user name and password"
    report = project / "datastore/job_runs" / JOB / f"ds={DS}" / "log.txt"
    assert str(failed.value) == (
        f"{LABEL} failed: dsflow.download exited 1: {JOB}: ds={DS}: {cause}; report: {report}"
    )
    out = capfd.readouterr()
    words = (*HARD_WORDS, "golf2")
    assert files_holding(project, words) == []
    assert not any(w in out.out + out.err + str(failed.value) for w in words)


def test_the_environment_fills_in_what_env_lacks(project, server, monkeypatch):
    write_env(project, f"API_USER={AUTH_USER}\n")
    monkeypatch.setenv("API_PASSWORD", AUTH_PASSWORD)
    template = server.url("/private/x.json").replace("://", "://${API_USER}:${API_PASSWORD}@")
    assert run(download_job(project, template)).status == "success"


def where(root: Path) -> str:
    return str(root / "jobs" / JOB / "job_specs.yaml")


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("keys", "env", "overrides", "key", "name"),
    [
        ({}, "", {}, "job_parameters.url", "NOPE"),
        ({}, "NOPE=\n", {}, "job_parameters.url", "NOPE"),
        ({}, "# NOPE=x\n", {}, "job_parameters.url", "NOPE"),
        ({}, "nope=x\n", {}, "job_parameters.url", "NOPE"),
        ({"task_specs": {"token": "Bearer ${TOKEN}"}}, "NOPE=x\n", {}, "task_specs.token", "TOKEN"),
        (
            {"task_specs": {"headers": {"Authorization": "Bearer ${TOKEN}"}}},
            "NOPE=x\n",
            {},
            "task_specs.headers.Authorization",
            "TOKEN",
        ),
        (
            {"task_specs": {"mirrors": ["https://a/x", "https://${MIRROR}/x"]}},
            "NOPE=x\n",
            {},
            "task_specs.mirrors[1]",
            "MIRROR",
        ),
        ({}, "NOPE=x\n", {"url": "https://${API_KEY}@h/x"}, "job_parameters.url", "API_KEY"),
    ],
    ids=[
        "no-env-file",
        "empty-value",
        "commented-out",
        "other-case",
        "task-spec",
        "nested-key",
        "list-item",
        "override",
    ],
)
def test_an_unset_secret_is_refused_before_anything_is_written(
    project, keys, env, overrides, key, name
):
    if env:
        write_env(project, env)
    proj = download_job(project, "https://${NOPE}@example.org/x.json", **keys)
    with pytest.raises(DsflowError) as refused:
        run(proj, **overrides)
    assert str(refused.value) == (
        f"{where(project)}: {key} uses ${{{name}}}, which is not set: add {name}=<value> to "
        f"{project / '.env'} (or set it in the environment)"
    )
    assert not (project / "datastore").exists()


def test_an_escaped_reference_is_passed_on_literally(project):
    write_env(project, "NOPE=x\n")
    proj = download_job(project, "file:data/x.json", task_specs={"note": "$${NOT_A_SECRET}"})
    params = resolve_parameters(
        find_job(proj, JOB), parse_partition(DS, "daily"), {}, load_settings(proj)
    )
    assert resolve_secrets(project, find_job(proj, JOB), params) == {}
    assert substitute_secrets(params, {})["task_specs"]["note"] == "${NOT_A_SECRET}"


def test_dry_run_and_error_lines_show_no_credentials(project, monkeypatch, capsys):
    from dsflow.cli import main

    download_job(project, "https://alice:s3cret-pw@example.org/{{ ds }}.csv")
    monkeypatch.chdir(project)
    assert main(["run", f"job={JOB}", f"ds={DS}", "dry-run=true"]) == 0
    out = capsys.readouterr().out
    assert "  url = 'https://***@example.org/2024-01-02.csv'" in out.splitlines()
    assert "s3cret" not in out

    assert main(["run", f"job={JOB}", f"ds={DS}", "url=https://${NOPE}:s3cret-pw@h/x"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"dsflow: error: {where(project)}: job_parameters.url uses ${{NOPE}}, which is not set: "
        f"add NOPE=<value> to {project / '.env'} (or set it in the environment)\n"
    )


# ------------------------------------------------------------------ the pieces


def test_secret_names_and_substitution():
    value = {"a": "x${ONE}y${TWO}", "b": ["${ONE}", "$${THREE}", "${ no }", "$ONE", 5]}
    assert secret_names(value) == ["ONE", "TWO"]
    assert substitute_secrets(value, {"ONE": "1", "TWO": "2"}) == {
        "a": "x1y2",
        "b": ["1", "${THREE}", "${ no }", "$ONE", 5],
    }
    with pytest.raises(DsflowError, match=r"^\$\{TWO\} is not set: add TWO=<value> to"):
        substitute_secrets(value, {"ONE": "1"})


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("https://${U}:${P}@h:8443/x", "https://a%20b:p%2Fw%3F%23%25%40%3A@h:8443/x"),
        ("https://${U}@h/x?p=${P}", "https://a%20b@h/x?p=p/w?#%@:"),
        ("see http://${U}@h and ${P}", "see http://a%20b@h and p/w?#%@:"),
        ("https://h/@${U}", "https://h/@a b"),
        ("https://$${U}:${P}@h", "https://${U}:p%2Fw%3F%23%25%40%3A@h"),
    ],
    ids=["user-and-password", "query-string", "text-after", "at-in-path", "escaped"],
)
def test_a_secret_in_url_user_info_is_percent_encoded(template, expected):
    assert substitute_secrets(template, {"U": "a b", "P": "p/w?#%@:"}) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("export KEY=v", "v"),
        ('KEY="a b"', "a b"),
        ("KEY='a b'", "a b"),
        ("KEY='a\"", "'a\""),
        ("KEY = v ", "v"),
        ("KEY=a=b", "a=b"),
        ("KEY=#not-a-comment", "#not-a-comment"),
        ('KEY=""', ""),
    ],
    ids=[
        "no-equals-sign",
        "export",
        "double-quotes",
        "single-quotes",
        "unmatched-quotes",
        "spaces",
        "equals-in-value",
        "hash-in-value",
        "empty-quotes",
    ],
)
def test_read_env(tmp_path, text, expected):
    path = tmp_path / ".env"
    path.write_text(f"# a comment\n\n{text}\n")
    assert read_env(path).get("KEY", "plain") == expected


def test_env_file_wins_over_the_environment(tmp_path):
    path = tmp_path / ".env"
    path.write_text("A=from-file\nB=\n")
    environ = {"A": "from-environment", "B": "b-env", "C": "c-env", "D": ""}
    assert lookup_values(["A", "B", "C", "D", "E"], path, environ) == {
        "A": "from-file",
        "B": "b-env",
        "C": "c-env",
    }
    assert lookup_values(["A"], tmp_path / "absent", environ) == {"A": "from-environment"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://u:p@h/x", "https://***@h/x"),
        ("https://u@h/x", "https://***@h/x"),
        ("https://:p@h", "https://***@h"),
        ("https://u:p@ss@h:8443/x", "https://***@h:8443/x"),
        ("https://u:p@h/x?q=a@b#c@d", "https://***@h/x?q=a@b#c@d"),
        ("https://h/x?q=a@b", "https://h/x?q=a@b"),
        ("https://h/@user/post", "https://h/@user/post"),
        ("FILE://u:p@localhost/x", "FILE://***@localhost/x"),
        ("s3+https://k:s@bucket/x", "s3+https://***@bucket/x"),
        ("see http://u:p@a and ftp://v:q@b.", "see http://***@a and ftp://***@b."),
        ("'https://u:p@h/x'", "'https://***@h/x'"),
        ('{"url": "https://u:p@h"}', '{"url": "https://***@h"}'),
        ("mail me: user@example.org", "mail me: user@example.org"),
        ("https://${USER}:${PASSWORD}@h/x", "https://${USER}:${PASSWORD}@h/x"),
        ("https://${USER}:pw@h/x", "https://***@h/x"),
        ("https://u:p%40ss@h", "https://***@h"),
        ("no url at all", "no url at all"),
    ],
    ids=[
        "user-and-password",
        "user-only",
        "password-only",
        "raw-at-in-password",
        "at-in-query-and-fragment",
        "no-userinfo",
        "at-in-path",
        "upper-case-scheme",
        "compound-scheme",
        "two-urls",
        "quoted",
        "json",
        "e-mail-address",
        "references-only",
        "reference-and-value",
        "percent-encoded",
        "no-url",
    ],
)
def test_redact_url(text, expected):
    assert redact_url(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/tmp/proj/datastore/job_runs/x", "/tmp/proj/datastore/job_runs/x"),
        ("metadata and data2 and 2data", "metadata and data2 and 2data"),
        ("user=data;", "user=${ETL_USER};"),
        ("data.csv", "${ETL_USER}.csv"),
        ('"line\\ndata"', '"line\\n${ETL_USER}"'),
        ('"\\u00e9data"', '"\\u00e9${ETL_USER}"'),
        ("/p%2Fdata", "/p%2F${ETL_USER}"),
        ("pw: p/w?#%@:", "pw: ${PW}"),
        ("pw: p%2Fw%3F%23%25%40%3A", "pw: ${PW}"),
        ("xp/w?#%@:", "xp/w?#%@:"),
    ],
    ids=[
        "inside-a-path",
        "inside-words",
        "alone",
        "before-a-dot",
        "after-a-json-newline",
        "after-a-json-escape",
        "after-a-percent-escape",
        "url-characters",
        "percent-encoded",
        "after-a-letter",
    ],
)
def test_a_value_is_redacted_as_a_whole_token_only(text, expected):
    assert redact_text(text, {"ETL_USER": "data", "PW": "p/w?#%@:"}) == expected


def test_redact_text_value_and_file(tmp_path):
    secrets = {"API_KEY": "k3y-value", "SHORT": "ab", "QUOTED": 'q"uo\\te'}
    assert redact_text("key=k3y-value, ab stays", secrets) == "key=${API_KEY}, ab stays"
    record = {"url": "https://u:p@h/?k=k3y-value", "n": 3, "list": ("k3y-value", None)}
    assert redact_value(record, secrets) == {
        "url": "https://***@h/?k=${API_KEY}",
        "n": 3,
        "list": ["${API_KEY}", None],
    }
    notebook = tmp_path / "report.ipynb"
    notebook.write_text(json.dumps({"source": [f"key = {secrets['QUOTED']}", "k3y-value"]}))
    assert secrets["QUOTED"] not in notebook.read_text()  # JSON escaped it
    assert redact_file(notebook, secrets) is True
    assert json.loads(notebook.read_text()) == {"source": ["key = ${QUOTED}", "${API_KEY}"]}
    assert redact_file(notebook, secrets) is False  # nothing left to do
    assert redact_file(tmp_path / "absent.txt", secrets) is False
    assert not (tmp_path / "absent.txt").exists()
