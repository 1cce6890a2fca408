"""``just tree``: the datastore at a glance, partitions summarised per table."""

from __future__ import annotations

from pathlib import Path

from .datastore import AREAS, JOB_RUNS, is_complete, partition_folders
from .reports import read_record


def _run_status(folder: Path) -> str:
    try:
        record = read_record(folder)
    except (OSError, ValueError):
        return "?"
    return str(record.get("status", "?")) if record else "?"


def datastore_tree(datastore: Path, max_listed: int = 3) -> list[str]:
    """Lines describing ``raw/``, ``tables/`` and ``job_runs/``: each dataset with its partitions.

    Long partition lists are shortened to the first and last ``max_listed``, with a count of
    the rows left out (always two or more: a single row is shown rather than counted).
    """
    lines = [f"{datastore}/"]
    for area in AREAS:
        base = datastore / area
        lines.append(f"  {area}/")
        if not base.is_dir():
            continue
        children = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not children:
            lines.append("    (empty)")
        for child in children:
            parts = partition_folders(child)
            if not parts:
                files = sum(1 for p in child.rglob("*") if p.is_file())
                lines.append(f"    {child.name}/  ({files} files)")
                continue
            if area == JOB_RUNS:
                marks = {p: _run_status(p) for p in parts}
                failed = sum(1 for m in marks.values() if m == "failed")
                lines.append(f"    {child.name}/  {len(parts)} runs, {failed} failed")
            else:
                marks = {p: "ok" if is_complete(p) else "--" for p in parts}
                done = sum(1 for m in marks.values() if m == "ok")
                lines.append(f"    {child.name}/  {len(parts)} partitions, {done} complete")
            # a "... 1 more" line would take the place of the one row it hides: show the row
            elided = len(parts) - 2 * max_listed if len(parts) > 2 * max_listed + 1 else 0
            shown = parts[:max_listed] + parts[len(parts) - max_listed :] if elided else parts
            for i, part in enumerate(shown):
                if elided and i == max_listed:
                    lines.append(f"      ... {elided} more")
                lines.append(f"      {part.name}  {marks[part]}")
    return lines
