"""Generate the sample meteo dataset: hourly observations of 3 stations over 7 days (UTC).

    python samples/make_meteo.py            # rewrite samples/meteo/{json,csv}/
    python samples/make_meteo.py --out DIR  # write DIR/{json,csv}/ instead

Deterministic and idempotent: the same bytes on every run (a daily sine cycle, a station
offset and noise from ``random.Random(42)``; stdlib only). See samples/README.md.
"""

import argparse
import csv
import io
import json
import math
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

OUT = Path(__file__).resolve().parent / "meteo"
FIRST_DAY = date(2024, 1, 1)
DAYS = 7
SEED = 42
COLUMNS = (
    "station",
    "observed_at",
    "temperature_c",
    "humidity_pct",
    "wind_kmh",
    "precipitation_mm",
)
# station -> (mean January temperature in °C, mean wind in km/h, chance of rain in an hour)
STATIONS = {
    "paris-montsouris": (5.0, 14.0, 0.12),
    "lyon-bron": (3.5, 11.0, 0.10),
    "marseille-marignane": (8.5, 22.0, 0.05),
}

# station -> (city, latitude, longitude, elevation in m): the stations dimension (stations.csv)
STATION_INFO = {
    "paris-montsouris": ("Paris", 48.8217, 2.3378, 75),
    "lyon-bron": ("Lyon", 45.7264, 4.9386, 200),
    "marseille-marignane": ("Marseille", 43.4375, 5.2150, 9),
}


def r1(value: float) -> float:
    """``value`` rounded to one decimal, never -0.0."""
    return round(value, 1) + 0.0


def observation(rng: random.Random, station: str, at: datetime) -> dict[str, object]:
    """One hourly observation; draws from ``rng`` in a fixed order."""
    mean_temp, mean_wind, rain_chance = STATIONS[station]
    day_index = (at.date() - FIRST_DAY).days
    cycle = math.sin(2 * math.pi * (at.hour - 9) / 24)  # coldest near 03:00, warmest near 15:00
    trend = 1.5 * math.sin(2 * math.pi * day_index / DAYS)  # a mild spell mid-week
    temperature = mean_temp + 4.0 * cycle + trend + rng.gauss(0, 0.6)
    humidity = 82 - 3.0 * (temperature - mean_temp) + rng.gauss(0, 4)
    wind = mean_wind + 5.0 * cycle + rng.gauss(0, 4)
    rain = rng.expovariate(1.5) if rng.random() < rain_chance else 0.0
    return {
        "station": station,
        "observed_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "temperature_c": r1(temperature),
        "humidity_pct": min(100, max(20, round(humidity))),
        "wind_kmh": r1(max(0.0, wind)),
        "precipitation_mm": r1(rain),
    }


def rows_by_day(count: int = DAYS) -> dict[str, list[dict[str, object]]]:
    """All observations of ``count`` days, grouped by UTC day, in (hour, station) order.

    The first days are the same whatever ``count``: more days only continue the series."""
    rng = random.Random(SEED)
    days: dict[str, list[dict[str, object]]] = {}
    for day in range(count):
        start = datetime.combine(FIRST_DAY + timedelta(days=day), datetime.min.time(), UTC)
        rows = days.setdefault(start.date().isoformat(), [])
        for hour in range(24):
            at = start + timedelta(hours=hour)
            rows.extend(observation(rng, station, at) for station in STATIONS)
    return days


def to_json_lines(rows: list[dict[str, object]]) -> str:
    """JSON Lines: one object per line, keys in column order."""
    return "".join(json.dumps(row) + "\n" for row in rows)


def to_csv(rows: list[dict[str, object]]) -> str:
    """Semicolon-delimited CSV with a header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows([row[column] for column in COLUMNS] for row in rows)
    return buffer.getvalue()


def stations_csv() -> str:
    """The stations dimension: one row per station, ``;``-delimited like the observations."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
    writer.writerow(("station", "city", "latitude", "longitude", "elevation_m"))
    writer.writerows((station, *info) for station, info in STATION_INFO.items())
    return buffer.getvalue()


def write(out: Path, count: int = DAYS) -> list[Path]:
    """Write ``out``/json/<day>.json, ``out``/csv/<day>.csv and ``out``/stations.csv."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "stations.csv").write_bytes(stations_csv().encode("utf-8"))
    written = [out / "stations.csv"]
    for day, rows in rows_by_day(count).items():
        for kind, text in (("json", to_json_lines(rows)), ("csv", to_csv(rows))):
            path = out / kind / f"{day}.{kind}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode("utf-8"))
            written.append(path)
    return written


def main() -> None:
    """Command line: regenerate the dataset."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder (default {OUT})")
    parser.add_argument(
        "--days",
        type=int,
        default=DAYS,
        help=f"days from 2024-01-01 (default {DAYS}; the "
        "benchmarks make more, outside the repository)",
    )
    args = parser.parse_args()
    written = write(args.out, args.days)
    print(f"wrote {len(written)} files under {args.out}")


if __name__ == "__main__":
    main()
