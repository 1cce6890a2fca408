"""`just tree`: each dataset's partitions, long lists shortened to the first and last three with
a count of the rows left out; a count would never stand in for a single row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dsflow.tree import datastore_tree


def days(n: int) -> list[str]:
    return [f"ds=2024-01-{d:02d}" for d in range(1, n + 1)]


def publish(datastore: Path, dataset: str, partitions: list[str], complete: bool = True) -> None:
    for name in partitions:
        folder = datastore / dataset / name
        folder.mkdir(parents=True)
        (folder / "data.json").write_text("{}")
        if complete:
            (folder / "_SUCCESS").write_text("")


def listed(lines: list[str]) -> list[str]:
    """The partition rows and elision lines, without their indent."""
    return [line.strip() for line in lines if line.startswith("      ")]


SHORTENED = {
    "six-all-shown": (6, days(6)),
    "seven-all-shown-not-one-more": (7, days(7)),
    "eight-two-more": (8, days(8)[:3] + ["... 2 more"] + days(8)[-3:]),
    "thirty-24-more": (30, days(30)[:3] + ["... 24 more"] + days(30)[-3:]),
}


@pytest.mark.parametrize("count, rows", SHORTENED.values(), ids=SHORTENED.keys())
def test_partition_rows_are_shown_or_counted(tmp_path, count, rows):
    publish(tmp_path, "raw/meteo", days(count))
    lines = datastore_tree(tmp_path)
    assert f"    meteo/  {count} partitions, {count} complete" in lines
    assert listed(lines) == [r if r.startswith("...") else f"{r}  ok" for r in rows]


def test_seven_partitions_show_the_last_one_instead_of_one_more(tmp_path):
    publish(tmp_path, "tables/daily", days(6))
    publish(tmp_path, "tables/daily", ["ds=2024-01-07"], complete=False)
    lines = datastore_tree(tmp_path)
    start = lines.index("  tables/")
    assert lines[start : start + 9] == [
        "  tables/",
        "    daily/  7 partitions, 6 complete",
        "      ds=2024-01-01  ok",
        "      ds=2024-01-02  ok",
        "      ds=2024-01-03  ok",
        "      ds=2024-01-04  ok",
        "      ds=2024-01-05  ok",
        "      ds=2024-01-06  ok",
        "      ds=2024-01-07  --",
    ]
    assert "... 1 more" not in "\n".join(lines)
    assert len(listed(lines)) == 7


def test_job_runs_follow_the_same_rule(tmp_path):
    runs = tmp_path / "job_runs" / "fetch"
    for i, name in enumerate(days(7)):
        (runs / name).mkdir(parents=True)
        status = "failed" if i == 6 else "success"
        (runs / name / "run.json").write_text(json.dumps({"status": status}))
    lines = datastore_tree(tmp_path)
    assert "    fetch/  7 runs, 1 failed" in lines
    assert listed(lines)[-1] == "ds=2024-01-07  failed"
    assert len(listed(lines)) == 7


@pytest.mark.parametrize(
    "max_listed, count, elided",
    [(1, 3, None), (1, 4, "... 2 more"), (2, 5, None), (2, 6, "... 2 more")],
    ids=["1-of-3-all", "1-of-4-two-more", "2-of-5-all", "2-of-6-two-more"],
)
def test_a_smaller_limit_never_hides_a_single_row(tmp_path, max_listed, count, elided):
    publish(tmp_path, "raw/meteo", days(count))
    rows = listed(datastore_tree(tmp_path, max_listed=max_listed))
    if elided is None:
        assert len(rows) == count and not any(r.startswith("...") for r in rows)
    else:
        assert rows[max_listed] == elided and len(rows) == 2 * max_listed + 1
