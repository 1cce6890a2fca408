"""``just backfill`` and ``just pipeline``: many (job, partition) runs, planned from the job graph.

Planning decides, for every job and partition in the range, whether to run it and *why*:
missing, forced, last run failed, code changed, parameters changed, an upstream partition
changed, or an upstream run in this backfill. Up-to-date partitions are skipped.

Execution runs independent tasks in parallel (``parallel=N`` worker threads, in this process),
with warm kernels (one per worker and job) and, once a notebook is about to run, the project's
Spark Connect server (started for the backfill and stopped after, unless it was already
running). Every task keeps the single-run protocol: lock, staging, checks, atomic publish, its
own report. A failure blocks the tasks downstream of it, never independent ones.

What each run prints goes to its own log (``run.log`` in its report folder) and the terminal
shows one line per outcome, under a progress display (:mod:`dsflow.progress`); ``verbose=true``
streams the runs' lines instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .datastore import is_complete, partition_dir, report_dir
from .errors import DsflowError
from .graph import Graph
from .mapping import input_span
from .partitions import Partition, period, range_bound
from .project import Project
from .settings import Settings
from .staleness import job_partitions, stale_reason

if TYPE_CHECKING:
    from .progress import Progress
    from .runner import RunResult

LARGE_RANGE = 10_000


@dataclass
class Task:
    """One (job, partition) of a plan; ``reason`` is None when it is up to date (skipped)."""

    job: str
    part: Partition
    reason: str | None
    deps: list[tuple[str, Partition]] = field(default_factory=list)
    status: str = "pending"  # pending, running, success, failed, blocked, skipped, waiting
    error: str = ""
    seconds: float | None = None  # how long its run took
    outputs: str = ""  # what a successful run published
    log: Path | None = None  # the run's log, once it holds a line

    @property
    def key(self) -> tuple[str, Partition]:
        return (self.job, self.part)

    @property
    def label(self) -> str:
        return f"{self.job} {self.part.label}"


def _needed(
    settings: Settings, graph: Graph, job: str, part: Partition, planned: dict[str, list]
) -> tuple[list, str | None]:
    """(writer, partition) pairs of the plan that (job, part) must wait for, and why the
    run must wait for data the plan will not make (None when it need not): a coarser job's
    period whose finer partitions are neither published nor planned."""
    spec = graph.jobs[job]
    grains = graph.input_grains(settings, spec)
    deps, waits = [], None
    for ref in spec.inputs:
        writer = graph.writers.get(ref.path)
        if ref.external or writer is None:
            continue
        own = writer == job
        span = input_span(part, ref, grains[ref.path], own)
        theirs = planned.get(writer, [])
        if span.upto is not None:
            end = period(span.upto)[1]
            wanted = [p for p in theirs if period(p)[1] <= end]
        else:
            wanted = list(span.parts)
        deps += [(writer, p) for p in wanted if p in theirs and (writer, p) != (job, part)]
        if span.complete_period and not ref.partial and waits is None:
            absent = [
                p
                for p in span.parts
                if p not in theirs and not is_complete(partition_dir(settings, ref, p))
            ]
            if absent:
                waits = (
                    f"waits for {ref.path}: {len(absent)} of {len(span.parts)} partitions "
                    f"of {part.label} not published, first {absent[0].label}"
                )
    return deps, waits


def plan(
    settings: Settings, graph: Graph, jobs: list[str], start: str, end: str, force: bool
) -> list[Task]:
    """Tasks for ``jobs`` (in dependency order) over ``start``..``end``, each with its reason.

    A coarser job whose period is not whole yet (its finer input partitions are neither
    published nor in the plan) waits: it is listed, not run, and is no failure."""
    planned = job_partitions(graph, jobs, start, end)
    tasks: dict[tuple[str, Partition], Task] = {}
    for job in jobs:
        for part in planned[job]:
            deps, waits = _needed(settings, graph, job, part, planned)
            held = next((d for d in deps if tasks[d].status == "waiting"), None)
            if held and not waits:
                waits = f"waits for upstream {held[0]} {held[1].label}"
            if waits:
                tasks[(job, part)] = Task(job, part, None, deps, status="waiting", error=waits)
                continue
            if force:
                reason = "forced"
            else:
                reason = stale_reason(settings, graph, job, part)
                if reason is None:
                    rerun = next((d for d in deps if tasks[d].reason), None)
                    if rerun:
                        reason = f"upstream {rerun[0]} {rerun[1].label} reruns"
            tasks[(job, part)] = Task(job, part, reason, deps)
    return list(tasks.values())


def check_size(graph: Graph, jobs: list[str], start: str, end: str, confirmed: bool) -> int:
    """Number of (job, partition) pairs; a range of LARGE_RANGE or more must be confirmed."""
    for name in jobs:
        grain = graph.jobs[name].grain
        if grain == "none":
            continue
        first, last = range_bound(start, grain, False), range_bound(end, grain, True)
        if first > last:
            raise DsflowError(f"start {first.value} is after end {last.value}")
        count = _count(first, last)
        if count >= LARGE_RANGE and not confirmed:
            raise DsflowError(
                f"{start}..{end} is {count} {grain} partitions for job {name}: "
                "confirm with confirm=true, or narrow the range"
            )
    return sum(len(v) for v in job_partitions(graph, jobs, start, end).values())


def _count(first: Partition, last: Partition) -> int:
    from datetime import datetime

    if first.grain == "hourly":
        fmt = "%Y-%m-%dT%H"
        delta = datetime.strptime(last.value, fmt) - datetime.strptime(first.value, fmt)
        return int(delta.total_seconds() // 3600) + 1
    if first.grain == "yearly":
        return int(last.value) - int(first.value) + 1
    if first.grain == "monthly":
        y1, m1 = map(int, first.value.split("-"))
        y2, m2 = map(int, last.value.split("-"))
        return (y2 * 12 + m2) - (y1 * 12 + m1) + 1
    days = (datetime.fromisoformat(last.value) - datetime.fromisoformat(first.value)).days
    return days // 7 + 1 if first.grain == "weekly" else days + 1


def print_plan(tasks: list[Task]) -> None:
    width = max((len(t.label) for t in tasks), default=0)
    for task in tasks:
        if task.status == "waiting":
            what = f"wait  ({task.error})"
        else:
            what = f"run   ({task.reason})" if task.reason else "skip  (up to date)"
        print(f"  {task.label:<{width}}  {what}")
    runs = sum(1 for t in tasks if t.reason)
    waiting = sum(1 for t in tasks if t.status == "waiting")
    print(
        f"plan: {runs} to run, {len(tasks) - runs - waiting} up to date"
        + (f", {waiting} waiting for their period's data" if waiting else "")
    )


def plan_lines(todo: list[Task], compact: bool = False) -> list[str]:
    """The runs to do, one line each (``  job ds=...: reason``), or with ``compact`` one line
    per job: its count, first and last partition, and its reasons counted."""
    if not compact:
        return [f"  {task.label}: {task.reason}" for task in todo]
    by_job: dict[str, list[Task]] = {}
    for task in todo:
        by_job.setdefault(task.job, []).append(task)
    lines = []
    for job, tasks in by_job.items():
        reasons: dict[str, int] = {}
        for task in tasks:
            reason = str(task.reason)
            key = "upstream reruns" if reason.startswith("upstream") else reason
            reasons[key] = reasons.get(key, 0) + 1
        counted = ", ".join(f"{n} {reason}" for reason, n in reasons.items())
        first, last = tasks[0].part.label, tasks[-1].part.label
        span = first if len(tasks) == 1 else f"{first} .. {last}"
        lines.append(f"  {job}: {len(tasks)} run{'s' * (len(tasks) > 1)}, {span} ({counted})")
    return lines


def execute(
    project: Project,
    tasks: list[Task],
    parallel: int,
    needs_spark: Callable[[Task], bool] | None = None,
    start_spark: Callable[[], None] | None = None,
    display: Progress | None = None,
    logs: bool = False,
) -> list[Task]:
    """Run the plan's tasks, ``parallel`` at a time, dependencies first; returns the tasks.

    ``start_spark`` is called once, from this thread, just before the first task for which
    ``needs_spark`` is true starts: a plan whose Spark jobs end up blocked (their download
    failed) never pays for a JVM.

    ``logs`` sends what each run prints (and a command-line job's output) to its ``run.log``,
    and ``display`` (plain lines by default) gets one line per outcome; without ``logs`` the
    runs' lines stream as they come, with the outcomes the runs do not print themselves.
    """
    from .kernels import KernelPool
    from .output import RUN_LOG, capture, routed, say
    from .progress import Progress
    from .runner import run_job

    by_key = {t.key: t for t in tasks}
    for task in tasks:
        if not task.reason and task.status != "waiting":
            task.status = "skipped"
    todo = [t for t in tasks if t.reason]
    display = display or Progress(todo, parallel)
    settings = None
    if logs:
        from .settings import load_settings

        settings = load_settings(project)
    kernels = KernelPool()
    lock = threading.Lock()

    def run(task: Task) -> None:
        begun = time.monotonic()
        with ExitStack() as stack:
            log = None
            if settings is not None:
                path = report_dir(settings, task.job, task.part) / RUN_LOG
                log = stack.enter_context(capture(path))
            status, error = "failed", ""
            try:
                result = run_job(project, task.job, task.part.value, kernels=kernels)
                task.outputs = _published(result) if log is not None else ""
                status = "success"
            except DsflowError as exc:
                error = str(exc)
            except Exception as exc:  # a bug or a dead kernel: still this task's failure only
                error = f"{exc.__class__.__name__}: {exc}"
            if error and log is not None and log.written:  # what `just run` would end with
                say(f"dsflow: error: {error}", err=True)
            task.log = log.path if log is not None and log.written else None
        task.seconds = time.monotonic() - begun
        task.error = error
        task.status = status  # last: the display counts it done from here

    def ended(task: Task) -> None:
        line = outcome_line(task)
        display.finished(task, line if logs or task.status != "success" else None)

    try:
        with ExitStack() as stack:
            if logs:
                stack.enter_context(routed())
            pool = stack.enter_context(ThreadPoolExecutor(max_workers=max(1, parallel)))
            running: dict[Future, Task] = {}
            while True:
                with lock:
                    for task in todo:
                        if task.status != "pending":
                            continue
                        states = [by_key[d].status for d in task.deps if d in by_key]
                        if any(s in ("failed", "blocked") for s in states):
                            task.status = "blocked"
                            bad = next(
                                d for d in task.deps if by_key[d].status in ("failed", "blocked")
                            )
                            task.error = f"upstream {bad[0]} {bad[1].label} did not publish"
                            ended(task)
                        elif all(s in ("success", "skipped") for s in states) and len(
                            running
                        ) < max(1, parallel):
                            if start_spark and needs_spark and needs_spark(task):
                                start_spark()
                                start_spark = None  # once
                            task.status = "running"
                            display.started(task)
                            running[pool.submit(run, task)] = task
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    ended(running.pop(future))
    finally:
        kernels.shutdown()
    return tasks


def _published(result: RunResult) -> str:
    """``raw/x/ds=2024-01-02 (1 file, 2.3 KiB), tables/y/ds=2024-01-02 (4 rows)``, as the
    run's own ok line says it."""
    from .runner import _output_size

    record = result.record
    label = record.get("partition", "")
    shown = [
        f"{path}/{label} ({_output_size(record, path, rows)})"
        for path, rows in record.get("rows", {}).items()
    ]
    return ", ".join(shown) or "no declared outputs"


def outcome_line(task: Task) -> str:
    """The one line a finished, failed or blocked task shows:
    ``ok <job> <partition> in 3.1 s -> <outputs>``, ``FAILED <job> <partition>: <error> (log:
    <path>)``, ``BLOCKED <job> <partition>: upstream ... did not publish``."""
    if task.status == "success":
        return f"ok {task.label} in {task.seconds or 0:.1f} s -> {task.outputs}"
    if task.status == "blocked":
        return f"BLOCKED {task.label}: {task.error}"
    error = (task.error.strip().splitlines() or ["unknown error"])[0]
    if task.log is None:
        return f"FAILED {task.label}: {error}"
    # the log says it all again, with the report's path: the line keeps the cause
    error = error.removeprefix(f"{task.label} failed: ")
    error = error.rsplit("; report: ", 1)[0]
    return f"FAILED {task.label}: {error} (log: {shown_path(task.log)})"


def shown_path(path: Path) -> Path:
    """``path`` relative to the current folder (the project's, under ``just``) when inside it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def summary(tasks: list[Task], elapsed: float, write: Callable[[str], None] | None = None) -> bool:
    """Print the outcome (through ``write``, ``print`` by default); True when nothing failed
    or was blocked."""
    write = write or print
    counts = {
        s: sum(1 for t in tasks if t.status == s)
        for s in ("success", "skipped", "failed", "blocked", "waiting")
    }
    write(
        f"done in {elapsed:.0f} s: {counts['success']} published, {counts['skipped']} up to date, "
        f"{counts['failed']} failed, {counts['blocked']} blocked"
        + (f", {counts['waiting']} waiting for their period's data" if counts["waiting"] else "")
    )
    for task in tasks:
        if task.status in ("failed", "blocked", "waiting"):
            log = f" (log: {shown_path(task.log)})" if task.log else ""
            write(f"  {task.status.upper():<7} {task.label}: {task.error}{log}")
    return counts["failed"] == 0 and counts["blocked"] == 0
