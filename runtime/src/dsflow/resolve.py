"""What a run of one job for one partition reads, and with which parameters: the run
protocol's first steps (resolve, check inputs), with no execution.

``just run`` acts on them (:mod:`dsflow.runner`); ``just backfill`` and ``just status`` compare
them with what a partition was published with (:mod:`dsflow.staleness`) without importing
anything that executes jobs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.parse
from pathlib import Path
from typing import Any

import jinja2

from .datastore import (
    AREAS,
    dataset_dir,
    dataset_partitions,
    is_complete,
    partition_dir,
    recorded_grain,
    report_dir,
)
from .envfile import lookup_values
from .errors import DsflowError
from .mapping import compatible, incompatible_reason, input_span
from .partitions import Partition, default_partition, parse_partition, partition_for, period
from .project import Project
from .redaction import URL_USERINFO, redact_url
from .sandbox import DOCUMENTED, BoundedSandbox, RenderRefused, ValueTooLarge
from .settings import Settings
from .specs import SPEC_FILE, DatasetRef, JobSpec, find_job


def resolve_partition(spec: JobSpec, ds: str | None) -> Partition:
    """Validate ``ds`` for the job's grain; when absent, the last complete period (UTC)."""
    if ds is None:
        part = default_partition(spec.grain)
        if spec.grain != "none":
            print(f"ds not given: using {part.value} (the last complete {spec.grain} period, UTC)")
        return part
    return parse_partition(ds, spec.grain)


_writers_cache: dict[tuple, dict[str, list[JobSpec]]] = {}


def writer_specs(project: Project, settings: Settings) -> dict[str, list[JobSpec]]:
    """The specs of the jobs writing each dataset path (specs that do not load are skipped;
    more than one writer is an error `just graph` names). Read-only for callers.

    One run asks several times (one writer, input grains, input files, hints) and a backfill
    once per task: the specs are parsed again only when a ``job_specs.yaml`` changed."""
    names = project.job_names()
    key = (str(project.jobs_dir), settings.default_grain) + tuple(
        (name, *_stamp(project.jobs_dir / name / SPEC_FILE)) for name in names
    )
    cached = _writers_cache.get(key)
    if cached is not None:
        return cached
    writers: dict[str, list[JobSpec]] = {}
    for name in names:
        try:
            spec = find_job(project, name, settings.default_grain)
        except DsflowError:
            continue
        for out in spec.outputs:
            writers.setdefault(out.path, []).append(spec)
    _writers_cache.clear()  # one project at a time is all a process needs
    _writers_cache[key] = writers
    return writers


def _stamp(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


def input_grains(project: Project, settings: Settings, spec: JobSpec) -> dict[str, str]:
    """The grain of each of the job's inputs: its writer's declared grain, else (no writer,
    or two) the grain it was published with, else (nothing known yet) the job's own."""
    writers = writer_specs(project, settings)
    grains = {}
    for ref in spec.inputs:
        found = writers.get(ref.path, [])
        grains[ref.path] = grain_of_input(
            settings, spec, ref, found[0].grain if len(found) == 1 else None
        )
    return grains


def input_partitions(
    settings: Settings,
    spec: JobSpec,
    ref: DatasetRef,
    part: Partition,
    input_grain: str | None = None,
) -> list[Partition]:
    """The partitions of input ``ref`` a run of ``part`` reads (:mod:`dsflow.mapping`).

    ``input_grain`` is the input's grain (:func:`input_grains`); by default the grain it was
    published with. Open spans (``all``, dimensions) and a job's own earlier partitions keep
    only the complete ones, as does a ``partial`` finer input.
    """
    grain = input_grain or grain_of_input(settings, spec, ref)
    own = any(out.path == ref.path for out in spec.outputs)
    span = input_span(part, ref, grain, own)
    complete = dataset_partitions(settings, ref, grain) if span.upto is not None else []
    wanted = span.select(complete)
    if own or (span.complete_period and ref.partial):
        wanted = [p for p in wanted if is_complete(partition_dir(settings, ref, p))]
    return wanted


def grain_of_input(
    settings: Settings, spec: JobSpec, ref: DatasetRef, writer_grain: str | None = None
) -> str:
    """The one rule for an input's grain: its writer's declared grain, else the grain it was
    published with (external data, or two writers), else (nothing known yet) the job's own."""
    return writer_grain or recorded_grain(dataset_dir(settings, ref)) or spec.grain


def upstream_key(ref: DatasetRef, used: Partition, part: Partition) -> str:
    """How a partition's metadata names input partition ``used`` in its ``upstream`` record:
    the dataset path alone when it is the run's own partition."""
    return f"{ref.path}/{used.label}" if used != part else ref.path


def missing_inputs(
    settings: Settings, spec: JobSpec, part: Partition, grains: dict[str, str]
) -> list[tuple[DatasetRef, list[Partition]]]:
    """Per input, the partitions the run of ``part`` needs that are not complete (inputs
    marked ``external`` and a job's own earlier partitions are never missing)."""
    result = []
    for ref in spec.inputs:
        if ref.external or any(out.path == ref.path for out in spec.outputs):
            continue
        grain = grains.get(ref.path) or spec.grain
        span = input_span(part, ref, grain, own=False)
        wanted = input_partitions(settings, spec, ref, part, grain)
        if span.upto is not None or (span.complete_period and ref.partial):
            if not wanted:  # nothing at all to read as of this partition
                result.append((ref, []))
            continue
        missing = [p for p in wanted if not is_complete(partition_dir(settings, ref, p))]
        if missing:
            result.append((ref, missing))
    return result


class InputsMissing(DsflowError):
    """An input partition the run reads is not published (yet): a DAG's sensor waits."""


def check_inputs(project: Project, settings: Settings, spec: JobSpec, part: Partition) -> None:
    """Every input partition the run reads must be published; name the job that writes it
    (:class:`InputsMissing`). Grains that cannot be mapped raise a plain DsflowError."""
    grains = input_grains(project, settings, spec)
    for ref in spec.inputs:
        grain = grains[ref.path]
        if not ref.external and not compatible(spec.grain, grain):
            raise DsflowError(
                f"job {spec.name} ({spec.grain}) reads {ref.path}, published {grain}: "
                + incompatible_reason(spec.grain, grain)
            )
    for ref, missing in missing_inputs(settings, spec, part, grains):
        if not missing:
            grain = grains.get(ref.path) or spec.grain
            what = "snapshot" if ref.kind == "dimension" else "complete partition"
            where = "in" if ref.partial and grain != spec.grain else "at or before"
            # a partition of the writer's grain to start from: the first of the run's period
            first = partition_for(period(part)[0], grain) if grain != "none" else part
            raise InputsMissing(
                f"{ref.kind} {ref.path} has no {what} {where} {part.label}"
                + _writer_hint(project, settings, ref, first, [])
            )
        first = missing[0]
        more = f" and {len(missing) - 1} more of {part.label}" if len(missing) > 1 else ""
        raise InputsMissing(
            f"missing upstream partition {ref.path}/{first.label}{more}"
            + _writer_hint(project, settings, ref, first, missing)
        )


def check_input_files(project: Project, settings: Settings, spec: JobSpec, part: Partition) -> None:
    """The input partitions the run reads must be whole: none half-published by a writer
    killed between two of its outputs' swaps (:class:`InputsMissing`: rerunning the writer
    undoes it), and every Parquet file of a table must have a readable footer (a corrupt one
    is named with its partition, and refuses this run only, instead of a Spark error deep in
    the job; every other ``ds`` runs as usual)."""
    from .publish import JOURNAL

    grains = input_grains(project, settings, spec)
    writers = writer_specs(project, settings)
    for ref in spec.inputs:
        if ref.external or any(out.path == ref.path for out in spec.outputs):
            continue
        found = writers.get(ref.path, [])
        writer = found[0].name if len(found) == 1 else None  # none (raw data), or two: no hint
        for used in input_partitions(settings, spec, ref, part, grains[ref.path]):
            rerun = f"just run job={writer}" + (f" ds={used.value}" if used.value else "")
            if writer and (report_dir(settings, writer, used) / JOURNAL).exists():
                raise InputsMissing(
                    f"input {ref.path}/{used.label} is half-published (job {writer} "
                    f"was stopped between its outputs); run it again first: {rerun}"
                )
            if ref.area != "tables":
                continue
            import pyarrow.parquet as pq  # here: a run reading no table never pays for it

            folder = partition_dir(settings, ref, used)
            for path in sorted(folder.rglob("*.parquet")):
                if any(p.startswith(("_", ".")) for p in path.relative_to(folder).parts):
                    continue
                try:
                    pq.read_metadata(path)
                except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
                    hint = (
                        f"re-run the job that writes it: {rerun}"
                        if writer
                        else "replace the file or re-run the job that writes it"
                    )
                    reason = " ".join(str(exc).split())[:160]
                    raise DsflowError(
                        f"input {ref.path}/{used.label}: {path.relative_to(folder)} is not "
                        f"readable Parquet ({reason}); {hint}"
                    ) from None


def _writer_hint(
    project: Project,
    settings: Settings,
    ref: DatasetRef,
    part: Partition,
    missing: list[Partition],
) -> str:
    """What to run first; ``part`` is a partition of the input's own grain."""
    found = writer_specs(project, settings).get(ref.path, [])
    if not found:
        return "; no job writes it: add the data or a job whose outputs name it"
    if len(found) > 1:
        names = " and ".join(sorted(w.name for w in found))
        return f"; jobs {names} both write it: keep one (just graph names them)"
    if len(missing) > 1:
        first, last = missing[0].value, missing[-1].value
        return f"; run them first: just backfill job={found[0].name} start={first} end={last}"
    return f"; run it first: just run job={found[0].name} ds={part.value}"


def check_sole_writer(project: Project, settings: Settings, spec: JobSpec) -> None:
    """Refuse to run a job whose output another job also declares: each would overwrite the
    other's partitions (`just graph` refuses such a project too)."""
    writers = writer_specs(project, settings)
    for ref in spec.outputs:
        others = sorted(w.name for w in writers.get(ref.path, []) if w.name != spec.name)
        if others:
            raise DsflowError(
                f"{ref.path} is also an output of job {' and '.join(others)}: a dataset has "
                f"one writer; rename the output of one of them in its job_specs.yaml"
            )


def check_output_grains(settings: Settings, spec: JobSpec) -> None:
    """A job must write its tables at their grain: mixing layouts would corrupt readers."""
    for ref in spec.outputs:
        grain = recorded_grain(dataset_dir(settings, ref))
        if grain and grain != spec.grain:
            raise DsflowError(
                f"job {spec.name} declares grain {spec.grain}, but {ref.path} is {grain}: "
                f"set `grain: {grain}` in its job_specs.yaml or write another table"
            )


def _render(value: Any, context: dict[str, Any], key: str, where: Path | None) -> Any:
    """``value`` (a string, or dicts and lists of them) rendered in the bounded sandbox
    (:mod:`dsflow.sandbox`). ``key`` is its path (``job_parameters.url``), ``where`` the spec
    file it comes from (None: the command line); a refusal names both, in one line."""
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        prefix = f"{where}: {key}" if where else key
        try:
            return BoundedSandbox().render_value(value, context)
        except ValueTooLarge as exc:  # not shown: the value may be as large as the bound
            raise DsflowError(f"{prefix}: {exc}") from None
        except RenderRefused as exc:
            reason = str(exc)
        except jinja2.exceptions.SecurityError:
            reason = f"a value may use the documented variables only ({DOCUMENTED})"
        except jinja2.TemplateError as exc:
            reason = str(exc)
        except OverflowError:  # 2.0 ** 5000: a float out of range
            reason = "a number would be out of range"
        except Exception as exc:  # ds + 1, 1 / 0, ...: the value's own mistake
            reason = str(exc) or exc.__class__.__name__
        shown = repr(value) if len(value) <= 200 else repr(value[:200]) + "..."
        reason = " ".join(reason.split())  # one line
        raise DsflowError(f"{prefix}: cannot render {redact_url(shown)}: {reason}") from None
    if isinstance(value, dict):
        return {k: _render(v, context, f"{key}.{k}", where) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, context, f"{key}[{i}]", where) for i, v in enumerate(value)]
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


def _absolute(key: str, value: Any, settings: Settings) -> Any:
    """A datastore path (``raw/...``, ``tables/...``, ``job_runs/...``) made absolute; one
    that ``..`` would take out of its area is refused."""
    if isinstance(value, str) and value.split("/", 1)[0] in AREAS:
        area = settings.datastore / value.split("/", 1)[0]
        if not Path(os.path.normpath(settings.datastore / value)).is_relative_to(area):
            raise DsflowError(
                f"task_specs.{key} {value!r} leaves datastore/{area.name}/: "
                "name a path inside it, without '..'"
            )
        return str(settings.datastore / value)
    return value


def resolve_parameters(
    spec: JobSpec,
    part: Partition,
    overrides: dict[str, str],
    settings: Settings,
    grains: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The parameters a job sees: ds, job_parameters (with overrides) and rendered task_specs.

    ``source_paths[<input>]`` is one path when the run reads one partition by construction
    (``same`` or ``previous`` at the job's grain or a coarser one, a dimension's snapshot; any
    input of an unpartitioned job), else the list of the partitions read
    (:mod:`dsflow.mapping`).
    ``grains`` gives the inputs' grains (:func:`input_grains`), by default as published.
    """
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
    spec_file = spec.folder / SPEC_FILE
    context["job_parameters"] = {
        k: _render(v, context, f"job_parameters.{k}", None if k in overrides else spec_file)
        for k, v in job_parameters.items()
    }
    rendered = {
        k: _render(v, context, f"task_specs.{k}", spec_file) for k, v in spec.task_specs.items()
    }
    task_specs = {k: _absolute(k, v, settings) for k, v in rendered.items()}
    params = {**context["job_parameters"], **task_specs, **context}
    params["task_specs"] = task_specs
    params["source_paths"] = {}
    for ref in spec.inputs:
        if ref.external:
            continue
        grain = (grains or {}).get(ref.path) or grain_of_input(settings, spec, ref)
        used = input_partitions(settings, spec, ref, part, grain)
        paths = [str(partition_dir(settings, ref, p)) for p in used]
        span = input_span(part, ref, grain, any(out.path == ref.path for out in spec.outputs))
        single = part.grain == "none" or (
            ref.partitions in ("same", "previous") and not span.complete_period
        )
        params["source_paths"][ref.name] = paths[0] if single and paths else paths
    return params


def parameters_hash(params: dict[str, Any], settings: Settings) -> str:
    """A hash of a run's resolved parameters, blind to where the datastore is (a moved or
    cloned project, or the container's /data, is not a parameter change) and to the values of
    secrets: ``params`` holds their ``${NAME}`` references (:func:`resolve_secrets`), so a
    rotated password does not make every partition stale."""
    text = json.dumps(params, sort_keys=True, default=str).replace(str(settings.datastore), "")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ------------------------------------------------------------------ secrets: ${NAME}

# ${NAME} in a parameter or spec value: a secret from the project's .env (or the environment),
# put in when the job starts and written nowhere; $${NAME} stands for a literal ${NAME}.
SECRET_REF = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}")
ENV_FILE = ".env"


def secret_names(value: Any) -> list[str]:
    """The names ``value`` (a string, or dicts and lists of them) references as ``${NAME}``,
    in order of first use, escaped ``$${NAME}`` left out."""
    return list(dict.fromkeys(name for _, name in _references(value, "")))


def _references(value: Any, key: str) -> list[tuple[str, str]]:
    """(key path, name) of every ``${NAME}`` in ``value``; ``key`` is the path to ``value``."""
    if isinstance(value, str):
        return [(key, m.group(2)) for m in SECRET_REF.finditer(value) if not m.group(1)]
    if isinstance(value, dict):
        return [ref for k, v in value.items() for ref in _references(v, f"{key}.{k}".lstrip("."))]
    if isinstance(value, list | tuple):
        return [ref for i, v in enumerate(value) for ref in _references(v, f"{key}[{i}]")]
    return []


def resolve_secrets(
    root: Path, spec: JobSpec, params: dict[str, Any], environ: dict[str, str] | None = None
) -> dict[str, str]:
    """The value of every ``${NAME}`` in the run's resolved ``params``, from the project's
    ``.env`` first, then the environment (:func:`dsflow.envfile.lookup_values`).

    Call it before anything is written: a name set nowhere (or empty) is refused in one line
    naming the spec file and the key that uses it. The values go to the job only
    (:func:`substitute_secrets`); records, logs and messages get them redacted back to
    ``${NAME}`` (:mod:`dsflow.redaction`).
    """
    sections = {k: params.get(k) for k in ("job_parameters", "task_specs")}
    used: dict[str, str] = {}  # name -> the first key that uses it
    for key, name in _references(sections, "") + _references(params, ""):
        used.setdefault(name, key)
    values = lookup_values(used, root / ENV_FILE, environ)
    for name, key in used.items():
        if name not in values:
            raise DsflowError(
                f"{spec.folder / SPEC_FILE}: {key} uses ${{{name}}}, which is not set: add "
                f"{name}=<value> to {root / ENV_FILE} (or set it in the environment)"
            )
    return values


def substitute_secrets(value: Any, secrets: dict[str, str]) -> Any:
    """A copy of ``value`` with each ``${NAME}`` replaced by ``secrets[NAME]`` and each
    ``$${NAME}`` by a literal ``${NAME}``: what the job itself gets.

    In the user-info of a URL (``https://${API_USER}:${API_PASSWORD}@host``) the value is
    percent-encoded, so that a password holding ``/ ? # @ : %`` still makes one valid URL
    (whose reader decodes it: :func:`dsflow.download.split_credentials`), instead of one that
    cuts the password where its host seems to start and shows the rest in an error.
    """
    if isinstance(value, str):
        parts, start = [], 0
        for url in URL_USERINFO.finditer(value):
            parts.append(SECRET_REF.sub(lambda m: _secret(m, secrets), value[start : url.start(2)]))
            parts.append(SECRET_REF.sub(lambda m: _secret(m, secrets, quoted=True), url.group(2)))
            start = url.end(2)
        parts.append(SECRET_REF.sub(lambda m: _secret(m, secrets), value[start:]))
        return "".join(parts)
    if isinstance(value, dict):
        return {k: substitute_secrets(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [substitute_secrets(v, secrets) for v in value]
    return value


def _secret(match: re.Match[str], secrets: dict[str, str], quoted: bool = False) -> str:
    escaped, name = match.group(1), match.group(2)
    if escaped:
        return "${" + name + "}"
    if name not in secrets:  # resolve_secrets() names the key; this is a caller's slip
        raise DsflowError(f"${{{name}}} is not set: add {name}=<value> to the project's .env")
    return urllib.parse.quote(secrets[name], safe="") if quoted else secrets[name]
