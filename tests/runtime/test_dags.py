"""dsflow.dags on job folders written in tmp_path: the DAG files the graph calls for, with a
sensor before a job that reads another grain's output (Airflow itself runs them in
tests/test_pipelines.py and tests/test_rollups.py)."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from dsflow.dags import TEST_ENV, render_dags
from dsflow.errors import DsflowError
from dsflow.graph import build_graph
from dsflow.project import find_project
from dsflow.settings import load_settings

from .conftest import job_spec, write_job


def test_a_monthly_rollup_waits_for_its_days_in_its_own_dag(project_root):
    jobs = project_root / "jobs"
    write_job(jobs, "days", job_spec("days", outputs=["tables/days"]))
    write_job(jobs, "per-day", job_spec("per-day", inputs=["tables/days"], outputs=["tables/pd"]))
    write_job(
        jobs,
        "months",
        job_spec("months", grain="monthly", inputs=["tables/days"], outputs=["tables/m"]),
    )
    project = find_project(project_root)
    files = render_dags(build_graph(project, load_settings(project)), "Demo")
    assert sorted(files) == ["dsflow_demo_daily.py", "dsflow_demo_monthly.py"]
    monthly = files["dsflow_demo_monthly.py"]
    ast.parse(monthly)
    assert "task_id='inputs_months'" in monthly
    assert "' job=months ds={{ ds }} check-inputs=true'" in monthly
    assert "retry_exit_code=75" in monthly and 'mode="reschedule"' in monthly
    assert "s_months >> t_months" in monthly
    assert "0 0 1 * *" in monthly
    daily = files["dsflow_demo_daily.py"]
    assert "BashSensor(" not in daily  # same-grain edges are plain task dependencies
    assert "t_days >> t_per_day" in daily


def test_sensors_only_for_partitioned_writers_of_another_dag(project_root):
    """A static lookup (grain none, published by hand) needs no sensor; a monthly job that
    also reads a monthly table of its own DAG polls only after that table's task ran."""
    jobs = project_root / "jobs"
    write_job(jobs, "lookup", job_spec("lookup", grain="none", outputs=["tables/lookup"]))
    write_job(jobs, "days", job_spec("days", inputs=["tables/lookup"], outputs=["tables/d"]))
    write_job(jobs, "m1", job_spec("m1", grain="monthly", outputs=["tables/m1"]))
    write_job(
        jobs,
        "m2",
        job_spec("m2", grain="monthly", inputs=["tables/d", "tables/m1"], outputs=["tables/m2"]),
    )
    project = find_project(project_root)
    files = render_dags(build_graph(project, load_settings(project)), "Demo")
    assert "BashSensor(" not in files["dsflow_demo_daily.py"]
    monthly = files["dsflow_demo_monthly.py"]
    assert monthly.count("BashSensor(") == 1
    assert "t_m1 >> s_m2" in monthly and "s_m2 >> t_m2" in monthly


def test_the_project_name_is_a_python_literal_in_the_dag(project_root):
    """A crafted project name cannot close the docstring and run code when Airflow imports
    the DAG file: the file parses, and its only statements are the docstring and the DAG's."""
    write_job(project_root / "jobs", "days", job_spec("days", outputs=["tables/days"]))
    project = find_project(project_root)
    name = 'x"""\nimport os; os.system("touch /tmp/pwned")\n"""'
    (source,) = render_dags(build_graph(project, load_settings(project)), name).values()
    tree = ast.parse(source)
    assert ast.get_docstring(tree) == f"dsflow jobs of {name} with grain daily: days."
    assert not any(
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) for node in tree.body
    )


def test_job_names_that_collide_in_dag_code_are_refused(project_root):
    jobs = project_root / "jobs"
    write_job(jobs, "load-a", job_spec("load-a", outputs=["tables/a"]))
    write_job(jobs, "load_a", job_spec("load_a", outputs=["tables/b"]))
    project = find_project(project_root)
    with pytest.raises(DsflowError) as refused:
        render_dags(build_graph(project, load_settings(project)), "Demo")
    assert str(refused.value) == (
        "jobs load-a and load_a differ only by '-' and '_': Airflow DAG code cannot tell them "
        "apart; rename one"
    )


def _retries_of(source: str, env: dict[str, str]) -> tuple[int, timedelta]:
    """RETRIES and RETRY_DELAY as the DAG file works them out in ``env`` (its assignments run
    alone: Airflow is not installed here)."""
    tree = ast.parse(source)
    wanted = {"RETRIES", "RETRY_DELAY"}
    body = [n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id in wanted]
    namespace: dict = {"os": SimpleNamespace(environ=env), "timedelta": timedelta}
    exec(compile(ast.Module(body=body, type_ignores=[]), "dag", "exec"), namespace)
    return namespace["RETRIES"], namespace["RETRY_DELAY"]


def test_retries_come_from_the_environment_airflow_parses_the_dag_in(project_root):
    """2 retries 5 minutes apart unless DSFLOW_AIRFLOW_RETRIES / DSFLOW_AIRFLOW_RETRY_DELAY_S
    say otherwise (`just airflow-cli dags test` sets retries to 0), as the header says; the
    file is the same on every `just dag`."""
    write_job(project_root / "jobs", "days", job_spec("days", outputs=["tables/days"]))
    project = find_project(project_root)
    graph = build_graph(project, load_settings(project))
    (source,) = render_dags(graph, "Demo").values()
    assert render_dags(graph, "Demo") == {"dsflow_demo_daily.py": source}
    assert 'default_args={"retries": RETRIES, "retry_delay": RETRY_DELAY}' in source
    assert source.splitlines()[1:6] == [
        "# Each task is retried DSFLOW_AIRFLOW_RETRIES times (default 2),",
        "# DSFLOW_AIRFLOW_RETRY_DELAY_S seconds apart (default 300): environment variables",
        "# read when Airflow parses this file. `just airflow-cli dags test ...` sets",
        "# DSFLOW_AIRFLOW_RETRIES=0 (unless already set): a failing task fails the test at once",
        "# instead of waiting out its retries.",
    ]
    assert _retries_of(source, {}) == (2, timedelta(minutes=5))
    assert _retries_of(source, {**TEST_ENV, "DSFLOW_AIRFLOW_RETRY_DELAY_S": "30"}) == (
        0,
        timedelta(seconds=30),
    )


def _periods_of(source: str) -> tuple[datetime, datetime | None, bool]:
    """START, END (the file's assignments, run with a stand-in for pendulum) and the DAG's
    catchup argument."""
    tree = ast.parse(source)
    body = [
        n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id in ("START", "END")
    ]
    pendulum = SimpleNamespace(datetime=lambda y, m, d, tz: datetime(y, m, d, tzinfo=UTC))
    namespace: dict = {"pendulum": pendulum}
    exec(compile(ast.Module(body=body, type_ignores=[]), "dag", "exec"), namespace)
    call = next(
        n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "DAG"
    )
    catchup = next(k.value.value for k in call.keywords if k.arg == "catchup")
    return namespace["START"], namespace["END"], catchup


def test_the_dags_periods_come_from_dsflow_yml(project_root):
    """airflow: start_date, end_date, catchup; without them: 2024-01-01, no end, no catch-up."""
    write_job(project_root / "jobs", "days", job_spec("days", outputs=["tables/days"]))
    project = find_project(project_root)
    graph = build_graph(project, load_settings(project))
    (source,) = render_dags(graph, "Demo", load_settings(project).airflow).values()
    assert _periods_of(source) == (datetime(2024, 1, 1, tzinfo=UTC), None, False)
    assert "    start_date=START,\n    end_date=END,\n" in source
    settings = project_root / "dsflow.yml"
    settings.write_text(
        settings.read_text()
        + "airflow:\n  start_date: 2024-01-05\n  end_date: '2024-01-07'\n  catchup: true\n"
    )
    (source,) = render_dags(graph, "Demo", load_settings(project).airflow).values()
    assert _periods_of(source) == (
        datetime(2024, 1, 5, tzinfo=UTC),
        datetime(2024, 1, 7, tzinfo=UTC),
        True,
    )


@pytest.mark.parametrize(
    ("airflow", "message"),
    [
        ("[]", "airflow must be a mapping (start_date:, end_date:, catchup:, database:), not []"),
        (
            "{start_date: '2024-13-01'}",
            "airflow.start_date must be a date, YYYY-MM-DD, not '2024-13-01'",
        ),
        (
            "{start_date: 2024-13-01}",
            "not valid YAML: month must be in 1..12 (quote a value that is no date)",
        ),
        ("{end_date: soon}", "airflow.end_date must be a date, YYYY-MM-DD, not 'soon'"),
        (
            "{start_date: 2024-02-01, end_date: 2024-01-31}",
            "airflow.end_date 2024-01-31 is before airflow.start_date 2024-02-01",
        ),
        ("{catchup: 'yes'}", "airflow.catchup must be true or false, not 'yes'"),
        ("{database: mysql}", "airflow.database must be sqlite or postgres, not 'mysql'"),
    ],
    ids=[
        "not-a-mapping",
        "bad-start",
        "bad-yaml-date",
        "bad-end",
        "end-before-start",
        "catchup-not-bool",
        "unknown-database",
    ],
)
def test_bad_airflow_periods_are_one_line(project_root, airflow, message):
    settings = project_root / "dsflow.yml"
    settings.write_text(settings.read_text() + f"airflow: {airflow}\n")
    with pytest.raises(DsflowError) as refused:
        load_settings(find_project(project_root))
    assert str(refused.value) == f"{settings.resolve()}: {message}"


@pytest.mark.parametrize("grain", ["hourly", "daily", "weekly", "monthly", "yearly"])
@pytest.mark.parametrize(
    "logical",
    [datetime(2024, 1, 1, 0, tzinfo=UTC), datetime(2024, 1, 3, 5, tzinfo=UTC)],
    ids=["scheduled-period-start", "manual-wednesday-05h"],
)
def test_every_grain_runs_the_partition_containing_the_logical_date(grain, logical):
    """What the README says a DAG run processes, for scheduled and manual runs alike: the
    partition containing its logical date. The hourly DAG's manual run at 05:00 processes
    hour 05 (it took the hour before), as the daily DAG's processes that day; a weekly or
    monthly one, the week or month of that day (`just run` takes a day to the job's grain)."""
    import jinja2
    from dsflow.dags import DS_DEFAULT, DS_TEMPLATE
    from dsflow.partitions import parse_partition, partition_for

    rendered = jinja2.Template(DS_TEMPLATE.get(grain, DS_DEFAULT)).render(
        ds=logical.strftime("%Y-%m-%d"),
        logical_date=logical,  # as Airflow's context has them
    )
    assert parse_partition(rendered, grain) == partition_for(logical, grain)
