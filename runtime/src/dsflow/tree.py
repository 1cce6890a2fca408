"""``just tree``: the datastore at a glance, partitions summarised per table."""

from __future__ import annotations

import json
from pathlib import Path


def _run_status(folder: Path) -> str:
    try:
        return str(json.loads((folder / "run.json").read_text()).get("status", "?"))
    except (OSError, ValueError):
        return "?"


def _partitions(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and "=" in p.name)


def datastore_tree(datastore: Path, max_listed: int = 3) -> list[str]:
    """Lines describing ``raw/``, ``tables/`` and ``job_runs/``: each dataset with its partitions.

    Long partition lists are shortened to the first and last few, with a count.
    """
    lines = [f"{datastore}/"]
    for area in ("raw", "tables", "job_runs"):
        base = datastore / area
        lines.append(f"  {area}/")
        if not base.is_dir():
            continue
        children = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not children:
            lines.append("    (empty)")
        for child in children:
            parts = _partitions(child)
            if not parts:
                files = sum(1 for p in child.rglob("*") if p.is_file())
                lines.append(f"    {child.name}/  ({files} files)")
                continue
            if area == "job_runs":
                marks = {p: _run_status(p) for p in parts}
                failed = sum(1 for m in marks.values() if m == "failed")
                lines.append(f"    {child.name}/  {len(parts)} runs, {failed} failed")
            else:
                marks = {p: "ok" if (p / "_SUCCESS").exists() else "--" for p in parts}
                done = sum(1 for m in marks.values() if m == "ok")
                lines.append(f"    {child.name}/  {len(parts)} partitions, {done} complete")
            shown = (
                parts if len(parts) <= 2 * max_listed else parts[:max_listed] + parts[-max_listed:]
            )
            for i, part in enumerate(shown):
                if len(parts) > 2 * max_listed and i == max_listed:
                    lines.append(f"      ... {len(parts) - 2 * max_listed} more")
                lines.append(f"      {part.name}  {marks[part]}")
    return lines
