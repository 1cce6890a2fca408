"""What a backfill shows: one line per run outcome and a progress line (plain), or one live
display (a terminal); each run's own lines in its run.log; ``verbose=true`` streams them.

The jobs are command-line scripts (no Spark): ``a`` writes a raw file per day and prints two
lines (after 0.6 s: long enough for the display to show it running), ``b`` reads it and fails on 2024-01-02, ``c`` reads ``b`` (blocked on that day).
"""

from __future__ import annotations

import io
import re
import sys
import threading
from pathlib import Path

import pytest
from dsflow import progress
from dsflow.backfill import Task
from dsflow.cli import main
from dsflow.output import capture, routed, say
from dsflow.partitions import parse_partition
from dsflow.project import PROJECT_ROOT_ENV

from .conftest import job_spec

pytestmark = pytest.mark.timeout(60)

WRITER = """
import json, os, pathlib, sys, time
specs = json.loads(os.environ["TASK_SPECS"])
time.sleep(float(specs.get("sleep", 0)))
for n in range(int(specs.get("lines", 2))):
    print(f"hello from {specs['job_name']} {specs['ds']} line {n}")
if specs["ds"] in specs.get("fail_on", ""):
    sys.exit(f"no data for {specs['ds']}")
pathlib.Path(specs["sink_path"], "out.txt").write_text("xy")
"""


@pytest.fixture
def project(project_root: Path, make_job, monkeypatch: pytest.MonkeyPatch) -> Path:
    """a -> b -> c; b fails on 2024-01-02; the test runs from the project's folder."""
    monkeypatch.setenv(PROJECT_ROOT_ENV, str(project_root))
    monkeypatch.chdir(project_root)
    files = {"job.py": WRITER}
    make_job("a", job_spec("a", outputs=["raw/a"], job_parameters={"sleep": 0.6}), files)
    params = {"fail_on": "2024-01-02"}
    make_job("b", job_spec("b", inputs=["raw/a"], outputs=["raw/b"], job_parameters=params), files)
    make_job("c", job_spec("c", inputs=["raw/b"], outputs=["raw/c"]), files)
    return project_root


def backfill(*args: str) -> int:
    """``just backfill`` in this process: its exit status."""
    try:
        return main(["backfill", *args])
    except SystemExit as exc:  # a failed run: _run_plan exits 1
        return int(exc.code or 0)


def normal(text: str) -> list[str]:
    """The lines, with durations and elapsed seconds replaced (they vary)."""
    text = re.sub(r" in \d+\.\d s ", " in _ s ", text)
    text = re.sub(r" - \d+ s$", " - _ s", text, flags=re.M)
    return re.sub(r"^done in \d+ s", "done in _ s", text, flags=re.M).splitlines()


def test_plain_output_is_one_line_per_outcome_and_the_runs_lines_are_in_their_logs(project, capfd):
    assert backfill("start=2024-01-01", "end=2024-01-01", "job=a+") == 0
    out, err = capfd.readouterr()
    assert normal(out) == [
        "3 runs to do, 0 partitions up to date; parallel=1",
        "  a ds=2024-01-01: missing",
        "  b ds=2024-01-01: missing",
        "  c ds=2024-01-01: missing",
        "ok a ds=2024-01-01 in _ s -> raw/a/ds=2024-01-01 (1 file, 2 B)",
        "[1/3] ok 1, failed 0, blocked 0, running 0 - _ s",
        "ok b ds=2024-01-01 in _ s -> raw/b/ds=2024-01-01 (1 file, 2 B)",
        "[2/3] ok 2, failed 0, blocked 0, running 0 - _ s",
        "ok c ds=2024-01-01 in _ s -> raw/c/ds=2024-01-01 (1 file, 2 B)",
        "[3/3] ok 3, failed 0, blocked 0, running 0 - _ s",
        "done in _ s: 3 published, 0 up to date, 0 failed, 0 blocked",
    ]
    assert err == ""
    reports = project / "datastore/job_runs/a/ds=2024-01-01"
    log = normal((reports / "run.log").read_text())
    assert log == [
        "run a ds=2024-01-01: job.py (command-line)",
        "hello from a 2024-01-01 line 0",
        "hello from a 2024-01-01 line 1",
        f"ok a ds=2024-01-01 in _ s -> raw/a/ds=2024-01-01 (1 file, 2 B); report: {reports}/log.txt",
    ]


def test_a_failure_shows_its_error_and_log_and_blocks_its_downstream(project, capfd):
    assert backfill("start=2024-01-02", "end=2024-01-02") == 1
    out = normal(capfd.readouterr().out)
    log = Path("datastore/job_runs/b/ds=2024-01-02/run.log")
    report = project / "datastore/job_runs/b/ds=2024-01-02/log.txt"
    assert out[4:] == [
        "ok a ds=2024-01-02 in _ s -> raw/a/ds=2024-01-02 (1 file, 2 B)",
        "[1/3] ok 1, failed 0, blocked 0, running 0 - _ s",
        f"FAILED b ds=2024-01-02: job.py exited 1: no data for 2024-01-02 (log: {log})",
        "[2/3] ok 1, failed 1, blocked 0, running 0 - _ s",
        "BLOCKED c ds=2024-01-02: upstream b ds=2024-01-02 did not publish",
        "[3/3] ok 1, failed 1, blocked 1, running 0 - _ s",
        "done in _ s: 1 published, 0 up to date, 1 failed, 1 blocked",
        "  FAILED  b ds=2024-01-02: b ds=2024-01-02 failed: job.py exited 1: no data for "
        f"2024-01-02; report: {report} (log: {log})",
        "  BLOCKED c ds=2024-01-02: upstream b ds=2024-01-02 did not publish",
    ]
    assert (project / log).read_text().splitlines() == [
        "run b ds=2024-01-02: job.py (command-line)",
        "hello from b 2024-01-02 line 0",
        "hello from b 2024-01-02 line 1",
        "dsflow: error: b ds=2024-01-02 failed: job.py exited 1: no data for 2024-01-02; "
        f"report: {report}",
    ]
    assert not (project / "datastore/job_runs/c/ds=2024-01-02/run.log").exists()  # never ran


def test_verbose_streams_every_runs_lines_and_writes_no_run_log(project, capfd):
    assert backfill("start=2024-01-01", "end=2024-01-01", "job=a", "verbose=true") == 0
    out = normal(capfd.readouterr().out)
    reports = project / "datastore/job_runs/a/ds=2024-01-01"
    assert out[2:] == [
        "run a ds=2024-01-01: job.py (command-line)",
        "hello from a 2024-01-01 line 0",
        "hello from a 2024-01-01 line 1",
        f"ok a ds=2024-01-01 in _ s -> raw/a/ds=2024-01-01 (1 file, 2 B); report: {reports}/log.txt",
        "[1/1] ok 1, failed 0, blocked 0, running 0 - _ s",
        "done in _ s: 1 published, 0 up to date, 0 failed, 0 blocked",
    ]
    assert not (reports / "run.log").exists()


def test_parallel_runs_never_cut_into_each_others_lines(project, capfd, make_job):
    """Two jobs (p, and q downstream) printing 300 lines each, four days, two at a time: the terminal shows whole
    lines only, none of theirs; each log holds its own run's lines, all of them, in order."""
    lines = {"lines": 300}
    make_job("p", job_spec("p", outputs=["raw/p"], job_parameters=lines), {"job.py": WRITER})
    q = job_spec("q", inputs=["raw/p"], outputs=["raw/q"], job_parameters=lines)
    make_job("q", q, {"job.py": WRITER})
    assert backfill("start=2024-01-01", "end=2024-01-04", "job=p+", "parallel=2") == 0
    out = capfd.readouterr().out.splitlines()
    shapes = (
        r"8 runs to do, 0 partitions up to date; parallel=2",
        r"  [pq] ds=2024-01-0\d: missing",
        r"ok [pq] ds=2024-01-0\d in \d+\.\d s -> raw/[pq]/ds=2024-01-0\d \(1 file, 2 B\)",
        r"\[\d/8\] ok \d, failed 0, blocked 0, running [012] - \d+ s",
        r"done in \d+ s: 8 published, 0 up to date, 0 failed, 0 blocked",
    )
    strays = [line for line in out if not any(re.fullmatch(s, line) for s in shapes)]
    assert strays == []
    assert len(out) == 1 + 8 + 8 * 2 + 1
    for name in ("p", "q"):
        for day in range(1, 5):
            ds = f"2024-01-0{day}"
            log = (project / f"datastore/job_runs/{name}/ds={ds}/run.log").read_text()
            lines = log.splitlines()
            assert lines[1:301] == [f"hello from {name} {ds} line {n}" for n in range(300)]
            assert lines[0].startswith(f"run {name} ds={ds}") and lines[-1].startswith(f"ok {name}")


def test_a_terminal_gets_one_live_display_then_the_summary(project, capsys, monkeypatch):
    """rich on a forced terminal: the display counts done/total and estimates the time left;
    the outcome lines print above it, the summary after it; nothing goes to plain stdout."""
    screen = io.StringIO()
    from rich.console import Console

    console = Console(file=screen, force_terminal=True, width=160, color_system=None)
    opened = progress.open_display

    def on_terminal(todo, parallel, verbose=False, console_=None):  # noqa: ANN001, ARG001
        return opened(todo, parallel, verbose, console)

    monkeypatch.setattr(progress, "open_display", on_terminal)
    assert backfill("start=2024-01-01", "end=2024-01-01", "job=a+") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "3 runs to do, 0 partitions up to date; parallel=1"
    assert "ok a" not in out and "hello" not in out  # all of it went to the terminal's display
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())  # cursor moves
    assert re.search(r"0/3  ok 0, failed 0, blocked 0  0:0\d elapsed, ETA \?", shown)
    assert re.search(r"1/3  ok 1, failed 0, blocked 0  0:0\d elapsed, ETA 0:0\d", shown)
    assert re.search(r"running 1: [abc] ds=2024-01-01 \(0:0\d\)", shown)
    assert "ok b ds=2024-01-01 in " in shown and "hello" not in shown
    last = [line.strip() for line in shown.splitlines() if line.strip()][-1]
    assert re.fullmatch(r"done in \d+ s: 3 published, 0 up to date, 0 failed, 0 blocked", last)


# ------------------------------------------------------------------ the pieces


def test_say_prints_whole_lines_outside_a_capture_and_logs_inside(tmp_path, capsys):
    say("to stdout")
    say("to stderr", err=True)
    log = tmp_path / "run" / "run.log"
    with capture(log) as run_log:
        assert not log.exists()  # created at the first line only
        say("into the log")
        say("a warning", err=True)
        assert run_log.written
    assert capsys.readouterr() == ("to stdout\n", "to stderr\n")
    assert log.read_text() == "into the log\na warning\n"


def test_routed_streams_go_to_the_capturing_threads_log(tmp_path, capsys):
    """Under routed(), a capturing thread's print() and sys.stdout.buffer writes (a job's
    output copied there) go to its log; other threads' writes pass through."""

    def worker(name: str) -> None:
        with capture(tmp_path / f"{name}.log"):
            print(f"{name} printed")
            sys.stdout.buffer.write(f"{name} bytes\n".encode())
            print(f"{name} warned", file=sys.stderr)

    with routed():
        threads = [threading.Thread(target=worker, args=(n,)) for n in ("one", "two")]
        for thread in threads:
            thread.start()
        print("main thread")
        for thread in threads:
            thread.join()
    assert capsys.readouterr() == ("main thread\n", "")
    for name in ("one", "two"):
        text = (tmp_path / f"{name}.log").read_text()
        assert text == f"{name} printed\n{name} bytes\n{name} warned\n"


def test_eta_is_the_median_run_time_over_the_workers():
    day = parse_partition("2024-01-01", "daily")
    todo = [Task(f"j{n}", day, "missing") for n in range(6)]
    for task, seconds in zip(todo[:3], (2.0, 4.0, 30.0), strict=True):
        task.status, task.seconds = "success", seconds
    display = progress.Progress(todo, parallel=2)
    assert display.eta() == 3 * 4.0 / 2  # three runs left, 4 s each (the median), two at a time
    assert progress.Progress(todo[3:], parallel=2).eta() is None  # nothing finished yet
    assert [progress.clock(s) for s in (7, 750, 3723)] == ["0:07", "12:30", "1:02:03"]


def test_a_long_plan_on_a_terminal_is_one_line_per_job():
    """On a terminal a 30-day plan is one line per job, so the live display stays in view;
    elsewhere (and in dry runs) every run keeps its line."""
    from dsflow.backfill import plan_lines

    days = [parse_partition(f"2024-01-{d:02d}", "daily") for d in range(1, 31)]
    todo = [Task("a", day, "missing") for day in days]
    todo += [Task("b", day, "code changed" if n < 2 else "upstream a ds=x reruns")
             for n, day in enumerate(days)]  # fmt: skip
    assert plan_lines(todo, compact=True) == [
        "  a: 30 runs, ds=2024-01-01 .. ds=2024-01-30 (30 missing)",
        "  b: 30 runs, ds=2024-01-01 .. ds=2024-01-30 (2 code changed, 28 upstream reruns)",
    ]
    assert len(plan_lines(todo)) == 60 and plan_lines(todo)[0] == "  a ds=2024-01-01: missing"
