"""``just status``: datasets x partitions — complete, missing, failed, stale — as one grid per
grain (each dataset on the axis of its own grain) or JSON.

Without ``start``/``end`` it shows the data's own range (:func:`status_range`): from the first
partition published or run to the latest, at most the latest 14 periods; before anything was
published or run, a line saying what to run instead of a grid of "missing"."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .datastore import (
    UNPARTITIONED,
    complete_partitions,
    dataset_dir,
    is_complete,
    job_runs_dir,
    locks_dir,
    partition_dir,
    partition_folders,
    report_dir,
)
from .errors import DsflowError
from .graph import Graph
from .locks import held
from .partitions import (
    default_partition,
    parse_partition,
    partition_value,
    range_bound,
    shift,
)
from .publish import JOURNAL, STAGING_PREFIX
from .reports import RUN_RECORD, read_record
from .settings import Settings
from .staleness import job_partitions, stale_reason

SYMBOLS = {"complete": "#", "missing": ".", "failed": "F", "stale": "s"}
# grains finest first: the order of the grids (and the explorer's heatmaps)
GRAIN_ORDER = ("hourly", "daily", "weekly", "monthly", "yearly", "none")


def partition_states(
    settings: Settings, graph: Graph, start: str, end: str
) -> dict[str, dict[str, Any]]:
    """``{dataset path: {"job", "grain", "partitions": {label: {"state", "why"}}}}``."""
    result: dict[str, dict[str, Any]] = {}
    planned = job_partitions(graph, graph.order(), start, end)
    for job in graph.order():
        spec = graph.jobs[job]
        for ref in spec.outputs:
            cells = {}
            for part in planned[job]:
                record = read_record(report_dir(settings, job, part))
                complete = is_complete(partition_dir(settings, ref, part))
                why = stale_reason(settings, graph, job, part) if complete else None
                if record and record.get("status") == "failed":
                    state, why = "failed", record.get("error", "")
                elif not complete:
                    state = "missing"
                elif why:
                    state = "stale"
                else:
                    state = "complete"
                cells[part.label] = {"state": state, **({"why": why} if why else {})}
            result[ref.path] = {"job": job, "grain": spec.grain, "partitions": cells}
    return result


def leftover_staging(settings: Settings, graph: Graph) -> list[str]:
    """Staging folders no running run owns, relative to the datastore: what killed runs left.

    The next run of the same job and partition removes them; until then they only take space.
    """
    found = []
    journaled = {path for _, paths in half_published(settings, graph) for path in paths}
    for job, spec in graph.jobs.items():
        for ref in spec.outputs:
            folder = dataset_dir(settings, ref)
            parent = folder if spec.grain != "none" else folder.parent
            for path in sorted(parent.glob(f"{STAGING_PREFIX}{job}-*")):
                # _staging-<job>-<partition value, or "all">-<YYYYmmddTHHMMSS>-<hex>
                value = path.name[len(STAGING_PREFIX) + len(job) + 1 :].rsplit("-", 2)[0]
                try:
                    part = parse_partition("" if value == "all" else value, spec.grain)
                except DsflowError:  # another job's, whose name starts like this one's
                    continue
                if str(path) not in journaled and not held(locks_dir(settings, job), part.label):
                    found.append(str(path.relative_to(settings.datastore)))
    return found


def half_published(settings: Settings, graph: Graph) -> list[tuple[str, list[str]]]:
    """Publishes a killed run left half-done: ``(the command that undoes it, the staging
    folders it needs)``. Those folders may hold the only copy of a previous partition."""
    found = []
    for job in graph.jobs:
        for journal in sorted(job_runs_dir(settings, job).rglob(JOURNAL)):
            try:
                entries = json.loads(journal.read_text())
                ds = json.loads((journal.parent / RUN_RECORD).read_text()).get("ds", "")
            except (OSError, ValueError):
                continue
            command = f"just run job={job}" + (f" ds={ds}" if ds else "")
            found.append((command, [str(e["staging"]) for e in entries]))
    return found


def grain_sections(states: dict[str, dict[str, Any]]) -> list[tuple[str, list[str], list[str]]]:
    """The datasets of ``states`` grouped by grain, finest first (:data:`GRAIN_ORDER`; a grain
    it does not know last): ``(grain, dataset paths in their order, partition labels sorted)``.

    A daily ``ds=2024-01-29`` and a weekly ``ds=2024-01-29`` are different periods, and a
    monthly ``ds=2024-01`` is none of the days, so no axis holds two grains."""
    grains = sorted(
        {data["grain"] for data in states.values()},
        key=lambda g: (GRAIN_ORDER.index(g) if g in GRAIN_ORDER else len(GRAIN_ORDER), g),
    )
    sections = []
    for grain in grains:
        paths = [path for path, data in states.items() if data["grain"] == grain]
        labels = sorted({lab for path in paths for lab in states[path]["partitions"]})
        sections.append((grain, paths, labels))
    return sections


def _first_day(value: str) -> str | None:
    """The first day (``YYYY-MM-DD``) of a partition value of any grain, or None."""
    if re.fullmatch(r"\d{4}", value):  # yearly
        return f"{value}-01-01"
    if re.fullmatch(r"\d{4}-\d{2}", value):  # monthly
        return f"{value}-01"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}(T\d{2})?", value):  # daily, weekly, hourly
        return value[:10]
    return None


@dataclass(frozen=True)
class StatusRange:
    """The days ``just status`` shows when not told (``start``/``end``), and the data's span.

    ``window`` is the grain its columns are counted in: the project's finest partitioned grain,
    hourly counted by the day (14 hours would hide most of a day)."""

    start: str
    end: str
    window: str
    periods: int
    data_start: str | None  # first day of the earliest dated partition; None: none yet
    data_end: str | None
    any_data: bool  # a partition published or a run recorded, dated or not

    @property
    def clipped(self) -> bool:
        """True when the data starts before the range shown."""
        return self.data_start is not None and self.data_start < self.start


def _window(graph: Graph) -> str:
    grains = {
        "daily" if s.grain == "hourly" else s.grain
        for s in graph.jobs.values()
        if s.outputs and s.grain in GRAIN_ORDER[:-1]
    }
    return min(grains, key=GRAIN_ORDER.index, default="daily")


def _partition_days(settings: Settings, graph: Graph) -> tuple[dict[str, set[str]], bool]:
    """The first days of every partition published or run (failed, killed, running) of each
    job's outputs, by window grain (hourly counted as daily); and whether anything undated
    (an unpartitioned dataset or run) exists."""
    days: dict[str, set[str]] = {}
    undated = False
    for job, spec in graph.jobs.items():
        if not spec.outputs:
            continue
        found = days.setdefault("daily" if spec.grain == "hourly" else spec.grain, set())
        values = []
        for ref in spec.outputs:
            folder = dataset_dir(settings, ref)
            values += [partition_value(p.relative_to(folder)) for p in complete_partitions(folder)]
        runs = job_runs_dir(settings, job)
        undated |= (runs / UNPARTITIONED / RUN_RECORD).is_file()
        for day in partition_folders(runs, "ds"):
            hours = partition_folders(day, "hr")
            for folder in [day, *hours]:
                if (folder / RUN_RECORD).is_file():
                    values.append(partition_value(folder.relative_to(runs)))
        undated |= "" in values
        found.update(d for d in map(_first_day, values) if d)
    return days, undated


def status_range(settings: Settings, graph: Graph, periods: int = 14) -> StatusRange:
    """The data's own range, bounded to its latest ``periods`` periods of the window grain.

    It ends at the latest partition published or run of any grain (its first day) and starts
    at the earliest one of the window's grain (of any grain when that one has none): a grid
    never opens with columns of "missing" before the first partition. It ends at the data,
    not today: a project whose data is of 2024 still shows its data. With no dated partition
    yet, it is the latest complete period (yesterday, for days)."""
    days, undated = _partition_days(settings, graph)
    window = _window(graph)
    dated = sorted(d for found in days.values() for d in found)
    if not dated:
        day = _first_day(default_partition(window).value) or ""
        return StatusRange(day, day, window, periods, None, None, undated)
    end = dated[-1]
    first = min(days.get(window) or dated)
    latest = _first_day(shift(parse_partition(end, window), 1 - periods).value) or end
    return StatusRange(max(first, latest), end, window, periods, first, end, True)


def default_range(settings: Settings, graph: Graph, periods: int = 14) -> tuple[str, str]:
    """``(start, end)`` days of :func:`status_range`."""
    shown = status_range(settings, graph, periods)
    return shown.start, shown.end


def chosen_range(shown: StatusRange, start: str | None, end: str | None) -> tuple[str, str]:
    """``start``/``end`` as given, the missing one from ``shown``: an ``end`` alone shows the
    ``periods`` periods up to it (from the data's start when that is later)."""
    if start is None and end is not None:
        before = shift(range_bound(end, shown.window, True), 1 - shown.periods)
        start = _first_day(before.value) or end
        if shown.data_start and start < shown.data_start <= end:
            start = shown.data_start
    return start or shown.start, end or shown.end


UNITS = {"daily": "days", "weekly": "weeks", "monthly": "months", "yearly": "years"}
ANOTHER = "another range: just status start=YYYY-MM-DD end=YYYY-MM-DD"


def range_line(shown: StatusRange, start: str, end: str) -> str:
    """The first line of the grid: which days it shows, why, and how to choose others."""
    span = start if start == end else f"{start} .. {end}"
    if (start, end) != (shown.start, shown.end):
        return f"showing {span}"
    unit = UNITS.get(shown.window, "periods")
    if shown.data_start is None:
        why = f"the latest {unit[:-1]} (no dated partitions yet)"
    elif shown.clipped:
        why = f"the latest {shown.periods} {unit} of the data (from {shown.data_start})"
    else:
        why = "all of the data"
    return f"showing {span}, {why}; {ANOTHER}"


PLACEHOLDERS = {"hourly": "YYYY-MM-DDTHH", "monthly": "YYYY-MM", "yearly": "YYYY"}


def no_partitions_line(graph: Graph) -> str:
    """What ``just status`` says before anything was published or run: what to run."""
    first = next((n for n in graph.order() if graph.jobs[n].outputs), "NAME")
    grain = graph.jobs[first].grain if first in graph.jobs else "daily"
    ds = "" if grain == "none" else f" ds={PLACEHOLDERS.get(grain, 'YYYY-MM-DD')}"
    return (
        f"no partitions yet: run one (just run job={first}{ds}) or a range of days "
        "(just backfill start=YYYY-MM-DD end=YYYY-MM-DD), then just status"
    )


def dataset_states(graph: Graph) -> dict[str, dict[str, Any]]:
    """:func:`partition_states`' datasets with no partitions: the JSON of a datastore with
    nothing published or run yet."""
    return {
        ref.path: {"job": job, "grain": graph.jobs[job].grain, "partitions": {}}
        for job in graph.order()
        for ref in graph.jobs[job].outputs
    }


def _span(grain: str, labels: list[str]) -> str:
    if grain == "none" or not labels:
        return "(unpartitioned)"
    values = [partition_value(lab) for lab in labels]
    return values[0] if len(values) == 1 else f"{values[0]} .. {values[-1]}"


def render_grid(states: dict[str, dict[str, Any]]) -> list[str]:
    """One grid per grain, finest first, each headed by its grain and first .. last partition:
    one row per dataset, one column per partition; then a legend and why lines."""
    if not states:
        return ["no datasets: no job declares outputs yet"]
    sections = grain_sections(states)
    width = max(len(name) for name in [*states, *(grain for grain, _, _ in sections)])
    lines: list[str] = []
    for grain, paths, labels in sections:
        if lines:
            lines.append("")
        lines.append(f"{grain:<{width}}  {_span(grain, labels)}")
        for path in paths:
            cells = states[path]["partitions"]
            row = "".join(SYMBOLS[cells[lab]["state"]] if lab in cells else " " for lab in labels)
            counts = {s: sum(1 for c in cells.values() if c["state"] == s) for s in SYMBOLS}
            summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
            lines.append(f"{path:<{width}}  {row}  {summary}")
    lines.append("legend: # complete   . missing   F failed   s stale (will rerun)")
    stale = [
        f"  {path} {lab}: {cell['why']}"
        for _, paths, _ in sections
        for path in paths
        for lab, cell in states[path]["partitions"].items()
        if cell["state"] in ("stale", "failed") and cell.get("why")
    ]
    if stale:
        lines.append("why:")
        lines += stale[:20] + ([f"  ... {len(stale) - 20} more"] if len(stale) > 20 else [])
    return lines
