"""dsflow.report_html: a run's executed notebook as ``report.html``, rendered in-process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

RENDER = "from pathlib import Path; import sys; from dsflow.report_html import render_html; " \
    "render_html(Path(sys.argv[1]), Path(sys.argv[2]))"  # fmt: skip


def executed_notebook(path: Path) -> Path:
    """A notebook as a kernel leaves it: the kernel says its language is ipython3."""
    code = new_code_cell("import math\nrows = 4  # the run's rows\nprint(f'rows {rows}')")
    code.outputs = [new_output("stream", name="stdout", text="rows 4\n")]
    notebook = new_notebook(
        cells=[new_markdown_cell("# Squares <b>&</b> roots"), code],
        metadata={"language_info": {"name": "python", "pygments_lexer": "ipython3"}},
    )
    nbformat.write(notebook, path)
    return path


def render(notebook: Path, html: Path, cache: Path) -> str:
    """Render in a fresh process (the way a run does: one report each), templates cached in
    ``cache``."""
    env = {"XDG_CACHE_HOME": str(cache), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", RENDER, notebook, html], env=env, check=True)
    return html.read_text()


def test_the_report_shows_the_code_highlighted_and_compiles_its_templates_once(tmp_path):
    """The code highlighted, its output, the Markdown rendered, nothing loaded from the
    internet; the templates compiled into the cache by the first run's render and read, not
    compiled again, by the next run's (each in its own process, as runs are)."""
    notebook = executed_notebook(tmp_path / "report.ipynb")
    html = render(notebook, tmp_path / "first.html", tmp_path)
    # Pygments' Python lexer (not IPython's: no IPython import for a report)
    assert '<div class=" highlight hl-python3">' in html
    assert (
        '<span class="kn">import</span><span class="w"> </span><span class="nn">math</span>' in html
    )
    assert """<span class="c1"># the run's rows</span>""" in html
    assert "rows 4\n</pre>" in html  # the cell's output
    assert re.search(r"<h1 id=[^>]*>Squares <b>&amp;</b> roots", html)  # the Markdown cell
    # it opens offline: no script, module or stylesheet from the internet
    assert not re.search(r"""(src|href)=["']https?:|from ["']https?:""", html)
    cached = sorted((tmp_path / "dsflow/templates").glob("__jinja2_*.cache"))
    assert cached, "no compiled template in the cache"
    stamps = {p: p.stat().st_mtime_ns for p in cached}
    assert render(notebook, tmp_path / "again.html", tmp_path) == html
    assert {p: p.stat().st_mtime_ns for p in cached} == stamps


def test_a_cache_that_cannot_be_written_still_renders(tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would go")
    html = render(executed_notebook(tmp_path / "report.ipynb"), tmp_path / "r.html", blocked)
    assert "rows 4" in html
