"""dsflow.download (the download_file job's code), against a real HTTP server on 127.0.0.1.

It runs the way the dsflow runner runs a ``module: dsflow.download`` job (``python -m
dsflow.download`` in the job folder, parameters as JSON in TASK_SPECS) and also in-process
through ``main(env, stdout, stderr)``. The sample files it serves are checked in
tests/test_samples.py. No network beyond 127.0.0.1.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import gzip
import hashlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dsflow.download as dl
import pytest

from .conftest import job_spec, write_job

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
METEO = SAMPLES / "meteo"
DS = "2024-01-02"
JOB = "download-meteo"
SAMPLE_JSON = METEO / "json" / f"{DS}.json"
SAMPLE_CSV = METEO / "csv" / f"{DS}.csv"
PREFIX = f"{JOB}: ds={DS}: "
LOCAL = "127.0.0.1,localhost"

pytestmark = pytest.mark.timeout(60)


# ------------------------------------------------------------------ archives served or read


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """A zip (deflated) holding ``members`` under exactly the names given."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, (2024, 1, 2, 0, 0, 0))
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


SAMPLE_ZIP_MEMBERS = {
    f"{DS}.json": SAMPLE_JSON.read_bytes(),
    f"{DS}.csv": SAMPLE_CSV.read_bytes(),
    "docs/": b"",
    "docs/notes.txt": b"sample notes\n",
    f"__MACOSX/._{DS}.json": b"resource fork",
    "_SUCCESS": b"",
    ".DS_Store": b"finder",
}
BOMB_SIZE = 1_000_000  # zeros: deflate to about 1 KB
# /private/... wants HTTP basic auth with these; in a URL the '@' is written %40
AUTH_USER = "alice"
AUTH_PASSWORD = "s3cret-p@ss"
AUTH_IN_URL = "alice:s3cret-p%40ss"
# /private-hard/... wants this one: every character that means something in a URL
HARD_PASSWORD = "alpha7/bravo8?charlie9#delta%41echo0@foxtrot:golf1"
TRICKLE_BYTES = 100  # /trickle/... sends them one every TRICKLE_PAUSE s: 25 s in all
TRICKLE_PAUSE = 0.25


@dataclass
class Served:
    """What the test server answers: fixed bodies and the requests it saw."""

    hits: Counter[str]
    lock: threading.Lock
    # (host header, path, Authorization header) of every request, in order
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)


class Handler(BaseHTTPRequestHandler):
    """The test routes; anything else is a 404.

    /samples/<file>, /flaky/<status>/<n>/<name> (fails n times), /always/<status>/<name>,
    /big/<n> (with Content-Length), /stream/<n> (without), /short (cut off), /gz/<name>,
    /zip/<name>, /fake.zip, /slip.zip, /bomb.zip, /bomb.gz, /slow, /redirect/<http|ftp>,
    /private/<name> and /private-hard/<name> (HTTP basic auth), /redirect-private/<same|other>/<name> (to /private/ on
    127.0.0.1 or on localhost), /trickle/<length|stream> (a byte every TRICKLE_PAUSE s, with
    or without Content-Length), /slow-headers (the headers a byte at a time).
    """

    server: ThreadingHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""

    def do_GET(self) -> None:
        """Count the request, then answer by route."""
        path = urllib.parse.urlsplit(self.path).path
        served: Served = self.server.served  # type: ignore[attr-defined]
        with served.lock:
            served.hits[path] += 1
            seen = served.hits[path]
            served.seen.append((self.headers["Host"], path, self.headers["Authorization"]))
        parts = path.strip("/").split("/")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.route(parts, seen)  # a client stopping early (size cap, deadline) is expected

    def route(self, parts: list[str], seen: int) -> None:
        """Dispatch on the first path segment."""
        head, rest = parts[0], parts[1:]
        if head == "samples":
            target = (SAMPLES / "/".join(rest)).resolve()
            if target.is_file() and target.is_relative_to(SAMPLES):
                return self.send_body(target.read_bytes())
        elif head == "flaky":
            status, times = int(rest[0]), int(rest[1])
            if seen <= times:
                return self.send_error(status)
            return self.send_body(SAMPLE_JSON.read_bytes())
        elif head == "always":
            return self.send_error(int(rest[0]))
        elif head == "big":
            return self.send_body(b"x" * int(rest[0]))
        elif head == "short":  # announces more than it sends, then closes
            self.send_response(200)
            self.send_header("Content-Length", "5000")
            self.end_headers()
            self.wfile.write(b"x" * 100)
            return None
        elif head == "stream":
            return self.send_body(b"x" * int(rest[0]), length=False)
        elif head == "gz":
            return self.send_body(gzip.compress(SAMPLE_JSON.read_bytes(), mtime=0))
        elif head == "zip":
            return self.send_body(zip_bytes(SAMPLE_ZIP_MEMBERS))
        elif head == "fake.zip":
            return self.send_body(b"<html>this is not a zip</html>\n")
        elif head == "slip.zip":
            return self.send_body(zip_bytes({"good.json": b"{}\n", "../evil.txt": b"pwned\n"}))
        elif head == "bomb.zip":
            return self.send_body(zip_bytes({"a.bin": b"\0" * BOMB_SIZE}))
        elif head == "bomb.gz":
            return self.send_body(gzip.compress(b"\0" * BOMB_SIZE, mtime=0))
        elif head == "slow":
            time.sleep(0.8)
            return self.send_body(b"late\n")
        elif head in ("private", "private-hard"):
            password = AUTH_PASSWORD if head == "private" else HARD_PASSWORD
            expected = base64.b64encode(f"{AUTH_USER}:{password}".encode()).decode()
            if self.headers["Authorization"] != f"Basic {expected}":
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="test"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            return self.send_body(SAMPLE_JSON.read_bytes())
        elif head == "redirect-private":
            host = {"same": "127.0.0.1", "other": "localhost"}[rest[0]]
            return self.redirect(f"http://{host}:{self.server.server_address[1]}/private/x.json")
        elif head == "trickle":
            self.send_response(200)
            if rest[0] == "length":
                self.send_header("Content-Length", str(TRICKLE_BYTES))
            self.end_headers()
            for _ in range(TRICKLE_BYTES):
                self.wfile.write(b"x")
                time.sleep(TRICKLE_PAUSE)
            return None
        elif head == "slow-headers":
            self.wfile.write(b"HTTP/1.0 200 OK\r\nX-Slow: ")
            for _ in range(TRICKLE_BYTES):
                self.wfile.write(b"x")
                time.sleep(TRICKLE_PAUSE)
            return None
        elif head == "redirect":
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            target = {"http": f"{base}/samples/meteo/json/{DS}.json", "ftp": "ftp://127.0.0.1/x"}
            return self.redirect(target[rest[0]])
        self.send_error(404)
        return None

    def redirect(self, location: str) -> None:
        """A 302 to ``location``."""
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def send_body(self, body: bytes, length: bool = True) -> None:
        """A 200 with ``body``, in chunks; without Content-Length the connection end marks it."""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for start in range(0, len(body), 65536):
            self.wfile.write(body[start : start + 65536])


@dataclass
class Server:
    """The running test server."""

    base: str
    served: Served

    def url(self, path: str) -> str:
        """An absolute URL on this server."""
        return self.base + path

    def hits(self, path: str) -> int:
        """How many requests ``path`` got."""
        return self.served.hits[path]

    def authorization(self, path: str) -> list[tuple[str, str | None]]:
        """(host, Authorization header) of each request ``path`` got."""
        return [(host.split(":")[0], auth) for host, p, auth in self.served.seen if p == path]

    def with_credentials(self, path: str, userinfo: str = AUTH_IN_URL) -> str:
        """An absolute URL on this server with ``userinfo@`` in it."""
        return self.base.replace("://", f"://{userinfo}@") + path


@pytest.fixture(scope="module")
def http_server() -> Iterator[Server]:
    """An HTTP server on 127.0.0.1 (a free port) in a thread; shut down after the module."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served = Served(Counter(), threading.Lock())
    httpd.served = served  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", served)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def server(http_server: Server, monkeypatch: pytest.MonkeyPatch) -> Server:
    """The module's server with its request counts reset; proxies bypassed for 127.0.0.1."""
    monkeypatch.setenv("no_proxy", LOCAL)
    monkeypatch.setenv("NO_PROXY", LOCAL)
    with http_server.served.lock:
        http_server.served.hits.clear()
        http_server.served.seen.clear()
    return http_server


def free_port() -> int:
    """A port nothing listens on (just released by the OS)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------ running the job


@pytest.fixture
def sink(tmp_path: Path) -> Path:
    """An empty staging folder, as the runner creates it."""
    path = tmp_path / "datastore" / "raw" / "meteo" / "_staging-download-meteo-1"
    path.mkdir(parents=True)
    return path


def task_specs(url: str, sink: Path, **params: Any) -> dict[str, Any]:
    """TASK_SPECS as the runner builds it (job_parameters at the top level and nested)."""
    job_parameters = {
        "url": url,
        "file_name": dl.default_file_name(url),
        "max_bytes": 104857600,
        "sha256": "",
        "decompress": "auto",
        "retries": 3,
        "backoff_s": 0.01,
        **params,
    }
    job_parameters = {k: v for k, v in job_parameters.items() if v is not None}
    task = {"source_path": url, "sink_path": str(sink)}
    return {
        **job_parameters,
        **task,
        "ds": DS,
        "ds_nodash": DS.replace("-", ""),
        "job_name": JOB,
        "job_parameters": job_parameters,
        "task_specs": task,
        "source_paths": {},
    }


@dataclass
class Result:
    """Exit status and output of one run of dsflow.download."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def job_folder(tmp_path: Path) -> Path:
    """The job's folder (a ``module: dsflow.download`` spec, no code of its own): the cwd."""
    spec = job_spec(JOB, script=None, module="dsflow.download", outputs=["raw/meteo"])
    return write_job(tmp_path / "project" / "jobs", JOB, spec)


def run_subprocess(specs: dict[str, Any] | None, raw: str | None = None, *, cwd: Path) -> Result:
    """``python -m dsflow.download`` in the job folder ``cwd`` with TASK_SPECS, the way the
    runner runs a module job."""
    env = {k: v for k, v in os.environ.items() if k != "TASK_SPECS"}
    env.update(no_proxy=LOCAL, NO_PROXY=LOCAL, PYTHONDONTWRITEBYTECODE="1")
    if specs is not None or raw is not None:
        env["TASK_SPECS"] = raw if raw is not None else json.dumps(specs)
    proc = subprocess.run(
        [sys.executable, "-m", "dsflow.download"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def run_in_process(specs: dict[str, Any] | None, raw: str | None = None) -> Result:
    """download.main() with an explicit environment and captured streams."""
    env = {}
    if specs is not None or raw is not None:
        env["TASK_SPECS"] = raw if raw is not None else json.dumps(specs)
    out, err = io.StringIO(), io.StringIO()
    code = dl.main(env, stdout=out, stderr=err)
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture(params=["subprocess", "in-process"])
def run(request: pytest.FixtureRequest, job_folder: Path) -> Callable[..., Result]:
    """Run dsflow.download one way or the other (every job-level test runs both ways)."""
    if request.param == "subprocess":
        return functools.partial(run_subprocess, cwd=job_folder)
    return run_in_process


def files_in(folder: Path) -> list[str]:
    """Every entry under ``folder`` (files and folders), relative, sorted."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def assert_ok(result: Result, sink: Path, expected: dict[str, bytes]) -> None:
    """Exit 0, one summary line, and ``sink`` holding exactly ``expected``."""
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    last = result.stdout.splitlines()[-1]
    assert re.fullmatch(r"downloaded \d+ bytes, wrote .+, in \d+\.\d\d s", last), last
    files = {p.relative_to(sink).as_posix(): p for p in sink.rglob("*") if p.is_file()}
    assert sorted(files) == sorted(expected)
    for name, data in expected.items():
        assert files[name].read_bytes() == data, name


def assert_failed(result: Result, sink: Path | None, cause: str, code: int = 1) -> None:
    """Exit ``code``, exactly one stderr line ``<job>: ds=<ds>: <cause>`` (a regex), no traceback,
    and nothing left in ``sink``."""
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert re.fullmatch(cause, lines[0]), lines[0]
    assert "Traceback" not in result.stderr
    if sink is not None:
        assert files_in(sink) == []


def failed_with(cause: str) -> str:
    """The regex of the job's one-line failure with the literal ``cause``."""
    return re.escape(PREFIX + cause)


# ------------------------------------------------------------------ successes


@pytest.mark.parametrize("sample", [SAMPLE_JSON, SAMPLE_CSV], ids=["json", "csv"])
def test_http_download_is_byte_identical(run, server, sink, sample):
    url = server.url(f"/samples/{sample.relative_to(SAMPLES).as_posix()}")
    result = run(task_specs(url, sink))
    assert_ok(result, sink, {sample.name: sample.read_bytes()})
    size = sample.stat().st_size
    assert result.stdout.startswith(f"downloaded {size} bytes, wrote {sample.name}, in ")
    assert server.hits(urllib.parse.urlsplit(url).path) == 1


def test_file_url(run, sink):
    result = run(task_specs(SAMPLE_JSON.as_uri(), sink))
    assert_ok(result, sink, {SAMPLE_JSON.name: SAMPLE_JSON.read_bytes()})


def test_relative_file_url_is_read_from_the_job_folder(job_folder, sink):
    """The runner's cwd is the job folder: ``file:data/x.json`` names a file in it."""
    (job_folder / "data").mkdir()
    (job_folder / "data" / "x.json").write_bytes(SAMPLE_JSON.read_bytes())
    result = run_subprocess(task_specs("file:data/x.json", sink), cwd=job_folder)
    assert_ok(result, sink, {"x.json": SAMPLE_JSON.read_bytes()})
    assert sorted(p.name for p in job_folder.iterdir()) == ["data", "job_specs.yaml"]


def test_file_name_parameter_and_default(run, server, sink):
    url = server.url(f"/samples/meteo/json/{DS}.json")
    result = run(task_specs(url, sink, file_name="observations.jsonl"))
    assert_ok(result, sink, {"observations.jsonl": SAMPLE_JSON.read_bytes()})
    assert dl.default_file_name("https://example.org/a/b/2024-01-02.json?x=1") == "2024-01-02.json"
    assert dl.default_file_name("https://example.org/a/my%20file.csv") == "my file.csv"
    assert dl.default_file_name("https://example.org/") == "data"
    assert dl.default_file_name("https://example.org") == "data"


@pytest.mark.parametrize("status", [500, 503, 429])
def test_transient_errors_are_retried(run, server, sink, status):
    path = f"/flaky/{status}/2/{DS}.json"
    result = run(task_specs(server.url(path), sink))
    assert_ok(result, sink, {f"{DS}.json": SAMPLE_JSON.read_bytes()})
    assert server.hits(path) == 3
    notes = result.stdout.splitlines()[:-1]
    assert len(notes) == 2
    assert notes[0].startswith(f"{PREFIX}attempt 1 of 4 failed: HTTP {status} ")
    assert notes[0].endswith("retrying in 0.01 s")
    assert notes[1].endswith("retrying in 0.02 s")


def test_redirect_to_http_is_followed(run, server, sink):
    result = run(task_specs(server.url("/redirect/http"), sink, file_name=f"{DS}.json"))
    assert_ok(result, sink, {f"{DS}.json": SAMPLE_JSON.read_bytes()})


def test_sha256_match(run, server, sink):
    digest = hashlib.sha256(SAMPLE_JSON.read_bytes()).hexdigest()
    url = server.url(f"/samples/meteo/json/{DS}.json")
    result = run(task_specs(url, sink, sha256=digest.upper()))
    assert_ok(result, sink, {SAMPLE_JSON.name: SAMPLE_JSON.read_bytes()})


def test_gunzip_by_suffix(run, server, sink):
    result = run(task_specs(server.url(f"/gz/{DS}.json.gz"), sink))
    assert_ok(result, sink, {f"{DS}.json": SAMPLE_JSON.read_bytes()})


def test_gunzip_by_magic_bytes(run, server, sink):
    result = run(task_specs(server.url(f"/gz/{DS}.json"), sink))
    assert_ok(result, sink, {f"{DS}.json": SAMPLE_JSON.read_bytes()})


def test_decompress_none_keeps_the_archive(run, server, sink):
    result = run(task_specs(server.url(f"/gz/{DS}.json.gz"), sink, decompress="none"))
    assert_ok(result, sink, {f"{DS}.json.gz": gzip.compress(SAMPLE_JSON.read_bytes(), mtime=0)})


def test_sha256_is_of_the_downloaded_bytes(run, server, sink):
    digest = hashlib.sha256(gzip.compress(SAMPLE_JSON.read_bytes(), mtime=0)).hexdigest()
    result = run(task_specs(server.url(f"/gz/{DS}.json.gz"), sink, sha256=digest))
    assert_ok(result, sink, {f"{DS}.json": SAMPLE_JSON.read_bytes()})


def test_unzip_skips_folders_and_hidden_members(run, server, sink):
    result = run(task_specs(server.url(f"/zip/{DS}.zip"), sink))
    assert_ok(
        result,
        sink,
        {
            f"{DS}.json": SAMPLE_JSON.read_bytes(),
            f"{DS}.csv": SAMPLE_CSV.read_bytes(),
            "docs/notes.txt": b"sample notes\n",
        },
    )
    assert "wrote 3 files: " in result.stdout


def test_unzip_explicit_mode_from_a_file_url(run, tmp_path, sink):
    archive = tmp_path / "bundle.bin"
    archive.write_bytes(zip_bytes({"a.json": b"{}\n"}))
    result = run(task_specs(archive.as_uri(), sink, decompress="unzip"))
    assert_ok(result, sink, {"a.json": b"{}\n"})


# ------------------------------------------------------------------ failures


def test_404_is_not_retried(run, server, sink):
    url = server.url("/missing.json")
    result = run(task_specs(url, sink))
    assert_failed(result, sink, failed_with(f"HTTP 404 Not Found for {url}"))
    assert server.hits("/missing.json") == 1
    assert result.stdout == ""


def test_5xx_gives_up_after_the_retries(run, server, sink):
    url = server.url("/always/503/x.json")
    result = run(task_specs(url, sink, retries=2))
    assert_failed(
        result, sink, failed_with(f"HTTP 503 Service Unavailable for {url} (after 3 attempts)")
    )
    assert server.hits("/always/503/x.json") == 3


def test_unreachable_port(run, sink, monkeypatch):
    monkeypatch.setenv("no_proxy", LOCAL)
    url = f"http://127.0.0.1:{free_port()}/x.json"
    result = run(task_specs(url, sink, retries=1))
    assert_failed(
        result, sink, failed_with(f"cannot reach {url}: Connection refused (after 2 attempts)")
    )


def test_truncated_body_is_retried_then_refused(run, server, sink):
    url = server.url("/short")
    result = run(task_specs(url, sink, retries=1))
    assert_failed(
        result,
        sink,
        failed_with(f"connection to {url} closed after 100 of 5000 bytes (after 2 attempts)"),
    )
    assert server.hits("/short") == 2


def test_timeout(run, server, sink):
    url = server.url("/slow")
    started = time.monotonic()
    result = run(task_specs(url, sink, timeout_s=0.2))
    assert_failed(
        result,
        sink,
        failed_with(
            f"download from {url} exceeded timeout_s=0.2 (0 bytes received); nothing published"
        ),
    )
    assert time.monotonic() - started < 0.8 + 2  # did not wait for the body
    assert server.hits("/slow") == 1  # a spent budget is not retried


def test_size_cap_from_content_length(run, server, sink):
    result = run(task_specs(server.url("/big/5000"), sink, max_bytes=1000))
    assert_failed(
        result, sink, failed_with("body exceeds max_bytes=1000 (Content-Length is 5000 bytes)")
    )
    assert server.hits("/big/5000") == 1


def test_size_cap_while_streaming(run, server, sink):
    result = run(task_specs(server.url("/stream/300000"), sink, max_bytes=1000))
    assert_failed(result, sink, failed_with("body exceeds max_bytes=1000 (stopped at 1001 bytes)"))
    assert server.hits("/stream/300000") == 1


def test_size_cap_of_a_file_url(run, sink):
    size = SAMPLE_JSON.stat().st_size
    result = run(task_specs(SAMPLE_JSON.as_uri(), sink, max_bytes=100))
    assert_failed(result, sink, failed_with(f"body exceeds max_bytes=100 (file is {size} bytes)"))


def test_missing_file_url(run, tmp_path, sink):
    url = (tmp_path / "nope.json").as_uri()
    result = run(task_specs(url, sink))
    assert_failed(result, sink, failed_with(f"cannot read {url}: No such file or directory"))


def test_sha256_mismatch(run, server, sink):
    actual = hashlib.sha256(SAMPLE_JSON.read_bytes()).hexdigest()
    expected = "ab12" + "0" * 60
    url = server.url(f"/samples/meteo/json/{DS}.json")
    result = run(task_specs(url, sink, sha256=expected))
    assert_failed(result, sink, failed_with(f"sha256 mismatch: expected {expected}, got {actual}"))


def test_malformed_sha256(run, server, sink):
    url = server.url(f"/samples/meteo/json/{DS}.json")
    result = run(task_specs(url, sink, sha256="abc"))
    assert_failed(result, sink, failed_with("sha256 must be 64 hexadecimal digits, got 'abc'"))
    assert server.hits(f"/samples/meteo/json/{DS}.json") == 0


def test_not_a_zip(run, server, sink):
    url = server.url("/fake.zip")
    result = run(task_specs(url, sink))
    assert_failed(
        result, sink, failed_with(f"not a zip file: {url} (set decompress: none to keep it)")
    )


def test_not_a_gzip(run, server, sink):
    url = server.url("/samples/meteo/json/2024-01-02.json")
    result = run(task_specs(url, sink, decompress="gunzip"))
    assert_failed(
        result, sink, failed_with(f"not a gzip file: {url} (set decompress: none to keep it)")
    )


def test_zip_slip_over_http(run, server, sink):
    result = run(task_specs(server.url("/slip.zip"), sink))
    assert_failed(
        result, sink, failed_with("unsafe path in zip: '../evil.txt' (absolute or with '..')")
    )
    assert not (sink.parent / "evil.txt").exists()


@pytest.mark.parametrize(
    "member",
    ["../evil.txt", "a/../../evil.txt", "/tmp/evil.txt", "..\\evil.txt", "C:/evil.txt"],
)
def test_zip_slip_members_rejected(run, tmp_path, sink, member):
    archive = tmp_path / "slip.zip"
    archive.write_bytes(zip_bytes({"ok.json": b"{}\n", member: b"pwned\n"}))
    with zipfile.ZipFile(archive) as check:
        assert member in check.namelist()  # zipfile kept the hostile name as given
    result = run(task_specs(archive.as_uri(), sink))
    assert_failed(
        result, sink, failed_with(f"unsafe path in zip: {member!r} (absolute or with '..')")
    )
    assert sorted(p.name for p in tmp_path.rglob("evil.txt")) == []


@pytest.mark.parametrize("bomb", ["bomb.zip", "bomb.gz"])
def test_decompressed_size_cap(run, server, sink, bomb):
    result = run(task_specs(server.url(f"/{bomb}"), sink, max_bytes=100_000))
    assert_failed(
        result,
        sink,
        failed_with("decompressed data exceeds max_bytes=100000 (stopped at 100001 bytes)"),
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("ftp://127.0.0.1/x.json", "'ftp'"),
        ("gopher://127.0.0.1/x", "'gopher'"),
        ("/etc/passwd", "none"),
    ],
)
def test_unsupported_scheme(run, sink, url, shown):
    result = run(task_specs(url, sink))
    assert_failed(
        result,
        sink,
        failed_with(f"unsupported URL scheme {shown} in {url}: use http://, https:// or file://"),
    )


def test_redirect_to_ftp_is_refused(run, server, sink):
    url = server.url("/redirect/ftp")
    result = run(task_specs(url, sink, retries=3))
    assert_failed(result, sink, failed_with(f"refused redirect from {url} to ftp://127.0.0.1/x"))
    assert server.hits("/redirect/ftp") == 1


@pytest.mark.parametrize(
    ("params", "cause"),
    [
        ({"file_name": "../x.json"}, "file_name must be a plain file name"),
        ({"file_name": "_SUCCESS"}, "file_name must be a plain file name"),
        ({"max_bytes": "lots"}, "max_bytes must be an integer, got 'lots'"),
        ({"max_bytes": 0}, "max_bytes must be at least 1, got 0"),
        ({"decompress": "bunzip"}, "decompress must be one of auto, none, gunzip, unzip"),
        ({"retries": -1}, "retries must be at least 0, got -1"),
    ],
)
def test_bad_parameter_values(run, server, sink, params, cause):
    result = run(task_specs(server.url(f"/samples/meteo/json/{DS}.json"), sink, **params))
    assert_failed(result, sink, re.escape(PREFIX + cause) + ".*")
    assert server.hits(f"/samples/meteo/json/{DS}.json") == 0


def test_parameters_arrive_as_strings_from_overrides(run, server, sink):
    """`just run ... max_bytes=5000` overrides arrive as strings."""
    url = server.url(f"/samples/meteo/json/{DS}.json")
    result = run(task_specs(url, sink, max_bytes="50000", retries="0", timeout_s="5"))
    assert_ok(result, sink, {SAMPLE_JSON.name: SAMPLE_JSON.read_bytes()})


def test_credentials_are_not_shown(run, sink):
    url = f"http://user:secret@127.0.0.1:{free_port()}/x.json"
    result = run(task_specs(url, sink, retries=1))
    assert result.returncode == 1
    assert "secret" not in result.stdout + result.stderr
    assert "http://***@127.0.0.1:" in result.stderr
    assert "attempt 1 of 2 failed: cannot reach http://***@127.0.0.1:" in result.stdout


def test_unpartitioned_job_messages_have_no_ds(run, server, sink):
    url = server.url("/missing.json")
    specs = task_specs(url, sink)
    specs.update(ds="", ds_nodash="")
    result = run(specs)
    assert_failed(result, sink, re.escape(f"{JOB}: HTTP 404 Not Found for {url}"))


# ------------------------------------------------------------------ credentials (HTTP basic auth)


def test_basic_auth_from_the_url(run, server, sink):
    result = run(task_specs(server.with_credentials("/private/x.json"), sink))
    assert_ok(result, sink, {"x.json": SAMPLE_JSON.read_bytes()})
    token = base64.b64encode(f"{AUTH_USER}:{AUTH_PASSWORD}".encode()).decode()
    assert server.authorization("/private/x.json") == [("127.0.0.1", f"Basic {token}")]
    assert AUTH_PASSWORD not in result.stdout and "s3cret" not in result.stdout


@pytest.mark.parametrize(
    ("userinfo", "cause"),
    [
        ("alice:wrong", "the server refused the user name and password"),
        ("alice", "the server refused the user name and password"),
        ("", "the server wants a user name and password; put them in the url from the "
         "project's .env: https://${API_USER}:${API_PASSWORD}@host/..."),
    ],
    ids=["wrong-password", "no-password", "no-credentials"],
)  # fmt: skip
def test_401_is_one_line_without_the_password(run, server, sink, userinfo, cause):
    url = server.with_credentials("/private/x.json", userinfo) if userinfo else None
    url = url or server.url("/private/x.json")
    result = run(task_specs(url, sink))
    shown = server.url("/private/x.json").replace("://", "://***@" if userinfo else "://")
    assert_failed(result, sink, failed_with(f"HTTP 401 Unauthorized for {shown}: {cause}"))
    assert "wrong" not in result.stdout + result.stderr
    assert server.hits("/private/x.json") == 1  # a 401 is not retried


def test_credentials_follow_a_redirect_to_the_same_host_only(run, server, sink):
    same = server.with_credentials("/redirect-private/same/x.json")
    assert_ok(run(task_specs(same, sink)), sink, {"x.json": SAMPLE_JSON.read_bytes()})
    [(host, auth)] = server.authorization("/private/x.json")
    assert (host, auth is not None) == ("127.0.0.1", True)
    for entry in sink.iterdir():
        entry.unlink()

    other = server.with_credentials("/redirect-private/other/x.json")
    result = run(task_specs(other, sink))
    shown = other.replace(AUTH_IN_URL, "***")
    assert_failed(
        result,
        sink,
        failed_with(
            f"HTTP 401 Unauthorized for {shown}: the server refused the user name and password"
        ),
    )
    # localhost is another host: the password did not go there
    assert server.authorization("/private/x.json")[1:] == [("localhost", None)]


@pytest.mark.parametrize(
    "url",
    [
        "file://alice:s3cret@localhost/etc/hostname",
        "file://alice:s3cret@example.org/etc/hostname",
        "file://:s3cret@/etc/hostname",
    ],
    ids=["localhost", "remote-host", "no-host"],
)
def test_a_file_url_with_credentials_is_refused_without_showing_them(run, sink, url):
    result = run(task_specs(url, sink, file_name="x"))
    shown = url.replace(url.split("//")[1].split("@")[0], "***")
    assert_failed(result, sink, failed_with(f"file URLs take no user name or password: {shown}"))
    assert "s3cret" not in result.stdout + result.stderr


def test_split_credentials():
    assert dl.split_credentials("https://h/x") == ("https://h/x", None)
    url, header = dl.split_credentials("https://a%3Ab:p%40ss:w@h:8443/x?q=1")
    assert url == "https://h:8443/x?q=1"
    assert base64.b64decode(header.removeprefix("Basic ")) == b"a:b:p@ss:w"


# ------------------------------------------------------------------ timeout_s: the whole download


def deadline_passed(url: str, seconds: str) -> str:
    """The one line of a spent ``timeout_s`` (a regex: the byte count varies)."""
    return (
        re.escape(f"{PREFIX}download from {url} exceeded timeout_s={seconds} (")
        + r"(\d+) bytes received\); nothing published"
    )


@pytest.mark.parametrize("route", ["/trickle/length", "/trickle/stream", "/slow-headers"])
def test_timeout_bounds_a_trickling_download(run, server, sink, route):
    """A server sending a byte every 0.25 s (25 s in all) is cut off at timeout_s, whether it
    trickles the body (with or without Content-Length) or the headers."""
    url = server.url(route)
    started = time.monotonic()
    result = run(task_specs(url, sink, timeout_s=1.5, retries=3))
    elapsed = time.monotonic() - started
    assert_failed(result, sink, deadline_passed(url, "1.5"))
    received = int(re.search(r"\((\d+) bytes", result.stderr).group(1))
    assert received < TRICKLE_BYTES if route != "/slow-headers" else received == 0
    assert elapsed < 1.5 + 10, elapsed  # 25 s if each read had its own timeout
    assert server.hits(route) == 1


def test_timeout_bounds_the_retries_too(run, server, sink):
    url = server.url("/always/503/x.json")
    started = time.monotonic()
    result = run(task_specs(url, sink, timeout_s=1.5, retries=20, backoff_s=0.2))
    elapsed = time.monotonic() - started
    # waits of 0.2, 0.4, 0.8 s: no time for the wait before a fifth attempt
    cause = re.escape(f"{PREFIX}download from {url} exceeded timeout_s=1.5 after ") + (
        r"\d attempts "
        + re.escape(f"(the last: HTTP 503 Service Unavailable for {url}); nothing published")
    )
    assert_failed(result, sink, cause)
    assert server.hits("/always/503/x.json") <= 4
    assert elapsed < 1.5 + 10, elapsed


def test_a_spent_budget_stops_a_file_url_copy_too(tmp_path):
    """A local copy checks the budget between chunks."""
    source = tmp_path / "big.bin"
    source.write_bytes(b"x" * (3 * dl.CHUNK))
    deadline = dl.Deadline(0.001)
    time.sleep(0.01)
    try:
        with pytest.raises(
            dl.DeadlineExceeded,
            match=rf"^download from {re.escape(source.as_uri())} exceeded timeout_s=0\.001 "
            rf"\({dl.CHUNK} bytes received\); nothing published$",
        ):
            dl.fetch_once(
                source.as_uri(), tmp_path / "out", timeout=1, max_bytes=10**9, deadline=deadline
            )
    finally:
        deadline.close()


# ------------------------------------------------------------------ TASK_SPECS itself


def test_missing_task_specs(run):
    result = run(None)
    assert_failed(
        result,
        None,
        re.escape("dsflow.download: TASK_SPECS is not set: ") + ".*`just run job=<job> ds=<ds>`.*",
        code=2,
    )


@pytest.mark.parametrize(
    ("raw", "cause"),
    [
        ("{not json", "dsflow.download: TASK_SPECS is not valid JSON: "),
        ("[1, 2]", "dsflow.download: TASK_SPECS must be a JSON object, got list"),
    ],
)
def test_malformed_task_specs(job_folder, raw, cause):
    for runner in (functools.partial(run_subprocess, cwd=job_folder), run_in_process):
        assert_failed(runner(None, raw=raw), None, re.escape(cause) + ".*", code=2)


def test_task_specs_without_sink_path(run, tmp_path):
    specs = task_specs(SAMPLE_JSON.as_uri(), tmp_path / "absent")
    assert_failed(
        run(specs),
        None,
        failed_with(f"sink_path {tmp_path / 'absent'} is not an existing folder"),
        2,
    )
    del specs["sink_path"]
    assert_failed(
        run(specs), None, failed_with("TASK_SPECS lacks 'sink_path' (a non-empty string)"), 2
    )


# ------------------------------------------------------------------ functions, in-process


def test_fetch_and_helpers(server, tmp_path):
    dest = tmp_path / "out.json"
    size = dl.fetch(
        server.url(f"/samples/meteo/json/{DS}.json"),
        dest,
        timeout=5,
        max_bytes=10**6,
        retries=0,
        backoff=0,
    )
    assert size == SAMPLE_JSON.stat().st_size == dest.stat().st_size
    dl.verify_sha256(dest, hashlib.sha256(SAMPLE_JSON.read_bytes()).hexdigest())
    dl.verify_sha256(dest, "")
    with pytest.raises(dl.DownloadError, match="sha256 mismatch"):
        dl.verify_sha256(dest, "0" * 64)
    with pytest.raises(dl.DownloadError, match="unsupported URL scheme 'ftp'"):
        dl.fetch("ftp://x/y", dest)


def test_member_paths():
    assert dl.member_path("a/b.json") == Path("a", "b.json")
    assert dl.member_path("./a.json") == Path("a.json")
    assert dl.member_path("dir/") is None
    assert dl.member_path("__MACOSX/._a.json") is None
    assert dl.member_path("x/.hidden") is None
    for bad in ("../a", "a/../../b", "/abs", "\\abs", "..\\a", "C:\\a", "c:/a"):
        with pytest.raises(dl.DownloadError, match="unsafe path in zip"):
            dl.member_path(bad)


def test_names_and_modes(tmp_path):
    assert dl.gunzip_name("a.json.gz") == "a.json"
    assert dl.gunzip_name("a.GZ") == "a"
    assert dl.gunzip_name("a.tgz") == "a.tar"
    assert dl.gunzip_name("a.json") == "a.json"
    sheet = tmp_path / "book.xlsx"
    sheet.write_bytes(zip_bytes({"xl/workbook.xml": b"<x/>"}))
    assert dl.choose_mode("auto", sheet, "https://h/book.xlsx", "book.xlsx") == "none"
    assert dl.choose_mode("auto", sheet, "https://h/book", "book") == "unzip"
    assert dl.choose_mode("auto", sheet, "https://h/data.zip", "data") == "unzip"
    assert dl.choose_mode("none", sheet, "https://h/data.zip", "data.zip") == "none"
    assert dl.redact("https://u:p@h/x?q=a@b") == "https://***@h/x?q=a@b"


def test_copy_capped():
    out = io.BytesIO()
    assert dl.copy_capped(io.BytesIO(b"abc").read, out, 3, "body") == 3
    assert out.getvalue() == b"abc"
    with pytest.raises(
        dl.DownloadError, match=r"^body exceeds max_bytes=2 \(stopped at 3 bytes\)$"
    ):
        dl.copy_capped(io.BytesIO(b"abcdef").read, io.BytesIO(), 2, "body")


@pytest.mark.bad_input
@pytest.mark.parametrize("password", ["pa/ss", "se/cr#et", "x?y/z"])
def test_a_raw_password_that_breaks_the_url_is_not_shown(password):
    with pytest.raises(dl.DownloadError) as refused:
        dl.check_url(f"https://alice:{password}@example.org/x.csv")
    message = str(refused.value)
    assert message == (
        "malformed URL https://***: a user name or password holding '/', '?', '#' or ':' must "
        "be percent-encoded, or kept in .env and written as ${NAME}"
    )
    # the same line whatever the password: no piece of it can be in there
