"""CSV and JSON jobs made from the templates read columns by name, for real: a reordered
header, a missing column (refused, or nulls with missing_columns=null), empty cells and NA,
integers where doubles are declared, an extra column, a bad date, and dates and timestamps
with formats and a time zone across a DST change — each published value compared with pandas
reading the source file, each refusal one line with exit status 1 and the previous partition
byte-identical.

Spark runs for real: the project's Spark Connect server (`just spark`), started for this
module and stopped after it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import git, just

pytestmark = pytest.mark.slow

CSV_JOB = "create-table-rdr-weather"
JSON_JOB = "create-table-rdr-obs"
SCHEMA = "config/schemas/rdr_weather.yaml"
SCHEMA_TEXT = """\
# the declared schema of raw/rdr_weather (as `just infer-schema` writes it, then edited)
format: csv
null_values: ["", NA]
date_format: yyyy/MM/dd
timezone: Europe/Paris
columns:
  date: date
  station: string
  temp_min: double
  temp_max: double
  observed_at: {type: timestamp, format: "dd/MM/yyyy HH:mm"}
  reported_at: timestamp
"""
HEADER = "date,station,temp_min,temp_max,observed_at,reported_at\n"
GOOD = {
    "2014-01-05": HEADER
    + "2014/01/05,paris,1.5,7.25,05/01/2014 10:00,2014-01-05 10:00:00\n"
    + "2014/01/05,lyon,-0.5,5.0,05/01/2014 11:30,2014-01-05T11:30:00+01:00\n",
    # the same columns in another order: values must land in their own columns
    "2014-01-06": "temp_max,reported_at,station,date,observed_at,temp_min\n"
    + "8.5,2014-01-06 09:00:00,paris,2014/01/06,06/01/2014 09:00,2.0\n"
    + "4.0,2014-01-06 09:15:00,lyon,2014/01/06,06/01/2014 09:15,-3.5\n",
    # empty cells and NA are nulls; integers where doubles are declared are doubles
    "2014-01-08": HEADER
    + "2014/01/08,paris,,7,08/01/2014 10:00,\n"
    + "2014/01/08,lyon,NA,5,,2014-01-08 10:00:00\n",
    # Paris leaves CET (+01:00) for CEST (+02:00) at 02:00 that night
    "2014-03-30": HEADER
    + "2014/03/30,paris,3.0,12.0,30/03/2014 01:30,2014-03-30 01:30:00\n"
    + "2014/03/30,paris,3.5,12.5,30/03/2014 03:30,2014-03-30T03:30:00+02:00\n",
}


def good_day(day: str) -> str:
    """A well-formed file of two rows for ``day`` (yyyy-mm-dd)."""
    y, m, d = day.split("-")
    return HEADER + "".join(
        f"{y}/{m}/{d},{station},1.0,2.0,{d}/{m}/{y} 10:00,{day} 10:00:00\n"
        for station in ("paris", "lyon")
    )


@pytest.fixture(scope="module")
def project(env_project: Path):
    just(env_project, "new-job", "create_table_from_csv", "rdr_weather")
    just(env_project, "new-job", "create_table_from_json", "rdr_obs")
    spec = env_project / "jobs" / CSV_JOB / "job_specs.yaml"
    text = spec.read_text()
    assert '  schema: ""' in text and "  - min_rows: 1" in text
    spec.write_text(text.replace('  schema: ""', f"  schema: {SCHEMA}", 1))
    (env_project / SCHEMA).parent.mkdir(parents=True, exist_ok=True)
    (env_project / SCHEMA).write_text(SCHEMA_TEXT)
    git(env_project, "add", "-A")
    git(env_project, "commit", "-q", "-m", "reader tests")
    yield env_project
    just(env_project, "stop-all")
    git(env_project, "rm", "-rq", f"jobs/{CSV_JOB}", f"jobs/{JSON_JOB}", SCHEMA)
    git(env_project, "commit", "-q", "-m", "remove reader tests")
    git(env_project, "clean", "-qfdX", "--", "datastore")


def write_raw(project: Path, dataset: str, day: str, name: str, text: str) -> Path:
    """A published raw partition holding one file (replacing what it held)."""
    folder = project / f"datastore/raw/{dataset}/ds={day}"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    (folder / name).write_text(text)
    (folder / "_SUCCESS").touch()
    return folder / name


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def instant(value: object, zone: str = "Europe/Paris") -> pd.Timestamp | None:
    """A timestamp text (or Arrow value) as a UTC instant: naive values are in ``zone``."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return None
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize(zone) if stamp.tzinfo is None else stamp
    return stamp.tz_convert("UTC")


def expected_rows(source: Path) -> list[dict]:
    """The source CSV read independently, by name, with pandas and zoneinfo."""
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    rows = []
    for record in frame.to_dict("records"):
        cell = {k: (None if v in ("", "NA") else v) for k, v in record.items()}
        observed = cell.get("observed_at")
        rows.append(
            {
                "date": dt.datetime.strptime(cell["date"], "%Y/%m/%d").date(),
                "station": cell["station"],
                "temp_min": None if cell.get("temp_min") is None else float(cell["temp_min"]),
                "temp_max": None if cell.get("temp_max") is None else float(cell["temp_max"]),
                "observed_at": None
                if observed is None
                else instant(dt.datetime.strptime(observed, "%d/%m/%Y %H:%M")),
                "reported_at": instant(cell.get("reported_at")),
            }
        )
    return rows


def published_rows(project: Path, table: str, day: str) -> list[dict]:
    """The published partition read back with pyarrow (timestamps as UTC instants)."""
    data = pq.read_table(project / f"datastore/tables/{table}/ds={day}")
    rows = data.to_pylist()
    for row in rows:
        for key in ("observed_at", "reported_at"):
            if key in row:
                row[key] = instant(row[key], "UTC")
    return rows


def ordered(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: json.dumps(r, default=str, sort_keys=True))


def run_csv(project: Path, day: str, *overrides: str):
    return just(project, "run", f"job={CSV_JOB}", f"ds={day}", *overrides, check=False)


def one_error_line(result) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    # the kernel's own log lines go to job_runs/<job>/kernel.log: the terminal gets one line
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


# ------------------------------------------------------------------ published by name


def publish(project: Path, day: str, text: str) -> Path:
    source = write_raw(project, "rdr_weather", day, "day.csv", text)
    result = run_csv(project, day)
    assert result.returncode == 0, result.stderr
    assert f"tables/rdr_weather/ds={day} (2 rows)" in result.stdout
    return source


@pytest.mark.parametrize("day", ["2014-01-05", "2014-01-06", "2014-01-08"])
def test_csv_days_are_published_by_name_with_real_types(project, day):
    source = publish(project, day, GOOD[day])
    part = project / f"datastore/tables/rdr_weather/ds={day}"
    schema = pq.read_schema(next(part.glob("*.parquet")))
    types = {name: str(schema.field(name).type) for name in schema.names}
    assert types["date"] == "date32[day]"
    assert types["temp_min"] == types["temp_max"] == "double"
    assert types["observed_at"].startswith("timestamp")
    assert types["reported_at"].startswith("timestamp")
    assert ordered(published_rows(project, "rdr_weather", day)) == ordered(expected_rows(source))


def test_the_dst_change_gives_the_right_instants(project):
    """Timestamps in Europe/Paris the night it moves from +01:00 to +02:00: pandas and
    zoneinfo agree with the published instants, spelled out below too."""
    source = publish(project, "2014-03-30", GOOD["2014-03-30"])
    rows = published_rows(project, "rdr_weather", "2014-03-30")
    assert ordered(rows) == ordered(expected_rows(source))
    utc = dt.UTC
    assert sorted(r["observed_at"] for r in rows) == [
        pd.Timestamp(2014, 3, 30, 0, 30, tzinfo=utc),  # 01:30 CET
        pd.Timestamp(2014, 3, 30, 1, 30, tzinfo=utc),  # 03:30 CEST
    ]
    assert sorted(r["reported_at"] for r in rows) == [
        pd.Timestamp(2014, 3, 30, 0, 30, tzinfo=utc),  # no offset: Europe/Paris
        pd.Timestamp(2014, 3, 30, 1, 30, tzinfo=utc),  # its own +02:00
    ]


# ------------------------------------------------------------------ refused, previous kept

DAY = "2014-01-07"
MISSING = HEADER.replace("temp_max,", "") + "2014/01/07,paris,1.0,07/01/2014 10:00,\n"
EXTRA = (
    HEADER.replace("\n", ",humidity\n")
    + "2014/01/07,paris,1.0,2.0,07/01/2014 10:00,2014-01-07 10:00:00,80\n"
)
BAD_DATE = HEADER + "2014/13/45,paris,1.0,2.0,07/01/2014 10:00,2014-01-07 10:00:00\n"
SHORT_LINE = HEADER + "2014/01/07,paris,1.0,2.0,07/01/2014 10:00\n"
FILE = f"raw/rdr_weather/ds={DAY}/day.csv"
REFUSALS = [
    (
        MISSING,
        f"{FILE}: column temp_max of config/schemas/rdr_weather.yaml is missing; fix the file, "
        "or run with missing_columns=null to read it as nulls",
    ),
    (
        EXTRA,
        f"{FILE}: column humidity is not in config/schemas/rdr_weather.yaml; declare it there, "
        "or remove it from the file",
    ),
    (
        BAD_DATE,
        f"{FILE}: column date: '2014/13/45' is not a date in format yyyy/MM/dd; fix the file, "
        "or the column's format in the schema",
    ),
    (
        SHORT_LINE,
        f"{FILE}: a line has 5 fields where the header has 6: "
        "'2014/01/07,paris,1.0,2.0,07/01/2014 10:00'; fix the file",
    ),
]


def test_a_file_that_does_not_fit_is_refused_and_the_previous_partition_kept(project):
    publish(project, DAY, good_day(DAY))
    part = project / f"datastore/tables/rdr_weather/ds={DAY}"
    before = files(part)
    for text, message in REFUSALS:
        write_raw(project, "rdr_weather", DAY, "day.csv", text)
        line = one_error_line(run_csv(project, DAY))
        assert line.startswith(f"dsflow: error: {CSV_JOB} ds={DAY} failed: cell "), line
        assert f" raised DsflowError: {message}; report: " in line, line
        assert files(part) == before


def test_a_missing_column_is_read_as_nulls_when_the_run_says_so(project):
    source = write_raw(project, "rdr_weather", DAY, "day.csv", MISSING)
    result = run_csv(project, DAY, "missing_columns=null")
    assert result.returncode == 0, result.stderr
    got = published_rows(project, "rdr_weather", DAY)
    assert [r["temp_max"] for r in got] == [None]
    expected = expected_rows(source)  # pandas has no temp_max column at all
    assert ordered(got) == ordered([{**r, "temp_max": None} for r in expected])


# ------------------------------------------------------------------ JSON


OBS = (
    '{"day": "05.01.2014", "v": 1, "name": "a"}\n'
    '{"name": "b", "v": 2.5, "day": "06.01.2014"}\n'
    '{"v": null, "name": "NA", "day": "07.01.2014"}\n'
)


def run_json(project: Path, day: str, *overrides: str):
    declared = "schema=name string, day date, v double"
    return just(
        project,
        "run",
        f"job={JSON_JOB}",
        f"ds={day}",
        declared,
        "date_format=dd.MM.yyyy",
        *overrides,
        check=False,
    )


def test_json_keys_in_any_order_with_a_date_format(project):
    source = write_raw(project, "rdr_obs", "2024-01-02", "obs.json", OBS)
    result = run_json(project, "2024-01-02", "null_values=NA")
    assert result.returncode == 0, result.stderr
    frame = pd.read_json(source, lines=True, dtype=False, convert_dates=False)
    expected = [
        {
            "name": None if r["name"] == "NA" else r["name"],
            "day": dt.datetime.strptime(r["day"], "%d.%m.%Y").date(),
            "v": None if pd.isna(r["v"]) else float(r["v"]),
        }
        for r in frame.to_dict("records")
    ]
    table = pq.read_table(project / "datastore/tables/rdr_obs/ds=2024-01-02")
    assert str(table.schema.field("day").type) == "date32[day]"
    assert ordered(table.to_pylist()) == ordered(expected)


def test_json_with_an_undeclared_key_is_refused(project):
    before = files(project / "datastore/tables/rdr_obs/ds=2024-01-02")
    write_raw(
        project, "rdr_obs", "2024-01-02", "obs.json", OBS.replace('"v": 1,', '"v": 1, "w": 2,')
    )
    line = one_error_line(run_json(project, "2024-01-02"))
    assert (
        " raised DsflowError: raw/rdr_obs/ds=2024-01-02/obs.json: key w is not in the declared "
        "schema; declare it there, or remove it from the file; report: "
    ) in line, line
    assert files(project / "datastore/tables/rdr_obs/ds=2024-01-02") == before
