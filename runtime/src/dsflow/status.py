"""``just status``: datasets x partitions — complete, missing, failed, stale — as a grid or JSON."""

from __future__ import annotations

from typing import Any

from .datastore import complete_partitions, dataset_dir, is_complete, partition_dir, report_dir
from .graph import Graph
from .partitions import (
    default_partition,
    parse_partition,
    parse_partition_path,
    partition_value,
    shift,
)
from .reports import read_record
from .settings import Settings
from .staleness import job_partitions, stale_reason

SYMBOLS = {"complete": "#", "missing": ".", "failed": "F", "stale": "s"}


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


def default_range(settings: Settings, graph: Graph, days: int = 14) -> tuple[str, str]:
    """The ``days`` days up to the latest published partition of any job's output (up to
    yesterday, UTC, when nothing is published yet)."""
    latest = []
    for spec in graph.jobs.values():
        for ref in spec.outputs:
            folder = dataset_dir(settings, ref)
            for path in complete_partitions(folder):
                latest.append(parse_partition_path(path.relative_to(folder)).get("ds", "")[:10])
    day = max((d for d in latest if len(d) == 10), default=None)
    end = parse_partition(day, "daily") if day else default_partition("daily")
    return shift(end, 1 - days).value, end.value


def render_grid(states: dict[str, dict[str, Any]]) -> list[str]:
    """One row per dataset, one column per partition, with a legend and per-row counts."""
    labels = sorted({label for d in states.values() for label in d["partitions"]})
    if not states:
        return ["no datasets: no job declares outputs yet"]
    width = max(len(path) for path in states)
    days = [partition_value(lab) or lab for lab in labels]  # (unpartitioned) shown as it is
    lines = [f"{'':<{width}}  {days[0] if days else ''} .. {days[-1] if days else ''}"]
    for path, data in states.items():
        cells = data["partitions"]
        row = "".join(SYMBOLS[cells[lab]["state"]] if lab in cells else " " for lab in labels)
        counts = {s: sum(1 for c in cells.values() if c["state"] == s) for s in SYMBOLS}
        summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        lines.append(f"{path:<{width}}  {row}  {summary}")
    lines.append("legend: # complete   . missing   F failed   s stale (will rerun)")
    stale = [
        f"  {path} {lab}: {cell['why']}"
        for path, data in states.items()
        for lab, cell in data["partitions"].items()
        if cell["state"] in ("stale", "failed") and cell.get("why")
    ]
    if stale:
        lines.append("why:")
        lines += stale[:20] + ([f"  ... {len(stale) - 20} more"] if len(stale) > 20 else [])
    return lines
