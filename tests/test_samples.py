"""The sample data in samples/: make_meteo.py regenerates the committed files byte for byte, and
the files hold the documented days, stations and columns.

tests/runtime/test_download.py serves these files over HTTP; they are not part of the runtime.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from conftest import REPO

SAMPLES = REPO / "samples"
METEO = SAMPLES / "meteo"


def files_in(folder: Path) -> list[str]:
    """Every entry under ``folder`` (files and folders), relative, sorted."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_make_meteo_regenerates_the_committed_files(tmp_path):
    out = tmp_path / "meteo"
    subprocess.run(
        [sys.executable, str(SAMPLES / "make_meteo.py"), "--out", str(out)],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert files_in(out) == files_in(METEO)
    for rel in files_in(METEO):
        if (METEO / rel).is_file():
            assert (out / rel).read_bytes() == (METEO / rel).read_bytes(), rel
    assert sum(p.stat().st_size for p in METEO.rglob("*") if p.is_file()) < 500_000


def days() -> list[str]:
    return [f"2024-01-0{d}" for d in range(1, 8)]


def test_sample_days_and_columns():
    columns = [
        "station",
        "observed_at",
        "temperature_c",
        "humidity_pct",
        "wind_kmh",
        "precipitation_mm",
    ]
    assert sorted(p.stem for p in (METEO / "json").glob("*.json")) == days()
    assert sorted(p.stem for p in (METEO / "csv").glob("*.csv")) == days()
    for day in days():
        rows = [
            json.loads(line) for line in (METEO / "json" / f"{day}.json").read_text().splitlines()
        ]
        assert len(rows) == 72
        assert all(list(row) == columns for row in rows)
        stations = Counter(row["station"] for row in rows)
        assert stations == {"paris-montsouris": 24, "lyon-bron": 24, "marseille-marignane": 24}
        hours = {row["observed_at"] for row in rows}
        assert hours == {f"{day}T{h:02d}:00:00Z" for h in range(24)}
        for row in rows:
            assert isinstance(row["temperature_c"], float)
            assert isinstance(row["humidity_pct"], int) and 20 <= row["humidity_pct"] <= 100
            assert row["wind_kmh"] >= 0 and row["precipitation_mm"] >= 0
            for key in ("temperature_c", "wind_kmh", "precipitation_mm"):
                assert round(row[key], 1) == row[key]

        text = (METEO / "csv" / f"{day}.csv").read_text()
        assert csv.Sniffer().sniff(text.splitlines()[0]).delimiter == ";"
        csv_rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
        assert len(csv_rows) == 72
        assert csv_rows == [{k: str(v) for k, v in row.items()} for row in rows]
