"""One run at a time per (job, partition): an advisory file lock held for the whole run."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import DsflowError


class Busy(DsflowError):
    """Another run holds the lock."""

    exit_code = 3


def _lock_path(lock_dir: Path, label: str) -> Path:
    return lock_dir / (label.replace("/", "__") + ".lock")


def held(lock_dir: Path, label: str) -> bool:
    """True while a live process holds the lock of ``label`` (a killed holder holds nothing)."""
    try:
        fd = os.open(_lock_path(lock_dir, label), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the shared lock taken to probe
    return False


@contextmanager
def partition_lock(lock_dir: Path, job: str, label: str) -> Iterator[None]:
    """Hold the lock of ``(job, partition)``; refuse at once if another process holds it.

    The kernel releases the lock when the holder dies, so a killed run never leaves a
    stale lock behind.
    """
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = _lock_path(lock_dir, label)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            raise Busy(
                f"job {job} {label} is already running (pid {holder}); wait for it to "
                "finish, then run again"
            ) from None
        with contextlib.suppress(OSError):  # the pid is a courtesy: a full disk keeps the lock
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)
