"""``just explorer``: the datastore explorer every project has, for those who would rather look.

A Dash app (run as ``python -m dsflow.explorer``): a status heatmap of datasets x partitions
(complete, missing, failed, stale), one per grain, the tables with their partitions and rows
(a dimension: its latest snapshot's rows and how many snapshots), and the latest
run reports, served by the app itself under ``/reports/...``. Everything is read from the
datastore on each page load with pyarrow and the run records: no JVM.

A partition a reader could not read (a file whose Parquet footer is unreadable, columns whose
types disagree with the table's other partitions') is listed in a warning panel above the
tables, with the job to re-run; anything else that fails while the page is built shows as an
error panel (HTTP 200), never an HTTP 500.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .dashboards import guard_layout, problem_panel, unreadable_partitions
from .datastore import JOB_RUNS
from .errors import DsflowError
from .partitions import partition_value
from .reports import RUN_RECORD, run_status
from .status import grain_sections
from .table_rows import table_rows

STATES = ["missing", "failed", "stale", "complete"]
COLOURS = ["#d9d9d9", "#d62728", "#ff7f0e", "#2ca02c"]
TABLE_COLUMNS = ("table", "kind", "partitions", "first", "last", "rows", "snapshots")
# the figure grows with its datasets; a gap holds slanted partition labels and a title
ROW_PX, GAP_PX, TOP_PX, BOTTOM_PX = 36, 110, 30, 80


def status_figure(states: dict[str, dict[str, Any]]) -> Any:
    """One heatmap per grain, finest first, each on its own partition axis (a monthly
    ``2024-01`` never shares an axis with the days): one row per dataset, one column per
    partition, coloured by state; the hover says why a partition is stale or failed."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    sections = grain_sections(states)
    if not sections:
        fig = go.Figure()
        fig.add_annotation(text="no datasets: no job declares outputs yet", showarrow=False)
        fig.update_layout(template="plotly_white", xaxis_visible=False, yaxis_visible=False)
        return fig
    heights = [ROW_PX * len(paths) for _, paths, _ in sections]
    # between two heatmaps: the upper one's partition labels and the lower one's title
    gaps = GAP_PX * (len(sections) - 1)
    height = max(sum(heights) + gaps + TOP_PX + BOTTOM_PX, 300)
    fig = make_subplots(
        rows=len(sections),
        cols=1,
        row_heights=heights,
        vertical_spacing=GAP_PX / (height - TOP_PX - BOTTOM_PX) if gaps else 0,
        subplot_titles=[
            "unpartitioned" if grain == "none" else f"{grain} partitions"
            for grain, _, _ in sections
        ],
    )
    for row, (_grain, paths, labels) in enumerate(sections, 1):
        cells = [[states[p]["partitions"].get(lab) for lab in labels] for p in paths]
        fig.add_trace(
            go.Heatmap(
                z=[[STATES.index(c["state"] if c else "missing") for c in line] for line in cells],
                x=[partition_value(lab) or lab for lab in labels],  # (unpartitioned) as it is
                y=paths,
                text=[[_hover(c) for c in line] for line in cells],
                hovertemplate="%{y} %{x}: %{text}<extra></extra>",
                coloraxis="coloraxis",
                xgap=2,
                ygap=2,
            ),
            row=row,
            col=1,
        )
        # categories: one column per partition, labelled as it is, never a date axis
        fig.update_xaxes(type="category", row=row, col=1)
        fig.update_yaxes(type="category", autorange="reversed", row=row, col=1)
    scale = []
    for i, colour in enumerate(COLOURS):
        scale += [[i / len(COLOURS), colour], [(i + 1) / len(COLOURS), colour]]
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 200, "r": 20, "t": TOP_PX, "b": BOTTOM_PX},
        coloraxis={
            "colorscale": scale,
            "cmin": -0.5,
            "cmax": len(STATES) - 0.5,
            "colorbar": {"tickvals": list(range(len(STATES))), "ticktext": STATES},
        },
    )
    return fig


def _hover(cell: dict[str, Any] | None) -> str:
    if not cell:
        return "missing"
    return f"{cell['state']}: {cell['why']}" if cell.get("why") else cell["state"]


def _tables_rows(datastore: Path) -> list[dict[str, Any]]:
    """The tables list: a fact table's rows over its complete partitions; a dimension's latest
    snapshot's rows and how many snapshots it has."""
    from .tables import find_tables

    rows = []
    for table in find_tables(datastore / "tables"):
        size = table_rows(table)
        keys = [] if table.unpartitioned else table.keys
        rows.append(
            {
                "table": table.name,
                "kind": table.kind,
                "partitions": len(keys),
                "first": keys[0] if keys else "",
                "last": keys[-1] if keys else "",
                "rows": size.rows,
                "snapshots": size.snapshots,
            }
        )
    return rows


def _runs(datastore: Path, limit: int = 30) -> list[dict[str, Any]]:
    records = []
    for path in (datastore / JOB_RUNS).glob(f"*/**/{RUN_RECORD}"):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        rel = path.parent.relative_to(datastore / JOB_RUNS)
        report = "report.html" if (path.parent / "report.html").is_file() else "log.txt"
        records.append(
            {
                "job": record.get("job", "?"),
                "partition": record.get("partition", "?"),
                "status": run_status(record, datastore / JOB_RUNS / rel.parts[0] / ".locks"),
                "seconds": record.get("duration_s", ""),
                "finished": record.get("finished_at", ""),
                "report": f"[{report}](/reports/{rel.as_posix()}/{report})",
            }
        )
    records.sort(key=lambda r: r["finished"], reverse=True)
    return records[:limit]


def build_app() -> Any:
    """The explorer's Dash app."""
    from dash import Dash, dash_table, dcc, html
    from flask import abort, send_from_directory

    from .graph import build_graph
    from .project import current_project
    from .settings import load_settings
    from .status import default_range, partition_states

    project = current_project()
    settings = load_settings(project)
    datastore = settings.datastore

    def layout() -> Any:
        try:
            graph = build_graph(project, settings)
            start, end = default_range(settings, graph)
            states = partition_states(settings, graph, start, end)
            problem = None
        except DsflowError as exc:  # a broken spec must not take the explorer down
            states, problem, start, end = {}, str(exc), "", ""
        tables = _tables_rows(datastore)
        unreadable = unreadable_partitions(datastore)
        runs = _runs(datastore)
        return html.Div(
            style={"fontFamily": "sans-serif", "margin": "1em 2em"},
            children=[
                html.H2(f"{settings.project}: datastore"),
                html.P(problem or f"partitions {start} to {end}; refresh to update"),
                dcc.Graph(id="status", figure=status_figure(states)),
                html.H3("Tables"),
                html.Div(
                    id="table-problems",
                    children=problem_panel(
                        unreadable,
                        "Partitions that cannot be read (a dashboard leaves them out):",
                        warning=True,
                    ),
                ),
                dash_table.DataTable(
                    id="tables",
                    data=tables,
                    columns=[{"name": c, "id": c} for c in TABLE_COLUMNS],
                ),
                html.H3("Latest runs"),
                dash_table.DataTable(
                    id="runs",
                    data=runs,
                    columns=[
                        {
                            "name": c,
                            "id": c,
                            **({"presentation": "markdown"} if c == "report" else {}),
                        }
                        for c in ("job", "partition", "status", "seconds", "finished", "report")
                    ],
                    page_size=15,
                ),
            ],
        )

    app = Dash(__name__, title=f"{settings.project} datastore")
    app.layout = guard_layout(layout)  # a page that fails shows why instead of an HTTP 500

    @app.server.route("/reports/<path:rel>")
    def report(rel: str) -> Any:
        if not rel.endswith(("/report.html", "/log.txt")):
            abort(404)
        return send_from_directory(datastore / JOB_RUNS, rel)  # refuses paths outside it

    return app


if __name__ == "__main__":
    from .dashboards import serve

    serve(build_app())
