"""The progress of a backfill or pipeline: one live display on a terminal, plain lines elsewhere.

Both show one line per run outcome (``ok ...``, ``FAILED ...``, ``BLOCKED ...``). Plain mode (a
pipe, CI, ``verbose=true``) follows each with ``[done/total] ok N, failed N, blocked N, running
N - S s``. On a terminal a display redrawn in place shows done/total, the counts, which runs are
running, the time elapsed and an estimate of the time left, with the outcome lines printed
above it. rich is imported only when the live display is shown.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from .backfill import Task

DONE = ("success", "failed", "blocked")


class Progress:
    """Plain lines: each outcome, then the ``[done/total] ...`` line (for pipes, logs and CI)."""

    live = False  # True for the terminal's display

    def __init__(self, todo: Sequence[Task], parallel: int) -> None:
        self.todo = list(todo)
        self.parallel = max(1, parallel)
        self.begun = time.monotonic()
        self._starts: dict[tuple[Any, Any], float] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> Progress:
        self.begun = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def line(self, text: str) -> None:
        """Print ``text`` as one whole line."""
        sys.stdout.write(f"{text}\n")
        sys.stdout.flush()

    def started(self, task: Task) -> None:
        """``task`` started running now."""
        with self._lock:
            self._starts[task.key] = time.monotonic()

    def finished(self, task: Task, line: str | None) -> None:
        """``task`` ended (or was blocked): show ``line``, its outcome, when there is one."""
        with self._lock:
            self._starts.pop(task.key, None)
        if line:
            self.line(line)
        self.line(self.status_line())

    def counts(self) -> dict[str, int]:
        """How many runs succeeded, failed, were blocked and are running; ``done`` sums the
        first three."""
        counts = {s: 0 for s in (*DONE, "running")}
        for task in self.todo:
            if task.status in counts:
                counts[task.status] += 1
        counts["done"] = sum(counts[s] for s in DONE)
        return counts

    def elapsed(self) -> float:
        return time.monotonic() - self.begun

    def status_line(self) -> str:
        """``[3/10] ok 3, failed 0, blocked 0, running 2 - 12 s``"""
        c = self.counts()
        return (
            f"[{c['done']}/{len(self.todo)}] ok {c['success']}, failed {c['failed']}, "
            f"blocked {c['blocked']}, running {c['running']} - {self.elapsed():.0f} s"
        )

    def eta(self) -> float | None:
        """Seconds left, or None before a run has finished: the runs left, each taking the
        median time of the finished ones (a running one what is left of that), spread over
        ``parallel`` workers."""
        times = [t.seconds for t in self.todo if t.status in DONE and t.seconds is not None]
        if not times:
            return None
        typical = statistics.median(times)
        now = time.monotonic()
        with self._lock:
            starts = dict(self._starts)
        left = [t for t in self.todo if t.status not in DONE]
        if not left:
            return 0.0
        work = 0.0
        for task in left:
            begun = starts.get(task.key)
            work += typical if begun is None else max(typical - (now - begun), 0.0)
        return work / min(self.parallel, len(left))

    def running(self) -> list[tuple[str, float]]:
        """Label and seconds so far of each running run, longest first."""
        now = time.monotonic()
        with self._lock:
            starts = dict(self._starts)
        shown = [
            (t.label, now - starts.get(t.key, now)) for t in self.todo if t.status == "running"
        ]
        return sorted(shown, key=lambda item: -item[1])


class LiveProgress(Progress):
    """The terminal's display (rich): redrawn in place, outcome lines printed above it, gone
    when the backfill ends (the summary follows)."""

    live = True

    def __init__(self, todo: Sequence[Task], parallel: int, console: Console | None = None) -> None:
        super().__init__(todo, parallel)
        from rich.console import Console

        # the terminal itself, not sys.stdout: that is redirected while the display is up
        self.console = console or Console(file=sys.stdout)
        self._live: Any = None

    def __enter__(self) -> LiveProgress:
        from rich.live import Live

        super().__enter__()
        # stray writes to stdout/stderr (a Spark server's start, a warning) land above it
        self._live = Live(self, console=self.console, refresh_per_second=4, transient=True)
        self._live.start(refresh=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def line(self, text: str) -> None:
        from rich.text import Text

        styles = {"ok": "green", "FAILED": "bold red", "BLOCKED": "yellow"}
        shown = Text(text)
        word = text.split(" ", 1)[0]
        if word in styles:
            shown.stylize(styles[word], 0, len(word))
        self.console.print(shown, highlight=False, soft_wrap=True)

    def finished(self, task: Task, line: str | None) -> None:
        with self._lock:
            self._starts.pop(task.key, None)
        if line:
            self.line(line)

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        c = self.counts()
        total = len(self.todo)
        eta = self.eta()
        top = Table.grid(padding=(0, 1))
        top.add_row(
            ProgressBar(total=max(total, 1), completed=c["done"], width=30),
            Text(
                f"{c['done']}/{total}  ok {c['success']}, failed {c['failed']}, "
                f"blocked {c['blocked']}  {clock(self.elapsed())} elapsed, ETA "
                + ("?" if eta is None else clock(eta))
            ),
        )
        running = self.running()
        names = ", ".join(f"{label} ({clock(seconds)})" for label, seconds in running)
        below = Text(
            f"running {len(running)}" + (f": {names}" if names else ""),
            style="dim",
            no_wrap=True,
            overflow="ellipsis",
        )
        return Group(top, below)


def clock(seconds: float) -> str:
    """``0:07``, ``12:30``, ``1:02:03``."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def on_terminal() -> bool:
    """True when stdout is a terminal that can redraw a display in place."""
    try:
        tty = sys.stdout.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stdout
        return False
    return tty and os.environ.get("TERM", "") != "dumb"


def open_display(
    todo: Sequence[Task], parallel: int, verbose: bool = False, console: Console | None = None
) -> Progress:
    """The display for a backfill of ``todo``: live on a terminal (or on ``console``, given),
    plain lines otherwise and with ``verbose`` (whose streamed run lines a display would
    garble). Nothing to run shows nothing, and costs no import of rich."""
    if todo and (console is not None or (not verbose and on_terminal())):
        return LiveProgress(todo, parallel, console)
    return Progress(todo, parallel)
