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


@pytest.fixture
def job(project_root: Path):
    spec = job_spec(
        "fetch",
        outputs=["raw/files"],
        job_parameters={"url": "https://example.org/{{ ds }}.csv", "note": ""},
        task_specs={"target": "raw/files/{{ partition }}/{{ job_parameters.note }}"},
    )
    write_job(project_root / "jobs", "fetch", spec)
    project = find_project(project_root)
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
        ("{% for c in ().__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}", DOCUMENTED),
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
    assert "\n" not in text and text.startswith(f"cannot render {value!r}: ")
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
    with pytest.raises(DsflowError, match=DOCUMENTED):
        resolve_parameters(
            find_job(project, "stored"), parse_partition("2024-01-02", "daily"), {}, settings
        )


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
            "cannot render 'https://***@h/{{ nope }}': 'nope' is undefined",
        ),
        (
            "https://u:s3cret@h/{{ ds.__class__ }}",
            "cannot render 'https://***@h/{{ ds.__class__ }}': " + DOCUMENTED,
        ),
    ],
    ids=["undefined", "sandbox"],
)
def test_a_render_error_does_not_show_url_credentials(job, value, message):
    with pytest.raises(DsflowError) as refused:
        render(job, note=value)
    assert str(refused.value).startswith(message)
    assert "s3cret" not in str(refused.value)
