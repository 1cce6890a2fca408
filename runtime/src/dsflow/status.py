"""``just status``: datasets x partitions — complete, missing, failed, stale — as one grid per
grain (each dataset on the axis of its own grain) or JSON."""

from __future__ import annotations

import json
import re
from typing import Any

from .datastore import (
    complete_partitions,
    dataset_dir,
    is_complete,
    job_runs_dir,
    locks_dir,
    partition_dir,
    report_dir,
)
from .errors import DsflowError
from .graph import Graph
from .locks import held
from .partitions import default_partition, parse_partition, partition_value, shift
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


def default_range(settings: Settings, graph: Graph, periods: int = 14) -> tuple[str, str]:
    """``(start, end)`` days: ``periods`` periods of the project's finest partitioned grain
    (days for hourly and daily jobs, months when all are monthly) up to the latest published
    partition of any grain of any job's output (its first day; up to yesterday, UTC, when
    nothing is published yet)."""
    latest = []
    for spec in graph.jobs.values():
        for ref in spec.outputs:
            folder = dataset_dir(settings, ref)
            for path in complete_partitions(folder):
                latest.append(_first_day(partition_value(path.relative_to(folder))))
    end_day = max((d for d in latest if d), default=None) or default_partition("daily").value
    grains = {  # 14 hours would hide most of a day: hourly jobs are shown by the day too
        "daily" if s.grain == "hourly" else s.grain
        for s in graph.jobs.values()
        if s.outputs and s.grain in GRAIN_ORDER[:-1]
    }
    window = min(grains, key=GRAIN_ORDER.index, default="daily")
    start = shift(parse_partition(end_day, window), 1 - periods)
    return _first_day(start.value) or end_day, end_day


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
