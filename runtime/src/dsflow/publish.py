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

A datastore whose filesystem cannot rename a folder atomically (a bucket mounted with gcsfuse
or s3fs) publishes with ``datastore_publish: success-last`` instead, the commit protocol of
Hadoop's ``_SUCCESS`` marker, with no folder renamed:

1. remove every output partition's ``_SUCCESS`` (readers now skip them), then their files
   (a table's ``_schema.json`` stays);
2. move the staged files in, one file at a time, and write ``_dsflow.json``;
3. write each ``_SUCCESS`` last: the partitions are complete again, with this run's files only.

A reader that checks ``_SUCCESS`` sees the previous partition, none, or the new one, and a
run's outputs are never shown beside the previous run's (at worst some new, some missing); a
kill or a failure between 1 and 3 leaves partitions incomplete (``just status`` shows them
missing, the next backfill runs them; the previous data is gone, unlike with ``swap``). The
journal stays until the next run of the partition has published every output, so readers of
a job's outputs wait as with ``swap``; nothing is put back. A reader that had listed a
partition's files just before step 1 can miss some: runs and readers should not overlap.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
from pathlib import Path
from typing import Any

from .contracts import CONTRACT_FILE
from .datastore import METADATA, SUCCESS
from .errors import about_path
from .faults import checkpoint
from .settings import PUBLISH_MODES

STAGING_PREFIX = "_staging-"
# an atomic folder exchange (the default); no folder renamed: clear, move files in, _SUCCESS last
SWAP, SUCCESS_LAST = PUBLISH_MODES
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


def publish(staging: Path, final: Path, metadata: dict[str, Any], mode: str = SWAP) -> None:
    """Mark ``staging`` complete and make it ``final``, replacing what was there: atomically
    (``swap``), or by ``success-last`` on a filesystem without an atomic folder rename."""
    if mode == SUCCESS_LAST:
        _publish_success_last([(staging, final, metadata)])
        return
    _mark(staging, metadata)
    checkpoint("marked")
    existed = _swap(staging, final)
    checkpoint("swapped")
    if existed:
        shutil.rmtree(staging, ignore_errors=True)  # now holds the previous partition


JOURNAL = ".publishing.json"


def publish_all(
    outputs: list[tuple[Path, Path, dict[str, Any]]], journal_dir: Path, mode: str = SWAP
) -> None:
    """Publish every ``(staging, final, metadata)`` of one run, all of them or none.

    Raises what made a swap fail, after putting back the partitions already swapped. With
    ``success-last`` nothing can be put back: the journal stays, so that readers of the
    outputs wait until a run publishes them all (see the module's docstring).
    """
    journal = journal_dir / JOURNAL
    if len(outputs) == 1:
        publish(*outputs[0], mode=mode)
        journal.unlink(missing_ok=True)  # a success-last publish's, kept until now
        return
    if mode == SWAP:  # success-last writes the metadata into the final folder itself
        for staging, _, metadata in outputs:
            _mark(staging, metadata)
        checkpoint("marked")
    entries = [
        {"staging": str(s), "final": str(f), "existed": f.exists(), "run_id": m.get("run_id"),
         "mode": mode}
        for s, f, m in outputs
    ]  # fmt: skip
    _write_durably(journal, json.dumps(entries, indent=2) + "\n")
    checkpoint("journaled")
    if mode == SUCCESS_LAST:
        _publish_success_last(outputs)
        journal.unlink()
        return
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


def _publish_success_last(outputs: list[tuple[Path, Path, dict[str, Any]]]) -> None:
    """``success-last``: unpublish every output, move the staged files in, then write each
    ``_SUCCESS``; no folder is renamed."""
    for _, final, _ in outputs:
        final.mkdir(parents=True, exist_ok=True)
        with about_path(final / SUCCESS):
            (final / SUCCESS).unlink(missing_ok=True)
        checkpoint("unpublished")
    for staging, final, metadata in outputs:
        _replace_files(staging, final, metadata)
        checkpoint("copied")
    for staging, final, _ in outputs:
        with about_path(final / SUCCESS):
            (final / SUCCESS).write_text("")
        checkpoint("swapped")
        shutil.rmtree(staging, ignore_errors=True)


def _replace_files(staging: Path, final: Path, metadata: dict[str, Any]) -> None:
    """Empty the unpublished ``final`` (its table contract aside) and move ``staging``'s files
    into it with their metadata; a folder inside is copied (a bucket cannot rename one)."""
    for old in list(final.iterdir()):  # listed first: deleting while listing, over FUSE
        if old.name == CONTRACT_FILE:  # replaced below when the run brings one
            continue
        with about_path(old):
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old)
            else:
                old.unlink()
    for new in list(staging.iterdir()):
        if new.name == SUCCESS:  # Spark's committer writes one: final's comes last, apart
            continue
        with about_path(final / new.name):
            if new.is_dir() and not new.is_symlink():
                shutil.copytree(new, final / new.name, copy_function=shutil.copyfile)
            else:
                os.replace(new, final / new.name)  # a file: a bucket mount moves it server-side
    with about_path(final / METADATA):
        (final / METADATA).write_text(json.dumps(metadata, indent=2, default=str) + "\n")


def recover(journal_dir: Path) -> list[str]:
    """Undo a multi-output publish a killed run left half-done (the caller holds the
    partition's lock); returns the partitions put back. A ``success-last`` publish cannot be
    undone: its journal stays until the run about to start publishes every output again."""
    journal = journal_dir / JOURNAL
    try:
        entries = json.loads(journal.read_text())
    except FileNotFoundError:
        return []
    except ValueError:  # killed while writing it: nothing was swapped yet
        journal.unlink()
        return []
    if any(e.get("mode") == SUCCESS_LAST for e in entries):
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
