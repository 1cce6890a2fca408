"""Dashboards: read tables for a page view with pyarrow (no JVM), and serve a Dash app.

A dashboard job's ``app.py`` uses :func:`job_parameters`, :func:`read_table` and :func:`serve`;
``just dash job=NAME`` starts it in the background through :func:`start_dashboard`.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path
from typing import Any

from . import services
from .datastore import complete_partitions, current_datastore
from .errors import DsflowError
from .partitions import parse_partition_path
from .project import PROJECT_ROOT_ENV, Project
from .settings import DEFAULT_PORTS, load_settings
from .specs import JobSpec, find_job, load_spec
from .tables import read_arrow

PORT_ENV = "DSFLOW_DASH_PORT"


def job_parameters(job_folder: Path) -> dict[str, Any]:
    """The dashboard job's ``job_parameters`` plus ``table``: the first table it reads."""
    spec = load_spec(job_folder)
    tables = [ref.name for ref in spec.inputs if ref.area == "tables"]
    if not tables:
        raise DsflowError(f"{job_folder}/job_specs.yaml: a dashboard needs a `table:` input")
    return {**spec.job_parameters, "table": tables[0]}


def partition_bounds(table: str, datastore: Path | None = None) -> tuple[str | None, str | None]:
    """First and last ``ds`` of the table's complete partitions; (None, None) when it has none."""
    folder = (datastore or current_datastore()) / "tables" / table
    days = [d for d in (_ds(folder, p) for p in complete_partitions(folder)) if d]
    return (days[0][:10], days[-1][:10]) if days else (None, None)


def _ds(folder: Path, partition: Path) -> str:
    return parse_partition_path(partition.relative_to(folder)).get("ds", "")


def read_table(
    table: str,
    start: str | None = None,
    end: str | None = None,
    datastore: Path | None = None,
    as_of: str | None = None,
    history: bool = True,
) -> Any:
    """A pandas DataFrame of the table's complete partitions with ``start <= ds <= end``,
    every partition read with the table's schema (:func:`dsflow.tables.read_arrow`).

    ``ds`` (and ``hr`` for hourly tables) become columns, as in Spark. A dimension gives every
    snapshot in the range, as a chart over time wants (``history=False``: its latest snapshot
    at or before ``as_of``, default ``end``). A table with no complete partition yet gives an
    empty frame.
    """
    import pandas as pd

    folder = (datastore or current_datastore()) / "tables" / table
    if not complete_partitions(folder):
        return pd.DataFrame()
    return read_arrow(table, start, end, as_of, history, datastore).to_pandas()


def serve(app: Any) -> None:
    """Run a Dash app on 127.0.0.1, on the port ``just dash`` chose (the default ``dash`` port
    when run by hand).

    ``DSFLOW_BIND_HOST`` changes the address inside a container (the compose stack publishes
    the port on the host's 127.0.0.1 only)."""
    port = int(os.environ.get(PORT_ENV, DEFAULT_PORTS["dash"]))
    app.run(host=os.environ.get("DSFLOW_BIND_HOST", "127.0.0.1"), port=port, debug=False)


def dashboard_spec(project: Project, job: str) -> JobSpec:
    spec = find_job(project, job, load_settings(project).default_grain)
    if spec.job_class != "dashboard":
        raise DsflowError(
            f"job {job} is a {spec.job_class}, not a dashboard: run it with `just run job={job}`"
        )
    return spec


def _free_port(project: Project, first: int) -> int:
    taken = {s.port for s in services.running(project)}
    for port in range(first, first + 100):
        if port not in taken and services.port_free(port):
            return port
    raise DsflowError(f"no free port in {first}-{first + 99}; set ports.dash in dsflow.yml")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def start_dashboard(project: Project, job: str, port: int | None = None) -> services.Service:
    """Serve dashboard job ``job`` in the background; returns the running service."""
    spec = dashboard_spec(project, job)
    if port is None:
        running = services.get(project, job)
        port = running.port if running else _free_port(project, load_settings(project).port("dash"))
    url = f"http://127.0.0.1:{port}/"
    return services.start(
        project,
        job,
        [sys.executable, str(spec.script)],
        port=port,
        url=url,
        port_setting=f"choose another: just dash job={job} port=NNNN",
        env={PROJECT_ROOT_ENV: str(project.root), PORT_ENV: str(port)},
        ready=lambda: _answers(url),
        timeout=60,
    )


def start_explorer(project: Project, port: int | None = None) -> services.Service:
    """Serve the datastore explorer (``dsflow.explorer``) in the background."""
    if port is None:
        running = services.get(project, "explorer")
        port = running.port if running else load_settings(project).port("explorer")
    url = f"http://127.0.0.1:{port}/"
    return services.start(
        project,
        "explorer",
        [sys.executable, "-m", "dsflow.explorer"],
        port=port,
        url=url,
        port_setting="choose another: just explorer port=NNNN (or ports.explorer in dsflow.yml)",
        env={PROJECT_ROOT_ENV: str(project.root), PORT_ENV: str(port)},
        ready=lambda: _answers(url),
        timeout=60,
    )
