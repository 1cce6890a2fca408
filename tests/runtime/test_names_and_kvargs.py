"""What users type: ``key=value`` words after a recipe (dsflow.kvargs.parse_kv) and job names
(dsflow.names.check_job_name). Mistakes are one-line DsflowErrors (exit status 2).
"""

from __future__ import annotations

import pytest
from dsflow.errors import DsflowError
from dsflow.kvargs import parse_kv
from dsflow.names import check_job_name


def refusal(call, *args) -> str:
    with pytest.raises(DsflowError) as info:
        call(*args)
    assert info.value.exit_code == 2
    assert "\n" not in str(info.value)
    return str(info.value)


# ------------------------------------------------------------------ parse_kv


def test_words_become_a_mapping_in_order():
    parsed = parse_kv(["job=clean", "ds=2024-01-02", "max_bytes=5000"])
    assert parsed == {"job": "clean", "ds": "2024-01-02", "max_bytes": "5000"}
    assert list(parsed) == ["job", "ds", "max_bytes"]
    assert parse_kv([]) == {}


def test_values_are_kept_as_typed():
    assert parse_kv(["where=a=b", "empty=", "spaced= x "]) == {
        "where": "a=b",
        "empty": "",
        "spaced": " x ",
    }
    assert parse_kv([" job =clean"]) == {"job": "clean"}  # the key is stripped, not the value


def test_allowed_keys():
    assert parse_kv(["ds=2024-01-02"], allowed=["job", "ds"]) == {"ds": "2024-01-02"}
    assert refusal(parse_kv, ["jb=clean"], ["ds", "job"]) == (
        "unknown parameter 'jb' (known: ds, job)"
    )
    assert refusal(parse_kv, ["x=1"], []) == "unknown parameter 'x' (known: none)"


@pytest.mark.parametrize("word", ["clean", "=clean", " =x", ""])
def test_a_word_without_a_key_is_refused(word):
    assert refusal(parse_kv, [word]) == f"expected key=value, got {word!r}"


def test_a_key_given_twice_is_refused():
    assert refusal(parse_kv, ["ds=2024-01-01", "ds=2024-01-02"]) == "parameter 'ds' given twice"


# ------------------------------------------------------------------ job names


@pytest.mark.parametrize("name", ["a", "clean", "download-meteo", "daily_meteo2", "x-1_y"])
def test_valid_job_names_are_returned(name):
    assert check_job_name(name) == name


HELP = "use lowercase letters, digits, '-' and '_', starting with a letter (no '/', '..' or spaces)"


@pytest.mark.parametrize(
    "name",
    ["Clean", "1job", "-job", "_job", "a/b", "..", "../x", "a b", "job.py", "café", "job\t"],
)
def test_invalid_job_names_are_refused(name):
    assert refusal(check_job_name, name) == f"invalid name {name!r}: {HELP}"


def test_an_empty_name_is_shown_as_empty():
    assert refusal(check_job_name, "") == f"invalid name (empty): {HELP}"


def test_a_name_with_a_trailing_newline_is_refused():
    refusal(check_job_name, "clean\n")
