"""Whether a job's partition is up to date, and which partitions a range holds per job.

``just backfill`` plans from these (:mod:`dsflow.backfill`) and ``just status`` and the
explorer show them (:mod:`dsflow.status`); they read the datastore and the specs only, so
the read-only views stay clear of the executor.
"""

from __future__ import annotations

from .datastore import is_complete, locks_dir, partition_dir, read_meta, report_dir, run_id
from .graph import Graph
from .partitions import Partition, partition_range, range_bound
from .reports import CODE_HASH_SCHEME, KILLED, code_hash, read_record, run_status
from .resolve import input_partitions, parameters_hash, resolve_parameters, upstream_key
from .settings import Settings


def job_partitions(graph: Graph, jobs: list[str], start: str, end: str) -> dict[str, list]:
    """The partitions of each job from ``start`` to ``end`` (both included), in its grain."""
    result = {}
    for name in jobs:
        grain = graph.jobs[name].grain
        if grain == "none":
            result[name] = [Partition("none", "")]
            continue
        first, last = range_bound(start, grain, False), range_bound(end, grain, True)
        result[name] = partition_range(first, last)
    return result


def stale_reason(settings: Settings, graph: Graph, job: str, part: Partition) -> str | None:
    """Why a published partition must be recomputed, or None when it is up to date."""
    spec = graph.jobs[job]
    if spec.outputs and not all(
        is_complete(partition_dir(settings, o, part)) for o in spec.outputs
    ):
        return "missing"
    if not spec.outputs:
        record = read_record(report_dir(settings, job, part))
        return None if record and record.get("status") == "success" else "never ran"
    record = read_record(report_dir(settings, job, part))
    status = run_status(record, locks_dir(settings, job)) if record else None
    if status == "failed":
        return "last run failed"
    if status == KILLED:
        return "last run was killed"
    # the first output's metadata speaks for the run: every output is published with the same
    meta = read_meta(partition_dir(settings, spec.outputs[0], part)) or {}
    recorded_code = str(meta.get("code_hash") or "")
    if recorded_code.startswith(CODE_HASH_SCHEME) and recorded_code != code_hash(spec):
        return "code changed"
    grains = graph.input_grains(settings, spec)
    recorded = meta.get("parameters_hash")
    if recorded:
        params = resolve_parameters(spec, part, {}, settings, grains)
        if parameters_hash(params, settings) != recorded:
            return "parameters changed"
    upstream = meta.get("upstream") or {}
    for ref in spec.inputs:
        if ref.external:
            continue
        for used in input_partitions(settings, spec, ref, part, grains[ref.path]):
            key = upstream_key(ref, used, part)
            current = run_id(partition_dir(settings, ref, used))
            if current and upstream.get(key) not in (None, current):
                return f"upstream {ref.path}/{used.label} changed"
            if current and key not in upstream and upstream:
                return f"upstream {ref.path}/{used.label} is new"
    return None
