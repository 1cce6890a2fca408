"""What users type: ``key=value`` words after a recipe (dsflow.kvargs.parse_kv), job and
dataset names (dsflow.names: one rule for both). Mistakes are one-line DsflowErrors (exit 2).
"""

from __future__ import annotations

import pytest
from dsflow.errors import DsflowError
from dsflow.kvargs import parse_kv
from dsflow.names import (
    check_dataset_name,
    check_distinct_names,
    check_job_name,
    check_name,
    normalised_name,
)


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


@pytest.mark.bad_input
@pytest.mark.parametrize("word", ["clean", "=clean", " =x", ""])
def test_a_word_without_a_key_is_refused(word):
    assert refusal(parse_kv, [word]) == f"expected key=value, got {word!r}"


def test_a_key_given_twice_is_refused():
    assert refusal(parse_kv, ["ds=2024-01-01", "ds=2024-01-02"]) == "parameter 'ds' given twice"


# ------------------------------------------------------------------ names (one rule)


@pytest.mark.parametrize(
    "name", ["a", "clean", "download-meteo", "daily_meteo2", "x-1_y", "a" * 64]
)
def test_valid_job_names_are_returned(name):
    assert check_job_name(name) == name
    assert check_dataset_name(name) == name


RULE = "use lowercase letters, digits, '-' and '_', starting with a letter, at most 64 characters"


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("name", "shown"),
    [
        pytest.param("Clean", "'Clean'", id="uppercase"),
        pytest.param("1job", "'1job'", id="leading-digit"),
        pytest.param("-job", "'-job'", id="leading-dash"),
        pytest.param("_job", "'_job'", id="leading-underscore-hidden-folder"),
        pytest.param(".job", "'.job'", id="leading-dot-hidden-folder"),
        pytest.param("a/b", "'a/b'", id="slash"),
        pytest.param("..", "'..'", id="dot-dot"),
        pytest.param("../x", "'../x'", id="parent-folder"),
        pytest.param("a b", "'a b'", id="space"),
        pytest.param("job.py", "'job.py'", id="dot"),
        pytest.param("café", "'café'", id="non-ascii"),
        pytest.param("job\t", "'job\\t'", id="tab"),
        pytest.param("clean\n", "'clean\\n'", id="trailing-newline"),
        pytest.param("a\nb", "'a\\nb'", id="inner-newline"),
        pytest.param("a\x00b", "'a\\x00b'", id="nul-byte"),
        pytest.param("<b>x</b>", "'<b>x</b>'", id="html"),
        pytest.param("a&b", "'a&b'", id="ampersand"),
        pytest.param("a'b", '"a\'b"', id="single-quote"),
        pytest.param('a"b', "'a\"b'", id="double-quote"),
        pytest.param("a" * 65, f"{'a' * 40!r}... (65 characters)", id="65-characters"),
        pytest.param("j" * 300, f"{'j' * 40!r}... (300 characters)", id="300-characters"),
        pytest.param("", "(empty)", id="empty"),
    ],
)
def test_invalid_names_are_refused_with_one_message(name, shown):
    assert refusal(check_job_name, name) == f"invalid job name {shown}: {RULE}"
    assert refusal(check_dataset_name, name) == f"invalid dataset name {shown}: {RULE}"


@pytest.mark.bad_input
@pytest.mark.parametrize("value", [True, None, 5], ids=["yaml-yes", "yaml-null", "number"])
def test_a_value_yaml_did_not_read_as_text_is_refused(value):
    assert refusal(check_name, value, "dataset") == (
        f"invalid dataset name {value!r} (not text: put the name in quotes): {RULE}"
    )


def test_normalised_names_treat_dash_and_underscore_alike():
    assert normalised_name("load-a") == normalised_name("load_a") == "load_a"
    check_distinct_names(["load-a", "load-b", "loada"])
    assert refusal(check_distinct_names, ["load_a", "x", "load-a"]) == (
        "jobs load_a and load-a differ only by '-' and '_': Airflow DAG code cannot tell them "
        "apart; rename one"
    )
