"""``just run job=X ds=Y``: the run protocol for one job and one partition.

resolve -> check inputs -> lock -> execute into staging -> checks -> atomic publish -> report.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import spare_kernel
from .checks import count_rows, run_checks
from .contract_enforcement import Enforced, enforce, unreadable_partitions
from .contracts import contract_lock, declared_columns, write_contract
from .datastore import (
    KERNEL_LOG,
    complete_partitions,
    dataset_dir,
    job_runs_dir,
    locks_dir,
    partition_dir,
    read_meta,
    report_dir,
)
from .errors import DsflowError, disk_error
from .execute import JobFailed, run_script, script_command
from .faults import checkpoint
from .kernels import KernelPool
from .locks import partition_lock
from .notebook_runs import execute_notebook
from .output import say
from .partitions import Partition
from .project import PROJECT_ROOT_ENV, Project
from .publish import clean_stale_staging, publish_all, recover, staging_dir
from .redaction import redact_run_files, redact_text, redact_value
from .report_html import render_html
from .reports import (
    KILLED,
    RUNNING,
    append_history,
    code_hash,
    read_record,
    write_record,
)
from .resolve import (
    check_input_files,
    check_inputs,
    check_output_grains,
    check_sole_writer,
    input_partitions,
    parameters_hash,
    resolve_parameters,
    resolve_partition,
    resolve_secrets,
    substitute_secrets,
    upstream_key,
)
from .settings import Settings, load_settings
from .specs import SPEC_FILE, DatasetRef, JobSpec, find_job


@dataclass
class RunResult:
    """What a run did; ``record`` is what run.json holds."""

    status: str
    report_dir: Path
    record: dict[str, Any] = field(default_factory=dict)


def run_job(
    project: Project,
    job: str,
    ds: str | None = None,
    overrides: dict[str, str] | None = None,
    kernels: KernelPool | None = None,
) -> RunResult:
    """Run ``job`` for one partition, locally, following the protocol in the module docstring.

    ``kernels`` (backfills) runs notebooks on warm kernels instead of a fresh one per run.
    """
    entered = time.perf_counter()
    settings = load_settings(project)
    spec = find_job(project, job, settings.default_grain)
    if spec.job_class == "dashboard":
        raise DsflowError(f"job {job} is a dashboard: serve it with `just dash job={job}`")
    part = resolve_partition(spec, ds)
    params = resolve_parameters(spec, part, overrides or {}, settings)
    resolve_secrets(project.root, spec, params)  # an unset ${NAME}: refused, nothing written
    check_sole_writer(project, settings, spec)
    check_inputs(project, settings, spec, part)
    check_input_files(project, settings, spec, part)
    check_output_grains(settings, spec)
    _check_declared_schemas(project, spec)

    reports = report_dir(settings, job, part)
    lock_dir = locks_dir(settings, job)
    try:
        with partition_lock(lock_dir, job, part.label):
            return _run_locked(project, settings, spec, part, params, reports, kernels, entered)
    finally:
        if spec.job_class == "notebook" and kernels is None:
            spare_kernel.start(project)  # warm, while the user reads, for the next run


def _check_declared_schemas(project: Project, spec: JobSpec) -> None:
    """A declared table schema that cannot be read stops the run before anything runs."""
    for ref in spec.outputs:
        if ref.area == "tables" and ref.schema:
            try:
                declared_columns(ref.schema, project.root)
            except DsflowError as exc:
                where = spec.folder / SPEC_FILE
                raise DsflowError(f"{where}: output {ref.path}: {exc}") from None


def _staging_parent(settings: Settings, ref: DatasetRef, part: Partition) -> Path:
    folder = dataset_dir(settings, ref)
    return folder if part.parts else folder.parent


def _run_locked(
    project: Project,
    settings: Settings,
    spec: JobSpec,
    part: Partition,
    params: dict[str, Any],
    reports: Path,
    kernels: KernelPool | None = None,
    entered: float | None = None,
) -> RunResult:
    checkpoint("locked")
    # where a run's time goes (run.json "timings_s"; `just bench-run` shows their medians)
    clock = _Phases(entered)
    secrets = resolve_secrets(project.root, spec, params)  # the values, for the job alone
    phash = parameters_hash(params, settings)  # before the staging paths are filled in
    run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    started = time.time()
    reports.mkdir(parents=True, exist_ok=True)
    _record_killed_run(settings, spec, reports)
    for stale in ("report.ipynb", "report.html", "log.txt"):
        (reports / stale).unlink(missing_ok=True)
    for final in recover(reports):
        shown = Path(final).relative_to(settings.datastore)
        say(f"put back the previous {shown}: a killed run had published it alone")
    staging: dict[str, Path] = {}
    for ref in spec.outputs:
        parent = _staging_parent(settings, ref, part)
        clean_stale_staging(parent, spec.name, part.value)
        staging[ref.path] = staging_dir(parent, run_id, spec.name, part.value)
    sinks = {ref.name: str(staging[ref.path]) for ref in spec.outputs}
    if spec.outputs:
        params["sink_path"] = sinks[spec.outputs[0].name]
        params["task_specs"]["sink_path"] = params["sink_path"]
    params["sink_paths"] = sinks
    record: dict[str, Any] = {
        "job": spec.name,
        "partition": part.label,
        "ds": part.value,
        "run_id": run_id,
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(),
        "parameters": {k: v for k, v in params.items() if k not in ("sink_path", "sink_paths")},
        "code_hash": code_hash(spec),
        "parameters_hash": phash,
        "upstream": _upstream(settings, spec, part),
    }
    os.environ[PROJECT_ROOT_ENV] = str(project.root)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    label = f"{spec.name} {part.label}"
    say(f"run {label}: {spec.code_name} ({spec.job_class})")
    try:
        # inside the try: a disk too full for it still gets the staging folders removed
        write_record(reports, {**record, "status": RUNNING, "pid": os.getpid()})
        checkpoint("staged")
        try:
            job_params = substitute_secrets(params, secrets)  # the job alone sees the values
            kernel_log = job_runs_dir(settings, spec.name) / KERNEL_LOG
            clock.lap("prepare")
            _execute(project, settings, spec, job_params, reports, kernel_log, kernels, secrets)
        finally:
            clock.lap("execute")
            redact_run_files(reports, secrets)  # before the report is rendered or served
            if (reports / "report.ipynb").is_file():
                render_html(reports / "report.ipynb", reports / "report.html")
            clock.lap("report")
        checkpoint("executed")
        with ExitStack() as held:
            lock_dir = locks_dir(settings, spec.name)
            for ref in spec.outputs:
                if ref.area == "tables":
                    held.enter_context(contract_lock(lock_dir, ref.name))
            _check_and_publish(project, settings, spec, part, staging, record, reports)
        clock.lap("checks_publish")
        record["status"] = "success"
    except Exception as exc:  # the job's failure, a check's, or a dead kernel: all exit 1
        if isinstance(exc, OSError) and disk_error(exc):
            exc = disk_error(exc)
        cause = str(exc) if isinstance(exc, DsflowError) else f"{exc.__class__.__name__}: {exc}"
        record["status"] = "failed"
        record["error"] = redact_text(cause, secrets)  # the job's own words may hold a value
        message = f"{label} failed: {cause}; report: {_report_file(reports)}"
        raise JobFailed(redact_text(message, secrets)) from None
    finally:
        for path in staging.values():
            shutil.rmtree(path, ignore_errors=True)
        record.setdefault("status", "failed")
        record["finished_at"] = datetime.now(UTC).isoformat()
        record["duration_s"] = round(time.time() - started, 3)
        record["report"] = str(_report_file(reports))
        record["timings_s"] = clock.laps
        # built from the ${NAME} form: only passwords written into URLs are left to hide
        record.update(redact_value(record))
        _write_records(settings, spec, reports, record, failing=sys.exc_info()[1] is not None)
    outputs = ", ".join(
        f"{p}/{part.label} ({_output_size(record, p, n)})" for p, n in record["rows"].items()
    )
    say(
        f"ok {label} in {record['duration_s']:.1f} s -> {outputs or 'no declared outputs'}; "
        f"report: {_report_file(reports)}"
    )
    return RunResult("success", reports, record)


def _record_killed_run(settings: Settings, spec: JobSpec, reports: Path) -> None:
    """A run.json still saying ``running`` under our lock is a killed run's: history gets it."""
    try:
        previous = read_record(reports)
    except ValueError:
        return
    if previous and previous.get("status") == RUNNING:
        previous.update(status=KILLED, error="killed before it finished")
        append_history(job_runs_dir(settings, spec.name), previous)


def _write_records(
    settings: Settings, spec: JobSpec, reports: Path, record: dict[str, Any], failing: bool
) -> None:
    """run.json and the history line; when the disk refuses them, a failing run keeps its
    own error (the one worth reading) and a successful one says what was not recorded."""
    try:
        write_record(reports, record)
        checkpoint("recorded")
        append_history(job_runs_dir(settings, spec.name), record)
        checkpoint("finished")
    except OSError as exc:
        if failing:
            return
        error = disk_error(exc) or DsflowError(f"{exc.__class__.__name__}: {exc}")
        unrecorded = DsflowError(
            f"{spec.name} {record['partition']} was published, but its run record was not: {error}"
        )
        unrecorded.exit_code = 1
        raise unrecorded from None


def _check_and_publish(
    project: Project,
    settings: Settings,
    spec: JobSpec,
    part: Partition,
    staging: dict[str, Path],
    record: dict[str, Any],
    journal_dir: Path,
) -> None:
    """Contracts, then checks, on every staged output; then publish them all together, each
    table's contract written once its partition is published (a refused run fixes nothing)."""
    rows: dict[str, int] = {}
    passed: list[str] = []
    enforced: dict[str, Enforced] = {}
    sources = _sources(settings, spec, part)
    for ref in spec.outputs:
        folder = staging[ref.path]
        if ref.area == "tables":
            outcome = enforce(
                folder, dataset_dir(settings, ref), ref, spec.name, part, sources, project.root
            )
            enforced[ref.path] = outcome
            for note in outcome.notes:
                say(f"schema {ref.path}: {note}")
            if outcome.notes:
                record.setdefault("schema", {})[ref.path] = outcome.notes
        if ref.area == "tables":
            rows[ref.path] = count_rows(folder)
            passed += run_checks(folder, spec.checks)
        else:  # "rows" keeps the file count run.json always had; files and bytes say it plainly
            sizes = _file_sizes(folder)
            rows[ref.path] = len(sizes)
            record.setdefault("files", {})[ref.path] = len(sizes)
            record.setdefault("bytes", {})[ref.path] = sum(sizes)
    record["rows"] = rows
    record["checks"] = passed
    published = []
    for ref in spec.outputs:
        keys = ("job", "partition", "run_id", "code_hash", "parameters_hash", "upstream")
        meta = {k: record[k] for k in keys}
        meta.update(rows=rows[ref.path], kind=ref.kind, grain=spec.grain)
        meta["published_at"] = datetime.now(UTC)
        outcome = enforced.get(ref.path)
        if outcome and outcome.contract is not None and not part.parts:
            # an unpartitioned table's folder is its partition: the swap carries the contract
            write_contract(staging[ref.path], outcome.contract)
        published.append((staging[ref.path], partition_dir(settings, ref, part), meta))
    checkpoint("checked")
    publish_all(published, journal_dir, settings.datastore_publish)
    checkpoint("published")
    for ref, (_, final, _) in zip(spec.outputs, published, strict=True):
        outcome = enforced.get(ref.path)
        if outcome and outcome.contract is not None and part.parts and outcome.changed:
            table_folder = dataset_dir(settings, ref)
            write_contract(table_folder, outcome.contract)
            _warn_unreadable(ref, table_folder, outcome.contract, final)


def _warn_unreadable(ref: DatasetRef, table_folder: Path, contract: Any, final: Path) -> None:
    """A new or changed contract may not read partitions published before it: say which."""
    lines = unreadable_partitions(table_folder, contract, complete_partitions(table_folder), final)
    for line in lines[:3]:
        say(
            f"warning: table {ref.path}: {line}: readers fail on that partition until it is re-run",
            err=True,
        )
    if len(lines) > 3:
        say(f"warning: table {ref.path}: {len(lines) - 3} more such partitions", err=True)


def _sources(settings: Settings, spec: JobSpec, part: Partition) -> str:
    """What the run read, relative to the datastore, for contract messages:
    ``raw/weather/ds=2024-01-05``, a range for many partitions."""
    names = []
    for ref in spec.inputs:
        used = [] if ref.external else input_partitions(settings, spec, ref, part)
        labels = [f"{ref.path}/{p.label}" if p.parts else ref.path for p in used]
        if len(labels) > 3:
            labels = [f"{labels[0]} to {used[-1].label} ({len(labels)} partitions)"]
        names += labels or [ref.path]
    return ", ".join(names) or f"job {spec.name}, which reads no input"


def _execute(
    project: Project,
    settings: Settings,
    spec: JobSpec,
    params: dict[str, Any],
    reports: Path,
    kernel_log: Path,
    kernels: KernelPool | None,
    secrets: dict[str, str],
) -> None:
    if spec.job_class == "notebook":
        execute_notebook(
            project, settings, spec, params, reports / "report.ipynb", kernel_log, kernels
        )
    else:
        log = reports / "log.txt"
        run_script(
            script_command(spec), params, spec.folder, log, lambda t: redact_text(t, secrets)
        )


def _report_file(reports: Path) -> Path:
    html = reports / "report.html"
    return html if html.is_file() else reports / "log.txt"


def _file_sizes(folder: Path) -> list[int]:
    """The size of each data file under ``folder`` (dsflow's ``_`` markers left out)."""
    return [
        p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.name.startswith("_")
    ]


def _output_size(record: dict[str, Any], path: str, rows: int) -> str:
    """``4 rows`` for a table, ``1 file, 2.3 KiB`` for a raw output (which has no rows)."""
    if path not in record.get("files", {}):
        return f"{rows} rows"
    files = record["files"][path]
    return f"{files} file{'' if files == 1 else 's'}, {_bytes(record['bytes'][path])}"


def _bytes(size: int) -> str:
    """``512 B``, ``2.3 KiB``, ``1.0 MiB``: binary units, one decimal past bytes."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if round(value, 1) < 1024 or unit == "TiB":  # 1023.96 KiB reads 1.0 MiB
            break
    return f"{value:.1f} {unit}"


def _upstream(settings: Settings, spec: JobSpec, part: Partition) -> dict[str, str]:
    """run_id of each input partition consumed, so a later backfill can tell what changed."""
    result = {}
    for ref in spec.inputs:
        for used in input_partitions(settings, spec, ref, part) if not ref.external else []:
            meta = read_meta(partition_dir(settings, ref, used))
            if meta is not None:
                result[upstream_key(ref, used, part)] = meta.get("run_id", "?")
    return result


class _Phases:
    """Seconds spent in each phase of a run, lap by lap since the run was asked for."""

    def __init__(self, since: float | None) -> None:
        self._last = since if since is not None else time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 3)
        self._last = now
