"""The ``dsflow`` command the project's justfile recipes call; ``dsflow --help`` lists it all."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DsflowError, disk_error
from .kvargs import parse_kv
from .project import Project, find_project


def _cmd_setup(args: argparse.Namespace) -> None:
    from .bootstrap import check_java, compile_run_modules, install_kernel
    from .envfile import ensure_secrets

    project = find_project()
    print(f"java:    {check_java()}")
    kernel = install_kernel(str(project.answers.get("project_slug", project.root.name)))
    print(f"kernel:  {kernel} (Jupyter and papermill use it)")
    created = ensure_secrets(project.root / ".env")
    print(
        f"secrets: {'generated ' + ', '.join(created) if created else 'kept'} in .env (gitignored)"
    )
    took = compile_run_modules()
    print(
        f"python:  compiled what a run imports ({took:.0f} s)"
        if took is not None
        else "python:  could not compile what a run imports (runs still work, a little slower)"
    )
    _build_spark_class_cache()
    if (project.root / "dsflow" / "__init__.py").is_file():
        # v0.3.0 and earlier vendored the runtime there; Python run from the project root
        # would import it instead of the installed package
        print(
            "warning: dsflow/ still holds the runtime v0.3.0 vendored; it would shadow the "
            "installed one: move anything you changed in it to src/, then `git rm -r dsflow`",
            file=sys.stderr,
        )
    print("ready: `just` lists the recipes; `just templates` the job templates")


def _build_spark_class_cache() -> None:
    """Build Spark's class archive unless it exists: Spark servers then start ~5 s sooner."""
    import subprocess
    import time

    from . import spark_class_cache

    if spark_class_cache.switched_off():
        print(f"spark:   no class archive ({spark_class_cache.SWITCH_ENV} is off)")
        return
    if spark_class_cache.cached_home():
        print(f"spark:   class archive kept in {spark_class_cache.cache_root()}")
        return
    print(
        "spark:   archiving Spark's classes so that its servers start ~5 s sooner "
        "(once per machine and Spark version; about 50 s)...",
        flush=True,
    )
    began = time.monotonic()
    try:
        home = spark_class_cache.build()
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"warning: Spark's class archive was not built ({exc}); Spark starts without it",
              file=sys.stderr)  # fmt: skip
        return
    if home is None:
        print(f"spark:   no class archive: {spark_class_cache.cache_root()} is on another "
              "filesystem than .venv (Spark starts as usual)")  # fmt: skip
        return
    size = home.archive.stat().st_size / 2**20
    print(f"spark:   class archive built in {time.monotonic() - began:.0f} s: {home.archive} "
          f"({size:.0f} MB)")  # fmt: skip


def _cmd_templates(args: argparse.Namespace) -> None:
    from .settings import load_settings
    from .templates import (
        job_templates,
        parameter_lines,
        question_parameters,
        template_checkout,
        usage_line,
    )

    project = find_project()
    grain = {"grain": load_settings(project).default_grain}  # what new-job fills in
    print(f"Job templates ({project.template_src} @ {project.template_commit}):")
    with template_checkout(project) as worker:
        for tpl in job_templates(worker):
            parameters = question_parameters(worker, tpl.name, defaults=grain)
            print(f"\n{tpl.name}  {tpl.description}")
            print(f"  {usage_line(tpl.name, parameters)}")
            print("\n".join(parameter_lines(parameters, indent="    ")))
    print("\nOne template's parameters and its job parameters: just new-job TEMPLATE --help")


_NEW_JOB_USAGE = "just new-job TEMPLATE NAME [key=value ...] [--no-input]"


class _HelpWithParser(argparse.Action):
    """``new-job -h``: keeps its parser, so the command prints argparse's help when no template
    is named, and that template's parameters when one is (argparse's --help would print
    the same generic text for both)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=None, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, parser)


def _cmd_new_job(args: argparse.Namespace) -> None:
    from .new_job import new_job, new_job_help

    if args.template is None:
        if args.help:
            args.help.print_help()
            args.help.exit()  # as argparse's own --help does
        raise DsflowError(
            f"give a template and a NAME: {_NEW_JOB_USAGE}; `just templates` lists the templates"
        )
    project = find_project()
    if args.help:
        print(new_job_help(project, args.template))
        return
    if args.name is None:
        raise DsflowError(
            f"NAME is missing: {_NEW_JOB_USAGE}; "
            "`just new-job TEMPLATE --help` lists the template's parameters"
        )
    params = parse_kv(args.params)
    interactive = False if args.no_input else None
    folder = new_job(project, args.template, args.name, params, interactive=interactive)
    rel = folder.relative_to(project.root)
    print(f"created {rel}/ from template {args.template} ({project.template_commit})")
    command = (
        f"just dash job={folder.name}"
        if args.template == "plotly_dash_app"
        else f"just run job={folder.name} ds=YYYY-MM-DD"
    )
    print(f"next: read {rel}/README.md, then `{command}`")


def _cmd_update(args: argparse.Namespace) -> None:
    from .update import update_project

    options = parse_kv(args.options, allowed=["to"])
    project = find_project()
    print(f"updating the project and its jobs to {options.get('to') or 'the latest release'} ...")
    report = update_project(project, vcs_ref=options.get("to"))
    width = max(len(name) for name in report.items)
    for name, item in report.items.items():
        if item.error:
            state = f"{item.before} (NOT updated: {item.error})"
        elif item.before != item.after:
            state = f"{item.before} -> {item.after}"
            if item.same_template:
                state += " (its template did not change)"
        else:
            state = f"{item.after} (unchanged)"
        print(f"  {name:<{width}}  {state}")
    if report.changed:
        print("changed files (review with `git diff`, then commit):")
        for line in report.changed:
            print(f"  {line}")
    else:
        print("nothing changed: the project and its jobs are up to date")
    if report.synced:
        print(report.synced)
    problems = []
    if report.conflicts:
        problems.append(
            f"CONFLICTS in {len(report.conflicts)} file(s): {', '.join(report.conflicts)}\n"
            "  each holds your lines and the template's between <<<<<<< before updating and "
            ">>>>>>> after updating:\n  keep what you want, delete the markers, then commit"
        )
        if "justfile" in report.conflicts:
            problems.append(
                "  `just` cannot read the justfile until its markers are gone; meanwhile the\n"
                "  runtime runs directly: .venv/bin/dsflow COMMAND (e.g. .venv/bin/dsflow status)"
            )
        if "pyproject.toml" in report.conflicts:
            problems.append(
                "  after resolving pyproject.toml, `just setup` re-syncs the environment"
            )
    if report.failed:
        problems.append(
            f"NOT UPDATED: {', '.join(report.failed)} (reasons above); the rest was updated"
        )
    if problems:
        print("\n".join(problems), file=sys.stderr)
        raise SystemExit(1)


RUN_KEYS = ("job", "ds", "runner", "dry-run", "check-inputs")
INPUTS_NOT_READY = 75  # EX_TEMPFAIL: a generated DAG's sensor pokes again on this code


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "y", "on")


def _cmd_run(args: argparse.Namespace) -> None:
    from .containers import run_in_container
    from .runner import run_job
    from .settings import load_settings
    from .specs import find_job

    words = [w for w in args.params if not w.startswith(("runner=", "dry-run=", "check-inputs="))]
    options = parse_kv(args.params)
    project = find_project()
    if "job" not in options:
        raise DsflowError("which job? usage: just run job=NAME [ds=YYYY-MM-DD] [key=value ...]")
    settings = load_settings(project)
    runner = options.pop("runner", settings.runner)
    if runner not in ("local", "docker"):
        raise DsflowError(f"runner must be local or docker, not {runner!r}")
    dry_run = _truthy(options.pop("dry-run", None))
    job = options.pop("job")
    ds = options.pop("ds", None)
    if _truthy(options.pop("check-inputs", None)):
        _check_inputs(project, settings, job, ds)
        return
    if runner == "docker":
        find_job(project, job, settings.default_grain)  # fail here, not in the container
        raise SystemExit(run_in_container(project, words, dry_run))
    if dry_run:
        from .redaction import redact_value
        from .resolve import resolve_parameters, resolve_partition

        spec = find_job(project, job, settings.default_grain)
        part = resolve_partition(spec, ds)
        params = resolve_parameters(spec, part, options, settings)
        print(f"would run {job} {part.label} ({spec.job_class}: {spec.code_name}) with:")
        for key, value in sorted(params.items()):
            print(f"  {key} = {redact_value(value)!r}")  # no credential on screen
        return
    run_job(project, job, ds, options)


def _check_inputs(project: Project, settings: Any, job: str, ds: str | None) -> None:
    """``check-inputs=true``: exit 0 when every input partition the run reads is published,
    INPUTS_NOT_READY with the missing one named when not, 2 when the job cannot run at all
    (nothing runs either way)."""
    from .resolve import InputsMissing, check_input_files, check_inputs, resolve_partition
    from .specs import find_job

    spec = find_job(project, job, settings.default_grain)
    part = resolve_partition(spec, ds)
    try:
        check_inputs(project, settings, spec, part)
        check_input_files(project, settings, spec, part)
    except InputsMissing as exc:  # anything else (a bad spec, grains) is an error: exit 2
        print(f"dsflow: inputs not ready: {exc}", file=sys.stderr)
        raise SystemExit(INPUTS_NOT_READY) from None
    print(f"inputs ready: {job} {part.label}")


def _cmd_report(args: argparse.Namespace) -> None:
    from .datastore import job_runs_dir, locks_dir, report_dir
    from .partitions import parse_partition
    from .reports import KILLED, RUN_RECORD, RUNNING, read_record, run_status
    from .settings import load_settings
    from .specs import find_job

    options = parse_kv(args.params, allowed=["job", "ds"])
    project = find_project()
    settings = load_settings(project)
    if "job" not in options:
        raise DsflowError("which job? usage: just report job=NAME [ds=...]")
    spec = find_job(project, options["job"], settings.default_grain)
    if "ds" in options:
        folder = report_dir(settings, spec.name, parse_partition(options["ds"], spec.grain))
    else:
        records = sorted(
            job_runs_dir(settings, spec.name).rglob(RUN_RECORD),
            key=lambda p: p.stat().st_mtime,
        )
        if not records:
            raise DsflowError(f"job {spec.name} has no run reports yet")
        folder = records[-1].parent
    record = read_record(folder)
    if record is None:
        raise DsflowError(f"no run report in {folder}")
    status = run_status(record, locks_dir(settings, spec.name))
    if status in (RUNNING, KILLED):
        pid = record.get("pid", "?")
        print(
            f"{record['job']} {record['partition']}: {status} (pid {pid}, since "
            f"{record.get('started_at', '')})"
        )
        if status == KILLED:
            print(
                f"  it was killed before it finished, so it has no report; run it again: "
                f"just run job={spec.name} ds={record.get('ds', '')}"
            )
        return
    print(
        f"{record['job']} {record['partition']}: {status} "
        f"({record.get('duration_s', '?')} s, {record.get('started_at', '')})"
    )
    if record.get("error"):
        print(f"  error: {record['error']}")
    print(f"  report: {record['report']}")
    print(f"  open:   file://{record['report']}")


def _cmd_tree(args: argparse.Namespace) -> None:
    from .settings import load_settings
    from .tree import datastore_tree

    settings = load_settings(find_project())
    print("\n".join(datastore_tree(settings.datastore)))


def _cmd_graph(args: argparse.Namespace) -> None:
    from .graph import build_graph, render_mermaid, render_text
    from .settings import load_settings

    options = parse_kv(args.params, allowed=["format"])
    project = find_project()
    graph = build_graph(project, load_settings(project))
    fmt = options.get("format", "text")
    if fmt not in ("text", "mermaid"):
        raise DsflowError(f"format must be text or mermaid, not {fmt!r}")
    if not graph.jobs:
        print("no jobs yet: create one with `just new-job`")
        return
    print("\n".join(render_mermaid(graph) if fmt == "mermaid" else render_text(graph)))


def _run_plan(project, settings, graph, jobs, start, end, options, force) -> None:  # noqa: ANN001
    import time

    from . import spare_kernel
    from .backfill import check_size, execute, plan, plan_lines, print_plan, summary
    from .progress import open_display
    from .spark import spark_remote
    from .spark_server import start_server

    dry_run = _truthy(options.get("dry-run"))
    verbose = _truthy(options.get("verbose"))
    parallel = options.get("parallel", "1")
    if not parallel.isdigit() or int(parallel) < 1:
        raise DsflowError(f"parallel must be a positive number, not {parallel!r}")
    check_size(graph, jobs, start, end, _truthy(options.get("confirm")) or force)
    tasks = plan(settings, graph, jobs, start, end, force)
    if dry_run:
        print_plan(tasks)
        print("dry run: nothing was run or written")
        return
    todo = [t for t in tasks if t.reason]
    waiting = sum(1 for t in tasks if t.status == "waiting")
    skipped = len(tasks) - len(todo) - waiting
    print(
        f"{len(todo)} runs to do, {skipped} partitions up to date"
        + (f", {waiting} waiting for their period's data" if waiting else "")
        + f"; parallel={parallel}"
    )
    display = open_display(todo, int(parallel), verbose=verbose)
    # on a terminal a long plan is one line per job, so the live display stays in view
    print("\n".join(plan_lines(todo, compact=display.live and len(todo) > 20)))
    started = time.monotonic()
    server = None

    def start_spark() -> None:
        nonlocal server
        if spark_remote(project):  # the project's server, or one set in dsflow.yml, serves
            # its spare kernel's idle timer must not stop the server under the backfill
            spare_kernel.stop(project)
            return
        try:
            server = start_server(
                project,
                "starting a Spark Connect server for this run (stopped at the end)...",
                tied=True,  # a killed backfill must not leave it running
            )
        except DsflowError as exc:  # e.g. its port is taken: slower, not broken
            print(f"warning: {exc}; each run starts its own Spark instead", flush=True)

    try:
        with display:  # each run's lines go to its run.log, unless verbose=true
            execute(
                project,
                tasks,
                int(parallel),
                needs_spark=lambda task: graph.jobs[task.job].job_class == "notebook",
                start_spark=start_spark,
                display=display,
                logs=not verbose,
            )
    finally:
        if server:
            from .services import stop

            stop(project, [server.name])
        else:
            spare_kernel.start(project)  # for the runs after, with a fresh idle timer
    if not summary(tasks, time.monotonic() - started, display.line):
        raise SystemExit(1)


def _graph_jobs(options: dict[str, str]) -> tuple[Project, Any, Any, list[str]]:
    """The project, its settings and job graph, and the jobs ``job=`` selects (all by default)."""
    from .graph import build_graph
    from .settings import load_settings

    project = find_project()
    settings = load_settings(project)
    graph = build_graph(project, settings)
    jobs = graph.select(options.get("job"))
    if not jobs:
        raise DsflowError("no jobs to run: create one with `just new-job`")
    return project, settings, graph, jobs


def _cmd_pipeline(args: argparse.Namespace) -> None:
    from .resolve import resolve_partition

    options = parse_kv(args.params, allowed=["ds", "job", "parallel", "dry-run", "verbose"])
    project, settings, graph, jobs = _graph_jobs(options)
    ds = options.get("ds") or resolve_partition(graph.jobs[jobs[0]], None).value
    _run_plan(project, settings, graph, jobs, ds, ds, options, force=True)


def _cmd_backfill(args: argparse.Namespace) -> None:
    allowed = ["start", "end", "job", "parallel", "force", "dry-run", "confirm", "verbose"]
    options = parse_kv(args.params, allowed=allowed)
    if "start" not in options or "end" not in options:
        raise DsflowError(
            "usage: just backfill start=YYYY-MM-DD end=YYYY-MM-DD (end included) [job=X] "
            "[parallel=N] [force=true] [dry-run=true] [verbose=true]"
        )
    project, settings, graph, jobs = _graph_jobs(options)
    force = _truthy(options.get("force"))
    _run_plan(project, settings, graph, jobs, options["start"], options["end"], options, force)


def _cmd_status(args: argparse.Namespace) -> None:
    import json

    from .graph import build_graph
    from .publish import SUCCESS_LAST
    from .settings import load_settings
    from .status import (
        chosen_range,
        dataset_states,
        half_published,
        leftover_staging,
        no_partitions_line,
        partition_states,
        range_line,
        render_grid,
        status_range,
    )

    options = parse_kv(args.params, allowed=["start", "end", "format"])
    output = options.get("format", "text")
    if output not in ("text", "json"):
        raise DsflowError(f"format must be text or json, not {output!r}")
    project = find_project()
    settings = load_settings(project)
    graph = build_graph(project, settings)
    shown = status_range(settings, graph)
    start, end = chosen_range(shown, options.get("start"), options.get("end"))
    # nothing published or run yet, and no range asked for: a grid would be all "missing"
    nothing = not shown.any_data and "start" not in options and "end" not in options
    states = dataset_states(graph) if nothing else partition_states(settings, graph, start, end)
    leftovers = leftover_staging(settings, graph)
    undo = half_published(settings, graph)
    if output == "json":
        document = {
            "start": None if nothing else start,
            "end": None if nothing else end,
            "datasets": states,
            "leftovers": leftovers,
            "half_published": [command for command, _ in undo],
        }
        print(json.dumps(document, indent=2))
    else:
        if nothing and states:
            print(no_partitions_line(graph))
        else:
            header = [range_line(shown, start, end)] if states else []
            print("\n".join(header + render_grid(states)))
        for command, _ in undo:
            if settings.datastore_publish == SUCCESS_LAST:  # nothing to put back
                print(
                    f"half-published: a run was stopped between its outputs; `{command}` "
                    "publishes them all again (their readers wait until then)"
                )
                continue
            print(
                f"half-published: a run was killed between its outputs; `{command}` puts "
                "the previous partitions back first (keep their _staging- folders until then)"
            )
        if leftovers:
            print(
                f"leftovers: {len(leftovers)} staging folders of killed runs (the next run of "
                "each partition removes its own):"
            )
            print("\n".join(f"  {path}" for path in leftovers[:10]))


def _cmd_dag(args: argparse.Namespace) -> None:
    from .dags import render_dags, write_dags
    from .graph import build_graph
    from .settings import load_settings

    project = find_project()
    settings = load_settings(project)
    files = render_dags(build_graph(project, settings), settings.project, settings.airflow)
    print("\n".join(write_dags(project.root / "airflow" / "dags", files)))
    print("check them with `just airflow-cli dags list-import-errors --local`")


def _cmd_airflow_ui(args: argparse.Namespace) -> None:
    from .airflow_env import start_airflow

    parse_kv(args.params, allowed=[])
    service, password = start_airflow(find_project())
    print(
        f"airflow: {service.url}  user admin, password {password} (AIRFLOW_ADMIN_PASSWORD in .env)"
    )
    print(f"  (pid {service.pid}, log {service.log}); stop it with `just stop airflow`")


def _cmd_airflow(args: argparse.Namespace) -> None:
    from .airflow_env import run_airflow

    raise SystemExit(run_airflow(find_project(), args.args))


def _cmd_compose(args: argparse.Namespace) -> None:
    from .containers import compose_ports, compose_stack_command, run_compose

    options = parse_kv(args.params, allowed=["dry-run"])
    project = find_project()
    cmd = compose_stack_command(project, args.action)
    raise SystemExit(run_compose(cmd, _truthy(options.get("dry-run")), compose_ports(project)))


def _cmd_spark(args: argparse.Namespace) -> None:
    from .spare_kernel import start as start_spare
    from .spark_server import start_server

    project = find_project()
    service = start_server(project)
    start_spare(project)  # the first `just run` then starts no kernel of its own
    print(f"spark: running at {service.url} (pid {service.pid}, log {service.log})")
    print("runs and notebooks of this project now use it; stop it with `just stop spark`")


def _cmd_cluster(args: argparse.Namespace) -> None:
    from .services import get
    from .settings import load_settings
    from .spark_cluster import (
        DEFAULT_CORES,
        DEFAULT_MEMORY,
        DEFAULT_WORKERS,
        MAX_WORKERS,
        is_own_master,
        master_url,
        start_cluster,
    )
    from .spark_server import NAME as SERVER

    options = parse_kv(args.params, allowed=["workers", "cores", "memory"])
    counts = {}
    for key, default in (("workers", DEFAULT_WORKERS), ("cores", DEFAULT_CORES)):
        value = options.get(key, str(default))
        if not (re.fullmatch(r"[0-9]+", value) and 1 <= int(value) <= MAX_WORKERS):
            raise DsflowError(f"{key} must be a number from 1 to {MAX_WORKERS}, not {value!r}")
        counts[key] = int(value)
    memory = options.get("memory", DEFAULT_MEMORY)
    if not re.fullmatch(r"[1-9][0-9]*[mg]", memory):
        raise DsflowError(f"memory must be like 512m or 2g, not {memory!r}")
    project = find_project()
    settings = load_settings(project)
    started = start_cluster(project, counts["workers"], counts["cores"], memory)
    ui = settings.port("spark_master_ui")
    cores = f"{counts['cores']} core{'s' * (counts['cores'] > 1)}"
    print(
        f"spark cluster: master {master_url(settings)} (web UI http://127.0.0.1:{ui}), "
        f"{len(started) - 1} workers ({cores}, {memory} each)"
    )
    if not is_own_master(settings):
        print(
            f'its jobs run there once dsflow.yml says spark: master: "{master_url(settings)}"'
            f" (now {settings.spark_master!r})"
        )
    elif get(project, SERVER):
        print(
            "the Spark server started before the cluster: `just stop spark` so the next run"
            " starts one on the cluster"
        )
    print("stop it with `just stop-all` (or `just stop spark-master spark-worker-1 ...`)")


def _cmd_airflow_db(args: argparse.Namespace) -> None:
    from .airflow_db import start

    parse_kv(args.params, allowed=[])  # no options: one line for anything given
    service = start(find_project())
    print(f"airflow-db: PostgreSQL at {service.url} (pid {service.pid}, log {service.log})")
    print("password: AIRFLOW_DB_PASSWORD in .env; stop it with `just stop-all`")


def _cmd_services(args: argparse.Namespace) -> None:
    from .services import running

    services = running(find_project())
    if not services:
        print(
            "no services running (start one: just jupyter, just airflow, just explorer, "
            "just spark, just cluster, just dash job=NAME)"
        )
        return
    width = max(len(s.name) for s in services)
    for service in services:
        print(f"{service.name:<{width}}  {service.url}  pid {service.pid}  log {service.log}")


def _cmd_stop(args: argparse.Namespace) -> None:
    from .services import running, stop

    project = find_project()
    active = sorted(s.name for s in running(project))
    listed = ", ".join(active) or "none"
    if args.all and args.names:
        raise DsflowError("`just stop-all` takes no names; `just stop NAME` stops one")
    if not args.all and not args.names:
        raise DsflowError(
            f"which service? usage: just stop NAME [NAME ...] (running: {listed}); "
            "`just stop-all` stops them all"
        )
    names = None if args.all else args.names
    for name in names or []:
        if name not in active:
            if name not in _service_names(project):
                raise DsflowError(
                    f"unknown service {name!r}: services are jupyter, airflow, airflow-db, "
                    "explorer, spark, spark-master, spark-worker-N and dashboard jobs "
                    f"(running: {listed}); nothing was stopped"
                )
            raise DsflowError(f"{name} is not running (running: {listed}); nothing was stopped")
    stopped = stop(project, names)
    if names is None or "spark" in names:
        from .spare_kernel import stop as stop_spare

        stop_spare(project)  # it serves the server's runs only
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


def _service_names(project: Project) -> set[str]:
    from .airflow_db import NAME as AIRFLOW_DB
    from .spark_cluster import MASTER, MAX_WORKERS, worker_name
    from .specs import load_spec

    names = {"jupyter", "airflow", AIRFLOW_DB, "explorer", "spark", MASTER}
    names |= {worker_name(n) for n in range(1, MAX_WORKERS + 1)}  # `just cluster workers=N`
    for job in project.job_names():
        try:
            if load_spec(project.jobs_dir / job).job_class == "dashboard":
                names.add(job)
        except DsflowError:  # a broken spec is not a service; `just run` reports it
            continue
    return names


def _cmd_dash(args: argparse.Namespace) -> None:
    from .dashboards import start_dashboard

    options = parse_kv(args.params, allowed=["job", "port"])
    if "job" not in options:
        raise DsflowError("which dashboard? usage: just dash job=NAME [port=NNNN]")
    service = start_dashboard(find_project(), options["job"], _port_option(options))
    print(f"{service.name}: serving {service.url} (pid {service.pid}, log {service.log})")
    print(f"stop it with `just stop {service.name}` or `just stop-all`")


def _port_option(options: dict[str, str]) -> int | None:
    port = options.get("port")
    if port is not None and not (port.isdigit() and 1024 <= int(port) <= 65535):
        raise DsflowError(f"port must be a number from 1024 to 65535, not {port!r}")
    return int(port) if port else None


def _cmd_explorer(args: argparse.Namespace) -> None:
    from .dashboards import start_explorer

    service = start_explorer(find_project(), _port_option(parse_kv(args.params, ["port"])))
    print(f"explorer: serving {service.url} (pid {service.pid}, log {service.log})")
    print("stop it with `just stop explorer` or `just stop-all`")


def _cmd_jupyter(args: argparse.Namespace) -> None:
    from .lab import start_jupyter

    service, url = start_jupyter(find_project(), _port_option(parse_kv(args.params, ["port"])))
    print(f"jupyter: {url}")
    print(f"  (pid {service.pid}, log {service.log}; the token is JUPYTER_TOKEN in .env)")
    print("stop it with `just stop jupyter` or `just stop-all`")


def _schema_target(project_root: Path, data: Path) -> Path:
    """config/schemas/<dataset>.yaml: named after the folder above the ds= partitions."""
    from .partitions import is_partition_folder

    path = data.resolve()
    names = [p for p in path.parts if not is_partition_folder(p)]
    if path.is_file():
        in_partition = is_partition_folder(path.parent.name)
        stem = names[-2] if in_partition else path.stem
    else:
        stem = names[-1]
    return project_root / "config" / "schemas" / f"{stem}.yaml"


def _cmd_infer_schema(args: argparse.Namespace) -> None:
    from .schema_inference import infer_schema, schema_yaml

    options = parse_kv(args.params, allowed=["path", "out"])
    if not options.get("path"):
        raise DsflowError("which data? usage: just infer-schema path=FILE_OR_FOLDER [out=FILE]")
    project = find_project()
    data = Path(options["path"])
    schema = infer_schema(data)
    text = schema_yaml(schema, options["path"])
    print(text, end="")
    out = Path(options["out"]) if options.get("out") else _schema_target(project.root, data)
    if not options.get("out") and out.exists():
        raise DsflowError(
            f"{out.relative_to(project.root)} exists (maybe with your edits): "
            "name another file with out=FILE, or delete it first"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    out = out.resolve()
    shown = out.relative_to(project.root) if out.is_relative_to(project.root) else out
    print(f"saved {shown}: declare it in a job with `schema: {shown}` under job_parameters")


def _cmd_adhoc(args: argparse.Namespace) -> None:
    from .adhoc import new_adhoc

    options = parse_kv(args.params, allowed=["path"])
    project = find_project()
    target = new_adhoc(project, args.name, options.get("path"))
    print(f"created {target.relative_to(project.root)}: open it in Jupyter (a jupytext notebook)")


def _cmd_convert(args: argparse.Namespace) -> None:
    from .pairing import convert

    options = parse_kv(args.params, allowed=["path", "to"])
    if not options.get("path") or not options.get("to"):
        raise DsflowError("usage: just convert path=NOTEBOOK to=ipynb|py")
    print(f"wrote {convert(options['path'], options['to'])}")


def _cmd_pair(args: argparse.Namespace) -> None:
    from .pairing import pair

    options = parse_kv(args.params, allowed=["path"])
    if not options.get("path"):
        raise DsflowError("usage: just pair path=NOTEBOOK")
    files = pair(options["path"])
    print(f"paired {' and '.join(str(f) for f in files)}: Jupyter keeps them in step on save")


Argument = tuple[tuple[str, ...], dict[str, Any]]


def _arg(*flags: str, **kwargs: Any) -> Argument:
    """One ``add_argument(*flags, **kwargs)`` call of a command's table entry."""
    return flags, kwargs


@dataclass(frozen=True)
class Command:
    """A ``dsflow`` subcommand: the function running it and what its ``--help`` says.

    ``params``: it takes ``key=value`` words (after ``args``, its other arguments);
    ``description`` defaults to ``help``; ``defaults`` are set on the parsed arguments.
    """

    name: str
    func: Callable[[argparse.Namespace], None]
    help: str
    description: str | None = None
    params: bool = False
    args: tuple[Argument, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    add_help: bool = True


# In `dsflow --help` order.
COMMANDS: tuple[Command, ...] = (
    Command("setup", _cmd_setup, "check Java, install the Jupyter kernel, generate .env"),
    Command("templates", _cmd_templates, "list job templates with one-line descriptions"),
    Command(
        "new-job",
        _cmd_new_job,
        "render a job from a template into jobs/<job>/",
        "Render a job from the template source and version this project records. "
        "A template's parameters: just new-job TEMPLATE --help; every template's: "
        "just templates.",
        args=(
            # optional to argparse, so `new-job TEMPLATE --help` reaches the command
            _arg("template", nargs="?", metavar="TEMPLATE", help="job template (just templates)"),
            _arg("name", nargs="?", metavar="NAME", help="dataset or table name, e.g. meteoparis"),
            _arg("params", nargs="*", metavar="key=value", help="template parameters"),
            _arg("--no-input", action="store_true", help="never prompt; use defaults"),
            _arg("-h", "--help", action=_HelpWithParser, help="with TEMPLATE: its parameters"),
        ),
        add_help=False,  # its --help prints the template's parameters
    ),
    Command(
        "update",
        _cmd_update,
        "copier update the project, then every job",
        args=(
            _arg("options", nargs="*", metavar="to=VERSION", help="target tag (default: latest)"),
        ),
    ),
    Command(
        "run",
        _cmd_run,
        "run one job for one partition: run job=NAME [ds=...] [key=value ...]",
        "Run a job for one partition. ds defaults to the last complete period (UTC): "
        "yesterday for daily jobs. runner=docker runs it in the compose runner service; "
        "dry-run=true prints what would run; check-inputs=true only checks that every input "
        "partition the run reads is published (exit 0, or 75 naming the first missing).",
        params=True,
    ),
    Command(
        "report",
        _cmd_report,
        "show the latest run report: report job=NAME [ds=...]",
        params=True,
    ),
    Command("tree", _cmd_tree, "show the datastore: datasets, tables, partitions"),
    Command("graph", _cmd_graph, "the job graph: graph [format=text|mermaid]", params=True),
    Command(
        "pipeline",
        _cmd_pipeline,
        "run every job (or job=X, +X, X+) for one partition, in dependency order",
        "Run jobs for one partition in dependency order. job=X runs X alone, job=+X X and "
        "its upstream, job=X+ X and its downstream. A failure stops its downstream only. "
        "verbose=true streams each run's output instead of writing it to its run.log.",
        params=True,
    ),
    Command(
        "backfill",
        _cmd_backfill,
        "run what is missing or stale from start to end (end included)",
        "Plan every (job, partition) from start to end, both included; skip partitions "
        "that are complete and up to date (code, parameters and upstream unchanged) and "
        "say why the others run. parallel=N runs independent work at once; force=true "
        "reruns everything; dry-run=true prints the plan and writes nothing. Each run's output "
        "goes to its run.log and the terminal shows one line per run; verbose=true streams it.",
        params=True,
    ),
    Command(
        "status",
        _cmd_status,
        "datasets x partitions grid: status [start= end=] [format=json]",
        params=True,
    ),
    Command(
        "up",
        _cmd_compose,
        "start the compose stack (Jupyter, Airflow, explorer)",
        params=True,
        defaults={"action": "up"},
    ),
    Command(
        "down",
        _cmd_compose,
        "stop the compose stack (Jupyter, Airflow, explorer)",
        params=True,
        defaults={"action": "down"},
    ),
    Command("dag", _cmd_dag, "generate Airflow 3 DAG files into airflow/dags/"),
    Command(
        "airflow",
        _cmd_airflow_ui,
        "start Airflow (UI/API on 127.0.0.1, scheduler) in the background",
        params=True,
    ),
    Command(
        "airflow-cli",
        _cmd_airflow,
        "run the Airflow CLI in the project's Airflow environment (made on first use)",
        args=(_arg("args", nargs=argparse.REMAINDER),),
        add_help=False,  # its --help is Airflow's
    ),
    Command(
        "airflow-db",
        _cmd_airflow_db,
        "start Airflow's PostgreSQL (airflow.database: postgres; `just airflow` starts it too)",
        params=True,
    ),
    Command(
        "spark",
        _cmd_spark,
        "start the project's Spark Connect server in the background (warm runs)",
    ),
    Command(
        "cluster",
        _cmd_cluster,
        "start a Spark standalone cluster here: [workers=2] [cores=1] [memory=2g] each",
        "Start a Spark master and workers on 127.0.0.1 from the project's pyspark, "
        "authenticated by SPARK_CLUSTER_SECRET in .env. Jobs run there when dsflow.yml's "
        "spark.master names it (spark://127.0.0.1:<ports.spark_master>).",
        params=True,
    ),
    Command(
        "dash",
        _cmd_dash,
        "serve a dashboard job in the background: dash job=NAME [port=NNNN]",
        params=True,
    ),
    Command(
        "explorer",
        _cmd_explorer,
        "serve the datastore explorer dashboard: [port=NNNN]",
        params=True,
    ),
    Command(
        "jupyter",
        _cmd_jupyter,
        "start Jupyter Lab in the background (token from .env)",
        params=True,
    ),
    Command(
        "infer-schema",
        _cmd_infer_schema,
        "schema of a CSV/JSON/Parquet file or folder, printed and saved as YAML",
        "Infer the schema of path= with pyarrow (CSV delimiter, date and timestamp formats, "
        "null markers); print it and save it to out= (default config/schemas/<dataset>.yaml), "
        "ready for a job's `schema:`.",
        params=True,
    ),
    Command(
        "adhoc",
        _cmd_adhoc,
        "create adhoc/NAME.py, a notebook opening path= if given",
        args=(
            _arg("name", help="notebook name (lowercase, digits, '-' and '_')"),
            _arg("params", nargs="*", metavar="path=FILE"),
        ),
    ),
    Command("convert", _cmd_convert, "convert a notebook: convert path=X to=ipynb|py", params=True),
    Command(
        "pair",
        _cmd_pair,
        "pair a .ipynb with a jupytext .py and sync them: path=X",
        params=True,
    ),
    Command("services", _cmd_services, "list the background services this project runs"),
    Command(
        "stop",
        _cmd_stop,
        "stop background services by name (--all: every one)",
        args=(
            _arg("names", nargs="*", metavar="NAME"),
            _arg("--all", action="store_true", help="stop every service this project started"),
        ),
    ),
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``dsflow`` command: one subcommand per :data:`COMMANDS` entry."""
    parser = argparse.ArgumentParser(
        prog="dsflow",
        description="dsflow project runtime (usually called through the project's justfile)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for cmd in COMMANDS:
        command = sub.add_parser(
            cmd.name,
            help=cmd.help,
            description=cmd.description or cmd.help,
            prog=f"just {cmd.name}",  # what users type; the recipe calls dsflow
            add_help=cmd.add_help,
        )
        for flags, kwargs in cmd.args:
            command.add_argument(*flags, **kwargs)
        if cmd.params:
            command.add_argument("params", nargs="*", metavar="key=value")
        command.set_defaults(func=cmd.func, **cmd.defaults)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run one command; user errors become one line on stderr and exit 2."""
    # jsonschema compiles an IRI grammar on import when rfc3987-syntax is installed (Jupyter
    # Server pulls it in): 1 s of every run that reads a notebook, for a format dsflow never
    # checks. Without the module jsonschema skips that one format check.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if args.command == "airflow-cli":  # argparse keeps a leading option (--help) out of REMAINDER
        args.args = unknown + args.args
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        args.func(args)
        sys.stdout.flush()  # here, where a closed pipe is still ours to catch
    except BrokenPipeError:
        # `just status | head`: the reader has all it wanted; end quietly, and keep Python
        # from complaining when it flushes stdout again at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except DsflowError as exc:
        from .redaction import redact_url

        print(f"dsflow: error: {redact_url(str(exc))}", file=sys.stderr)  # a spec's URL, say
        return exc.exit_code
    except KeyboardInterrupt:
        print("dsflow: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a full or read-only disk is the machine's state, not a bug
        error = disk_error(exc)
        if error is None:
            return _internal_error(exc)
        print(f"dsflow: error: {error}", file=sys.stderr)
        return error.exit_code
    except Exception as exc:  # a bug, not bad input: still one line unless asked for more
        return _internal_error(exc)
    return 0


def _internal_error(exc: Exception) -> int:
    if os.environ.get("DSFLOW_DEBUG"):
        raise exc
    print(
        f"dsflow: internal error: {exc.__class__.__name__}: {exc} "
        "(rerun with DSFLOW_DEBUG=1 for the traceback, and report it)",
        file=sys.stderr,
    )
    return 70


if __name__ == "__main__":
    sys.exit(main())
