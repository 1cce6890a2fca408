"""Partition grains (dsflow.partitions): validation, canonical values, folders, range
enumeration on the calendar's edges, Airflow dates.

Partitions are UTC dates and hours, so daylight-saving time never shifts or repeats one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from dsflow import errors, partitions

P = partitions.Partition


def values(start: str, end: str, grain: str) -> list[str]:
    first = partitions.parse_partition(start, grain)
    last = partitions.parse_partition(end, grain)
    return [p.value for p in partitions.partition_range(first, last)]


@pytest.mark.parametrize(
    ("grain", "given", "value", "folders"),
    [
        ("daily", "2024-02-29", "2024-02-29", ["ds=2024-02-29"]),
        ("hourly", "2024-01-02T05", "2024-01-02T05", ["ds=2024-01-02", "hr=05"]),
        ("hourly", "2024-01-02 23", "2024-01-02T23", ["ds=2024-01-02", "hr=23"]),
        ("weekly", "2024-W05", "2024-01-29", ["ds=2024-01-29"]),
        ("weekly", "2024-02-01", "2024-01-29", ["ds=2024-01-29"]),  # a Thursday -> its Monday
        ("weekly", "2020-W53", "2020-12-28", ["ds=2020-12-28"]),  # a year with an ISO week 53
        ("monthly", "2024-02", "2024-02", ["ds=2024-02"]),
        ("monthly", "2024-02-17", "2024-02", ["ds=2024-02"]),
        ("yearly", "2024", "2024", ["ds=2024"]),
        ("yearly", "2024-02-17", "2024", ["ds=2024"]),
        ("none", "", "", []),
    ],
)
def test_canonical_values_and_folders(grain, given, value, folders):
    part = partitions.parse_partition(given, grain)
    assert part.value == value
    assert part.parts == folders


@pytest.mark.parametrize(
    ("grain", "given"),
    [
        ("hourly", "2024-01-02T25"),
        ("hourly", "2024-01-02"),
        ("weekly", "2024-W54"),
        ("weekly", "2021-W53"),  # 2021 has 52 ISO weeks
        ("monthly", "2024-13"),
        ("monthly", "2024-00"),
        ("yearly", "24"),
        ("yearly", "2024-13"),
        ("daily", "2023-02-29"),
        ("daily", "2024-1-2"),
        ("none", "2024-01-02"),
    ],
)
def test_values_that_do_not_fit_the_grain(grain, given):
    with pytest.raises(errors.DsflowError, match=f"invalid ds '{given}' for grain {grain}"):
        partitions.parse_partition(given, grain)


def test_ranges_include_both_ends_across_month_and_leap_day():
    assert values("2024-02-27", "2024-03-01", "daily") == [
        "2024-02-27",
        "2024-02-28",
        "2024-02-29",
        "2024-03-01",
    ]
    assert values("2023-02-27", "2023-03-01", "daily") == ["2023-02-27", "2023-02-28", "2023-03-01"]


def test_hourly_range_crosses_midnight_and_month_end():
    assert values("2024-01-31T22", "2024-02-01T01", "hourly") == [
        "2024-01-31T22",
        "2024-01-31T23",
        "2024-02-01T00",
        "2024-02-01T01",
    ]


def test_hourly_range_over_a_dst_change_has_24_hours_a_day():
    """Europe's clocks went forward on 2024-03-31; UTC partitions do not notice."""
    hours = values("2024-03-31T00", "2024-03-31T23", "hourly")
    assert len(hours) == 24 and len(set(hours)) == 24


def test_weekly_range_through_iso_week_53():
    assert values("2020-W52", "2021-W01", "weekly") == ["2020-12-21", "2020-12-28", "2021-01-04"]


def test_monthly_range_crosses_the_year():
    assert values("2023-11", "2024-02", "monthly") == ["2023-11", "2023-12", "2024-01", "2024-02"]


def test_range_start_after_end_is_refused():
    with pytest.raises(errors.DsflowError, match="start 2024-01-03 is after end 2024-01-01"):
        values("2024-01-03", "2024-01-01", "daily")


def test_shift_backwards_over_month_ends():
    march = partitions.parse_partition("2024-03-31", "daily")
    assert partitions.shift(march, -31).value == "2024-02-29"
    assert partitions.shift(partitions.parse_partition("2024-01", "monthly"), -1).value == "2023-12"


def test_airflow_logical_dates_map_to_utc_partitions():
    paris = timezone(timedelta(hours=1))
    moment = datetime(2024, 1, 1, 0, 30, tzinfo=paris)  # 2023-12-31T23:30 UTC
    assert partitions.partition_for(moment, "daily").value == "2023-12-31"
    assert partitions.partition_for(moment, "hourly").value == "2023-12-31T23"
    assert partitions.partition_for(moment, "weekly").value == "2023-12-25"
    assert partitions.partition_for(moment, "monthly").value == "2023-12"


def test_default_partition_is_the_last_complete_period():
    now = datetime(2024, 3, 1, 0, 5, tzinfo=UTC)
    assert partitions.default_partition("daily", now).value == "2024-02-29"
    assert partitions.default_partition("hourly", now).value == "2024-02-29T23"
    assert partitions.default_partition("monthly", now).value == "2024-02"
    assert partitions.default_partition("weekly", now).value == "2024-02-19"
    assert partitions.default_partition("none", now) == P("none", "")
