"""Partition grains: validate a partition value, map it to its Hive-style folder, enumerate ranges.

Layouts (all UTC; there is no daylight-saving time in partition keys):

=========  ===================  ==============================
grain      value                folder under a table
=========  ===================  ==============================
daily      ``2024-01-02``       ``ds=2024-01-02/``
hourly     ``2024-01-02T05``    ``ds=2024-01-02/hr=05/``
weekly     ``2024-01-29``       ``ds=2024-01-29/`` (ISO week keyed by its Monday, or ``2024-W05``)
monthly    ``2024-01``          ``ds=2024-01/``
yearly     ``2024``             ``ds=2024/``
none       ``""``               the table folder itself
=========  ===================  ==============================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import PurePath

from .errors import DsflowError

GRAINS = ("daily", "hourly", "weekly", "monthly", "yearly", "none")
KEYS = ("ds", "hr")  # the partition folders' keys, outermost first
_EXPECTED = {
    "daily": "YYYY-MM-DD",
    "hourly": "YYYY-MM-DDTHH (00-23)",
    "weekly": "YYYY-Www or the date of any day in the week",
    "monthly": "YYYY-MM",
    "yearly": "YYYY",
    "none": "nothing (the job is unpartitioned)",
}


@dataclass(frozen=True, order=True)
class Partition:
    """One partition of a grain; ``value`` is canonical (see the module table)."""

    grain: str
    value: str

    @property
    def parts(self) -> list[str]:
        """Folder names below the table folder, e.g. ``["ds=2024-01-02", "hr=05"]``."""
        if self.grain == "none":
            return []
        if self.grain == "hourly":
            day, hour = self.value.split("T")
            return [f"ds={day}", f"hr={hour}"]
        return [f"ds={self.value}"]

    @property
    def label(self) -> str:
        """Human-readable key: ``ds=2024-01-02``, ``ds=2024-01-02/hr=05`` or ``(unpartitioned)``."""
        return "/".join(self.parts) or "(unpartitioned)"

    @property
    def ds(self) -> str:
        """The value a job sees as ``ds`` (for hourly, ``YYYY-MM-DDTHH``)."""
        return self.value


def parse_partition_path(path: str | PurePath) -> dict[str, str]:
    """The partition keys a path names, outermost first: ``ds=2024-01-02/hr=05`` (or a file
    in it) gives ``{"ds": "2024-01-02", "hr": "05"}``. Parts that are not ``ds=``/``hr=``
    folders are skipped: a dataset folder, or a label like ``(unpartitioned)``, gives ``{}``.

    The one reader of partition folder names; :attr:`Partition.parts` is their one writer.
    """
    keys = {}
    for name in PurePath(path).parts:
        key, sep, value = name.partition("=")
        if sep and key in KEYS:
            keys[key] = value
    return keys


def is_partition_folder(name: str) -> bool:
    """True for a ``ds=...`` or ``hr=...`` folder name."""
    return bool(parse_partition_path(name))


def partition_value(path: str | PurePath) -> str:
    """The value :func:`parse_partition` takes for a partition path or label:
    ``ds=2024-01-02/hr=05`` gives ``2024-01-02T05``, ``ds=2024-01`` ``2024-01``, none ``""``."""
    keys = parse_partition_path(path)
    return "T".join(keys[k] for k in KEYS if k in keys)


def _bad(value: str, grain: str) -> DsflowError:
    shown = repr(value) if value else "an empty value"
    return DsflowError(f"invalid ds {shown} for grain {grain}: expected {_EXPECTED[grain]}")


def _date(value: str, grain: str) -> date:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise _bad(value, grain)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _bad(value, grain) from None


def parse_partition(value: str, grain: str) -> Partition:
    """Validate ``value`` for ``grain`` and return the canonical partition."""
    if grain not in GRAINS:
        raise DsflowError(f"unknown grain {grain!r}: use one of {', '.join(GRAINS)}")
    value = (value or "").strip()
    if grain == "none":
        if value:
            raise _bad(value, grain)
        return Partition(grain, "")
    if grain == "daily":
        return Partition(grain, _date(value, grain).isoformat())
    if grain == "hourly":
        match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})[T ](\d{2})", value)
        if not match or int(match.group(2)) > 23:
            raise _bad(value, grain)
        return Partition(grain, f"{_date(match.group(1), grain).isoformat()}T{match.group(2)}")
    if grain == "weekly":
        match = re.fullmatch(r"(\d{4})-W(\d{2})", value)
        if match:
            try:
                monday = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
            except ValueError:
                raise _bad(value, grain) from None
        else:
            day = _date(value, grain)
            monday = day - timedelta(days=day.weekday())
        return Partition(grain, monday.isoformat())
    if grain == "yearly":
        match = re.fullmatch(r"(\d{4})(-\d{2})?(-\d{2})?", value)
        if not match or (match.group(2) and not 1 <= int(match.group(2)[1:]) <= 12):
            raise _bad(value, grain)
        if match.group(3):
            _date(value, grain)
        return Partition(grain, match.group(1))
    match = re.fullmatch(r"(\d{4})-(\d{2})(-\d{2})?", value)  # monthly
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise _bad(value, grain)
    if match.group(3):
        _date(value, grain)
    return Partition(grain, f"{match.group(1)}-{match.group(2)}")


def _start(p: Partition) -> datetime:
    if p.grain == "hourly":
        return datetime.strptime(p.value, "%Y-%m-%dT%H").replace(tzinfo=UTC)
    if p.grain == "monthly":
        return datetime.strptime(p.value, "%Y-%m").replace(tzinfo=UTC)
    if p.grain == "yearly":
        return datetime(int(p.value), 1, 1, tzinfo=UTC)
    return datetime.fromisoformat(p.value).replace(tzinfo=UTC)


def shift(p: Partition, steps: int) -> Partition:
    """The partition ``steps`` periods after (negative: before) ``p``."""
    if p.grain == "none":
        return p
    start = _start(p)
    if p.grain == "hourly":
        return Partition(p.grain, (start + timedelta(hours=steps)).strftime("%Y-%m-%dT%H"))
    if p.grain == "daily":
        return Partition(p.grain, (start + timedelta(days=steps)).date().isoformat())
    if p.grain == "weekly":
        return Partition(p.grain, (start + timedelta(weeks=steps)).date().isoformat())
    if p.grain == "yearly":
        return Partition(p.grain, f"{start.year + steps:04d}")
    months = start.year * 12 + start.month - 1 + steps
    return Partition(p.grain, f"{months // 12:04d}-{months % 12 + 1:02d}")


def partition_range(start: Partition, end: Partition) -> list[Partition]:
    """Every partition from ``start`` to ``end``, both included."""
    if start.grain != end.grain:
        raise DsflowError(f"range mixes grains {start.grain} and {end.grain}")
    if start.grain != "none" and _start(start) > _start(end):
        raise DsflowError(f"start {start.value} is after end {end.value}")
    result, current = [start], start
    while current != end and start.grain != "none":
        current = shift(current, 1)
        result.append(current)
    return result


def range_bound(value: str, grain: str, end: bool) -> Partition:
    """A ``start``/``end`` given at one grain, as a partition of ``grain``: a day bounds an
    hourly range at 00 (start) or 23 (end); an hour bounds a coarser range by its day."""
    value = (value or "").strip()
    if grain == "hourly" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        value += "T23" if end else "T00"
    elif grain not in ("hourly", "none") and re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}", value):
        value = value[:10]
    return parse_partition(value, grain)


def partition_for(moment: datetime, grain: str) -> Partition:
    """The partition containing ``moment`` (e.g. an Airflow logical date), in UTC."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    value = {
        "daily": moment.date().isoformat(),
        "hourly": moment.strftime("%Y-%m-%dT%H"),
        "weekly": moment.date().isoformat(),
        "monthly": moment.strftime("%Y-%m"),
        "yearly": moment.strftime("%Y"),
        "none": "",
    }[grain]
    return parse_partition(value, grain)


def period(p: Partition) -> tuple[datetime, datetime]:
    """The UTC instants a partition covers: ``[start, end)``; unpartitioned covers all time."""
    if p.grain == "none":
        return datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
    return _start(p), _start(shift(p, 1))


def default_partition(grain: str, now: datetime | None = None) -> Partition:
    """The latest *complete* period before ``now`` (UTC): yesterday for daily, as Airflow does."""
    current = partition_for(now or datetime.now(UTC), grain)
    return shift(current, -1)
