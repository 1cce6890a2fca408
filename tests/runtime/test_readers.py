"""Readers without a JVM: headers matched by name, the one-line messages, declared schemas
(parse_columns, load_schema), read-option precedence, and what `just infer-schema` proposes
for dates, timestamps and null markers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from dsflow.errors import DsflowError
from dsflow.headers import json_keys, match_header, read_header
from dsflow.read_messages import malformed_error, value_error
from dsflow.read_options import effective_columns, resolve_options
from dsflow.schema_inference import infer_schema, propose_datetime, schema_yaml
from dsflow.schemas import (
    Column,
    check_datetime_format,
    check_timezone,
    ddl,
    load_schema,
    null_markers,
    parse_columns,
)

from .conftest import write_file

DAY = "raw/weather/ds=2014-01-05/day.csv"
DECLARED = ["date", "temp_min", "temp_max", "station"]
SCHEMA_FILE = "config/schemas/weather.yaml"


# ------------------------------------------------------------------ headers


def test_header_is_parsed_with_the_csv_rules(tmp_path):
    path = tmp_path / "day.csv"
    write_file(path, '\ufeff"station";"temp;max";date\n"a";1;2014-01-05\n')
    assert read_header(path, ";") == ["station", "temp;max", "date"]
    write_file(tmp_path / "empty.csv", "")
    assert read_header(tmp_path / "empty.csv", ",") is None


def test_a_reordered_header_matches_by_name():
    header = ["station", "temp_max", "date", "temp_min"]
    assert match_header(header, DECLARED, DAY, SCHEMA_FILE) == []


def test_partition_columns_in_a_file_are_ignored_unless_declared():
    assert match_header([*DECLARED, "ds"], DECLARED, DAY) == []
    with pytest.raises(DsflowError, match="column ds of the declared schema is missing"):
        match_header(DECLARED, [*DECLARED, "ds"], DAY)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            ["date", "temp_min", "temp_max", "station", "humidity"],
            f"{DAY}: column humidity is not in {SCHEMA_FILE}; declare it there, or remove it "
            "from the file",
        ),
        (
            ["date", "temp_min", "temp_max", "station", "humidity", "wind"],
            f"{DAY}: columns humidity, wind are not in {SCHEMA_FILE}; declare them there, or "
            "remove them from the file",
        ),
        (
            ["date", "temp_min", "station"],
            f"{DAY}: column temp_max of {SCHEMA_FILE} is missing; fix the file, or run with "
            "missing_columns=null to read it as nulls",
        ),
        (
            ["date", "tmin", "temp_max", "station"],
            f"{DAY}: column tmin is not in {SCHEMA_FILE} and column temp_min is missing; fix "
            "the file, or the schema",
        ),
        (
            ["date", "temp_min", "temp_max", "station", "date"],
            f"{DAY}: column date appears 2 times in the header; rename or remove the copies",
        ),
    ],
)
def test_a_header_that_does_not_match_is_refused_in_one_line(header, message):
    with pytest.raises(DsflowError) as caught:
        match_header(header, DECLARED, DAY, SCHEMA_FILE)
    assert str(caught.value) == message


def test_missing_columns_null_accepts_a_missing_column_but_not_an_extra_one():
    assert match_header(["station", "date"], DECLARED, DAY, missing_columns="null") == [
        "temp_min",
        "temp_max",
    ]
    with pytest.raises(DsflowError, match="column humidity is not in the declared schema"):
        match_header([*DECLARED, "humidity"], DECLARED, DAY, missing_columns="null")


def test_json_keys_are_the_union_over_the_records(tmp_path):
    lines = tmp_path / "obs.json"
    write_file(lines, '{"b": 1, "a": "x"}\n\n{not json\n{"c": null}\n[{"d": 1}]\n')
    assert json_keys(lines) == {"a", "b", "c", "d"}
    document = tmp_path / "doc.json"
    write_file(document, '[{"a": 1},\n {"e": 2}]')
    assert json_keys(document, multiline=True) == {"a", "e"}
    write_file(tmp_path / "bad.json", "{nope\n")
    assert json_keys(tmp_path / "bad.json") is None
    with pytest.raises(DsflowError) as caught:
        match_header(["a", "b", "z"], ["a", "b"], "raw/obs/ds=2024-01-02/obs.json", word="key")
    assert str(caught.value) == (
        "raw/obs/ds=2024-01-02/obs.json: key z is not in the declared schema; declare it there, "
        "or remove it from the file"
    )


# ------------------------------------------------------------------ value messages


@pytest.mark.parametrize(
    ("column", "value", "count", "message"),
    [
        (
            Column("date", "date", "yyyy/MM/dd"),
            "2014/13/45",
            1,
            f"{DAY}: column date: '2014/13/45' is not a date in format yyyy/MM/dd; fix the file, "
            "or the column's format in the schema",
        ),
        (
            Column("date", "date"),
            "05/01/2014",
            3,
            f"{DAY}: column date: '05/01/2014' is not a date (yyyy-MM-dd) (3 bad values); set "
            "date_format (e.g. dd/MM/yyyy) or the column's format in the schema",
        ),
        (
            Column("obs", "timestamp"),
            "5 janvier",
            1,
            f"{DAY}: column obs: '5 janvier' is not a timestamp (yyyy-MM-dd HH:mm:ss); set "
            "timestamp_format (e.g. dd/MM/yyyy HH:mm) or the column's format",
        ),
        (
            Column("temp_max", "double"),
            "NA",
            2,
            f"{DAY}: column temp_max: 'NA' is not a double (2 bad values); add 'NA' to "
            "null_values, or fix the file",
        ),
        (
            Column("rain", "int"),
            "1.5",
            1,
            f"{DAY}: column rain: '1.5' is not an int; fix the file, or the column's type in the "
            "schema",
        ),
    ],
)
def test_a_value_that_does_not_convert_is_named_in_one_line(column, value, count, message):
    assert value_error(DAY, column, value, count) == message


def test_a_malformed_line_is_named_with_its_field_count():
    assert malformed_error(DAY, "2014/01/05,3,1.5", "csv", ",", 4) == (
        f"{DAY}: a line has 3 fields where the header has 4: '2014/01/05,3,1.5'; fix the file"
    )
    assert malformed_error("raw/o/ds=1/o.json", "{bad", "json").startswith(
        "raw/o/ds=1/o.json: a record is not valid JSON, or a value does not fit its declared "
        "type: '{bad'; fix the file"
    )


# ------------------------------------------------------------------ declared schemas


def test_parse_columns_reads_mappings_ddl_and_yaml_files(tmp_path):
    mapping = {"station": "STRING", "temp": "Double", "n": "integer", "day": {"type": "date"}}
    assert parse_columns(mapping) == {
        "station": "string",
        "temp": "double",
        "n": "int",
        "day": "date",
    }
    text = (
        "`weird, name` decimal(10, 2) NOT NULL, tags array<string> COMMENT 'a, b',"
        "pos struct<lat:double, `lon x`: double>, counts map<string,bigint>, `a``b` long"
    )
    assert parse_columns(text) == {
        "weird, name": "decimal(10,2)",
        "tags": "array<string>",
        "pos": "struct<lat:double,`lon x`:double>",
        "counts": "map<string,bigint>",
        "a`b": "bigint",
    }
    write_file(
        tmp_path / SCHEMA_FILE,
        "columns:\n  date: {type: date, format: yyyy/MM/dd}\n  temp: double\n",
    )
    assert parse_columns(SCHEMA_FILE, root=tmp_path) == {"date": "date", "temp": "double"}
    assert parse_columns("") == {} and parse_columns({}) == {} and parse_columns(None) == {}


def test_ddl_keeps_working_for_every_form(tmp_path):
    assert ddl("a string, b double") == "`a` string, `b` double"
    assert ddl({"a": "string", "b c": {"type": "timestamp", "format": "dd/MM/yyyy HH:mm"}}) == (
        "`a` string, `b c` timestamp"
    )
    assert ddl("") == ""


def test_load_schema_keeps_formats_and_the_file_options(tmp_path):
    write_file(
        tmp_path / SCHEMA_FILE,
        "format: csv\ndelimiter: ';'\nnull_values: ['', NA]\ndate_format: yyyy/MM/dd\n"
        "timezone: Europe/Paris\ncolumns:\n  date: date\n"
        "  seen: {type: timestamp, format: 'dd/MM/yyyy HH:mm', timezone: America/New_York}\n",
    )
    schema = load_schema(SCHEMA_FILE, root=tmp_path)
    assert schema.source == SCHEMA_FILE
    assert schema.options == {
        "delimiter": ";",
        "null_values": ("", "NA"),
        "date_format": "yyyy/MM/dd",
        "timezone": "Europe/Paris",
    }
    assert schema.columns["seen"] == Column(
        "seen", "timestamp", "dd/MM/yyyy HH:mm", "America/New_York"
    )


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            {"t": "dbl"},
            "the declared schema: column t: unknown type 'dbl'",
        ),
        ("a int, a string", "the declared schema: column a is declared twice"),
        (
            {"t": {"type": "double", "format": "yyyy"}},
            "the declared schema: column t: a format applies to date and timestamp columns, not double",
        ),
        (
            {"t": {"type": "date", "timezone": "UTC"}},
            "the declared schema: column t: a timezone applies to timestamp columns, not date",
        ),
        (
            {"t": {"type": "timestamp", "timezone": "Europe/Pari"}},
            "the declared schema: column t: timezone: unknown time zone 'Europe/Pari' (an IANA "
            "name like Europe/Paris, UTC, or an offset like +02:00)",
        ),
        (
            {"t": {"type": "date", "format": "%Y-%m-%d"}},
            "the declared schema: column t: format: '%Y-%m-%d' is a strftime pattern; Spark's "
            "reads like yyyy-MM-dd HH:mm",
        ),
        (
            {"t": {"type": "date", "fmt": "yyyy"}},
            "the declared schema: column t: unknown key 'fmt' (known: type, format, timezone)",
        ),
        ("a", "the declared schema: cannot read 'a': a DDL schema reads `name type, name type`"),
    ],
)
def test_a_bad_declaration_is_refused_in_one_line(schema, message):
    with pytest.raises(DsflowError) as caught:
        load_schema(schema)
    assert str(caught.value).startswith(message), str(caught.value)


def test_a_schema_file_with_an_unknown_key_is_refused(tmp_path):
    write_file(tmp_path / "s.yaml", "columns: {a: string}\nnul_values: [NA]\n")
    with pytest.raises(DsflowError, match=r"s.yaml: unknown key 'nul_values' \(known: format,"):
        load_schema("s.yaml", root=tmp_path)


def test_datetime_patterns_and_time_zones_are_checked():
    assert check_datetime_format("yyyy-MM-dd'T'HH:mm:ss") == "yyyy-MM-dd'T'HH:mm:ss"
    with pytest.raises(DsflowError, match="letters Spark cannot parse with"):
        check_datetime_format("YYYY-MM-dd")
    assert check_timezone("Europe/Paris") == "Europe/Paris"
    assert check_timezone("+02:00") == "+02:00"
    assert null_markers(",NA,-") == ("", "NA", "-")
    assert null_markers(["", "NA", -999]) == ("", "NA", "-999")
    with pytest.raises(DsflowError, match="quoted text"):
        null_markers(["", None])


# ------------------------------------------------------------------ option precedence


def test_arguments_win_over_the_schema_file_which_wins_over_defaults(tmp_path):
    write_file(
        tmp_path / "s.yaml",
        "delimiter: ';'\nnull_values: ['', NA]\ndate_format: dd/MM/yyyy\n"
        "timestamp_format: dd/MM/yyyy HH:mm\ntimezone: Europe/Paris\n"
        "columns: {d: date, t: timestamp, u: {type: timestamp, timezone: UTC}}\n",
    )
    declared = load_schema("s.yaml", root=tmp_path)
    from_file = resolve_options(declared)  # the notebook's defaults: "auto" and None
    assert (from_file.delimiter, from_file.null_values) == (";", ("", "NA"))
    assert (from_file.date_format, from_file.timezone) == ("dd/MM/yyyy", "Europe/Paris")
    given = resolve_options(
        declared,
        delimiter="|",
        null_values="-",
        date_format="yyyy.MM.dd",
        timestamp_format="",
        timezone="UTC",
        missing_columns="null",
    )
    assert (given.delimiter, given.null_values, given.date_format) == ("|", ("-",), "yyyy.MM.dd")
    assert (given.timestamp_format, given.timezone) == ("dd/MM/yyyy HH:mm", "UTC")
    assert given.missing_columns == "null"
    defaults = resolve_options(None)
    assert (defaults.delimiter, defaults.null_values, defaults.date_format) == (None, ("",), None)
    assert (defaults.timezone, defaults.missing_columns) == ("UTC", "refuse")
    assert resolve_options(None, missing_columns=None).missing_columns == "null"  # YAML's null
    with pytest.raises(DsflowError, match="missing_columns: refuse or null, not 'skip'"):
        resolve_options(None, missing_columns="skip")
    columns = {c.name: c for c in effective_columns(declared, from_file)}
    assert columns["d"] == Column("d", "date", "dd/MM/yyyy")
    assert columns["t"] == Column("t", "timestamp", "dd/MM/yyyy HH:mm", "Europe/Paris")
    assert columns["u"] == Column("u", "timestamp", "dd/MM/yyyy HH:mm", "UTC")


# ------------------------------------------------------------------ infer-schema proposals


@pytest.mark.parametrize(
    ("name", "values", "proposal"),
    [
        ("d", ["2014-01-05", "2014-12-31"], ("date", "yyyy-MM-dd")),
        ("d", ["2014/01/05", "2014/01/06"], ("date", "yyyy/MM/dd")),
        ("d", ["05/01/2014", "13/01/2014"], ("date", "dd/MM/yyyy")),
        ("d", ["01/13/2014", "02/01/2014"], ("date", "MM/dd/yyyy")),
        ("d", ["5/1/2014", "13/1/2014"], ("date", "d/M/yyyy")),
        ("d", ["05.01.2014", "06.01.2014"], ("date", "dd.MM.yyyy")),
        ("obs_date", ["20140105", "20141231"], ("date", "yyyyMMdd")),
        ("amount", ["20140105", "20141231"], None),  # not named like a date: a number
        ("d", ["2014-01-05 10:00", "2014-01-05 23:59"], ("timestamp", "yyyy-MM-dd HH:mm")),
        ("d", ["2014-01-05T10:00:05"], ("timestamp", "yyyy-MM-dd'T'HH:mm:ss")),
        ("d", ["30/03/2014 01:30", "30/03/2014 03:30"], ("timestamp", "dd/MM/yyyy HH:mm")),
        ("d", ["2014/01/05", "2014-01-06"], None),  # two shapes
        ("d", ["2014/02/30"], None),  # not a day
        ("d", ["2014-01-05", "soon"], None),
        ("d", ["2014-01-05 25:00"], None),
    ],
)
def test_propose_datetime(name, values, proposal):
    assert propose_datetime(name, values) == proposal


def test_day_month_order_undecided_is_a_note():
    note = propose_datetime("d1", ["01/02/2024", "03/04/2024"])
    assert note == (
        "d1: '01/02/2024' may be day/month or month/day: declare it "
        '{type: date, format: "dd/MM/yyyy"} (or MM/dd/yyyy)'
    )
    stamp = propose_datetime("seen", ["05/01/2014 13:45", "06/01/2014 08:00"])
    assert stamp == (
        "seen: '05/01/2014 13:45' may be day/month or month/day: declare it "
        '{type: timestamp, format: "dd/MM/yyyy HH:mm"} (or MM/dd/yyyy HH:mm)'
    )


def test_infer_schema_proposes_formats_and_null_markers(tmp_path):
    data = tmp_path / "raw/weather/ds=2014-01-05/day.csv"
    write_file(
        data,
        "date;observed;temp_max;country;when\n"
        "2014/01/05;05/01/2014 10:00;3;FR;2014-01-05T10:00\n"
        "2014/01/06;13/01/2014 11:30;NA;NA;2014-01-06T10:00\n"
        "2014/01/07;;-;DE;2014-01-07T10:00\n",
    )
    schema = infer_schema(data.parent)
    assert schema == {
        "format": "csv",
        "delimiter": ";",
        "null_values": ["", "NA", "-"],
        "date_format": "yyyy/MM/dd",
        "columns": {
            "date": "date",
            "observed": {"type": "timestamp", "format": "dd/MM/yyyy HH:mm"},
            "temp_max": "bigint",
            "country": "string",
            "when": {"type": "timestamp", "format": "yyyy-MM-dd'T'HH:mm"},
        },
    }
    text = schema_yaml(schema, "datastore/raw/weather/ds=2014-01-05")
    assert "null_values: ['', NA, '-']\n" in text
    assert "  observed: {type: timestamp, format: 'dd/MM/yyyy HH:mm'}\n" in text
    assert "  when: {type: timestamp, format: \"yyyy-MM-dd'T'HH:mm\"}\n" in text
    saved = tmp_path / "weather.yaml"
    saved.write_text(text)
    declared = load_schema(str(saved))
    assert declared.options["null_values"] == ("", "NA", "-")
    assert declared.columns["date"] == Column("date", "date")
    assert effective_columns(declared, resolve_options(declared))[0].format == "yyyy/MM/dd"


def test_infer_schema_shares_a_timestamp_format_and_notes_ambiguity(tmp_path):
    data = tmp_path / "obs.csv"
    write_file(data, "a,b,c\n2024-01-02 10:00,2024-01-03 11:00,01/02/2024\n")
    schema = infer_schema(data)
    assert schema["timestamp_format"] == "yyyy-MM-dd HH:mm"
    assert schema["columns"] == {"a": "timestamp", "b": "timestamp", "c": "string"}
    assert "null_values" not in schema  # none seen
    text = schema_yaml(schema, "obs.csv")
    assert "# note: c: '01/02/2024' may be day/month or month/day" in text
    assert "notes" not in yaml.safe_load(text)


def test_infer_schema_of_json_proposes_date_formats(tmp_path):
    data = tmp_path / "obs.json"
    write_file(data, '{"day": "05.01.2014", "t": 1.5}\n{"day": "06.01.2014", "t": 2}\n')
    schema = infer_schema(data)
    assert schema == {
        "format": "json",
        "date_format": "dd.MM.yyyy",
        "columns": {"day": "date", "t": "double"},
    }


def test_a_schema_file_from_infer_schema_round_trips(tmp_path: Path):
    data = tmp_path / "x.csv"
    write_file(data, "when,v\n05/01/2014,1.5\n13/01/2014,\n")
    text = schema_yaml(infer_schema(data), "x.csv")
    (tmp_path / "x.yaml").write_text(text)
    assert parse_columns("x.yaml", root=tmp_path) == {"when": "date", "v": "double"}
