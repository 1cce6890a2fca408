"""Run reports under ``datastore/job_runs/<job>/<partition>/``: notebook, HTML, log, run record."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .errors import about_path
from .locks import held
from .redaction import redact_record
from .specs import OUTPUT_KEYS, JobSpec

RUN_RECORD = "run.json"
HISTORY = "history.jsonl"
RUNNING = "running"  # run.json while its run goes on; still there after a kill
KILLED = "killed"


# Files in a job folder that do not run: documentation, copier's answers, the spec (whose
# output-affecting keys are hashed on their own), caches and checkpoints.
_NOT_CODE = {".copier-answers.yml", "job_specs.yaml"}
# Marks hashes of this scheme. Hashes without it (v0.3.0 and earlier also covered docs and
# answers) cannot be compared, so partitions recorded with them are not called stale.
CODE_HASH_SCHEME = "c2:"


def code_hash(spec: JobSpec) -> str:
    """SHA-256 over what a run executes: the job's code files and the spec keys that shape output.

    README and other Markdown files, the copier answers file, hidden files and caches are left
    out, so a template update that only touches docs or answers leaves partitions up to date.
    """
    digest = hashlib.sha256()
    keys = {k: spec.raw.get(k) for k in OUTPUT_KEYS}
    digest.update(json.dumps(keys, sort_keys=True, default=str).encode() + b"\0")
    folder = spec.folder
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if not path.is_file() or _not_code(rel):
            continue
        digest.update(rel.as_posix().encode() + b"\0" + _code_bytes(path) + b"\0")
    return CODE_HASH_SCHEME + digest.hexdigest()[:16]


def _code_bytes(path: Path) -> bytes:
    """A file's bytes; for a .ipynb only its cells' types and sources (Jupyter rewrites outputs,
    counts and metadata on every save, which change nothing a run does)."""
    data = path.read_bytes()
    if path.suffix != ".ipynb":
        return data
    try:
        cells = json.loads(data)["cells"]
        kept = [(c.get("cell_type"), "".join(c.get("source") or "")) for c in cells]
    except (ValueError, KeyError, TypeError, AttributeError):
        return data  # not a notebook we can read: its bytes, then
    return json.dumps(kept).encode()


def _not_code(rel: Path) -> bool:
    if rel.as_posix() in _NOT_CODE or rel.suffix.lower() == ".md":
        return True
    return any(
        part.startswith(".") or part in ("__pycache__", ".ipynb_checkpoints") for part in rel.parts
    )


def write_record(report_dir: Path, record: dict[str, Any]) -> Path:
    """Write the run record (``run.json``) into the partition's report folder, whole or not
    at all (a run killed while writing it leaves the previous one)."""
    path = report_dir / RUN_RECORD
    tmp = path.with_name(f".{RUN_RECORD}.tmp")
    with about_path(path):
        tmp.write_text(json.dumps(redact_record(record), indent=2, default=str) + "\n")
        tmp.replace(path)
    return path


def run_status(record: dict[str, Any], lock_dir: Path) -> str:
    """The record's status, where a run that says ``running`` but holds no lock was killed."""
    status = str(record.get("status", "?"))
    if status == RUNNING and not held(lock_dir, str(record.get("partition", ""))):
        return KILLED
    return status


def append_history(job_runs: Path, record: dict[str, Any]) -> None:
    """One line per run in ``job_runs/<job>/history.jsonl``."""
    with about_path(job_runs / HISTORY), (job_runs / HISTORY).open("a") as handle:
        handle.write(json.dumps(redact_record(record), default=str) + "\n")


def read_record(report_dir: Path) -> dict[str, Any] | None:
    """The last run record of a partition, or None."""
    path = report_dir / RUN_RECORD
    return json.loads(path.read_text()) if path.is_file() else None
