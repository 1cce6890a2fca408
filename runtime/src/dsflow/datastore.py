"""The datastore's layout, read side: where datasets, partitions and run reports live, which
partitions are complete, and what their metadata says.

::

    datastore/
      raw/<dataset>/ds=2024-01-02/...              hourly: ds=2024-01-02/hr=05/
      tables/<table>/ds=2024-01-02/                _SUCCESS, _dsflow.json, *.parquet
      job_runs/<job>/ds=2024-01-02/                run.json, report.html or log.txt
      job_runs/<job>/unpartitioned/                a job of grain none
      job_runs/<job>/kernel.log                    its notebook kernels' own output

A partition is complete when it holds ``_SUCCESS``, which :mod:`dsflow.publish` writes before
the atomic swap; ``_``- and ``.``-prefixed folders (staging, hidden) are never partitions.
This module only reads, and imports nothing that runs jobs: the read-only views (``just
status``, ``just tree``, the explorer) stand on it alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import DsflowError
from .partitions import Partition, parse_partition, parse_partition_path, partition_value
from .project import current_project
from .settings import Settings, load_settings
from .specs import DatasetRef

SUCCESS = "_SUCCESS"
KERNEL_LOG = "kernel.log"
# jupytext notebooks converted once, by content hash (outside the datastore: not data)
NOTEBOOK_CACHE = Path(".dsflow") / "cache" / "notebooks"
METADATA = "_dsflow.json"
AREAS = ("raw", "tables", "job_runs")
JOB_RUNS = "job_runs"
UNPARTITIONED = "unpartitioned"  # the report folder of a job of grain none


def current_datastore() -> Path:
    """The datastore of :func:`dsflow.project.current_project` (what jobs and notebooks read)."""
    return load_settings(current_project()).datastore


def dataset_dir(settings: Settings, ref: DatasetRef) -> Path:
    """Folder of a dataset in the datastore."""
    return settings.datastore / ref.area / ref.name


def partition_dir(settings: Settings, ref: DatasetRef, part: Partition) -> Path:
    """Folder of one partition of a dataset (the dataset folder itself when unpartitioned)."""
    return dataset_dir(settings, ref).joinpath(*part.parts)


def job_runs_dir(settings: Settings, job: str) -> Path:
    """``job_runs/<job>/``: the job's run reports, history and partition locks."""
    return settings.datastore / JOB_RUNS / job


def locks_dir(settings: Settings, job: str) -> Path:
    """``job_runs/<job>/.locks/``: one lock file per partition (see :mod:`dsflow.locks`)."""
    return job_runs_dir(settings, job) / ".locks"


def report_dir(settings: Settings, job: str, part: Partition) -> Path:
    """Where a partition's run report goes: ``job_runs/<job>/<partition folders>/``."""
    return job_runs_dir(settings, job).joinpath(*(part.parts or [UNPARTITIONED]))


def is_visible(path: Path) -> bool:
    """False for ``_``-prefixed (staging, markers) and ``.``-prefixed (hidden) names."""
    return not path.name.startswith(("_", "."))


def is_complete(folder: Path) -> bool:
    """True when the partition ``folder`` was published (it holds ``_SUCCESS``)."""
    return (folder / SUCCESS).is_file()


def partition_folders(folder: Path, key: str = "ds") -> list[Path]:
    """The ``<key>=...`` sub-folders of ``folder`` (complete or not), sorted; none when it
    does not exist."""
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if p.is_dir() and list(parse_partition_path(p.name)) == [key]
    )


def complete_partitions(folder: Path) -> list[Path]:
    """Complete partition folders of a dataset (``ds=*`` or ``ds=*/hr=*``), sorted by key; the
    dataset folder itself when it is a complete unpartitioned one."""
    if is_complete(folder):
        return [folder]
    found = []
    for day in partition_folders(folder, "ds"):
        if is_complete(day):
            found.append(day)
        else:
            found += [h for h in partition_folders(day, "hr") if is_complete(h)]
    return found


def dataset_partitions(settings: Settings, ref: DatasetRef, grain: str) -> list[Partition]:
    """The complete partitions of dataset ``ref`` that are partitions of ``grain``, sorted
    (those of another grain are not the reader's to read)."""
    folder = dataset_dir(settings, ref)
    found = []
    for path in complete_partitions(folder):
        try:
            found.append(parse_partition(partition_value(path.relative_to(folder)), grain))
        except DsflowError:
            continue
    return sorted(found)


def read_meta(folder: Path) -> dict[str, Any] | None:
    """A published partition's ``_dsflow.json`` (job, run_id, hashes, upstream, rows, kind,
    grain, published_at), or None when it has none or it cannot be read."""
    try:
        meta = json.loads((folder / METADATA).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def run_id(folder: Path) -> str | None:
    """The run that published partition ``folder``, or None."""
    return (read_meta(folder) or {}).get("run_id")


def recorded_grain(folder: Path) -> str | None:
    """The grain the dataset's latest complete partition was published with (None if unknown)."""
    for part in reversed(complete_partitions(folder)):
        grain = (read_meta(part) or {}).get("grain")
        if grain:
            return str(grain)
    return None
