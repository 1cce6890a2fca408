"""Dashboards: read tables for a page view with pyarrow (no JVM), and serve a Dash app.

A dashboard job's ``app.py`` uses :func:`job_parameters`, :func:`load_table` (or
:func:`read_table`) and :func:`serve`; ``just dash job=NAME`` starts it in the background
through :func:`start_dashboard`.

A page never answers HTTP 500 because of the data: :func:`load_table` leaves out the partitions
it cannot read (a corrupt or truncated Parquet file, a value the table's schema cannot hold,
columns whose types disagree with the other partitions') and lists each as a
:class:`ReadProblem` naming the table, the partition, the file and what to do, shown by
:func:`problem_panel` above what could be read (a user would rather see 29 good days and a
warning than nothing). :func:`serve` turns whatever else a page's ``layout()`` raises into an
error panel too (:func:`guard_layout`).
"""

from __future__ import annotations

import functools
import os
import re
import sys
import traceback
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import services
from .checks import parquet_files
from .contracts import CONTRACT_FILE, Contract, conform, read_contract
from .datastore import complete_partitions, current_datastore, read_meta
from .errors import DsflowError
from .partitions import parse_partition_path, partition_value
from .project import PROJECT_ROOT_ENV, Project, current_project
from .settings import DEFAULT_PORTS, load_settings
from .specs import JobSpec, find_job, load_spec
from .sqltypes import spark_type
from .tables import Table, arrow_partitions, find_tables, read_arrow_partition

PORT_ENV = "DSFLOW_DASH_PORT"
MAX_LISTED = 20  # problems listed in a panel; the rest are counted
REASON_CHARS = 160  # of a pyarrow message, on one line
PANEL_COLOURS = {"error": ("#fdecea", "#d62728"), "warning": ("#fff4e5", "#ff7f0e")}


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
    try:
        days = [d for d in (_ds(folder, p) for p in complete_partitions(folder)) if d]
    except OSError:  # an unreadable folder: load_table names it
        return None, None
    return (days[0][:10], days[-1][:10]) if days else (None, None)


def _ds(folder: Path, partition: Path) -> str:
    return parse_partition_path(partition.relative_to(folder)).get("ds", "")


@dataclass(frozen=True)
class ReadProblem:
    """Data a reader could not read: which table and partition (``""`` for the whole table),
    the file or folder at fault, and one line saying what is wrong and what to do."""

    table: str
    partition: str
    path: Path
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class TableData:
    """What :func:`load_table` could read (``frame``, a pandas DataFrame) and what it left
    out (``problems``)."""

    table: str
    frame: Any
    problems: list[ReadProblem] = field(default_factory=list)

    def panel(self) -> Any:
        """The problems as a Dash component for the page: a warning above the rows that were
        read, an error when none were; an empty ``Div`` when there are none."""
        if self.frame.empty:
            return problem_panel(self.problems, f"{self.table} could not be read:")
        return problem_panel(
            self.problems,
            f"Some partitions of {self.table} could not be read and are left out; "
            "the rest is shown:",
            warning=True,
        )


def load_table(
    table: str,
    start: str | None = None,
    end: str | None = None,
    datastore: Path | None = None,
    as_of: str | None = None,
    history: bool = True,
) -> TableData:
    """The partitions :func:`read_table` reads, one at a time: those that read well as one
    DataFrame, each of the others as a :class:`ReadProblem` (never an exception).

    Left out and named: a partition with a corrupt, truncated or unreadable Parquet file, one
    holding a value the table's schema (its contract) cannot hold, and (a table without a
    contract) one whose column types disagree with most partitions'. A missing table folder,
    an unreadable contract or a dimension with no snapshot at or before ``as_of`` is a problem
    of the whole table (an empty frame).
    """
    import pandas as pd

    root = datastore or current_datastore()
    folder = root / "tables" / table
    hints = _Hints(root)
    empty = pd.DataFrame()
    try:
        if not folder.is_dir():
            fix = hints.fix(table, None, "", None, verb="run")
            message = f"table {table}: no folder {folder} (nothing published yet?); {fix}"
            return TableData(table, empty, [ReadProblem(table, "", folder, message)])
        if not complete_partitions(folder):
            return TableData(table, empty)
        info, chosen = arrow_partitions(table, start, end, as_of, history, root)
        contract = read_contract(info.folder)
    except DsflowError as exc:
        return TableData(table, empty, [ReadProblem(table, "", folder, str(exc))])
    except OSError as exc:
        return TableData(table, empty, [_os_problem(table, folder, exc)])

    problems: list[ReadProblem] = []
    pieces: list[tuple[Path, Any]] = []
    for part in chosen:
        piece, problem = _read_partition(info, part, contract, hints)
        if problem is None:
            pieces.append((part, piece))
        else:
            problems.append(problem)
    odd = _odd_partitions([(part, piece.schema) for part, piece in pieces])
    problems += [_partition_problem(info, part, part, odd[part], hints) for part in odd]
    kept = [piece for part, piece in pieces if part not in odd]
    problems.sort(key=lambda p: p.partition)
    if not kept:
        return TableData(table, _empty(info, contract), problems)
    import pyarrow as pa

    try:
        frame = pa.concat_tables(kept, promote_options="permissive").to_pandas()
    except Exception as exc:  # pyarrow: ArrowInvalid, ArrowTypeError, ...
        message = f"table {table}: cannot combine its partitions ({_reason(exc)})"
        return TableData(table, empty, [*problems, ReadProblem(table, "", folder, message)])
    return TableData(table, frame, problems)


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

    A partition that cannot be read raises a DsflowError naming it, and what to do: nothing is
    left out silently. :func:`load_table` gives the rest and the problems instead, for a page
    that shows both.
    """
    import pandas as pd

    folder = (datastore or current_datastore()) / "tables" / table
    try:
        if not complete_partitions(folder):
            return pd.DataFrame()
    except OSError as exc:
        raise DsflowError(_os_problem(table, folder, exc).message) from None
    data = load_table(table, start, end, datastore, as_of, history)
    if data.problems:
        more = len(data.problems) - 1
        raise DsflowError(data.problems[0].message + (f" (and {more} more)" if more else ""))
    return data.frame


def unreadable_partitions(datastore: Path) -> list[ReadProblem]:
    """What a reader of the datastore's tables would find unreadable, from the Parquet files'
    footers only (no data read, each file's answer kept while it is unchanged): a file whose
    footer cannot be read and, in a table without a contract, a partition whose column types
    disagree with most partitions'. The explorer shows them; a dashboard reading the data
    finds the rest (a corrupt page inside a file, a value the contract's type cannot hold)."""
    hints = _Hints(datastore)
    problems = []
    for table in find_tables(datastore / "tables"):
        try:
            # a contract casts every partition to its types: theirs need not agree
            contract_free = read_contract(table.folder) is None
        except DsflowError as exc:
            path = table.folder / CONTRACT_FILE
            problems.append(ReadProblem(table.name, "", path, str(exc)))
            contract_free = False
        schemas = []
        for part in table.partitions:
            schema, bad = _partition_footers(table, part)
            if bad is not None:
                path, what = bad
                problems.append(_partition_problem(table, part, path, what, hints))
            elif schema is not None and contract_free:
                schemas.append((part, schema))
        odd = _odd_partitions(schemas)
        problems += [_partition_problem(table, part, part, odd[part], hints) for part in odd]
    return sorted(problems, key=lambda p: (p.table, p.partition))


def problem_panel(problems: Sequence[object], title: str, warning: bool = False) -> Any:
    """A Dash panel for the page: ``title`` then one line per problem (``str()`` of each; the
    first :data:`MAX_LISTED`, then how many more); an empty ``Div`` when there are none.
    Red for an error, orange (``warning``) when the rest of the page still shows data."""
    from dash import html

    if not problems:
        return html.Div()
    background, border = PANEL_COLOURS["warning" if warning else "error"]
    lines = [html.Li(str(p)) for p in problems[:MAX_LISTED]]
    if len(problems) > MAX_LISTED:
        lines.append(html.Li(f"... and {len(problems) - MAX_LISTED} more"))
    return html.Div(
        role="alert",
        className="dsflow-problems",
        style={
            "background": background,
            "borderLeft": f"6px solid {border}",
            "padding": "0.5em 1em",
            "margin": "1em 0",
        },
        children=[html.Strong(title), html.Ul(lines, style={"margin": "0.3em 0"})],
    )


def guard_layout(layout: Callable[[], Any]) -> Callable[[], Any]:
    """``layout`` that never fails a page load: what it raises becomes an error panel on the
    page (HTTP 200) and a traceback in the service's log, instead of an HTTP 500 and a blank
    page. :func:`serve` applies it to a Dash app's ``layout`` function."""
    if getattr(layout, "_dsflow_guarded", False):
        return layout

    @functools.wraps(layout)
    def guarded() -> Any:
        try:
            return layout()
        except Exception as exc:  # anything: the page says it, the log has the traceback
            from dash import html

            traceback.print_exc()
            what = (
                str(exc)
                if isinstance(exc, DsflowError)
                else f"{type(exc).__name__}: {_reason(exc, 1000)} (the traceback is in this "
                "dashboard's log: `just services` shows where)"
            )
            return html.Div(
                style={"fontFamily": "sans-serif", "margin": "1em 2em"},
                children=[problem_panel([what], "This page could not be built:")],
            )

    guarded._dsflow_guarded = True  # type: ignore[attr-defined]
    return guarded


class _Hints:
    """What to do about an unreadable partition: re-run the job that writes the table (the
    one job declaring it as an output, else the job its ``_dsflow.json`` names), else replace
    the file. The project's specs are read once, and only when a problem needs them."""

    def __init__(self, datastore: Path):
        self.datastore = datastore
        self._declared: dict[str, list[str]] | None = None

    def _writers(self, table: str) -> list[str]:
        if self._declared is None:
            from .resolve import writer_specs

            self._declared = {}
            try:
                project = current_project()
                settings = load_settings(project)
                if settings.datastore.resolve() != self.datastore.resolve():
                    return []  # another project's datastore: its specs are not here
                for path, specs in writer_specs(project, settings).items():
                    self._declared[path] = [spec.name for spec in specs]
            except (DsflowError, OSError):  # no project here: the metadata may still say
                pass
        return self._declared.get(f"tables/{table}", [])

    def fix(
        self,
        table: str,
        partition: Path | None,
        value: str,
        path: Path | None,
        verb: str = "re-run",
    ) -> str:
        """The advice ending a problem's line: run the writer for partition ``value``, else
        replace ``path`` (None: the table has no folder at all)."""
        declared = self._writers(table)
        writer = declared[0] if len(declared) == 1 else None
        if writer is None and partition is not None:
            job = (read_meta(partition) or {}).get("job")
            writer = job if isinstance(job, str) and job else None
        if writer is None and path is None:
            return (
                f"no job of this project writes {table}: add one (just new-job) or correct "
                "the table's name"
            )
        if writer is None:
            return f"no job of this project writes {table}: replace or remove {path}"
        ds = f" ds={value}" if value else ""
        return f"{verb} the job that writes it: just run job={writer}{ds}"


def _reason(exc: BaseException, limit: int = REASON_CHARS) -> str:
    """The exception's message on one line, without the path the problem names already."""
    text = re.sub(r"^Could not open Parquet input source '.*?': ", "", " ".join(str(exc).split()))
    return text[:limit] or type(exc).__name__


def _key(table: Table, partition: Path) -> str:
    if table.unpartitioned:
        return "(unpartitioned)"
    return partition.relative_to(table.folder).as_posix()


def _partition_problem(
    table: Table, partition: Path, path: Path, what: str, hints: _Hints
) -> ReadProblem:
    key = _key(table, partition)
    where = f"table {table.name}, partition {key}"
    files = [] if path != partition else _files(partition)
    if path != partition:
        where += f", file {path.relative_to(partition).as_posix()}"
    elif len(files) == 1:  # the partition's one file is the one at fault
        path = files[0]
        where += f", file {path.relative_to(partition).as_posix()}"
    value = "" if table.unpartitioned else partition_value(key)
    fix = hints.fix(table.name, partition, value, path)
    return ReadProblem(table.name, key, path, f"{where}: {what}; {fix}")


def _files(partition: Path) -> list[Path]:
    try:
        return parquet_files(partition)
    except OSError:
        return []


def _os_problem(table: str, folder: Path, exc: OSError) -> ReadProblem:
    where = exc.filename or folder
    message = f"table {table}: cannot read {where}: {exc.strerror or exc}; check its permissions"
    return ReadProblem(table, "", Path(where), message)


def _read_partition(
    table: Table, partition: Path, contract: Contract | None, hints: _Hints
) -> tuple[Any, ReadProblem | None]:
    """The partition as a pyarrow Table, or the problem naming the file at fault."""
    try:
        return read_arrow_partition(table, partition, contract), None
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...; conform DsflowError
        found = _culprit(table, partition, contract)
        path, what = found or (partition, _what(table, partition, exc))
        return None, _partition_problem(table, partition, path, what, hints)


def _culprit(table: Table, partition: Path, contract: Contract | None) -> tuple[Path, str] | None:
    """The first file of ``partition`` that cannot be read (or cast to ``contract``), and why."""
    import pyarrow.parquet as pq

    values = parse_partition_path(partition.relative_to(table.folder))
    for path in _files(partition):
        try:
            piece = pq.read_table(path)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
            return path, f"not readable Parquet ({_reason(exc)})"
        if contract is not None:
            piece = piece.drop_columns([c for c in values if c in piece.column_names])
            try:
                conform(piece, contract, _where(table, partition))
            except DsflowError as exc:
                return path, _what(table, partition, exc)
    return None


def _where(table: Table, partition: Path) -> str:
    # as dsflow.tables names the data in conform's message
    return f"table {table.name}, partition {_key(table, partition)}"


def _what(table: Table, partition: Path, exc: BaseException) -> str:
    """What is wrong, without the table and partition the problem's line names already."""
    if isinstance(exc, DsflowError):
        text = str(exc).removeprefix(f"{_where(table, partition)}: ")
        return text.removesuffix(": re-run that partition")
    return f"not readable ({_reason(exc)})"


def _partition_footers(table: Table, partition: Path) -> tuple[Any, tuple[Path, str] | None]:
    """The partition's columns from its files' footers (None when it has no file), or the
    first file whose footer cannot be read and why."""
    import pyarrow as pa

    values = parse_partition_path(partition.relative_to(table.folder))
    schemas = []
    for path in _files(partition):
        schema, error = _footer(path)
        if error is not None:
            return None, (path, f"not readable Parquet ({error})")
        schemas.append(pa.schema([f for f in schema if f.name not in values]))
    if not schemas:
        return None, None
    try:
        return pa.unify_schemas(schemas, promote_options="permissive"), None
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        return None, (partition, f"its files' columns disagree ({_reason(exc)})")


_FOOTERS: dict[tuple[str, int, int], tuple[Any, str | None]] = {}


def _footer(path: Path) -> tuple[Any, str | None]:
    """A file's schema from its footer, or why it cannot be read; kept while the file's size
    and modification time stay the same (the explorer asks on every page load)."""
    import pyarrow.parquet as pq

    try:
        stat = path.stat()
    except OSError as exc:
        return None, _reason(exc)
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _FOOTERS:
        if len(_FOOTERS) > 100_000:
            _FOOTERS.clear()
        try:
            _FOOTERS[key] = (pq.read_schema(path), None)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
            _FOOTERS[key] = (None, _reason(exc))
    return _FOOTERS[key]


def _odd_partitions(schemas: list[tuple[Path, Any]]) -> dict[Path, str]:
    """The partitions whose columns cannot be read together with most partitions' (a column
    that is a number in most and a string in one), and why; the rest read as one table."""
    import pyarrow as pa

    errors = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)
    if len(schemas) < 2:
        return {}
    try:
        pa.unify_schemas([s for _, s in schemas], promote_options="permissive")
        return {}
    except errors:
        pass

    def shape(schema: Any) -> tuple:
        return tuple((f.name, str(f.type)) for f in schema)

    counts = Counter(shape(s) for _, s in schemas)
    # the most common columns win; between equally common ones, the latest partition's
    reference = max(reversed([s for _, s in schemas]), key=lambda s: counts[shape(s)])
    merged, odd = reference, {}
    for part, schema in schemas:
        try:
            merged = pa.unify_schemas([merged, schema], promote_options="permissive")
        except errors:
            odd[part] = _conflict(schema, merged)
    return odd


def _conflict(schema: Any, others: Any) -> str:
    import pyarrow as pa

    for fld in schema:
        if fld.name not in others.names:
            continue
        other = others.field(fld.name)
        try:
            pa.unify_schemas([pa.schema([fld]), pa.schema([other])], promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return (
                f"column {fld.name} is {_type_name(fld.type)} here but "
                f"{_type_name(other.type)} in the other partitions"
            )
    return "its columns do not match the other partitions'"


def _type_name(arrow_type: Any) -> str:
    try:
        return spark_type(arrow_type)
    except Exception:  # a type Spark has no name for: arrow's own
        return str(arrow_type)


def _empty(table: Table, contract: Contract | None) -> Any:
    """An empty frame with the table's columns when it has a contract (as read_arrow gives)."""
    import pyarrow as pa

    keys = [] if table.unpartitioned else list(parse_partition_path(table.keys[0]))
    fields = [] if contract is None else list(contract.arrow_schema())
    return pa.schema(fields + [pa.field(k, pa.string()) for k in keys]).empty_table().to_pandas()


def serve(app: Any) -> None:
    """Run a Dash app on 127.0.0.1, on the port ``just dash`` chose (the default ``dash`` port
    when run by hand).

    ``DSFLOW_BIND_HOST`` changes the address inside a container (the compose stack publishes
    the port on the host's 127.0.0.1 only)."""
    port = int(os.environ.get(PORT_ENV, DEFAULT_PORTS["dash"]))
    if callable(app.layout):  # a page that fails shows why instead of an HTTP 500
        app.layout = guard_layout(app.layout)
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
