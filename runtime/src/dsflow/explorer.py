"""``just explorer``: the datastore explorer every project has, for those who would rather look.

A Dash app (run as ``python -m dsflow.explorer``): a status heatmap of datasets x partitions
(complete, missing, failed, stale), the tables with their partitions and rows, and the latest
run reports, served by the app itself under ``/reports/...``. Everything is read from the
datastore on each page load with pyarrow and the run records: no JVM.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from .datastore import JOB_RUNS, read_meta
from .errors import DsflowError
from .partitions import partition_value
from .reports import RUN_RECORD

STATES = ["missing", "failed", "stale", "complete"]
COLOURS = ["#d9d9d9", "#d62728", "#ff7f0e", "#2ca02c"]


def status_figure(states: dict[str, dict[str, Any]]) -> Any:
    """A heatmap: one row per dataset, one column per partition, coloured by state."""
    import plotly.graph_objects as go

    labels = sorted({lab for d in states.values() for lab in d["partitions"]})
    rows = list(states)
    z = [
        [
            STATES.index(states[r]["partitions"].get(lab, {}).get("state", "missing"))
            for lab in labels
        ]
        for r in rows
    ]
    scale = []
    for i, colour in enumerate(COLOURS):
        scale += [[i / len(COLOURS), colour], [(i + 1) / len(COLOURS), colour]]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[partition_value(lab) or lab for lab in labels],  # (unpartitioned) as it is
            y=rows,
            zmin=-0.5,
            zmax=len(STATES) - 0.5,
            colorscale=scale,
            xgap=2,
            ygap=2,
            colorbar={"tickvals": list(range(len(STATES))), "ticktext": STATES},
        )
    )
    fig.update_layout(template="plotly_white", margin={"l": 200, "r": 20, "t": 20, "b": 60})
    return fig


def _tables_rows(datastore: Path) -> list[dict[str, Any]]:
    from .tables import find_tables

    rows = []
    for table in find_tables(datastore / "tables"):
        rows_total = 0
        for part in table.partitions:
            with contextlib.suppress(ValueError):  # rows that are not a number count as none
                rows_total += int((read_meta(part) or {}).get("rows", 0))  # none: older partition
        keys = table.keys
        rows.append(
            {
                "table": table.name,
                "kind": table.kind,
                "partitions": len(keys),
                "first": keys[0] if keys else "",
                "last": keys[-1] if keys else "",
                "rows": rows_total,
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
                "status": record.get("status", "?"),
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
        runs = _runs(datastore)
        return html.Div(
            style={"fontFamily": "sans-serif", "margin": "1em 2em"},
            children=[
                html.H2(f"{settings.project}: datastore"),
                html.P(problem or f"partitions {start} to {end}; refresh to update"),
                dcc.Graph(id="status", figure=status_figure(states)),
                html.H3("Tables"),
                dash_table.DataTable(
                    id="tables",
                    data=tables,
                    columns=[
                        {"name": c, "id": c}
                        for c in ("table", "kind", "partitions", "first", "last", "rows")
                    ],
                ),  # fmt: skip
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
    app.layout = layout

    @app.server.route("/reports/<path:rel>")
    def report(rel: str) -> Any:
        if not rel.endswith(("/report.html", "/log.txt")):
            abort(404)
        return send_from_directory(datastore / JOB_RUNS, rel)  # refuses paths outside it

    return app


if __name__ == "__main__":
    from .dashboards import serve

    serve(build_app())
