"""``just run job=X ds=Y``: the run protocol for one job and one partition.

resolve -> check inputs -> lock -> execute into staging -> checks -> atomic publish -> report.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from .checks import count_rows, run_checks
from .errors import DsflowError
from .execute import JobFailed, run_notebook, run_script
from .locks import partition_lock
from .partitions import Partition, default_partition, parse_partition
from .project import Project
from .publish import clean_stale_staging, is_complete, publish, staging_dir
from .reports import append_history, code_hash, render_html, write_record
from .settings import Settings, load_settings
from .specs import DatasetRef, JobSpec, find_job


@dataclass
class RunResult:
    """What a run did; ``record`` is what run.json holds."""

    status: str
    report_dir: Path
    record: dict[str, Any] = field(default_factory=dict)


def dataset_dir(settings: Settings, ref: DatasetRef) -> Path:
    """Folder of a dataset in the datastore."""
    return settings.datastore / ref.area / ref.name


def partition_dir(settings: Settings, ref: DatasetRef, part: Partition) -> Path:
    """Folder of one partition of a dataset (the dataset folder itself when unpartitioned)."""
    return dataset_dir(settings, ref).joinpath(*part.parts)


def report_dir(settings: Settings, job: str, part: Partition) -> Path:
    """Where a partition's run report goes: ``job_runs/<job>/<partition folders>/``."""
    return settings.datastore.joinpath("job_runs", job, *(part.parts or ["unpartitioned"]))


def resolve_partition(spec: JobSpec, ds: str | None) -> Partition:
    """Validate ``ds`` for the job's grain; when absent, the last complete period (UTC)."""
    if ds is None:
        part = default_partition(spec.grain)
        if spec.grain != "none":
            print(f"ds not given: using {part.value} (the last complete {spec.grain} period, UTC)")
        return part
    return parse_partition(ds, spec.grain)


def _writers(project: Project, settings: Settings) -> dict[str, str]:
    writers: dict[str, str] = {}
    for name in project.job_names():
        try:
            spec = find_job(project, name, settings.default_grain)
        except DsflowError:
            continue
        for out in spec.outputs:
            writers[out.path] = name
    return writers


def check_inputs(project: Project, settings: Settings, spec: JobSpec, part: Partition) -> None:
    """Every declared input partition must be published; name the job that writes a missing one."""
    for ref in spec.inputs:
        if ref.external:
            continue
        path = partition_dir(settings, ref, part)
        if is_complete(path):
            continue
        if ref.kind == "dimension" and _has_snapshot(settings, ref, part):
            continue  # a dimension is read as of ds: an earlier snapshot will do
        writer = _writers(project, settings).get(ref.path)
        hint = (
            f"run it first: just run job={writer} ds={part.value}"
            if writer
            else "no job writes it: add the data or a job whose outputs name it"
        )
        raise DsflowError(f"missing upstream partition {ref.path}/{part.label}; {hint}")


def _has_snapshot(settings: Settings, ref: DatasetRef, part: Partition) -> bool:
    from .tables import complete_partitions

    folder = dataset_dir(settings, ref)
    day = part.value.split("T")[0]
    keys = [p.relative_to(folder).parts for p in complete_partitions(folder)]
    return any(not key or key[0] <= f"ds={day}" for key in keys)


def _render(value: Any, context: dict[str, Any]) -> Any:
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
        try:
            return env.from_string(value).render(context)
        except jinja2.TemplateError as exc:
            raise DsflowError(f"cannot render {value!r}: {exc}") from None
    if isinstance(value, dict):
        return {k: _render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, context) for v in value]
    return value


def _absolute(value: Any, settings: Settings) -> Any:
    if isinstance(value, str) and value.split("/", 1)[0] in ("raw", "tables", "job_runs"):
        return str(settings.datastore / value)
    return value


def resolve_parameters(
    spec: JobSpec, part: Partition, overrides: dict[str, str], settings: Settings
) -> dict[str, Any]:
    """The parameters a job sees: ds, job_parameters (with overrides) and rendered task_specs."""
    unknown = sorted(set(overrides) - set(spec.job_parameters))
    if unknown:
        known = ", ".join(sorted(spec.job_parameters)) or "none"
        raise DsflowError(
            f"unknown parameter {unknown[0]!r} for job {spec.name} (its job_parameters: {known})"
        )
    context: dict[str, Any] = {
        "ds": part.value,
        "ds_nodash": part.value.replace("-", ""),
        "job_name": spec.name,
    }
    job_parameters = {**spec.job_parameters, **overrides}
    context["job_parameters"] = _render(job_parameters, context)
    task_specs = {k: _absolute(v, settings) for k, v in _render(spec.task_specs, context).items()}
    params = {**context["job_parameters"], **task_specs, **context}
    params["task_specs"] = task_specs
    params["source_paths"] = {
        ref.name: str(partition_dir(settings, ref, part)) for ref in spec.inputs if not ref.external
    }
    return params


def run_job(
    project: Project,
    job: str,
    ds: str | None = None,
    overrides: dict[str, str] | None = None,
) -> RunResult:
    """Run ``job`` for one partition, locally, following the protocol in the module docstring."""
    settings = load_settings(project)
    spec = find_job(project, job, settings.default_grain)
    if spec.job_class == "dashboard":
        raise DsflowError(f"job {job} is a dashboard: serve it with `just dash job={job}`")
    part = resolve_partition(spec, ds)
    params = resolve_parameters(spec, part, overrides or {}, settings)
    check_inputs(project, settings, spec, part)

    reports = report_dir(settings, job, part)
    lock_dir = settings.datastore / "job_runs" / job / ".locks"
    with partition_lock(lock_dir, job, part.label):
        return _run_locked(project, settings, spec, part, params, reports)


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
) -> RunResult:
    run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    started = time.time()
    reports.mkdir(parents=True, exist_ok=True)
    for stale in ("report.ipynb", "report.html", "log.txt"):
        (reports / stale).unlink(missing_ok=True)
    staging: dict[str, Path] = {}
    for ref in spec.outputs:
        parent = _staging_parent(settings, ref, part)
        clean_stale_staging(parent, spec.name)
        staging[ref.path] = staging_dir(parent, run_id, spec.name)
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
        "code_hash": code_hash(spec.folder),
        "upstream": _upstream(settings, spec, part),
    }
    os.environ["DSFLOW_PROJECT_ROOT"] = str(project.root)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    label = f"{spec.name} {part.label}"
    print(f"run {label}: {spec.script.name} ({spec.job_class})", flush=True)
    try:
        try:
            _execute(spec, params, reports)
        finally:
            if (reports / "report.ipynb").is_file():
                render_html(reports / "report.ipynb", reports / "report.html")
        rows: dict[str, int] = {}
        passed: list[str] = []
        for ref in spec.outputs:
            folder = staging[ref.path]
            rows[ref.path] = count_rows(folder) if ref.area == "tables" else _file_count(folder)
            passed += run_checks(folder, spec.checks) if ref.area == "tables" else []
        record["rows"] = rows
        record["checks"] = passed
        for ref in spec.outputs:
            meta = {k: record[k] for k in ("job", "partition", "run_id", "code_hash", "upstream")}
            meta.update(rows=rows[ref.path], kind=ref.kind, published_at=datetime.now(UTC))
            publish(staging[ref.path], partition_dir(settings, ref, part), meta)
        record["status"] = "success"
    except DsflowError as exc:
        record["status"] = "failed"
        record["error"] = str(exc)
        raise JobFailed(f"{label} failed: {exc}; report: {_report_file(reports)}") from None
    finally:
        for path in staging.values():
            shutil.rmtree(path, ignore_errors=True)
        record.setdefault("status", "failed")
        record["finished_at"] = datetime.now(UTC).isoformat()
        record["duration_s"] = round(time.time() - started, 3)
        record["report"] = str(_report_file(reports))
        write_record(reports, record)
        append_history(settings.datastore / "job_runs" / spec.name, record)
    outputs = ", ".join(f"{p}/{part.label} ({n} rows)" for p, n in record["rows"].items())
    print(
        f"ok {label} in {record['duration_s']:.1f} s -> {outputs or 'no declared outputs'}; "
        f"report: {_report_file(reports)}",
        flush=True,
    )
    return RunResult("success", reports, record)


def _execute(spec: JobSpec, params: dict[str, Any], reports: Path) -> None:
    if spec.job_class == "notebook":
        run_notebook(spec.script, reports / "report.ipynb", params, spec.folder)
    else:
        run_script(spec.script, params, spec.folder, reports / "log.txt")


def _report_file(reports: Path) -> Path:
    html = reports / "report.html"
    return html if html.is_file() else reports / "log.txt"


def _file_count(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file() and not p.name.startswith("_"))


def _upstream(settings: Settings, spec: JobSpec, part: Partition) -> dict[str, str]:
    """run_id of each input partition consumed, so a later backfill can tell what changed."""
    result = {}
    for ref in spec.inputs:
        meta = partition_dir(settings, ref, part) / "_dsflow.json"
        if meta.is_file():
            result[ref.path] = json.loads(meta.read_text()).get("run_id", "?")
    return result
