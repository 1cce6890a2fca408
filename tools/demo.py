"""The README's first quickstart command: a demo project running the meteo pipeline for real.

    uv run just demo [DEST]     (default: ./demo-project, recreated each time)

It scaffolds a project with copier, sets it up, serves samples/ over HTTP on 127.0.0.1 (as a
stand-in for a web API), creates the pipeline's jobs from the templates:

    download-meteo-json  -> raw/meteo_json        (download_file, one file per day)
    download-stations    -> raw/stations          (download_file, a daily snapshot)
    create-table-fct-observations -> fct_observations   (create_table_from_json)
    create-table-dim-stations     -> dim_stations       (create_table_from_csv, a dimension)
    create-table-fct-daily-weather -> fct_daily_weather (create_table_from_sql, a join)
    dash-observations    a dashboard of fct_observations (plotly_dash_app)

then backfills three days (`just backfill`, in the order the job graph gives, through a warm
Spark Connect server started with `just spark`) and prints the partition status, the
datastore, the reports and how to open the dashboard.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import subprocess
import threading
from pathlib import Path

import release_tags
from ports import shift_ports
from snapshot import GIT_ID, REPO, is_clean, snapshot_repo

DAYS = ["2024-01-01", "2024-01-02", "2024-01-03"]
# the one edit a user makes after `just new-job create_table_from_sql`: the query itself
DAILY_WEATHER_SQL = """\
-- fct_daily_weather: one row per station and day, from the hourly observations.
-- :ds is bound to the run's partition; dim_stations is its snapshot as of :ds.
SELECT
  o.station,
  s.city,
  COUNT(*) AS observations,
  MIN(o.temperature_c) AS min_temperature_c,
  MAX(o.temperature_c) AS max_temperature_c,
  ROUND(AVG(o.temperature_c), 2) AS avg_temperature_c,
  ROUND(SUM(o.precipitation_mm), 1) AS precipitation_mm
FROM fct_observations AS o
JOIN dim_stations AS s ON s.station = o.station
WHERE o.ds = :ds
GROUP BY o.station, s.city
ORDER BY o.station
"""


def step(title: str, cmd: list[str], cwd: Path) -> None:
    print(f"\n==> {title}\n$ {' '.join(cmd)}", flush=True)
    subprocess.run(cmd, cwd=cwd, check=True)


def serve_samples() -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve samples/ on 127.0.0.1 (a free port) from a thread; returns (server, base URL)."""
    handler = functools.partial(QuietHandler, directory=str(REPO / "samples"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def scaffold(project: Path, template: str | None, ref: str | None) -> None:
    template_dir = project.parent / f".{project.name}-template"
    for old in (project, template_dir):
        if old.exists():
            shutil.rmtree(old)
    if template:
        source, ref = template, ref or "HEAD"
    elif is_clean():
        # a clone carries no tags: derive them from the CHANGELOG so the project records a
        # release name (and `just update to=vX.Y.Z` finds it)
        created = release_tags.tag()
        print(f"(release tags from CHANGELOG.md: {', '.join(created) or 'all present'})")
        source, ref = str(REPO), "HEAD"
    else:  # uncommitted template edits: render them from a tagged snapshot
        print(f"(working tree has uncommitted changes: rendering a snapshot in {template_dir})")
        source, ref = str(snapshot_repo(template_dir, tag="v0.0.0-dev")), "v0.0.0-dev"
    step(
        "scaffold a project with copier",
        [
            "copier",
            "copy",
            "--trust",
            "--defaults",
            "--quiet",
            "--vcs-ref",
            ref,
            source,
            str(project),
        ],
        REPO,
    )


def commit(project: Path, message: str) -> None:
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    subprocess.run(["git", *GIT_ID, "commit", "-q", "-m", message], cwd=project, check=True)


def create_jobs(project: Path, base_url: str) -> None:
    jobs = [
        ["download_file", "meteo_json", f"url={base_url}/meteo/json/{{{{ ds }}}}.json",
         "file_name=observations.json"],
        ["download_file", "stations", f"url={base_url}/meteo/stations.csv"],
        ["create_table_from_json", "fct_observations", "source_dataset=meteo_json"],
        ["create_table_from_csv", "dim_stations", "source_dataset=stations"],
        ["create_table_from_sql", "fct_daily_weather",
         "source_table=fct_observations,dim_stations"],
        ["plotly_dash_app", "observations", "table=fct_observations", "x_column=observed_at",
         "y_column=temperature_c", "color_column=station"],
    ]  # fmt: skip
    for args in jobs:
        step(f"create a job from the {args[0]} template", ["just", "new-job", *args], project)
    query = project / "jobs/create-table-fct-daily-weather/query.sql"
    print(f"\n==> write the SQL of fct_daily_weather into {query.relative_to(project)}")
    query.write_text(DAILY_WEATHER_SQL)
    commit(project, "demo pipeline jobs")


def run_pipeline(project: Path, days: list[str]) -> None:
    step(
        f"run the pipeline for {len(days)} days: the job graph orders the jobs",
        ["just", "backfill", f"start={days[0]}", f"end={days[-1]}", "parallel=2"],
        project,
    )
    step(
        "the partitions of every dataset",
        ["just", "status", f"start={days[0]}", f"end={days[-1]}"],
        project,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "dest",
        nargs="?",
        default="demo-project",
        help="project folder, relative to this checkout (default: demo-project); an existing "
        "one is deleted and made again",
    )
    parser.add_argument("--template", help="template repository (default: this checkout)")
    parser.add_argument("--ref", help="template git ref (default: HEAD)")
    parser.add_argument("--base-url", help="serve the samples from here instead of a local server")
    parser.add_argument(
        "--keep-services", action="store_true", help="leave the Spark server running at the end"
    )
    parser.add_argument(
        "--port-offset",
        type=int,
        default=0,
        help="add this to every port in dsflow.yml, to run beside services on the default ports",
    )
    parser.add_argument(
        "--days", type=int, default=len(DAYS), help="days to run (0: only create the jobs)"
    )
    args = parser.parse_args()
    project = Path(args.dest) if Path(args.dest).is_absolute() else (REPO / args.dest)
    project = project.resolve()

    scaffold(project, args.template, args.ref)
    shift_ports(project, args.port_offset)
    step("set it up: environment, Java check, kernel, secrets", ["just", "setup"], project)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=project, check=True)
    commit(project, "dsflow project")  # with its uv.lock: `just update` needs a clean tree
    step("its recipes", ["just"], project)
    server = None
    base_url = args.base_url
    if not base_url:
        server, base_url = serve_samples()
        print(f"\n(serving {REPO / 'samples'} at {base_url}, a stand-in for a web API)")
    try:
        create_jobs(project, base_url.rstrip("/"))
        if args.days:
            step(
                "start a warm Spark (Spark Connect server) for the runs", ["just", "spark"], project
            )
            try:
                run_pipeline(project, DAYS[: args.days])
            finally:
                if not args.keep_services:
                    step("stop the services", ["just", "stop-all"], project)
    finally:
        if server:
            server.shutdown()
    step(
        "the datastore: partitions of every dataset, table and run report",
        ["just", "tree"],
        project,
    )
    datastore = project / "datastore"
    # the caller's own PATH (tools/bootstrap.sh passes it): is `just` there outside `uv run`?
    caller_path = os.environ.get("DSFLOW_CALLER_PATH", os.environ.get("PATH", ""))
    if not shutil.which("just", path=caller_path):
        print(
            "\n`just` is installed in ~/.local/bin, which is not on your PATH yet: first run\n"
            '  export PATH="$HOME/.local/bin:$PATH"   (Debian\'s ~/.profile adds it at next login)'
        )
    print(
        f"\nDemo project ready in {project}\n"
        f"  tables:     {datastore / 'tables'}/"
        "{fct_observations,dim_stations,fct_daily_weather}\n"
        f"  reports:    {datastore / 'job_runs'}/<job>/ds=<day>/report.html\n"
        f"  dashboard:  cd {project} && just dash job=dash-observations   (then open the URL)\n"
        f"  more:       cd {project} && just"
    )
    if server:
        print(
            f"  note: the download jobs fetch from {base_url}, the demo's own server, now\n"
            f"        stopped: to run them again, serve samples/ there or point `url` in\n"
            f"        jobs/download-*/job_specs.yaml at file://{REPO / 'samples'}/..."
        )


if __name__ == "__main__":
    main()
