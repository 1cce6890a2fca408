"""Staging and atomic publication of partitions.

A job writes into a staging folder beside the final one (``_staging-<run id>``: readers skip
``_``-prefixed folders). Publishing writes ``_SUCCESS`` and ``_dsflow.json`` into it, then swaps
it with the published partition in one ``renameat2(RENAME_EXCHANGE)`` call, so a reader sees
the old partition or the new one, never a mix or a gap. A killed run leaves only a staging
folder, removed by the next run of the same job.

A job with several outputs publishes them together (:func:`publish_all`): every partition is
marked first, then swapped in turn; a failure swaps the ones already done back, and a journal
(``.publishing.json`` in the run's report folder) lets the next run of that partition undo a
publish that was killed half-way. Readers may glimpse the mix for the milliseconds between two
swaps; what stays published is always one run's outputs, never two runs' halves.
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
from .errors import about_path
from .faults import checkpoint

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
    _mark(staging, metadata)
    checkpoint("marked")
    existed = _swap(staging, final)
    checkpoint("swapped")
    if existed:
        shutil.rmtree(staging, ignore_errors=True)  # now holds the previous partition


JOURNAL = ".publishing.json"


def publish_all(outputs: list[tuple[Path, Path, dict[str, Any]]], journal_dir: Path) -> None:
    """Publish every ``(staging, final, metadata)`` of one run, all of them or none.

    Raises what made a swap fail, after putting back the partitions already swapped.
    """
    if len(outputs) == 1:
        publish(*outputs[0])
        return
    for staging, _, metadata in outputs:
        _mark(staging, metadata)
    checkpoint("marked")
    journal = journal_dir / JOURNAL
    entries = [
        {"staging": str(s), "final": str(f), "existed": f.exists(), "run_id": m.get("run_id")}
        for s, f, m in outputs
    ]
    _write_durably(journal, json.dumps(entries, indent=2) + "\n")
    checkpoint("journaled")
    done: list[dict[str, Any]] = []
    try:
        for entry in entries:
            _swap(Path(entry["staging"]), Path(entry["final"]))
            done.append(entry)
            checkpoint("swapped")
    except BaseException:
        _undo(done)
        journal.unlink(missing_ok=True)
        raise
    journal.unlink()
    for entry in entries:
        if entry["existed"]:
            shutil.rmtree(entry["staging"], ignore_errors=True)  # the previous partitions


def recover(journal_dir: Path) -> list[str]:
    """Undo a multi-output publish a killed run left half-done (the caller holds the
    partition's lock); returns the partitions put back."""
    journal = journal_dir / JOURNAL
    try:
        entries = json.loads(journal.read_text())
    except FileNotFoundError:
        return []
    except ValueError:  # killed while writing it: nothing was swapped yet
        journal.unlink()
        return []
    swapped = [e for e in entries if _run_id(Path(e["final"])) == e["run_id"]]
    _undo(swapped)
    journal.unlink()
    return [e["final"] for e in swapped]


def _undo(entries: list[dict[str, Any]]) -> None:
    for entry in reversed(entries):
        staging, final = Path(entry["staging"]), Path(entry["final"])
        if entry["existed"] and not staging.is_dir():
            # its previous partition was deleted by hand: keep the new one; the run that
            # recovers republishes every output anyway
            print(f"warning: cannot put back the previous {final}: {staging} is gone")
        elif entry["existed"]:
            _swap(staging, final)  # the previous partition back; the new one into staging
        else:
            final.rename(staging)


def _run_id(final: Path) -> str | None:
    try:
        return json.loads((final / METADATA).read_text()).get("run_id")
    except (OSError, ValueError):
        return None


def _mark(staging: Path, metadata: dict[str, Any]) -> None:
    with about_path(staging / METADATA):
        (staging / METADATA).write_text(json.dumps(metadata, indent=2, default=str) + "\n")
    with about_path(staging / SUCCESS):
        (staging / SUCCESS).write_text("")


def _write_durably(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with about_path(path), tmp.open("w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def _swap(staging: Path, final: Path) -> bool:
    """Make ``staging`` the ``final`` partition; the previous one, if any, ends up at
    ``staging`` (returns True then)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if not final.exists():
        staging.rename(final)
        return False
    if not _exchange(staging, final):
        # no renameat2 (non-Linux): three renames, with a short window showing no partition
        old = staging.with_name(staging.name + "-old")
        final.rename(old)
        staging.rename(final)
        old.rename(staging)
    return True
