"""Where a run's lines go: the terminal for ``just run``, the run's own log in a backfill.

The runner writes through :func:`say`. Outside :func:`capture` it prints, exactly as a plain
``print`` would. A backfill runs several runs at once on worker threads and wants none of their
lines on the terminal, so each worker wraps its run in ``capture(path)``: that thread's lines go
to the run's log instead. :func:`routed` extends this to what the runner does not write itself
(a command-line job's stdout, which the runner copies to ``sys.stdout.buffer``; a library's
warning on ``sys.stderr``): while it is active, writes to ``sys.stdout`` and ``sys.stderr`` from a
capturing thread go to that thread's log, and everyone else's pass through.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

RUN_LOG = "run.log"  # in the run's report folder, beside run.json and its report

_local = threading.local()


class RunLog:
    """A run's log file, opened (and emptied) at its first line, safe to share between threads.

    Opening late matters: a run refused before it takes its partition's lock (another process
    is running it, an input is missing) must not empty the log of the run that holds it. A log
    that cannot be written (a full disk) drops lines rather than fail the run that writes them:
    the run's own files report the disk.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None
        self._broken = False
        self._lock = threading.Lock()

    @property
    def written(self) -> bool:
        """True once a line went into the file (the path is worth showing)."""
        return self._file is not None and not self._broken

    def write(self, data: bytes) -> None:
        with self._lock:
            if self._broken:
                return
            try:
                if self._file is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    self._file = self.path.open("wb", buffering=0)
                self._file.write(data)
            except OSError:
                self._broken = True

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()


def current() -> RunLog | None:
    """The log this thread's lines go to, or None when they go to the terminal."""
    return getattr(_local, "log", None)


def say(text: str, err: bool = False) -> None:
    """Write one line: to stdout (stderr when ``err``), or to the run's log inside
    :func:`capture`. The line is written whole, in one call, so that lines of parallel writers
    do not cut into each other."""
    log = current()
    if log is not None:
        log.write(f"{text}\n".encode(errors="replace"))
        return
    stream = sys.stderr if err else sys.stdout
    stream.write(f"{text}\n")
    stream.flush()


@contextmanager
def capture(path: Path) -> Iterator[RunLog]:
    """Send this thread's :func:`say` lines (and, under :func:`routed`, its stdout and stderr)
    to the log at ``path``, created at the first line."""
    previous = current()
    log = RunLog(path)
    _local.log = log
    try:
        yield log
    finally:
        _local.log = previous
        log.close()


class _BinaryLog:
    """``sys.stdout.buffer`` as seen from a capturing thread: bytes into its log."""

    def __init__(self, log: RunLog) -> None:
        self._log = log

    def write(self, data: bytes) -> int:
        self._log.write(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


class _Router:
    """Stands in for ``sys.stdout``/``sys.stderr``: a capturing thread's writes go to its log,
    the others' to the stream that was there before."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        log = current()
        if log is None:
            return self._stream.write(text)
        log.write(text.encode(errors="replace"))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if current() is None:
            self._stream.flush()

    @property
    def buffer(self) -> Any:
        # looked up by the thread that starts a job's copying threads: they keep what it got
        log = current()
        return self._stream.buffer if log is None else _BinaryLog(log)

    def isatty(self) -> bool:
        return current() is None and self._stream.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def routed() -> Iterator[None]:
    """Route ``sys.stdout`` and ``sys.stderr`` by thread while active (see the module doc)."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Router(saved[0]), _Router(saved[1])  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
