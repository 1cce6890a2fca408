"""``just run job=X ds=Y``: the run protocol for one job and one partition.

resolve -> check inputs -> lock -> execute into staging -> checks -> atomic publish -> report.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from .checks import count_rows, run_checks
from .errors import DsflowError
from .execute import JobFailed, run_notebook, run_script, script_command
from .kernels import KernelPool
from .locks import partition_lock
from .partitions import Partition, default_partition, parse_partition, partition_range, shift
from .project import Project
from .publish import clean_stale_staging, is_complete, publish, staging_dir
from .reports import append_history, code_hash, render_html, write_record
from .settings import Settings, load_settings
from .specs import DatasetRef, JobSpec, find_job

_HTML_LOCK = threading.Lock()


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


def input_partitions(
    settings: Settings, spec: JobSpec, ref: DatasetRef, part: Partition
) -> list[Partition]:
    """The partitions of input ``ref`` a run of ``part`` reads, by its ``partitions`` mapping.

    same (default), previous, last_<N> (this one and the N-1 before), all (every complete one
    up to this one). A dimension read with ``same`` takes its latest snapshot at or before. An
    unpartitioned input is read whole. A job reading its own output reads its earlier
    partitions only (previous, or the N before), those that exist.
    """
    from .tables import recorded_grain

    mapping = ref.partitions
    if part.grain == "none" or recorded_grain(dataset_dir(settings, ref)) == "none":
        return [Partition("none", "")]
    own = any(out.path == ref.path for out in spec.outputs)
    if mapping == "previous":
        wanted = [shift(part, -1)]
    elif mapping.startswith("last_"):
        n = int(mapping[5:])
        wanted = (
            partition_range(shift(part, -n), shift(part, -1))
            if own
            else (partition_range(shift(part, 1 - n), part))
        )
    elif mapping == "all" or ref.kind == "dimension":
        done = [p for p in _complete(settings, ref, part.grain) if p <= part]
        wanted = done if mapping == "all" else done[-1:]
    else:
        wanted = [part]
    if own:  # the first runs of a self-reading job find nothing before them
        wanted = [p for p in wanted if is_complete(partition_dir(settings, ref, p))]
    return wanted


def _complete(settings: Settings, ref: DatasetRef, grain: str) -> list[Partition]:
    from .tables import complete_partitions

    folder = dataset_dir(settings, ref)
    found = []
    for path in complete_partitions(folder) if folder.is_dir() else []:
        keys = [k.partition("=")[2] for k in path.relative_to(folder).parts]
        value = "T".join(keys) if len(keys) == 2 else (keys[0] if keys else "")
        try:
            found.append(parse_partition(value, grain))
        except DsflowError:
            continue  # a partition of another grain: not ours to read
    return sorted(found)


def check_inputs(project: Project, settings: Settings, spec: JobSpec, part: Partition) -> None:
    """Every input partition the run reads must be published; name the job that writes it."""
    from .tables import recorded_grain

    for ref in spec.inputs:
        if ref.external:
            continue
        grain = recorded_grain(dataset_dir(settings, ref))
        if grain and grain not in (spec.grain, "none"):
            raise DsflowError(
                f"job {spec.name} ({spec.grain}) reads {ref.path}, published {grain}: a job "
                "reads inputs of its own grain, or unpartitioned ones"
            )
        own = any(out.path == ref.path for out in spec.outputs)
        wanted = input_partitions(settings, spec, ref, part)
        if own:
            continue  # its own earlier partitions: whatever exists
        if not wanted:
            what = "snapshot" if ref.kind == "dimension" else "complete partition"
            raise DsflowError(
                f"{ref.kind} {ref.path} has no {what} at or before {part.label}"
                + _writer_hint(project, settings, ref, part)
            )
        for needed in wanted:
            if not is_complete(partition_dir(settings, ref, needed)):
                raise DsflowError(
                    f"missing upstream partition {ref.path}/{needed.label}"
                    + _writer_hint(project, settings, ref, needed)
                )


def _writer_hint(project: Project, settings: Settings, ref: DatasetRef, part: Partition) -> str:
    writer = _writers(project, settings).get(ref.path)
    if writer:
        return f"; run it first: just run job={writer} ds={part.value}"
    return "; no job writes it: add the data or a job whose outputs name it"


def check_output_grains(settings: Settings, spec: JobSpec) -> None:
    """A job must write its tables at their grain: mixing layouts would corrupt readers."""
    from .tables import recorded_grain

    for ref in spec.outputs:
        grain = recorded_grain(dataset_dir(settings, ref))
        if grain and grain != spec.grain:
            raise DsflowError(
                f"job {spec.name} declares grain {spec.grain}, but {ref.path} is {grain}: "
                f"set `grain: {grain}` in its job_specs.yaml or write another table"
            )


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


def _coerce(key: str, value: str, default: Any) -> Any:
    """A key=value override takes its default's type: `multiline=false` is False, not "false"."""
    if isinstance(default, bool):
        lowered = value.strip().lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off", ""):
            return False
        raise DsflowError(f"parameter {key}: expected true or false, got {value!r}")
    for kind in (int, float):
        if isinstance(default, kind):
            try:
                return kind(value)
            except ValueError:
                raise DsflowError(
                    f"parameter {key}: expected a number ({kind.__name__}), got {value!r}"
                ) from None
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
        "partition": "/".join(part.parts),  # ds=2024-01-02, or ds=2024-01-02/hr=05 (hourly)
        "job_name": spec.name,
    }
    job_parameters = {
        **spec.job_parameters,
        **{k: _coerce(k, v, spec.job_parameters[k]) for k, v in overrides.items()},
    }
    context["job_parameters"] = _render(job_parameters, context)
    task_specs = {k: _absolute(v, settings) for k, v in _render(spec.task_specs, context).items()}
    params = {**context["job_parameters"], **task_specs, **context}
    params["task_specs"] = task_specs
    params["source_paths"] = {}
    for ref in spec.inputs:
        if ref.external:
            continue
        used = input_partitions(settings, spec, ref, part)
        paths = [str(partition_dir(settings, ref, p)) for p in used]
        single = ref.partitions in ("same", "previous") or part.grain == "none"
        params["source_paths"][ref.name] = paths[0] if single and paths else paths
    return params


def parameters_hash(params: dict[str, Any], settings: Settings) -> str:
    """A hash of a run's resolved parameters, blind to where the datastore is (a moved or
    cloned project, or the container's /data, is not a parameter change)."""
    text = json.dumps(params, sort_keys=True, default=str).replace(str(settings.datastore), "")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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
    settings = load_settings(project)
    spec = find_job(project, job, settings.default_grain)
    if spec.job_class == "dashboard":
        raise DsflowError(f"job {job} is a dashboard: serve it with `just dash job={job}`")
    part = resolve_partition(spec, ds)
    params = resolve_parameters(spec, part, overrides or {}, settings)
    check_inputs(project, settings, spec, part)
    check_output_grains(settings, spec)

    reports = report_dir(settings, job, part)
    lock_dir = settings.datastore / "job_runs" / job / ".locks"
    with partition_lock(lock_dir, job, part.label):
        return _run_locked(project, settings, spec, part, params, reports, kernels)


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
) -> RunResult:
    phash = parameters_hash(params, settings)  # before the staging paths are filled in
    run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    started = time.time()
    reports.mkdir(parents=True, exist_ok=True)
    for stale in ("report.ipynb", "report.html", "log.txt"):
        (reports / stale).unlink(missing_ok=True)
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
    os.environ["DSFLOW_PROJECT_ROOT"] = str(project.root)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    label = f"{spec.name} {part.label}"
    print(f"run {label}: {spec.code_name} ({spec.job_class})", flush=True)
    try:
        try:
            _execute(spec, params, reports, kernels)
        finally:
            if (reports / "report.ipynb").is_file():
                with _HTML_LOCK:  # nbconvert's exporters are not known to be thread-safe
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
            keys = ("job", "partition", "run_id", "code_hash", "parameters_hash", "upstream")
            meta = {k: record[k] for k in keys}
            meta.update(rows=rows[ref.path], kind=ref.kind, grain=spec.grain)
            meta["published_at"] = datetime.now(UTC)
            publish(staging[ref.path], partition_dir(settings, ref, part), meta)
        record["status"] = "success"
    except Exception as exc:  # the job's failure, a check's, or a dead kernel: all exit 1
        cause = str(exc) if isinstance(exc, DsflowError) else f"{exc.__class__.__name__}: {exc}"
        record["status"] = "failed"
        record["error"] = cause
        raise JobFailed(f"{label} failed: {cause}; report: {_report_file(reports)}") from None
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


def _execute(
    spec: JobSpec, params: dict[str, Any], reports: Path, kernels: KernelPool | None
) -> None:
    if spec.job_class == "notebook":
        engine = kernels.engine_kwargs(spec.folder) if kernels else None
        run_notebook(spec.script, reports / "report.ipynb", params, spec.folder, engine)
    else:
        run_script(script_command(spec), params, spec.folder, reports / "log.txt")


def _report_file(reports: Path) -> Path:
    html = reports / "report.html"
    return html if html.is_file() else reports / "log.txt"


def _file_count(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file() and not p.name.startswith("_"))


def _upstream(settings: Settings, spec: JobSpec, part: Partition) -> dict[str, str]:
    """run_id of each input partition consumed, so a later backfill can tell what changed."""
    result = {}
    for ref in spec.inputs:
        for used in input_partitions(settings, spec, ref, part) if not ref.external else []:
            meta = partition_dir(settings, ref, used) / "_dsflow.json"
            if meta.is_file():
                key = f"{ref.path}/{used.label}" if used != part else ref.path
                result[key] = json.loads(meta.read_text()).get("run_id", "?")
    return result
