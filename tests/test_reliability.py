"""Fault injection: runs killed at every step of the run protocol, full and read-only disks.

Every test here ends with the same two facts: no published partition was lost (each is either
byte-identical to what it was before the fault, or wholly the new run's, and a run's two
outputs never disagree), and the next run recovers (exit 0, no staging folder left). The
figures are printed at the end of the test session (tests/conftest.py).

Kills are real SIGKILLs of the `dsflow run` process at named points (``DSFLOW_KILL_AT``, see
dsflow.faults); full and read-only disks are real tmpfs mounts (root only: CI runs as root).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import FIGURES, git, just, listening, move_datastore, own_spark_env
from dsflow.services import process_running

pytestmark = pytest.mark.slow

# writes `label` into every row of each of its outputs (one or two tables); `action` makes it
# misbehave: print a lot, or kill the `dsflow run` process that started it
WRITE_PY = """
import json, os, pathlib, signal, sys, time
import pyarrow as pa, pyarrow.parquet as pq
specs = json.loads(os.environ["TASK_SPECS"])
if specs["action"] == "kill-parent":
    pathlib.Path(specs["pid_file"]).write_text(str(os.getpid()))
    os.kill(os.getppid(), signal.SIGKILL)
    time.sleep(30)  # the kernel kills this process with its parent (PR_SET_PDEATHSIG)
if specs["action"] == "noisy":
    for i in range(40000):
        print(f"line {i}: " + "x" * 100)
n = int(specs["rows"])
for name, sink in sorted(specs["sink_paths"].items()):
    table = pa.table({"id": list(range(n)), "label": [specs["label"]] * n, "table": [name] * n})
    pq.write_table(table, pathlib.Path(sink) / "part-0.parquet")
"""


def spec(name: str, *tables: str, **extra: object) -> str:
    body = {
        "job_name": name,
        "class": "command-line",
        "script": "write.py",
        "outputs": [{"table": t} for t in tables],
        "job_parameters": {"rows": 5, "label": "v0", "action": "none", "pid_file": ""},
        **extra,
    }
    return json.dumps(body, indent=2)


JOBS = {
    "pair": spec("pair", "t_pair_a", "t_pair_b"),
    "fill": spec("fill", "t_fill"),
    "noisy": spec("noisy", "t_noisy"),
    "after-fill": spec("after-fill", "t_after_fill", inputs=[{"table": "t_fill"}]),
    "after-pair": spec("after-pair", "t_after_pair", inputs=[{"table": "t_pair_a"}]),
}
PAIR = ("t_pair_a", "t_pair_b")

# every named point of dsflow.faults.POINTS; "swapped:2" is after the second of two swaps
KILL_POINTS = [
    "locked",
    "staged",
    "executed",
    "checked",
    "marked",
    "journaled",
    "swapped",
    "swapped:2",
    "published",
    "recorded",
    "finished",
]
# after these the new partitions are published whole; before them, the old ones stay
PUBLISHED_AT = {"published", "recorded", "finished"}


@pytest.fixture(scope="module")
def project(env_project: Path):
    for name, text in JOBS.items():
        folder = env_project / "jobs" / name
        folder.mkdir(parents=True)
        (folder / "job_specs.yaml").write_text(text)
        (folder / "write.py").write_text(textwrap.dedent(WRITE_PY))
    git(env_project, "add", "-A")
    git(env_project, "commit", "-q", "-m", "reliability tests")
    yield env_project
    git(env_project, "rm", "-rq", *[f"jobs/{j}" for j in JOBS])
    git(env_project, "commit", "-q", "-m", "remove reliability tests")
    git(env_project, "clean", "-qfdX", "--", "datastore")


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def partition(project: Path, table: str, ds: str) -> Path:
    return project / "datastore" / "tables" / table / f"ds={ds}"


def labels(project: Path, ds: str, tables: tuple[str, ...] = PAIR) -> dict[str, set[str]]:
    """What each published partition holds, read by pandas from its files (not by dsflow)."""
    return {t: set(pd.read_parquet(partition(project, t, ds))["label"]) for t in tables}


def staging_left(project: Path, tables: tuple[str, ...]) -> list[str]:
    return [
        p.name
        for t in tables
        for p in (project / "datastore/tables" / t).glob("_staging-*")
        if (project / "datastore/tables" / t).is_dir()
    ]


def run(project: Path, *args: str, env: dict[str, str] | None = None, timeout: int = 300):
    return subprocess.run(
        ["just", "run", *args],
        cwd=project,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def one_error_line(result: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("dsflow: error: "), result.stderr
    return lines[0].removeprefix("dsflow: error: ")


def check_nothing_lost(before: dict[str, dict[str, bytes]], after: dict[str, dict[str, bytes]]):
    """Count (and then assert) partitions lost: each must be byte-identical to before."""
    lost = [t for t in before if after.get(t) != before[t]]
    FIGURES["partitions checked"] += len(before)
    FIGURES["partitions lost"] += len(lost)
    assert not lost, f"partitions changed or lost: {lost}"


@pytest.mark.fault
@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_run_killed_at_each_step_loses_nothing_and_the_next_run_recovers(project, point):
    ds = f"2024-02-{KILL_POINTS.index(point) + 1:02d}"
    just(project, "run", "job=pair", f"ds={ds}", "label=v1")
    before = {t: files(partition(project, t, ds)) for t in PAIR}

    killed = run(project, "job=pair", f"ds={ds}", "label=v2", env={"DSFLOW_KILL_AT": point})
    FIGURES["faults injected"] += 1
    assert killed.returncode != 0, killed.stdout
    just_after_kill = {t: files(partition(project, t, ds)) for t in PAIR}
    if point in PUBLISHED_AT:
        assert labels(project, ds) == {t: {"v2"} for t in PAIR}  # both new, whole
        FIGURES["partitions checked"] += 2
        expected = just_after_kill
    else:
        expected = before

    status = json.loads(just(project, "status", f"start={ds}", f"end={ds}", "format=json").stdout)
    leftovers = [p for p in status["leftovers"] if p.startswith("tables/t_pair_")]
    # staging folders are shown until the next run of the partition sweeps them; those a
    # half-done publish needs (they may hold the previous partitions) are shown apart
    half = point in ("journaled", "swapped", "swapped:2")
    assert status["half_published"] == ([f"just run job=pair ds={ds}"] if half else [])
    assert len(leftovers) == (2 if point in ("staged", "executed", "checked", "marked") else 0)
    if half:  # a reader of the pair waits: it would see one new output and one old
        refusal = run(project, "job=after-pair", f"ds={ds}")
        assert refusal.returncode == 2
        assert one_error_line(refusal) == (
            f"input tables/t_pair_a/ds={ds} is half-published (job pair was stopped between "
            f"its outputs); run it again first: just run job=pair ds={ds}"
        )

    report = just(project, "report", "job=pair", f"ds={ds}").stdout
    if point in ("locked",):
        assert ": success" in report  # killed before it recorded anything: the last run's
    elif point in ("recorded", "finished"):
        assert ": success" in report  # its record was written before the kill
    else:
        assert ": killed" in report and f"just run job=pair ds={ds}" in report, report

    # the next run recovers a half-done publish before anything else: stop it right there
    recovering = run(project, "job=pair", f"ds={ds}", "label=v3", env={"DSFLOW_KILL_AT": "staged"})
    assert recovering.returncode != 0
    if point in ("swapped", "swapped:2"):
        assert "put back the previous tables/t_pair_a/ds=" in recovering.stdout
    check_nothing_lost(expected, {t: files(partition(project, t, ds)) for t in PAIR})

    done = run(project, "job=pair", f"ds={ds}", "label=v3")
    assert done.returncode == 0, done.stderr
    assert labels(project, ds) == {t: {"v3"} for t in PAIR}
    assert staging_left(project, PAIR) == []
    assert not (project / f"datastore/job_runs/pair/ds={ds}/.publishing.json").exists()
    history = [
        json.loads(line)
        for line in (project / "datastore/job_runs/pair/history.jsonl").read_text().splitlines()
    ]
    mine = [h["status"] for h in history if h["ds"] == ds]
    # the "staged" kill of the recovering run, and the injected one if it had said "running"
    assert mine.count("killed") == (1 if point in ("locked", "recorded", "finished") else 2), mine
    assert mine[-1] == "success"


@pytest.mark.fault
def test_a_run_killed_while_its_script_runs_takes_the_script_with_it(project, tmp_path):
    ds = "2024-02-20"
    just(project, "run", "job=pair", f"ds={ds}", "label=v1")
    before = {t: files(partition(project, t, ds)) for t in PAIR}
    pid_file = tmp_path / "script.pid"
    killed = run(
        project, "job=pair", f"ds={ds}", "label=v2", "action=kill-parent", f"pid_file={pid_file}"
    )
    FIGURES["faults injected"] += 1
    assert killed.returncode != 0
    script = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while process_running(script) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not process_running(script), "the job's script outlived the killed run"
    check_nothing_lost(before, {t: files(partition(project, t, ds)) for t in PAIR})
    assert run(project, "job=pair", f"ds={ds}", "label=v3").returncode == 0
    assert labels(project, ds) == {t: {"v3"} for t in PAIR}


# ------------------------------------------------- success-last: a datastore with no renames

# the points of a no-rename publish of the pair (both outputs are unpublished, then both
# filled, then both published): t_pair_a made invisible; both filled, neither published;
# t_pair_a published, t_pair_b not yet
SUCCESS_LAST_KILLS = ["unpublished", "copied:2", "swapped"]
# what each table partition is after each kill: never a new output beside an old one
SUCCESS_LAST_SEEN = {
    "unpublished": {"t_pair_a": "incomplete", "t_pair_b": "v1"},
    "copied:2": {"t_pair_a": "incomplete", "t_pair_b": "incomplete"},
    "swapped": {"t_pair_a": "v2", "t_pair_b": "incomplete"},
}


@pytest.mark.fault
def test_success_last_on_another_filesystem_shows_each_partition_whole_or_not_at_all(
    project, other_filesystem
):
    """`datastore_publish: success-last` with the datastore moved to another filesystem
    (tmpfs): runs of the two-output job killed at each point of the no-rename publish. Each
    table partition is then the previous run's files byte for byte, or the new run's alone
    with its _SUCCESS, or incomplete (no _SUCCESS: `just status` shows it missing), never a
    mix of two runs' files, and never a new output published beside an old one; a reader of
    the pair is refused while the publish is half-done (its input missing, or whole but
    beside a missing one); the next run publishes both anew and leaves no staging folder and
    no journal."""
    settings = project / "dsflow.yml"
    original = settings.read_text()
    lake = other_filesystem / "lake"
    move_datastore(project, lake, publish="success-last")
    try:
        for number, point in enumerate(SUCCESS_LAST_KILLS, start=1):
            ds = f"2024-03-{number:02d}"
            folders = {t: lake / f"tables/{t}/ds={ds}" for t in PAIR}
            just(project, "run", "job=pair", f"ds={ds}", "label=v1")
            before = {t: files(folders[t]) for t in PAIR}
            killed = run(project, "job=pair", f"ds={ds}", "label=v2", env={"DSFLOW_KILL_AT": point})
            FIGURES["faults injected"] += 1
            assert killed.returncode != 0, killed.stdout
            seen = {}
            for table, folder in folders.items():
                if not (folder / "_SUCCESS").is_file():
                    seen[table] = "incomplete"
                elif files(folder) == before[table]:
                    seen[table] = "v1"
                else:
                    assert set(pd.read_parquet(folder)["label"]) == {"v2"}, (point, table)
                    assert (
                        json.loads((folder / "_dsflow.json").read_text())["run_id"]
                        != (json.loads(before[table]["_dsflow.json"])["run_id"])
                    )
                    seen[table] = "v2"
                FIGURES["partitions checked"] += 1
            assert seen == SUCCESS_LAST_SEEN[point]
            refusal = run(project, "job=after-pair", f"ds={ds}")  # it reads t_pair_a
            assert refusal.returncode == 2
            assert one_error_line(refusal) == (
                f"missing upstream partition tables/t_pair_a/ds={ds}; run it first: "
                f"just run job=pair ds={ds}"
                if seen["t_pair_a"] == "incomplete"
                else f"input tables/t_pair_a/ds={ds} is half-published (job pair was stopped "
                f"between its outputs); run it again first: just run job=pair ds={ds}"
            )
            if point == "unpublished":
                status = just(project, "status", f"start={ds}", f"end={ds}", "format=json")
                grid = json.loads(status.stdout)
                assert grid["half_published"] == [f"just run job=pair ds={ds}"]
                cells = {t: grid["datasets"][f"tables/{t}"]["partitions"] for t in PAIR}
                assert cells["t_pair_a"][f"ds={ds}"]["state"] != "complete"
                assert cells["t_pair_b"][f"ds={ds}"]["state"] in ("complete", "stale")
            done = run(project, "job=pair", f"ds={ds}", "label=v3")
            assert done.returncode == 0, done.stderr
            assert {t: set(pd.read_parquet(f)["label"]) for t, f in folders.items()} == {
                t: {"v3"} for t in PAIR
            }
            assert all((f / "_SUCCESS").is_file() for f in folders.values())
            assert [p.name for t in PAIR for p in (lake / "tables" / t).glob("_staging-*")] == []
            assert not (lake / f"job_runs/pair/ds={ds}/.publishing.json").exists()
    finally:
        settings.write_text(original)
    assert not (project / "datastore/tables/t_pair_a/ds=2024-03-01").exists()  # all went there


# ------------------------------------------------------------------ full and read-only disks


@pytest.fixture
def tmpfs(project):
    """Mount a small tmpfs on a datastore folder (``mount(path, size)``); unmounted after."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mounted: list[Path] = []

    def mount(path: Path, size: str) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True
        )
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount(path: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True)


@pytest.mark.fault
def test_a_full_datastore_fails_the_run_in_one_line_and_keeps_the_partition(project, tmpfs):
    table = tmpfs(project / "datastore/tables/t_fill", "256k")
    just(project, "run", "job=fill", "ds=2024-03-01", "rows=10", "label=small")
    before = files(table)
    result = run(project, "job=fill", "ds=2024-03-01", "rows=400000", "label=big")
    FIGURES["faults injected"] += 1
    assert result.returncode == 1
    line = one_error_line(result)
    assert line.startswith("fill ds=2024-03-01 failed: write.py exited 1: ")
    assert "No space left on device" in line or "errno 28" in line.lower(), line
    check_nothing_lost({"t_fill": before}, {"t_fill": files(table)})
    assert staging_left(project, ("t_fill",)) == []
    # the lock was released and the space is back: the next run works
    assert run(project, "job=fill", "ds=2024-03-01", "rows=10", "label=again").returncode == 0


@pytest.mark.fault
def test_a_read_only_datastore_fails_the_run_in_one_line(project, tmpfs):
    table = tmpfs(project / "datastore/tables/t_fill", "1m")
    just(project, "run", "job=fill", "ds=2024-03-02", "rows=10", "label=before")
    before = files(table)
    remount(table, "ro")
    try:
        result = run(project, "job=fill", "ds=2024-03-02", "label=after")
        FIGURES["faults injected"] += 1
        assert result.returncode == 1
        line = one_error_line(result)
        assert line.startswith(f"cannot write {table}/_staging-fill-2024-03-02-"), line
        assert line.endswith(": Read-only file system; make it writable, then run again")
        check_nothing_lost({"t_fill": before}, {"t_fill": files(table)})
    finally:
        remount(table, "rw")
    assert run(project, "job=fill", "ds=2024-03-02", "label=after").returncode == 0
    assert labels(project, "2024-03-02", ("t_fill",)) == {"t_fill": {"after"}}


@pytest.mark.fault
def test_a_read_only_job_runs_folder_fails_at_once(project, tmpfs):
    runs = tmpfs(project / "datastore/job_runs/fill", "1m")
    remount(runs, "ro")
    result = run(project, "job=fill", "ds=2024-03-03", timeout=120)
    FIGURES["faults injected"] += 1
    assert result.returncode == 1
    assert one_error_line(result) == (
        f"cannot write {runs}/.locks: Read-only file system; make it writable, then run again"
    )
    assert not partition(project, "t_fill", "2024-03-03").exists()


@pytest.mark.fault
def test_a_full_job_runs_folder_ends_the_run_instead_of_hanging(project, tmpfs):
    """The job prints 4 MB into a log on a 256 KiB disk: the run used to hang forever holding
    its lock (the pipe was no longer drained)."""
    just(project, "run", "job=noisy", "ds=2024-03-04", "label=before")
    table = project / "datastore/tables/t_noisy"
    before = files(partition(project, "t_noisy", "2024-03-04"))
    runs = tmpfs(project / "datastore/job_runs/noisy", "256k")
    result = run(project, "job=noisy", "ds=2024-03-04", "action=noisy", timeout=120)
    FIGURES["faults injected"] += 1
    assert result.returncode == 1
    line = one_error_line(result)
    assert line.startswith(
        f"noisy ds=2024-03-04 failed: cannot write {runs}/ds=2024-03-04/log.txt: "
        "No space left on device; the job's output is lost"
    ), line
    check_nothing_lost(
        {"t_noisy": before}, {"t_noisy": files(partition(project, "t_noisy", "2024-03-04"))}
    )
    assert staging_left(project, ("t_noisy",)) == []
    assert table.is_dir()
    # the lock is free: once the user frees the space, a quiet run goes through
    (runs / "ds=2024-03-04/log.txt").unlink()
    assert run(project, "job=noisy", "ds=2024-03-04", "label=quiet").returncode == 0


@pytest.mark.fault
def test_a_corrupt_upstream_file_refuses_its_own_day_only(project):
    for day in ("2024-03-10", "2024-03-11"):
        just(project, "run", "job=fill", f"ds={day}")
    broken = partition(project, "t_fill", "2024-03-10") / "part-0.parquet"
    broken.write_bytes(broken.read_bytes()[:-20])  # a truncated file: its footer is gone
    FIGURES["faults injected"] += 1
    result = run(project, "job=after-fill", "ds=2024-03-10")
    assert result.returncode == 2
    line = one_error_line(result)
    assert line.startswith(
        "input tables/t_fill/ds=2024-03-10: part-0.parquet is not readable Parquet ("
    ), line
    assert line.endswith("; re-run the job that writes it: just run job=fill ds=2024-03-10")
    assert not partition(project, "t_after_fill", "2024-03-10").exists()
    assert run(project, "job=after-fill", "ds=2024-03-11").returncode == 0
    assert run(project, "job=fill", "ds=2024-03-10").returncode == 0  # the hint works
    assert run(project, "job=after-fill", "ds=2024-03-10").returncode == 0


@pytest.mark.fault
def test_a_job_runs_folder_already_full_fails_before_the_job_and_cleans_up(project, tmpfs):
    """Not even run.json fits: one line naming it, and no staging folder left behind."""
    runs = tmpfs(project / "datastore/job_runs/fill", "64k")
    filler = runs / "filler.bin"
    with filler.open("wb", buffering=0) as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * 4096)
    result = run(project, "job=fill", "ds=2024-03-05", timeout=120)
    FIGURES["faults injected"] += 1
    assert result.returncode == 1
    line = one_error_line(result)
    assert line.startswith(
        f"fill ds=2024-03-05 failed: cannot write {runs}/ds=2024-03-05/run.json: No space left "
        "on device; free some space, then run again"
    ), line
    assert staging_left(project, ("t_fill",)) == []
    assert not partition(project, "t_fill", "2024-03-05").exists()
    filler.unlink()
    assert run(project, "job=fill", "ds=2024-03-05").returncode == 0


# ------------------------------------------------------------------ a killed backfill

NOTEBOOK = """\
# %% tags=["parameters"]
ds = ""
sink_path = ""

# %%
import time
time.sleep(60)
"""


@pytest.mark.fault
def test_a_killed_backfill_stops_the_spark_server_it_started(project):
    folder = project / "jobs" / "sleepy"
    folder.mkdir()
    (folder / "job_specs.yaml").write_text(
        json.dumps({"job_name": "sleepy", "class": "notebook", "script": "sleepy.py"})
    )
    (folder / "sleepy.py").write_text(NOTEBOOK)
    record = project / ".dsflow/services/spark.json"
    backfill = subprocess.Popen(
        ["just", "backfill", "job=sleepy", "start=2024-04-01", "end=2024-04-01"],
        cwd=project,
        env=own_spark_env(),  # no shared server: the backfill starts the project's own
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not record.is_file() and time.monotonic() < deadline:
            assert backfill.poll() is None, backfill.stdout.read().decode()
            time.sleep(0.5)
        server = json.loads(record.read_text())
        stat = Path(f"/proc/{server['pid']}/stat").read_text()
        dsflow_pid = int(stat.rsplit(")", 1)[1].split()[1])  # the server's parent: the backfill
        os.kill(dsflow_pid, signal.SIGKILL)
        FIGURES["faults injected"] += 1
        deadline = time.monotonic() + 30
        while process_running(server["pid"]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not process_running(server["pid"]), "the Spark server outlived the backfill"
        # its port is free, and `just spark` starts the project's server again over the
        # killed run's records
        assert not listening(server["port"])
        just(project, "spark")
        just(project, "stop", "spark")
    finally:
        if backfill.poll() is None:
            os.killpg(backfill.pid, signal.SIGKILL)
        backfill.wait()
        shutil.rmtree(folder)
