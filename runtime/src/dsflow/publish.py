"""Staging and atomic publication of partitions.

A job writes into a staging folder beside the final one (``_staging-<run id>``: readers skip
``_``-prefixed folders). Publishing writes ``_SUCCESS`` and ``_dsflow.json`` into it, then swaps
it with the published partition in one ``renameat2(RENAME_EXCHANGE)`` call, so a reader sees
the old partition or the new one, never a mix or a gap. A killed run leaves only a staging
folder, removed by the next run of the same job.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
from pathlib import Path
from typing import Any

from .datastore import METADATA, SUCCESS

STAGING_PREFIX = "_staging-"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def staging_dir(dataset_dir: Path, run_id: str, job: str, partition: str) -> Path:
    """Create and return an empty staging folder for ``job``'s ``partition`` in ``dataset_dir``."""
    path = dataset_dir / f"{STAGING_PREFIX}{job}-{_key(partition)}-{run_id}"
    path.mkdir(parents=True)
    return path


def clean_stale_staging(dataset_dir: Path, job: str, partition: str) -> None:
    """Remove staging folders a killed run of ``job`` for ``partition`` left behind (the
    caller holds that partition's lock; other partitions may be running right now)."""
    if dataset_dir.is_dir():
        for path in dataset_dir.glob(f"{STAGING_PREFIX}{job}-{_key(partition)}-*"):
            shutil.rmtree(path, ignore_errors=True)


def _key(partition: str) -> str:
    return partition or "all"


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two existing paths; False when the OS or filesystem cannot."""
    renameat2 = getattr(_libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def publish(staging: Path, final: Path, metadata: dict[str, Any]) -> None:
    """Mark ``staging`` complete and make it ``final``, replacing what was there atomically."""
    (staging / METADATA).write_text(json.dumps(metadata, indent=2, default=str) + "\n")
    (staging / SUCCESS).write_text("")
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        if not _exchange(staging, final):
            # no renameat2 (non-Linux): two renames, with a short window showing no partition
            old = staging.with_name(staging.name + "-old")
            final.rename(old)
            staging.rename(final)
            staging = old
        shutil.rmtree(staging, ignore_errors=True)  # now holds the previous partition
    else:
        staging.rename(final)
