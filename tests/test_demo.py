"""The demo pipeline end to end, for real: downloads over HTTP from a server this module starts
on 127.0.0.1, Spark tables from JSON, CSV and SQL, a Dash dashboard requested over HTTP and
screenshotted in headless Chromium; the tables checked against a computation of our own over
the sample files; and every bad input of the job templates.
"""

from __future__ import annotations

import csv
import functools
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import PORT_OFFSET, REPO, just, move_datastore, own_spark_env, port, run
from dsflow.envfile import CLUSTER_SECRET, read_env
from dsflow.services import process_running

pytestmark = pytest.mark.slow

SAMPLES = REPO / "samples"
DAYS = ["2024-01-01", "2024-01-02", "2024-01-03"]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def samples_url():
    """samples/ served over HTTP on 127.0.0.1, stopped after the module."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(SAMPLES))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def demo(template_repo, tmp_path_factory, samples_url):
    """`tools/demo.py` (the README's demo command) run against the tagged template snapshot,
    on its own warm Spark, which it stops at the end as for a user; the tests below run on the
    test session's shared server."""
    project = tmp_path_factory.mktemp("demo") / "demo-project"
    cmd = [sys.executable, str(REPO / "tools/demo.py"), str(project)]
    cmd += ["--template", str(template_repo), "--ref", "v1.0.0"]
    cmd += ["--base-url", samples_url, "--port-offset", str(PORT_OFFSET)]
    try:
        result = run(cmd, cwd=REPO, env=own_spark_env())  # the demo's own warm Spark, as a user's
        yield project, result.stdout
    finally:  # a failed demo must not leave its server on the port the next tests use
        just(project, "stop-all", check=False)


def sample_rows(day: str) -> list[dict]:
    text = (SAMPLES / f"meteo/json/{day}.json").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_demo_prints_the_status_and_where_things_are(demo):
    project, out = demo
    for table in ("fct_observations", "dim_stations", "fct_daily_weather"):
        assert f"    {table}/  3 partitions, 3 complete" in out
    assert "create-table-fct-daily-weather/  3 runs, 0 failed" in out
    assert "15 published, 0 up to date, 0 failed, 0 blocked" in out  # the backfill's summary
    assert "tables/fct_daily_weather  ###  3 complete" in out  # just status
    assert "just dash job=dash-observations" in out
    assert "stopped: spark" in out  # the demo's own server, started for its backfill
    assert f"reports:    {project}/datastore/job_runs/<job>/ds=<day>/report.html" in out
    for day in DAYS:
        report = project / f"datastore/job_runs/create-table-fct-daily-weather/ds={day}"
        assert json.loads((report / "run.json").read_text())["status"] == "success"
        assert "avg_temperature_c" in (report / "report.html").read_text()


def test_downloads_are_the_served_files(demo):
    project, _ = demo
    for day in DAYS:
        got = project / f"datastore/raw/meteo_json/ds={day}/observations.json"
        assert got.read_bytes() == (SAMPLES / f"meteo/json/{day}.json").read_bytes()


def test_observation_rows_per_partition(demo):
    project, _ = demo
    for day in DAYS:
        table = pq.read_table(project / f"datastore/tables/fct_observations/ds={day}")
        expected = sample_rows(day)
        assert table.num_rows == len(expected) == 72
        got = sorted(
            zip(table["station"].to_pylist(), table["temperature_c"].to_pylist(), strict=True)
        )
        assert got == sorted((r["station"], r["temperature_c"]) for r in expected)


def test_stations_dimension_from_csv(demo):
    project, _ = demo
    with (SAMPLES / "meteo/stations.csv").open() as handle:
        expected = {r["station"]: r for r in csv.DictReader(handle, delimiter=";")}
    table = pq.read_table(project / "datastore/tables/dim_stations/ds=2024-01-02").to_pylist()
    assert {r["station"]: r["city"] for r in table} == {k: v["city"] for k, v in expected.items()}
    # the ';' was detected, and numbers were inferred as numbers
    assert {r["station"]: r["elevation_m"] for r in table} == {
        k: int(v["elevation_m"]) for k, v in expected.items()
    }


def test_daily_weather_matches_an_independent_computation(demo):
    """Per station and day: count, min, max, mean temperature and rain, from the JSON files."""
    project, _ = demo
    check_daily_weather(project, DAYS)


def check_daily_weather(project: Path, days: list[str], datastore: Path | None = None) -> None:
    """fct_daily_weather of ``days`` (in the project's datastore, or ``datastore``) against
    our own computation over the sample JSON files."""
    datastore = datastore or project / "datastore"
    cities = {"paris-montsouris": "Paris", "lyon-bron": "Lyon", "marseille-marignane": "Marseille"}
    for day in days:
        by_station = defaultdict(list)
        for row in sample_rows(day):
            by_station[row["station"]].append(row)
        rows = pq.read_table(datastore / f"tables/fct_daily_weather/ds={day}").to_pylist()
        assert len(rows) == 3
        for row in rows:
            obs = by_station[row["station"]]
            temps = [o["temperature_c"] for o in obs]
            assert row["city"] == cities[row["station"]]
            assert row["observations"] == len(obs) == 24
            assert row["min_temperature_c"] == min(temps)
            assert row["max_temperature_c"] == max(temps)
            assert row["avg_temperature_c"] == pytest.approx(sum(temps) / len(temps), abs=0.006)
            rain = sum(o["precipitation_mm"] for o in obs)
            assert row["precipitation_mm"] == pytest.approx(rain, abs=0.051)


# ------------------------------------------------------------------ the dashboard


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read()


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run must apt-get install chromium")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def screenshot(url: str, png: Path) -> None:
    """Headless Chromium with DESIGN §12's flags; without the time budget it shoots 'Loading...'."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                _chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=10000",
                "--window-size=1200,900",
                f"--screenshot={png}",
                url,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def coloured_pixels(png: Path, box: tuple[int, int, int, int]) -> int:
    """Pixels in ``box`` that are clearly coloured (a plotted line), not white, grey or black."""
    from PIL import Image

    image = Image.open(png).convert("RGB").crop(box)
    pixels = getattr(image, "get_flattened_data", image.getdata)()  # getdata goes in Pillow 14
    return sum(1 for r, g, b in pixels if max(r, g, b) - min(r, g, b) > 60)


@pytest.fixture(scope="module")
def dashboard(demo):
    project, _ = demo
    port = _free_port()
    result = just(project, "dash", "job=dash-observations", f"port={port}")
    assert f"serving http://127.0.0.1:{port}/" in result.stdout
    yield project, f"http://127.0.0.1:{port}"
    just(project, "stop", "dash-observations", check=False)  # stop-all may have stopped it


def test_dashboard_serves_the_chart_data(dashboard):
    project, url = dashboard
    status, page = _get(url + "/")
    assert status == 200 and b"dash-renderer" in page
    assert b"https://" not in page  # no CSS, fonts or scripts from the internet
    status, body = _get(url + "/_dash-layout")
    assert status == 200
    layout = json.dumps(json.loads(body))
    figure = _find(json.loads(body), "chart")["props"]["figure"]
    traces = {t["name"]: t for t in figure["data"]}
    assert sorted(traces) == sorted({r["station"] for r in sample_rows(DAYS[0])})
    paris = [
        r["temperature_c"]
        for d in DAYS
        for r in sample_rows(d)
        if r["station"] == "paris-montsouris"
    ]
    assert sorted(_values(traces["paris-montsouris"]["y"])) == sorted(paris)
    assert '"start_date": "2024-01-01"' in layout and '"end_date": "2024-01-03"' in layout


def _find(node, component_id):
    if isinstance(node, dict):
        if node.get("props", {}).get("id") == component_id:
            return node
        for value in node.values():
            found = _find(value, component_id)
            if found:
                return found
    if isinstance(node, list):
        for value in node:
            found = _find(value, component_id)
            if found:
                return found
    return None


def _values(y):
    """Plotly may send a numeric array as {"dtype", "bdata"} (base64) or as a plain list."""
    if isinstance(y, dict) and "bdata" in y:
        import array
        import base64

        codes = {"f8": "d", "f4": "f", "i8": "q", "i4": "i", "i2": "h", "i1": "b", "u1": "B"}
        values = array.array(codes[y["dtype"]])
        values.frombytes(base64.b64decode(y["bdata"]))
        return values.tolist()
    return y


def test_dashboard_screenshot_shows_the_chart(dashboard, tmp_path):
    _, url = dashboard
    png = tmp_path / "dashboard.png"
    screenshot(url + "/", png)
    # the chart's plot area (below the title and the date picker): three coloured lines
    assert coloured_pixels(png, (60, 150, 960, 520)) > 3000, "no chart drawn (a 'Loading...' page?)"


def test_loading_page_has_no_chart_pixels(tmp_path):
    """The check above can fail: a page without a chart has no coloured pixels there."""
    page = tmp_path / "loading.html"
    page.write_text("<html><body><div>Loading...</div></body></html>")
    png = tmp_path / "loading.png"
    screenshot(page.as_uri(), png)
    assert coloured_pixels(png, (60, 150, 960, 520)) < 100


def test_dash_refuses_a_job_that_is_not_a_dashboard(demo):
    project, _ = demo
    result = just(project, "dash", "job=create-table-dim-stations", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "dsflow: error: job create-table-dim-stations is a notebook, not a dashboard: "
        "run it with `just run job=create-table-dim-stations`"
    )


def test_dash_port_in_use(demo):
    """A second dashboard job (made by new-job) asked for a port something else holds."""
    project, _ = demo
    just(
        project,
        "new-job",
        "plotly_dash_app",
        "rain",
        "table=fct_daily_weather",
        "y_column=precipitation_mm",
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = just(project, "dash", "job=dash-rain", f"port={port}", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"dsflow: error: port {port} on 127.0.0.1 is already in use; "
        f"choose another: just dash job=dash-rain port=NNNN"
    )


def test_dashboard_over_a_table_with_no_partitions_says_so(demo):
    """A dashboard whose table has nothing published yet serves a page that says so, with an
    empty chart, instead of failing."""
    project, _ = demo
    just(project, "new-job", "plotly_dash_app", "empty", "table=fct_not_yet", "y_column=x")
    port = _free_port()
    try:
        just(project, "dash", "job=dash-empty", f"port={port}")
        status, body = _get(f"http://127.0.0.1:{port}/_dash-layout")
    finally:
        just(project, "stop", "dash-empty", check=False)
        shutil.rmtree(project / "jobs/dash-empty")  # no writer of fct_not_yet: off the graph
    assert status == 200
    layout = json.loads(body)
    assert "fct_not_yet has no complete partitions yet: publish some with `just backfill`" in (
        json.dumps(layout)
    )
    assert _find(layout, "chart")["props"]["figure"]["data"] == []


def test_dash_twice_says_it_runs(dashboard):
    project, url = dashboard
    result = just(project, "dash", "job=dash-observations", check=False)
    assert result.returncode == 2
    assert f"dash-observations is already running at {url}/ (pid " in result.stderr


# ------------------------------------------------------------------ services


def _status_code(url: str) -> int:
    """The HTTP status of GET ``url``; 0 when nothing answers."""
    try:
        return _get(url)[0]
    except urllib.error.HTTPError as exc:
        return exc.code
    except urllib.error.URLError:
        return 0


def test_jupyter_is_protected_by_the_project_token(demo):
    """Jupyter Lab with the token from .env: /api/status 200 with it, 403 without; a jupytext
    `.py` job notebook opens as a notebook; a kernel of the project's kernelspec, started in
    the job's folder, imports the runtime package and runs Spark SQL on the demo's tables
    (through the warm Spark server); `stop-all` leaves neither server nor kernel behind."""
    project, _ = demo
    token = next(
        line.split("=", 1)[1]
        for line in (project / ".env").read_text().splitlines()
        if line.startswith("JUPYTER_TOKEN=")
    )
    jupyter = port("jupyter")
    api = f"http://127.0.0.1:{jupyter}/api"
    out = just(project, "jupyter").stdout
    try:
        assert f"jupyter: http://127.0.0.1:{jupyter}/lab?token={token}" in out
        assert _status_code(f"{api}/status?token={token}") == 200
        assert _status_code(f"{api}/status") == 403
        again = just(project, "jupyter", check=False)
        assert again.returncode == 2 and "jupyter is already running at" in again.stderr
        assert "starting" not in again.stdout  # refused before announcing anything

        notebook = "jobs/create-table-fct-observations/notebook.py"
        _, body = _get(f"{api}/contents/{notebook}?type=notebook&token={token}")
        model = json.loads(body)
        assert model["type"] == "notebook"  # jupytext's contents manager read the .py
        cells = model["content"]["cells"]
        assert [c["cell_type"] for c in cells[:3]] == ["markdown", "code", "code"]
        assert cells[1]["metadata"]["tags"] == ["parameters"]  # papermill injects after it
        session = _post_json(
            f"{api}/sessions?token={token}",
            {
                "path": notebook,
                "type": "notebook",
                "name": "notebook.py",
                "kernel": {"name": "dsflow-my-dsflow-project"},
            },
        )
        printed = _execute(
            f"ws://127.0.0.1:{jupyter}/api/kernels/{session['kernel']['id']}/channels?token={token}",
            "import os, sys, dsflow\n"
            "from dsflow.notebook import sql\n"
            "print('cwd', os.getcwd())\n"
            "print('python', sys.executable)\n"
            "print('pid', os.getpid())\n"
            "n = sql('SELECT count(*) AS n FROM fct_observations', show=0).collect()[0].n\n"
            "print('rows', n)\n",
        )
    finally:
        stopped = just(project, "stop-all").stdout
    lines = dict(line.split(" ", 1) for line in printed.splitlines())
    assert lines["cwd"] == str(project.resolve() / "jobs/create-table-fct-observations")
    assert lines["python"] == str(project / ".venv/bin/python")
    assert int(lines["rows"]) == sum(len(sample_rows(d)) for d in DAYS)
    assert stopped.startswith("stopped: ") and "jupyter" in stopped
    assert _status_code(f"{api}/status") == 0  # nothing listens any more
    assert not process_running(int(lines["pid"]))  # the kernel went with its server


def _post_json(url: str, payload: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _execute(ws_url: str, code: str) -> str:
    """Run ``code`` in a Jupyter kernel over its channels websocket; return what it printed."""
    import uuid

    import websocket

    ws = websocket.create_connection(ws_url, timeout=180)
    try:
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "username": "test",
            "session": uuid.uuid4().hex,
            "version": "5.3",
            "date": "",
        }
        ws.send(json.dumps({
            "header": header, "parent_header": {}, "metadata": {}, "channel": "shell",
            "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        }))  # fmt: skip
        printed = []
        while True:
            msg = json.loads(ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content["name"] == "stdout":
                printed.append(content["text"])
            elif kind == "error":
                raise AssertionError(f"{content['ename']}: {content['evalue']}")
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(printed)
    finally:
        ws.close()


def test_jupyter_without_java_says_so_at_start(demo, tmp_path):
    """No java on PATH (only `sh`, which just needs) and no JAVA_HOME: one line, exit 2."""
    project, _ = demo
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "sh").symlink_to("/bin/sh")
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(bare)
    result = subprocess.run(
        [shutil.which("just"), "jupyter"], cwd=project, env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("dsflow: error: Java not found; Spark needs Java 17+")
    services = just(project, "services").stdout.splitlines()
    assert not [line for line in services if line.startswith("jupyter")], services


def test_explorer_shows_the_status_grid_and_serves_reports(demo, tmp_path):
    project, _ = demo
    port = _free_port()
    just(project, "explorer", f"port={port}")
    url = f"http://127.0.0.1:{port}"
    try:
        layout = json.loads(_get(url + "/_dash-layout")[1])
        heatmap = _find(layout, "status")["props"]["figure"]["data"][0]
        assert "tables/fct_daily_weather" in heatmap["y"]
        assert "2024-01-03" in heatmap["x"]
        assert "fct_daily_weather" in json.dumps(_find(layout, "tables"))
        report = "/reports/create-table-fct-daily-weather/ds=2024-01-01/report.html"
        assert b"avg_temperature_c" in _get(url + report)[1]
        assert _status_code(url + "/reports/../../.env") == 404
        png = tmp_path / "explorer.png"
        screenshot(url + "/", png)
        assert coloured_pixels(png, (200, 120, 1100, 480)) > 3000, "no status grid drawn"
    finally:
        just(project, "stop", "explorer")


def test_stop_all_stops_only_what_the_project_started(demo):
    project, _ = demo
    bystander = subprocess.Popen(["sleep", "300"], start_new_session=True)
    stopped = ""
    try:
        just(project, "explorer", f"port={_free_port()}")
        stopped = just(project, "stop-all").stdout
        assert stopped.startswith("stopped: ") and "explorer" in stopped
        assert bystander.poll() is None, "stop-all killed a process it did not start"
        assert just(project, "stop-all").stdout.strip() == "nothing was running"
    finally:
        bystander.kill()
        bystander.wait()


def test_stop_bad_input(demo):
    """`just stop` names a service or says how to stop all; an unknown name is not mistaken
    for a stopped one; nothing is stopped on a wrong name."""
    project, _ = demo
    before = just(project, "services").stdout
    result = just(project, "stop", check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("dsflow: error: which service? usage: just stop NAME")
    assert "`just stop-all` stops them all" in result.stderr
    result = just(project, "stop", "nope", check=False)
    assert result.returncode == 2
    assert result.stderr.startswith(
        "dsflow: error: unknown service 'nope': services are jupyter, airflow, airflow-db, "
        "explorer, spark, spark-master, spark-worker-N and dashboard jobs (running: "
    )
    assert result.stderr.strip().endswith("nothing was stopped")
    result = just(project, "stop", "explorer", check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("dsflow: error: explorer is not running (running: ")
    result = just(project, "stop-all", "spark", check=False)
    assert result.returncode == 2 and "`just stop-all` takes no names" in result.stderr
    assert just(project, "services").stdout == before
    usage = just(project, "services", "--help").stdout
    assert usage.startswith("usage: just services") and "list the background services" in usage


def test_a_stale_service_record_is_dropped(demo):
    project, _ = demo
    gone = subprocess.Popen(["true"])
    gone.wait()
    record = project / ".dsflow/services/ghost.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({
        "name": "ghost", "pid": gone.pid, "start_time": "1", "port": 1, "url": "x", "log": "x",
        "command": ["x"],
    }))  # fmt: skip
    assert "ghost" not in just(project, "services").stdout
    assert not record.exists()


# ------------------------------------------------------------------ bad input


def _published(project: Path, dataset: str) -> dict[str, bytes]:
    folder = project / "datastore" / dataset
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }


def _raw_partition(project: Path, dataset: str, day: str, name: str, text: str) -> None:
    folder = project / f"datastore/raw/{dataset}/ds={day}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    (folder / "_SUCCESS").touch()


def _fails(project: Path, job: str, day: str, *extra: str) -> str:
    """just run must exit 1 with one error line naming the job and partition; the report saved."""
    result = just(project, "run", f"job={job}", f"ds={day}", *extra, check=False)
    assert result.returncode == 1, result
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("dsflow: error:")]
    assert len(errors) == 1 and "Traceback" not in result.stdout, result.stderr
    assert errors[0].startswith(f"dsflow: error: {job} ds={day} failed: "), errors[0]
    record = json.loads((project / f"datastore/job_runs/{job}/ds={day}/run.json").read_text())
    assert record["status"] == "failed" and Path(record["report"]).is_file()
    return errors[0]


def test_json_that_does_not_parse(demo):
    project, _ = demo
    _raw_partition(
        project, "meteo_json", "2024-01-05", "observations.json", '{"station": "a"\n{oops\n'
    )
    before = _published(project, "tables/fct_observations")
    line = _fails(project, "create-table-fct-observations", "2024-01-05")
    assert "raw/meteo_json/ds=2024-01-05/observations.json: a record is not valid JSON" in line
    assert "JVM stacktrace" not in line
    assert _published(project, "tables/fct_observations") == before


def test_csv_that_does_not_parse(demo):
    project, _ = demo
    _raw_partition(
        project, "stations", "2024-01-05", "stations.csv", 'station;city\na;Paris;x;"open\n'
    )
    before = _published(project, "tables/dim_stations")
    line = _fails(project, "create-table-dim-stations", "2024-01-05")
    assert "stations.csv" in line
    assert _published(project, "tables/dim_stations") == before


@pytest.mark.parametrize(
    ("edit", "cause"),
    [
        (
            ("FROM fct_observations", "FROM fct_missing"),
            "[TABLE_OR_VIEW_NOT_FOUND] The table or view `fct_missing` cannot be found",
        ),
        (
            ("MIN(o.temperature_c)", "MIN(o.temp)"),
            "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name `o`.`temp` cannot be resolved",
        ),
    ],
)
def test_sql_that_references_a_missing_table_or_column(demo, edit, cause):
    project, _ = demo
    query = project / "jobs/create-table-fct-daily-weather/query.sql"
    good = query.read_text()
    before = _published(project, "tables/fct_daily_weather")
    query.write_text(good.replace(*edit))
    try:
        line = _fails(project, "create-table-fct-daily-weather", "2024-01-03")
    finally:
        query.write_text(good)
    assert f"raised AnalysisException: {cause}" in line
    assert _published(project, "tables/fct_daily_weather") == before  # the old partition stays


@pytest.mark.parametrize(
    ("params", "cause"),
    [
        (
            ["url={base}/meteo/json/missing-{{ ds }}.json"],
            "HTTP 404 File not found for {base}/meteo/json/missing-2024-01-06.json",
        ),
        (
            ["url=http://127.0.0.1:9/x.json", "retries=0"],
            "cannot reach http://127.0.0.1:9/x.json: Connection refused",
        ),
        (["max_bytes=1000"], "body exceeds max_bytes=1000"),
        (["sha256=" + "0" * 64], "sha256 mismatch: expected " + "0" * 64),
        (
            ["url={base}/meteo/json/2024-01-01.json", "decompress=unzip"],
            "not a zip file: {base}/meteo/json/2024-01-01.json",
        ),
    ],
)
def test_download_failures_publish_nothing(demo, samples_url, params, cause):
    project, _ = demo
    params = [p.replace("{base}", samples_url) for p in params]
    line = _fails(project, "download-meteo-json", "2024-01-06", *params)
    assert cause.replace("{base}", samples_url) in line, line
    assert not (project / "datastore/raw/meteo_json/ds=2024-01-06").exists()


# ------------------------------------------------------------------ helper commands


def test_infer_schema_detects_the_delimiter_and_saves_yaml(demo):
    project, _ = demo
    result = just(project, "infer-schema", "path=datastore/raw/stations/ds=2024-01-01")
    saved = project / "config/schemas/stations.yaml"
    assert "saved config/schemas/stations.yaml" in result.stdout
    text = saved.read_text()
    assert text in result.stdout
    import yaml

    schema = yaml.safe_load(text)
    assert schema == {
        "format": "csv",
        "delimiter": ";",
        "columns": {
            "station": "string",
            "city": "string",
            "latitude": "double",
            "longitude": "double",
            "elevation_m": "bigint",
        },
    }
    parquet = just(
        project, "infer-schema", "path=datastore/tables/fct_daily_weather", "out=/dev/null"
    )
    assert "avg_temperature_c: double" in parquet.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["path=datastore/raw/nothing"], "datastore/raw/nothing does not exist"),
        ([], "which data? usage: just infer-schema path=FILE_OR_FOLDER [out=FILE]"),
    ],
)
def test_infer_schema_bad_input(demo, args, message):
    project, _ = demo
    result = just(project, "infer-schema", *args, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == f"dsflow: error: {message}"


def test_declared_schema_is_used_by_the_csv_job(demo):
    """`schema: config/schemas/stations.yaml` (edited to a string elevation) reaches Spark: the
    staged partition has a string elevation, which the table's contract (an integer, fixed by
    its first publish) refuses; the published snapshot stays as it was."""
    project, _ = demo
    schema = project / "config/schemas/stations-text.yaml"
    schema.write_text(
        "columns:\n  station: string\n  city: string\n  latitude: double\n"
        "  longitude: double\n  elevation_m: string\n"
    )
    before = _published(project, "tables/dim_stations")
    contract = json.loads((project / "datastore/tables/dim_stations/_schema.json").read_text())
    expected = {c["name"]: c["type"] for c in contract["columns"]}["elevation_m"]
    assert expected in ("int", "bigint")
    line = _fails(
        project,
        "create-table-dim-stations",
        "2024-01-03",
        f"schema={schema.relative_to(project)}",
    )
    assert (
        f"table tables/dim_stations: column elevation_m is string in this partition, the "
        f"table's schema says {expected} (source raw/stations/ds=2024-01-03); nothing published"
    ) in line
    assert _published(project, "tables/dim_stations") == before


def test_adhoc_notebook_opens_a_data_file(demo):
    project, _ = demo
    just(project, "adhoc", "look", "path=datastore/raw/stations/ds=2024-01-01")
    # its first code cell reads the file with pyarrow: run it with the project's Python
    code = (
        "import jupytext\n"
        "cell = next(c for c in jupytext.read('look.py').cells if c.cell_type == 'code')\n"
        "exec(cell.source)\n"
        "print(len(frame), list(frame.columns))\n"
    )
    out = run([str(project / ".venv/bin/python"), "-c", code], cwd=project / "adhoc").stdout
    assert "3 ['station', 'city', 'latitude', 'longitude', 'elevation_m']" in out
    again = just(project, "adhoc", "look", check=False)
    assert again.returncode == 2 and "adhoc/look.py already exists" in again.stderr


def test_convert_and_pair_notebooks(demo):
    project, _ = demo
    job = project / "jobs/create-table-dim-stations"
    just(project, "convert", f"path={job}/notebook.py", "to=ipynb")
    import nbformat

    nb = nbformat.read(job / "notebook.ipynb", as_version=4)
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)
    again = just(project, "convert", f"path={job}/notebook.py", "to=ipynb", check=False)
    assert again.returncode == 2 and "already exists; pair the two instead" in again.stderr
    (job / "notebook.ipynb").unlink()
    just(project, "pair", f"path={job}/notebook.py")
    assert "ipynb,py:percent" in (job / "notebook.py").read_text()
    assert (job / "notebook.ipynb").is_file()
    (job / "notebook.ipynb").unlink()
    subprocess.run(["git", "checkout", "--", str(job / "notebook.py")], cwd=project, check=True)


# ------------------------------------------------------------------ a Spark standalone cluster
# last in the module: it re-publishes two of the demo's days

TABLES = ("fct_observations", "dim_stations", "fct_daily_weather")


def _rows(datastore: Path, table: str, day: str) -> list[dict]:
    rows = pq.read_table(datastore / f"tables/{table}/ds={day}").to_pylist()
    return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True, default=str))


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_the_demo_runs_unchanged_on_a_two_worker_standalone_cluster(demo, other_filesystem):
    """`just cluster` (a master and two workers from the project's pyspark), spark.master
    pointed at it, and the datastore moved to another filesystem (`datastore: file://...`, as a
    shared mount every machine sees at the same path): a forced backfill of two days there;
    tables equal value by value to the local run's and to our own computation; `just status`
    reads the new location; the local datastore is left as it was; executors ran on both
    workers; no job changed; the cluster's secret on no command line."""
    project, _ = demo
    days = DAYS[:2]
    local_store = project / "datastore"
    local = {(table, day): _rows(local_store, table, day) for table in TABLES for day in days}
    local_files = {p: p.stat().st_mtime_ns for p in local_store.rglob("*") if p.is_file()}
    lake = other_filesystem / "lake"
    jobs = {p: p.read_bytes() for p in (project / "jobs").rglob("*") if p.is_file()}
    settings = project / "dsflow.yml"
    original = settings.read_text()
    master = f"spark://127.0.0.1:{port('spark_master')}"
    env = own_spark_env()
    just(project, "stop-all")
    try:
        out = just(project, "cluster", env=env).stdout
        assert f"spark cluster: master {master} (web UI http://127.0.0.1:" in out
        assert "2 workers (1 core, 2g each)" in out
        assert f'once dsflow.yml says spark: master: "{master}"' in out
        settings.write_text(re.sub(r'master: "[^"]*"', f'master: "{master}"', original, count=1))
        move_datastore(project, lake)
        just(project, "spark", env=env)
        result = just(
            project, "backfill", f"start={days[0]}", f"end={days[-1]}", "force=true", env=env
        )
        assert "10 published, 0 up to date, 0 failed, 0 blocked" in result.stdout
        status = just(project, "status", f"start={days[0]}", f"end={days[-1]}").stdout
        assert "tables/fct_daily_weather  ##  2 complete" in status, status
        services = project / ".dsflow/services"
        server = json.loads((services / "spark.json").read_text())
        assert server["command"][server["command"].index("--master") + 1] == master
        executors = {
            n: list((services / f"spark-worker-{n}").glob("app-*/*/stderr")) for n in (1, 2)
        }
        assert all(executors.values()), f"a worker ran no executor: {executors}"
        secret = read_env(project / ".env")[CLUSTER_SECRET]
        for name in ("spark", "spark-master", "spark-worker-1", "spark-worker-2"):
            record = json.loads((services / f"{name}.json").read_text())
            assert secret not in _cmdline(record["pid"]), name
        for stderr in executors[1] + executors[2]:  # it starts with the executor's command
            command = stderr.read_text().splitlines()[0]
            assert command.startswith("Spark Executor Command:")
            assert "spark.authenticate.secret" not in command  # not even redacted: absent
    finally:
        settings.write_text(original)
        stopped = just(project, "stop-all", check=False).stdout
    assert stopped.strip() == "stopped: spark, spark-master, spark-worker-1, spark-worker-2"
    for key, rows in local.items():
        assert _rows(lake, *key) == rows, key
    check_daily_weather(project, days, lake)
    for day in days:  # the reports went with the data
        report = lake / f"job_runs/create-table-fct-daily-weather/ds={day}/report.html"
        assert "avg_temperature_c" in report.read_text()
    assert {p: p.stat().st_mtime_ns for p in local_store.rglob("*") if p.is_file()} == local_files
    assert {p: p.read_bytes() for p in (project / "jobs").rglob("*") if p.is_file()} == jobs
