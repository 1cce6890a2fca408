"""Run reports under ``datastore/job_runs/<job>/<partition>/``: notebook, HTML, log, run record."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

RUN_RECORD = "run.json"
HISTORY = "history.jsonl"


_local = threading.local()


def render_html(notebook: Path, html: Path) -> None:
    """Render an executed notebook to HTML in-process (no nbconvert subprocess)."""
    import nbformat

    body, _ = _exporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    html.write_text(body)


# JupyterLab's look without the scripts it loads from a CDN (require.js, MathJax, Mermaid):
# a report opens offline, and from the explorer's /reports/ without reaching the internet
_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def _exporter() -> Any:
    # a new exporter compiles its templates again (about 0.1 s a report); a backfill's worker
    # threads each keep one, as exporters are not documented thread-safe
    if not hasattr(_local, "exporter"):
        import jinja2
        from nbconvert import HTMLExporter

        _local.exporter = HTMLExporter(
            extra_loaders=[jinja2.DictLoader({"dsflow_report.html.j2": _TEMPLATE})],
            template_file="dsflow_report.html.j2",
        )
    return _local.exporter


def code_hash(folder: Path) -> str:
    """SHA-256 over the job folder's files (names and bytes), ignoring caches and checkpoints."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if not path.is_file() or "__pycache__" in rel or ".ipynb_checkpoints" in rel:
            continue
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def write_record(report_dir: Path, record: dict[str, Any]) -> Path:
    """Write the run record (``run.json``) into the partition's report folder."""
    path = report_dir / RUN_RECORD
    path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    return path


def append_history(job_runs: Path, record: dict[str, Any]) -> None:
    """One line per run in ``job_runs/<job>/history.jsonl``."""
    with (job_runs / HISTORY).open("a") as handle:
        handle.write(json.dumps(record, default=str) + "\n")


def read_record(report_dir: Path) -> dict[str, Any] | None:
    """The last run record of a partition, or None."""
    path = report_dir / RUN_RECORD
    return json.loads(path.read_text()) if path.is_file() else None
