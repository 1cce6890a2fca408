"""A monthly rollup of a daily CSV series with drift, for real, checked against pandas.

The series is one CSV file per day (January and February 2024, three stations) that a
`download_file` job fetches over file://; a `create_table_from_csv` job (declared schema, real
dates) makes the daily table; a `create_table_from_sql` job of grain monthly rolls it up.
Days drift as real feeds do: a reordered header, integer-formatted temperatures, an empty
cell. The monthly partitions are compared value by value with pandas reading the source
files, and the plan waits for a month the range does not complete. A job reading its own
previous partition (`last_1`) gives the same values with parallel=2 as with parallel=1.

Spark runs for real through the project's Spark Connect server (`just spark`), started once
for the module and stopped after it.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import git, just

pytestmark = pytest.mark.slow

STATIONS = ["paris", "lyon", "nice"]
DAYS = [date(2024, 1, 1) + timedelta(days=i) for i in range(60)]  # Jan 1 .. Feb 29
REORDERED = date(2024, 1, 5)  # temp_max before temp_min, station last
INTEGERS = date(2024, 1, 9)  # "12" where 12.0 is meant
EMPTY = date(2024, 2, 12)  # one station's precip left empty

SCHEMA = """\
format: csv
delimiter: ","
date_format: yyyy/MM/dd
columns:
  date: date
  station: string
  temp_min: double
  temp_max: double
  precip: double
"""

MONTHLY_SQL = """\
SELECT
  station,
  COUNT(*) AS days,
  MIN(date) AS first_day,
  MAX(date) AS last_day,
  ROUND(AVG(temp_max), 6) AS avg_temp_max,
  MIN(temp_min) AS min_temp_min,
  ROUND(SUM(precip), 6) AS precip
FROM weather
GROUP BY station
"""

# a job reading its own previous partition: the running precipitation total per station
RUNNING_PY = """\
import json, os, pathlib
import pandas as pd
specs = json.loads(os.environ["TASK_SPECS"])
today = pd.read_parquet(specs["source_paths"]["weather"])[["station", "precip"]]
today = today.fillna({"precip": 0.0})
before = specs["source_paths"]["running_precip"]  # [] on the first day
if before:
    prev = pd.read_parquet(before[0])[["station", "total"]]
    today = today.merge(prev, on="station", how="left").fillna({"total": 0.0})
    today["total"] = today["total"] + today["precip"]
else:
    today["total"] = today["precip"]
today[["station", "total"]].to_parquet(pathlib.Path(specs["sink_path"]) / "part-0.parquet")
"""
RUNNING_SPEC = {
    "job_name": "running-precip",
    "class": "command-line",
    "script": "run.py",
    "inputs": [{"table": "running_precip", "partitions": "last_1"}, {"table": "weather"}],
    "outputs": [{"table": "running_precip"}],
}


def value(day: date, station: int, offset: float) -> float:
    """A deterministic, non-round value (so sums and averages are worth checking)."""
    return round(((day.toordinal() * 7 + station * 13) % 41) / 4 + offset, 2)


def write_series(folder: Path) -> None:
    folder.mkdir(parents=True)
    for day in DAYS:
        rows = []
        for i, station in enumerate(STATIONS):
            low, high, rain = value(day, i, -5), value(day, i, 3), value(day, i, 0) / 10
            if day == INTEGERS:
                low, high = int(low), int(high)
            rows.append(
                {
                    "date": day.strftime("%Y/%m/%d"),
                    "station": station,
                    "temp_min": low,
                    "temp_max": high,
                    "precip": "" if (day == EMPTY and station == "lyon") else rain,
                }
            )
        columns = ["date", "station", "temp_min", "temp_max", "precip"]
        if day == REORDERED:
            columns = ["date", "temp_max", "temp_min", "precip", "station"]
        lines = [",".join(columns)] + [",".join(str(r[c]) for c in columns) for r in rows]
        (folder / f"weather-{day.isoformat()}.csv").write_text("\n".join(lines) + "\n")


def pandas_months(folder: Path) -> pd.DataFrame:
    """The independent computation: pandas on the source files, by column name."""
    frames = [pd.read_csv(path) for path in sorted(folder.glob("weather-*.csv"))]
    data = pd.concat(frames, ignore_index=True)
    data["day"] = pd.to_datetime(data["date"], format="%Y/%m/%d")
    data["month"] = data["day"].dt.strftime("%Y-%m")
    grouped = data.groupby(["month", "station"])
    result = pd.DataFrame(
        {
            "days": grouped.size(),
            "first_day": grouped["day"].min().dt.date,
            "last_day": grouped["day"].max().dt.date,
            "avg_temp_max": grouped["temp_max"].mean().round(6),
            "min_temp_min": grouped["temp_min"].min(),
            "precip": grouped["precip"].sum().round(6),  # pandas skips the empty cell
        }
    )
    return result.reset_index()


@pytest.fixture(scope="module")
def project(env_project: Path, tmp_path_factory: pytest.TempPathFactory):
    source = tmp_path_factory.mktemp("feed") / "weather"
    write_series(source)
    url = f"file://{source}/weather-{{{{ ds }}}}.csv"
    just(env_project, "new-job", "download_file", "weather", f"url={url}", "file_name=day.csv")
    just(env_project, "new-job", "create_table_from_csv", "weather")
    (env_project / "config/schemas").mkdir(parents=True, exist_ok=True)
    (env_project / "config/schemas/weather.yaml").write_text(SCHEMA)
    spec = env_project / "jobs/create-table-weather/job_specs.yaml"
    spec.write_text(
        spec.read_text().replace('schema: ""', 'schema: "config/schemas/weather.yaml"', 1)
    )
    just(
        env_project,
        "new-job",
        "create_table_from_sql",
        "weather_monthly",
        "source_table=weather",
        "grain=monthly",
    )
    (env_project / "jobs/create-table-weather-monthly/query.sql").write_text(MONTHLY_SQL)
    running = env_project / "jobs/running-precip"
    running.mkdir()
    (running / "job_specs.yaml").write_text(json.dumps(RUNNING_SPEC, indent=2))
    (running / "run.py").write_text(textwrap.dedent(RUNNING_PY))
    git(env_project, "add", "-A")
    git(env_project, "commit", "-q", "-m", "rollup jobs")
    yield env_project, source
    just(env_project, "stop-all")
    jobs = ["download-weather", "create-table-weather", "create-table-weather-monthly"]
    git(env_project, "rm", "-rq", "config/schemas/weather.yaml", "jobs/running-precip")
    git(env_project, "rm", "-rq", *[f"jobs/{j}" for j in jobs])
    git(env_project, "commit", "-q", "-m", "remove rollup jobs")
    git(env_project, "clean", "-qfdX", "--", "datastore")


def test_the_monthly_job_is_a_normal_job_of_the_graph(project):
    root, _ = project
    graph = just(root, "graph").stdout
    assert "create-table-weather-monthly  [monthly]" in graph
    assert "after:  create-table-weather" in graph


def test_a_month_the_range_does_not_complete_waits(project):
    root, _ = project
    result = just(
        root, "backfill", "start=2024-01-01", "end=2024-02-10", "job=+create-table-weather-monthly",
        "dry-run=true",
    )  # fmt: skip
    lines = result.stdout.splitlines()
    january = next(ln for ln in lines if "create-table-weather-monthly ds=2024-01 " in ln)
    assert "run   (missing)" in january
    february = next(ln for ln in lines if "create-table-weather-monthly ds=2024-02 " in ln)
    assert february.endswith(
        "wait  (waits for tables/weather: 19 of 29 partitions of ds=2024-02 not published, "
        "first ds=2024-02-11)"
    )
    assert "1 waiting for their period's data" in lines[-2]


def test_monthly_rollup_matches_pandas_on_the_source_files(project):
    root, source = project
    result = just(
        root, "backfill", "start=2024-01-01", "end=2024-02-29",
        "job=+create-table-weather-monthly", "parallel=2",
    )  # fmt: skip
    assert "0 failed, 0 blocked" in result.stdout, result.stdout[-3000:]
    expected = pandas_months(source)
    for month in ("2024-01", "2024-02"):
        folder = root / f"datastore/tables/weather_monthly/ds={month}"
        meta = json.loads((folder / "_dsflow.json").read_text())
        assert meta["grain"] == "monthly"
        assert len(meta["upstream"]) == (31 if month == "2024-01" else 29)  # every day read
        got = pq.read_table(folder).to_pandas().sort_values("station").reset_index(drop=True)
        want = (
            expected[expected["month"] == month]
            .drop(columns="month")
            .sort_values("station")
            .reset_index(drop=True)
        )
        assert got["station"].tolist() == want["station"].tolist()
        assert got["days"].tolist() == want["days"].tolist()
        assert got["first_day"].tolist() == want["first_day"].tolist()  # real DATE values
        assert got["last_day"].tolist() == want["last_day"].tolist()
        for column in ("avg_temp_max", "min_temp_min", "precip"):
            assert got[column].tolist() == pytest.approx(want[column].tolist()), column
    # the reordered day was read by name: its temp_max is the source's, not temp_min's
    day = pq.read_table(root / f"datastore/tables/weather/ds={REORDERED}").to_pandas()
    src = pd.read_csv(source / f"weather-{REORDERED}.csv")
    assert sorted(day["temp_max"]) == sorted(src["temp_max"])
    # a rerun has nothing to do, and a changed day makes its month stale (only that month)
    rollup = ["start=2024-01-01", "end=2024-02-29", "job=+create-table-weather-monthly"]
    again = just(root, "backfill", *rollup)
    assert again.stdout.startswith("0 runs to do, 122 partitions up to date"), again.stdout
    shutil.rmtree(root / "datastore/tables/weather/ds=2024-02-03")
    plan = just(root, "backfill", *rollup, "dry-run=true").stdout
    day = next(ln for ln in plan.splitlines() if "create-table-weather ds=2024-02-03" in ln)
    assert day.endswith("run   (missing)")
    rows = {ln.split()[1]: ln for ln in plan.splitlines() if "weather-monthly ds=" in ln}
    assert "run   (upstream create-table-weather ds=2024-02-03 reruns)" in rows["ds=2024-02"]
    assert "skip  (up to date)" in rows["ds=2024-01"]


def test_a_self_reading_last_1_job_gives_the_same_totals_in_parallel(project):
    root, source = project
    args = ["backfill", "start=2024-01-01", "end=2024-01-08", "job=running-precip"]
    just(root, *args, "parallel=2")
    folder = root / "datastore/tables/running_precip"

    def totals() -> dict[str, list[float]]:
        days = sorted(folder.glob("ds=*"))
        assert len(days) == 8
        out: dict[str, list[float]] = {}
        for day in days:
            for row in pq.read_table(day).to_pylist():
                out.setdefault(row["station"], []).append(row["total"])
        return out

    parallel = totals()
    just(root, *args, "parallel=1", "force=true")
    assert totals() == parallel
    frames = [pd.read_csv(source / f"weather-{d}.csv") for d in DAYS[:8]]
    data = pd.concat(frames).fillna({"precip": 0.0})
    for station, values in parallel.items():
        expected = data[data["station"] == station]["precip"].cumsum().tolist()
        assert values == pytest.approx(expected), station
