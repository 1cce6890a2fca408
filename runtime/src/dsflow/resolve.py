"""What a run of one job for one partition reads, and with which parameters: the run
protocol's first steps (resolve, check inputs), with no execution.

``just run`` acts on them (:mod:`dsflow.runner`); ``just backfill`` and ``just status`` compare
them with what a partition was published with (:mod:`dsflow.staleness`) without importing
anything that executes jobs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import jinja2

from .datastore import (
    AREAS,
    dataset_dir,
    dataset_partitions,
    is_complete,
    partition_dir,
    recorded_grain,
)
from .errors import DsflowError
from .partitions import Partition, default_partition, parse_partition, partition_range, shift
from .project import Project
from .settings import Settings
from .specs import DatasetRef, JobSpec, find_job


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
        done = [p for p in dataset_partitions(settings, ref, part.grain) if p <= part]
        wanted = done if mapping == "all" else done[-1:]
    else:
        wanted = [part]
    if own:  # the first runs of a self-reading job find nothing before them
        wanted = [p for p in wanted if is_complete(partition_dir(settings, ref, p))]
    return wanted


def upstream_key(ref: DatasetRef, used: Partition, part: Partition) -> str:
    """How a partition's metadata names input partition ``used`` in its ``upstream`` record:
    the dataset path alone when it is the run's own partition."""
    return f"{ref.path}/{used.label}" if used != part else ref.path


def check_inputs(project: Project, settings: Settings, spec: JobSpec, part: Partition) -> None:
    """Every input partition the run reads must be published; name the job that writes it."""
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
    if isinstance(value, str) and value.split("/", 1)[0] in AREAS:
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
