"""A run's ``report.html``: its executed notebook rendered in-process with nbconvert.

A single ``just run`` renders one report, so what nbconvert does once per process counts:
nbconvert's own HTML exporter parses its output again with BeautifulSoup to add ``alt`` text
and ``tabindex`` attributes (its CSS selectors alone compile in ~0.15 s), highlights code with
IPython's lexer (importing IPython, ~0.1 s) and compiles its Jinja templates (~0.1 s). Here the
report skips the second parse, highlights with Pygments' Python lexer, and keeps the compiled
templates in a cache beside Spark's class archive: ~0.3 s less for every run.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any

from .caches import user_cache

# JupyterLab's look without the scripts it loads from a CDN (require.js, MathJax, Mermaid):
# a report opens offline, and from the explorer's /reports/ without reaching the internet
_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
# the kernel names its language ipython3; job notebooks are plain Python
_LEXERS = {"ipython3": "python3", "ipython": "python3", "python": "python3"}

_EXPORTER: Any = None
_LOCK = threading.Lock()  # nbconvert's exporters are not documented thread-safe


def render_html(notebook: Path, html: Path) -> None:
    """Render the executed ``notebook`` to ``html`` in-process (no nbconvert subprocess)."""
    import nbformat

    node = nbformat.read(notebook, as_version=4)
    with _LOCK:
        body, _ = _exporter().from_notebook_node(node)
    html.write_text(body)


def template_cache() -> Path:
    """``$XDG_CACHE_HOME/dsflow/templates``: the report templates, compiled (Jinja bytecode,
    keyed by each template's source: a changed template compiles again)."""
    return user_cache("templates")


def _exporter() -> Any:
    """One exporter per process (callers hold the lock)."""
    global _EXPORTER
    if _EXPORTER is None:
        _EXPORTER = _exporter_class()(
            extra_loaders=[_dict_loader()], template_file="dsflow_report.html.j2"
        )
    return _EXPORTER


def _dict_loader() -> Any:
    import jinja2

    return jinja2.DictLoader({"dsflow_report.html.j2": _TEMPLATE})


def _exporter_class() -> type:
    # here, not at module level: nbconvert is imported only when a report is rendered
    import jinja2
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class _QuietCache(jinja2.FileSystemBytecodeCache):
        """A cache that cannot be written (a full disk) costs a compile, never a report."""

        def dump_bytecode(self, bucket: Any) -> None:
            with contextlib.suppress(OSError):
                super().dump_bytecode(bucket)

    class ReportExporter(HTMLExporter):
        """nbconvert's HTML exporter (the lab template) without its BeautifulSoup pass."""

        def _create_environment(self) -> Any:
            environment = super()._create_environment()
            try:
                cache = template_cache()
                cache.mkdir(parents=True, exist_ok=True, mode=0o700)
            except (OSError, RuntimeError):  # no cache folder (no home): compile every time
                return environment
            if os.access(cache, os.W_OK | os.X_OK):
                environment.bytecode_cache = _QuietCache(str(cache))
            return environment

        def from_notebook_node(
            self, nb: Any, resources: dict[str, Any] | None = None, **kw: Any
        ) -> tuple[str, dict[str, Any]]:
            # HTMLExporter.from_notebook_node, minus the BeautifulSoup pass at its end; an
            # nbconvert whose internals differ gets its own method (nbconvert is pinned <8)
            if not hasattr(self, "_init_resources"):
                return super().from_notebook_node(nb, resources, **kw)
            info = nb.metadata.get("language_info", {})
            lexer = info.get("pygments_lexer", info.get("name"))
            lexer = _LEXERS.get(lexer, lexer)
            self.register_filter(
                "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)
            )
            resources = self._init_resources(resources)
            self.register_filter(
                "filter_data_type",
                WidgetsDataTypeFilter(
                    notebook_metadata=self._nb_metadata, parent=self, resources=resources
                ),
            )
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    return ReportExporter
