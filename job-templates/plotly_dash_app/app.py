"""A Dash dashboard over one table: a date range picker, a line chart and a sample of rows.

`just dash job=<this job>` serves it on 127.0.0.1 and prints its URL. The table and the columns
come from job_specs.yaml; the data is read with pyarrow from the table's complete partitions,
so a page view starts no JVM. A partition that cannot be read (a corrupt file, say) is left out
and named in a panel above the chart, with the command that rewrites it. Everything the page
loads is served by this app: no CSS, fonts or scripts from the internet.
"""

from pathlib import Path

import plotly.express as px
import plotly.graph_objects as go
from dash import Dash, Input, Output, dash_table, dcc, html
from dsflow.dashboards import job_parameters, load_table, partition_bounds, serve

PARAMS = job_parameters(Path(__file__).parent)
TABLE = PARAMS["table"]
X, Y = PARAMS["x_column"], PARAMS["y_column"]
COLOR = PARAMS.get("color_column") or None
SAMPLE_ROWS = 20


def figure(frame):
    """The line chart of Y against X (one line per COLOR value), or a note when empty."""
    if frame.empty:
        fig = go.Figure()
        fig.add_annotation(text=f"no complete partitions of {TABLE} in this range", showarrow=False)
        return fig
    missing = [c for c in (X, Y, COLOR) if c and c not in frame.columns]
    if missing:
        fig = go.Figure()
        fig.add_annotation(text=f"{TABLE} has no column {missing[0]!r}", showarrow=False)
        return fig
    fig = px.line(frame.sort_values(X), x=X, y=Y, color=COLOR)
    fig.update_layout(template="plotly_white", margin={"l": 40, "r": 20, "t": 20, "b": 40})
    return fig


def sample(frame):
    return frame.head(SAMPLE_ROWS).astype(str).to_dict("records")


def layout():
    """Built on every page load, so a newly published partition shows up on refresh."""
    first, last = partition_bounds(TABLE)
    data = load_table(TABLE, first, last)
    frame = data.frame
    return html.Div(
        style={"fontFamily": "sans-serif", "margin": "1em 2em"},
        children=[
            html.H2(f"{TABLE}: {Y} by {X}"),
            html.Div(id="problems", children=data.panel()),  # what could not be read, if any
            html.P(
                f"partitions {first} to {last}"
                if first
                else f"{TABLE} has no complete partitions yet: publish some with `just backfill`"
            ),
            dcc.DatePickerRange(
                id="dates",
                min_date_allowed=first,
                max_date_allowed=last,
                start_date=first,
                end_date=last,
                display_format="YYYY-MM-DD",
            ),
            dcc.Graph(id="chart", figure=figure(frame)),
            html.H3(f"Sample ({SAMPLE_ROWS} rows)"),
            dash_table.DataTable(
                id="sample",
                data=sample(frame),
                columns=[{"name": c, "id": c} for c in frame.columns],
                page_size=10,
            ),
        ],
    )


app = Dash(__name__, title=f"{TABLE} dashboard")
app.layout = layout


@app.callback(
    Output("chart", "figure"),
    Output("sample", "data"),
    Output("problems", "children"),
    Input("dates", "start_date"),
    Input("dates", "end_date"),
    prevent_initial_call=True,
)
def update(start, end):
    data = load_table(TABLE, start, end)
    return figure(data.frame), sample(data.frame), data.panel()


if __name__ == "__main__":
    serve(app)
