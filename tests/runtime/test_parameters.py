"""Parameter and spec values are rendered in a sandbox with the documented variables only: the
usual template-injection payloads end in one clear refusal and run nothing; a datastore path
in task_specs cannot climb out of its area with `..` (issue 14, items 2 and 5)."""

from __future__ import annotations

from pathlib import Path

import pytest
from dsflow.errors import DsflowError
from dsflow.partitions import parse_partition
from dsflow.project import find_project
from dsflow.resolve import resolve_parameters
from dsflow.settings import load_settings
from dsflow.specs import find_job

from .conftest import job_spec, write_job

DOCUMENTED = "a value may use the documented variables only"
USE = (
    "it may use the documented variables (ds, ds_nodash, partition, job_name, "
    "job_parameters.<key>) and Jinja's filters"
)
NO_FOR = "a value may not use {% for %}: " + USE


@pytest.fixture
def job_project(project_root: Path) -> Path:
    spec = job_spec(
        "fetch",
        outputs=["raw/files"],
        job_parameters={"url": "https://example.org/{{ ds }}.csv", "note": "", "file_name": ""},
        task_specs={"target": "raw/files/{{ partition }}/{{ job_parameters.note }}"},
    )
    write_job(project_root / "jobs", "fetch", spec)
    return project_root


@pytest.fixture
def job(job_project: Path):
    project = find_project(job_project)
    settings = load_settings(project)
    return find_job(project, "fetch"), settings


def render(job, **overrides: str) -> dict:
    spec, settings = job
    return resolve_parameters(spec, parse_partition("2024-01-02", "daily"), overrides, settings)


def test_the_documented_variables_render(job):
    params = render(job, note="{{ ds_nodash }}-{{ job_name }}")
    assert params["url"] == "https://example.org/2024-01-02.csv"
    assert params["note"] == "20240102-fetch"
    assert params["target"].endswith("raw/files/ds=2024-01-02/20240102-fetch")


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ('{{ cycler.__init__.__globals__.os.system("touch {marker}") }}', DOCUMENTED),
        ('{{ lipsum.__globals__["os"].system("touch {marker}") }}', "'lipsum' is undefined"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", DOCUMENTED),
        ("{{ ds.__class__.__init__.__globals__ }}", DOCUMENTED),
        ("{{ self.__init__.__globals__ }}", DOCUMENTED),
        ("{% for c in ().__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}", NO_FOR),
        ("{{ job_parameters.update({'url': 'x'}) }}", "'job_parameters' is undefined"),
        ("{{ range(10**9)|list }}", "'range' is undefined"),
    ],
)
def test_template_injection_is_refused_and_runs_nothing(job, tmp_path, payload, message):
    marker = tmp_path / "pwned"
    value = payload.replace("{marker}", str(marker))
    with pytest.raises(DsflowError) as refused:
        render(job, note=value)
    text = str(refused.value)
    assert "\n" not in text and text.startswith(f"job_parameters.note: cannot render {value!r}: ")
    assert message in text
    assert not marker.exists()


@pytest.mark.bad_input
@pytest.mark.parametrize(
    "payload",
    [
        "{{ ds.__class__.__base__.__subclasses__() }}",
        "{{ job_parameters.update({'url': 'file:///etc/passwd'}) }}",  # defined in task_specs
    ],
)
def test_a_payload_stored_in_the_spec_is_refused_too(project_root, payload):
    spec = job_spec(
        "stored", outputs=["raw/x"], job_parameters={"url": "u"}, task_specs={"x": payload}
    )
    write_job(project_root / "jobs", "stored", spec)
    project = find_project(project_root)
    settings = load_settings(project)
    with pytest.raises(DsflowError) as refused:
        resolve_parameters(
            find_job(project, "stored"), parse_partition("2024-01-02", "daily"), {}, settings
        )
    where = project_root / "jobs/stored/job_specs.yaml"
    assert str(refused.value) == (
        f"{where}: task_specs.x: cannot render {payload!r}: a value may use the documented "
        "variables only (ds, ds_nodash, partition, job_name, job_parameters.<key>)"
    )


# ------------------------------------------------------------------ bounded rendering

TOO_LONG = (
    "the value would be longer than 65536 characters; shorten it (a parameter or spec value "
    "renders to 65536 characters at most)"
)
TOO_BIG = (
    "the value would compute a number of more than 10000 bits; use smaller numbers (about "
    "3000 digits at most)"
)
TOO_MUCH = "the value would build more than 1048576 characters while rendering; simplify it"
X = "{% set x = 'a' * 60000 %}"  # the longest string a value may build, nearly
HUGE = [
    pytest.param('{{ "ab" * 2000000000 }}', TOO_LONG, id="string-times-2e9"),
    pytest.param("{{ 'x' * 10**12 }}", TOO_LONG, id="string-times-1e12"),
    pytest.param("{{ 10**12 * 'x' }}", TOO_LONG, id="1e12-times-string"),
    pytest.param("{{ 'a' ~ 'b' * 10**9 }}", TOO_LONG, id="concat-of-a-product"),
    pytest.param("{{ [1] * 10**9 }}", TOO_LONG, id="list-times-1e9"),
    pytest.param("{{ 2 ** (10**9) }}", TOO_BIG, id="power-of-two"),
    pytest.param("{{ 10**3000 * 10**3000 }}", TOO_BIG, id="product-of-big-numbers"),
    pytest.param("{{ 'x'|center(10**9) }}", TOO_LONG, id="center-filter"),
    pytest.param("{{ 'x'.ljust(10**9) }}", TOO_LONG, id="ljust-method"),
    pytest.param("{{ '%01000000000d' % 1 }}", TOO_LONG, id="printf-width"),
    pytest.param("{{ '%*d' % (10**9, 1) }}", TOO_LONG, id="printf-star-width"),
    pytest.param("{{ '%.1000000000f'|format(1.5) }}", TOO_LONG, id="format-filter-precision"),
    pytest.param("{{ '{:>1000000000}'.format(1) }}", TOO_LONG, id="str-format-width"),
    pytest.param("{{ '{:{}}'.format(1, 10**9) }}", TOO_LONG, id="str-format-nested-width"),
    pytest.param(X + "{{ x|replace('a', x) }}", TOO_LONG, id="replace-amplified"),
    pytest.param(X + "{{ x.translate({97: x}) }}", TOO_LONG, id="translate-amplified"),
    pytest.param(X + "{{ [x, x]|join(x) }}", TOO_LONG, id="join-amplified"),
    pytest.param(X + "{{ x ~ x }}", TOO_LONG, id="concat-too-long"),
    pytest.param(X + "{{ [x, x, x] }}", TOO_LONG, id="list-written-out"),
    pytest.param(X + "{{ x }}{{ x }}", TOO_LONG, id="rendered-too-long"),
    pytest.param("{{ [1]|batch(10**9, 'x')|list }}", TOO_LONG, id="batch-padding"),
    pytest.param(
        X + "".join(f"{{% set y{i} = x[1:] %}}" for i in range(20)), TOO_MUCH, id="slices"
    ),
    pytest.param("x" * 65537 + "{{ ds }}", TOO_LONG, id="long-source"),
]


@pytest.mark.bad_input
@pytest.mark.timeout(10)
@pytest.mark.parametrize(("payload", "message"), HUGE)
def test_a_value_too_large_is_refused_at_once(job, payload, message):
    """Before: "ab" * 2000000000 ran 67 s at 11.7 GB, then an internal SyntaxError."""
    with pytest.raises(DsflowError) as refused:
        render(job, file_name=payload)
    assert str(refused.value) == f"job_parameters.file_name: {message}"


@pytest.mark.bad_input
@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "payload",
    ['{{ "ab" * 2000000000 }}', "{{ 'x' * 10**12 }}", "{{ [1] * 10**9 }}", "{{ 2 ** (10**9) }}"],
    ids=["string-times-2e9", "string-times-1e12", "list-times-1e9", "power-of-two"],
)
def test_just_run_refuses_a_huge_value_in_one_line(job_project, monkeypatch, capsys, payload):
    from dsflow.cli import main

    monkeypatch.chdir(job_project)
    args = ["run", "job=fetch", "ds=2024-01-02", "dry-run=true", f"file_name={payload}"]
    assert main(args) == 2
    out = capsys.readouterr()
    message = TOO_BIG if "2 **" in payload else TOO_LONG
    assert out.err == f"dsflow: error: job_parameters.file_name: {message}\n"
    assert "would run" not in out.out
    assert not (job_project / "datastore").exists()


@pytest.mark.bad_input
@pytest.mark.timeout(10)
def test_a_huge_value_stored_in_the_spec_names_the_file(project_root):
    spec = job_spec("stored", outputs=["raw/x"], task_specs={"name": "{{ 'x' * 10**12 }}"})
    write_job(project_root / "jobs", "stored", spec)
    project = find_project(project_root)
    with pytest.raises(DsflowError) as refused:
        resolve_parameters(
            find_job(project, "stored"),
            parse_partition("2024-01-02", "daily"),
            {},
            load_settings(project),
        )
    where = project_root / "jobs/stored/job_specs.yaml"
    assert str(refused.value) == f"{where}: task_specs.name: {TOO_LONG}"


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("{{ ds + 1 }}", 'can only concatenate str (not "int") to str'),
        ("{{ 1 / 0 }}", "division by zero"),
        ("{{ 2.0 ** 5000 }}", "a number would be out of range"),
        ("{{ ds", "unexpected end of template, expected 'end of print statement'."),
        ("{% macro m() %}{% endmacro %}", "a value may not use {% macro %}: " + USE),
        ("{% block b %}{% endblock %}", "a value may not use {% block %}: " + USE),
        ("{% include 'x' %}", "a value may not use {% include %}: " + USE),
    ],
    ids=[
        "str-plus-int",
        "division-by-zero",
        "float-overflow",
        "syntax",
        "macro",
        "block",
        "include",
    ],
)
def test_a_value_that_cannot_render_is_one_line_naming_the_key(job, payload, reason):
    with pytest.raises(DsflowError) as refused:
        render(job, note=payload)
    assert str(refused.value) == f"job_parameters.note: cannot render {payload!r}: {reason}"


def test_bounded_rendering_keeps_what_values_do(job):
    """Filters, methods, formats and the largest values allowed still render."""
    params = render(
        job,
        note="{{ ds|replace('-', '/') }} {{ '%s-%05d' % (job_name, 7) }} {{ '{:>4}'.format(1) }}"
        " {{ ds[:4] ~ ds_nodash[4:] }} {{ 2 ** 10 }} {{ job_name.upper() }}",
        file_name="{{ 'x' * 65536 }}",
    )
    assert params["note"] == "2024/01/02 fetch-00007    1 20240102 1024 FETCH"
    assert params["file_name"] == "x" * 65536


def test_power_is_left_associative_as_in_jinja(job):
    """``2 ** 10**9`` is ``(2 ** 10) ** 9`` in Jinja: a small number, at once."""
    assert render(job, note="{{ 2 ** 10**9 }}")["note"] == str(2**90)


@pytest.mark.bad_input
@pytest.mark.parametrize("target", ["raw/../../..", "tables/../../../etc", "raw/x/../../tables/t"])
def test_a_task_spec_path_may_not_leave_its_datastore_area(project_root, target):
    spec = job_spec("escape", outputs=["raw/x"], task_specs={"sink_path": target})
    write_job(project_root / "jobs", "escape", spec)
    project = find_project(project_root)
    settings = load_settings(project)
    with pytest.raises(DsflowError) as refused:
        resolve_parameters(
            find_job(project, "escape"), parse_partition("2024-01-02", "daily"), {}, settings
        )
    area = target.split("/")[0]
    assert str(refused.value) == (
        f"task_specs.sink_path {target!r} leaves datastore/{area}/: name a path inside it, "
        "without '..'"
    )


def test_a_path_that_stays_in_its_area_is_made_absolute(job):
    spec, settings = job
    params = resolve_parameters(spec, parse_partition("2024-01-02", "daily"), {}, settings)
    assert params["target"] == str(settings.datastore / "raw/files/ds=2024-01-02/")


def test_secret_references_are_left_for_the_run(job):
    """``${NAME}`` passes rendering untouched: the run substitutes it (test_secrets.py), so
    records and the parameters hash hold the reference, never the value."""
    params = render(job, note="${API_KEY}", url="https://${API_USER}:${API_PASSWORD}@h/{{ ds }}")
    assert params["note"] == "${API_KEY}"
    assert params["url"] == "https://${API_USER}:${API_PASSWORD}@h/2024-01-02"
    assert params["target"].endswith("raw/files/ds=2024-01-02/${API_KEY}")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "https://u:s3cret@h/{{ nope }}",
            "job_parameters.note: cannot render 'https://***@h/{{ nope }}': 'nope' is undefined",
        ),
        (
            "https://u:s3cret@h/{{ ds.__class__ }}",
            "job_parameters.note: cannot render 'https://***@h/{{ ds.__class__ }}': " + DOCUMENTED,
        ),
    ],
    ids=["undefined", "sandbox"],
)
def test_a_render_error_does_not_show_url_credentials(job, value, message):
    with pytest.raises(DsflowError) as refused:
        render(job, note=value)
    assert str(refused.value).startswith(message)
    assert "s3cret" not in str(refused.value)
