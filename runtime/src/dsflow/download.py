"""Download one partition's file into the run's staging folder.

The dsflow runner starts this as ``python -m dsflow.download`` in the job folder, with every
resolved parameter as JSON in the ``TASK_SPECS`` environment variable (``url``, ``file_name``,
``max_bytes``, ``sha256``, ``decompress``, optional ``timeout_s``, ``retries``, ``backoff_s``,
plus ``job_name``, ``ds`` and ``sink_path``). ``sink_path`` is an empty staging folder: the
script writes the file(s) there and nowhere else; the runner publishes the folder (with its
``_SUCCESS`` marker) once the script exits 0.

Guards: http, https and file URLs only; ``timeout_s`` bounds the whole download (connecting,
waiting, reading, retrying); retries with exponential backoff on connection errors, HTTP 5xx
and 429 (never on other 4xx); a size cap on the body and on what decompression produces; an
optional SHA-256 of the downloaded bytes; zip members that would land outside ``sink_path`` are
refused. Credentials in an http(s) URL (``https://user:password@host/...``) are sent as HTTP
basic auth, to that scheme, host and port only, and every line printed hides them
(:func:`dsflow.redaction.redact_url`). Every failure is one line on stderr
(``<job_name>: ds=<ds>: <cause>``) and exit status 1 (2 when ``TASK_SPECS`` itself is missing or
malformed); nothing is left in ``sink_path`` after a failure.
"""

import base64
import contextlib
import gzip
import hashlib
import http.client
import json
import os
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .redaction import redact_url
from .umask import follow_umask

SCHEMES = ("http", "https", "file")
DECOMPRESS_MODES = ("auto", "none", "gunzip", "unzip")
CHUNK = 1024 * 1024
USER_AGENT = "dsflow-download/1"
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
# Zip containers that are files in their own right: `decompress: auto` keeps them whole.
ZIP_CONTAINER_SUFFIXES = (
    ".xlsx", ".xlsm", ".docx", ".pptx", ".odt", ".ods", ".odp", ".jar", ".whl", ".epub", ".apk",
)  # fmt: skip
TEMP_PREFIX = "_download-"
# What a corrupt, encrypted or unsupported zip raises while it is read.
ZIP_ERRORS = (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError, zlib.error)
DEFAULTS: dict[str, Any] = {
    "max_bytes": 100 * 1024 * 1024,
    "sha256": "",
    "decompress": "auto",
    "timeout_s": 30.0,
    "retries": 3,
    "backoff_s": 0.5,
}


class DownloadError(Exception):
    """A failure to report as one line; the message is the cause, without the job prefix."""


class SpecsError(Exception):
    """TASK_SPECS is missing or malformed: the runner's contract is broken (exit status 2)."""


class TransientError(DownloadError):
    """A failure worth retrying: connection trouble, HTTP 5xx or 429."""


class DeadlineExceeded(DownloadError):
    """The download's ``timeout_s`` is spent: final, whatever the cause of the wait."""


@dataclass(frozen=True)
class Params:
    """The resolved parameters of one run."""

    job_name: str
    ds: str
    sink: Path
    url: str
    file_name: str
    max_bytes: int
    sha256: str
    decompress: str
    timeout_s: float
    retries: int
    backoff_s: float


# ------------------------------------------------------------------ parameters


def load_specs(env: Mapping[str, str]) -> dict[str, Any]:
    """Parse ``TASK_SPECS`` from ``env``; raise SpecsError when it is missing or not an object."""
    raw = env.get("TASK_SPECS")
    if raw is None or not raw.strip():
        raise SpecsError(
            "TASK_SPECS is not set: the dsflow runner passes the job's parameters in it as JSON "
            "(run the job with `just run job=<job> ds=<ds>`)"
        )
    try:
        specs = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SpecsError(f"TASK_SPECS is not valid JSON: {exc}") from None
    if not isinstance(specs, dict):
        raise SpecsError(f"TASK_SPECS must be a JSON object, got {type(specs).__name__}")
    return specs


def _lookup(specs: Mapping[str, Any], key: str) -> Any:
    """A parameter from the top level of TASK_SPECS, else from its job_parameters, else None."""
    if specs.get(key) is not None:
        return specs[key]
    nested = specs.get("job_parameters")
    return nested.get(key) if isinstance(nested, dict) else None


def _required_text(specs: Mapping[str, Any], key: str, empty: bool = False) -> str:
    value = specs.get(key)
    if not isinstance(value, str) or not (empty or value.strip()):
        kind = "a string" if empty else "a non-empty string"
        raise SpecsError(f"TASK_SPECS lacks {key!r} ({kind})")
    return value.strip()


def prefix_of(specs: Mapping[str, Any]) -> str:
    """``<job_name>: ds=<ds>``, the start of every message (no ds for an unpartitioned job)."""
    job = specs.get("job_name") or "download"
    ds = specs.get("ds")
    return f"{job}: ds={ds}" if ds else str(job)


def _as_int(key: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise DownloadError(f"{key} must be an integer, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise DownloadError(f"{key} must be an integer, got {value!r}") from None
    if number < minimum:
        raise DownloadError(f"{key} must be at least {minimum}, got {number}")
    return number


def _as_float(key: str, value: Any, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DownloadError(f"{key} must be a number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise DownloadError(f"{key} must be a number, got {value!r}") from None
    if not number >= minimum:  # also refuses NaN
        raise DownloadError(f"{key} must be at least {minimum:g}, got {value!r}")
    return number


def check_url(url: str) -> str:
    """Return ``url`` when its scheme is allowed (http, https, file); raise DownloadError if not."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a bad port
    except ValueError as exc:
        if "@" in url:  # a password with '/' or '#' splits where redaction cannot see it
            scheme = url.split(":", 1)[0] if ":" in url else ""
            raise DownloadError(
                f"malformed URL {scheme}://***: a user name or password holding '/', '?', '#' "
                "or ':' must be percent-encoded, or kept in .env and written as ${NAME}"
            ) from None
        raise DownloadError(f"malformed URL {redact_url(url)}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        shown = f"'{scheme}'" if scheme else "none"
        raise DownloadError(
            f"unsupported URL scheme {shown} in {redact_url(url)}: use http://, https:// or file://"
        )
    if scheme != "file" and not parts.hostname:
        raise DownloadError(f"no host in URL {redact_url(url)}")
    if scheme == "file" and "@" in parts.netloc:
        raise DownloadError(f"file URLs take no user name or password: {redact_url(url)}")
    if scheme == "file" and parts.netloc not in ("", "localhost"):
        raise DownloadError(f"file URLs must be local, got host {parts.netloc!r} in {url}")
    return url


redact = redact_url  # the name scripts reusing this module knew; the rule is in dsflow.redaction


def default_file_name(url: str) -> str:
    """The last path segment of ``url`` (percent-decoded), or ``data`` when there is none."""
    path = urllib.parse.urlsplit(url).path.rstrip("/")
    return urllib.parse.unquote(path.rsplit("/", 1)[-1]) or "data"


def check_file_name(name: str) -> str:
    """Return ``name`` when it is one plain file name that readers will not skip."""
    if (
        not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or "\0" in name
        or name[0] in "._"
    ):
        raise DownloadError(
            f"file_name must be a plain file name (no '/', not starting with '.' or '_'), "
            f"got {name!r}"
        )
    return name


def _check_sha256(value: Any) -> str:
    text = "" if value is None else str(value).strip().lower().removeprefix("sha256:")
    if text and (len(text) != 64 or any(c not in "0123456789abcdef" for c in text)):
        raise DownloadError(f"sha256 must be 64 hexadecimal digits, got {value!r}")
    return text


def _check_mode(value: Any) -> str:
    mode = "auto" if value is None or value == "" else str(value).strip().lower()
    if mode not in DECOMPRESS_MODES:
        raise DownloadError(
            f"decompress must be one of {', '.join(DECOMPRESS_MODES)}, got {value!r}"
        )
    return mode


def _option(specs: Mapping[str, Any], key: str) -> Any:
    value = _lookup(specs, key)
    return DEFAULTS[key] if value is None or value == "" else value


def read_params(specs: Mapping[str, Any]) -> Params:
    """Resolve and validate the run's parameters.

    Raises SpecsError when what the runner provides is missing (job_name, ds, sink_path), and
    DownloadError when a job parameter has a bad value.
    """
    job_name = _required_text(specs, "job_name")
    ds = _required_text(specs, "ds", empty=True)  # "" for an unpartitioned job
    sink = Path(_required_text(specs, "sink_path"))
    if not sink.is_dir():
        raise SpecsError(f"sink_path {sink} is not an existing folder")
    url = _lookup(specs, "url") or specs.get("source_path")
    if not isinstance(url, str) or not url.strip():
        raise DownloadError("no url: set job_parameters.url in job_specs.yaml")
    url = check_url(url.strip())
    file_name = _lookup(specs, "file_name")
    return Params(
        job_name=job_name,
        ds=ds,
        sink=sink,
        url=url,
        file_name=check_file_name(str(file_name).strip() if file_name else default_file_name(url)),
        max_bytes=_as_int("max_bytes", _option(specs, "max_bytes"), 1),
        sha256=_check_sha256(_lookup(specs, "sha256")),
        decompress=_check_mode(_lookup(specs, "decompress")),
        timeout_s=_as_float("timeout_s", _option(specs, "timeout_s"), 0.001),
        retries=_as_int("retries", _option(specs, "retries"), 0),
        backoff_s=_as_float("backoff_s", _option(specs, "backoff_s"), 0.0),
    )


# ------------------------------------------------------------------ fetching


class Deadline:
    """The time budget of one download, ``timeout_s``: connecting, waiting for the server,
    reading and waiting between retries all spend it.

    A read blocked on a server that sends nothing, or a byte now and then, would outlast any
    per-read timeout: when the budget is spent a timer shuts down the sockets the download
    opened (:meth:`watch`), so a blocked read returns at once and the download stops.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds
        self._fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        """Seconds left, 0 when the budget is spent."""
        return max(0.0, self._end - time.monotonic())

    @property
    def expired(self) -> bool:
        """Whether the budget is spent."""
        return self._fired or time.monotonic() >= self._end

    def watch(self, sock: socket.socket | None) -> None:
        """Shut ``sock`` down when the budget is spent (at once if it already is)."""
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
        if self.expired:
            _shut(sock)

    def _expire(self) -> None:
        self._fired = True
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def close(self) -> None:
        """Stop the timer; the download is over."""
        self._timer.cancel()
        with self._lock:
            self._sockets.clear()

    def exceeded(
        self, url: str, received: int, attempts: int = 0, last: BaseException | None = None
    ) -> DeadlineExceeded:
        """The one-line error for a spent budget: ``received`` bytes in the attempt under way,
        or the failure of the last of ``attempts`` when there is no time for another."""
        if last is not None:
            what = f"after {attempts} attempts (the last: {last})"
        else:
            what = f"({received} bytes received)"
        return DeadlineExceeded(
            f"download from {redact_url(url)} exceeded timeout_s={self.seconds:g} {what}; "
            "nothing published"
        )


def _shut(sock: socket.socket) -> None:
    # the plain socket's shutdown also for TLS: it only needs the file descriptor, and leaves
    # the TLS state to the thread blocked reading it
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _watched(http_class: Any, request: urllib.request.Request) -> Any:
    """``http_class``, its connections' sockets watched by the request's deadline."""
    deadline: Deadline | None = getattr(request, "dsflow_deadline", None)
    if deadline is None:
        return http_class

    def connection(*args: Any, **kwargs: Any) -> http.client.HTTPConnection:
        conn = http_class(*args, **kwargs)
        connect = conn.connect

        def connect_and_watch() -> None:
            connect()
            deadline.watch(conn.sock)

        conn.connect = connect_and_watch
        return conn

    return connection


class _HTTPHandler(urllib.request.HTTPHandler):
    """urllib's http handler, its sockets watched by the download's deadline."""

    def do_open(self, http_class: Any, req: Any, **kwargs: Any) -> Any:
        """Open ``req`` as urllib does, on a watched connection."""
        return super().do_open(_watched(http_class, req), req, **kwargs)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    """urllib's https handler, its sockets watched by the download's deadline."""

    def do_open(self, http_class: Any, req: Any, **kwargs: Any) -> Any:
        """Open ``req`` as urllib does, on a watched connection."""
        return super().do_open(_watched(http_class, req), req, **kwargs)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


class _SafeRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http and https only (urllib would also follow one to ftp), within
    the download's deadline; credentials go along only to the same scheme, host and port."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        """The follow-up request, refused unless ``newurl`` is http or https."""
        scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        if scheme not in ("http", "https"):
            raise DownloadError(
                f"refused redirect from {redact_url(req.full_url)} to {redact_url(newurl)}"
            )
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            new.dsflow_deadline = getattr(req, "dsflow_deadline", None)  # type: ignore[attr-defined]
            if _origin(new.full_url) != _origin(req.full_url):
                new.remove_header("Authorization")
        return new


_OPENER = urllib.request.build_opener(_HTTPHandler, _HTTPSHandler, _SafeRedirectHandler)


def split_credentials(url: str) -> tuple[str, str | None]:
    """``url`` without its user-info, and the HTTP basic ``Authorization`` header value the
    user-info makes (user and password percent-decoded); None when there is none."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    pair = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}"
    header = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    return urllib.parse.urlunsplit(parts._replace(netloc=hostport)), header


def _read(
    read: Callable[[int], bytes], size: int, url: str, done: int, deadline: Deadline
) -> bytes:
    """One chunk from the source; read failures are transient (worth another attempt), unless
    the deadline caused them."""
    try:
        chunk = read(size)
    except (OSError, http.client.HTTPException) as exc:
        if deadline.expired or isinstance(exc, TimeoutError):
            raise deadline.exceeded(url, done) from None
        raise TransientError(
            f"connection to {redact_url(url)} broke after {done} bytes: {_reason(exc)}"
        ) from None
    if deadline.expired:  # a trickle, or the end the deadline's shutdown made
        raise deadline.exceeded(url, done + len(chunk))
    return chunk


def copy_capped(
    read: Callable[[int], bytes], out: IO[bytes], max_bytes: int, what: str, start: int = 0
) -> int:
    """Copy chunks from ``read`` to ``out``; return ``start`` + the bytes copied.

    Raises DownloadError as soon as that total passes ``max_bytes``; ``what`` names the data in
    the message ("body", "decompressed data"). Reads at most one byte past the cap, so an endless
    source costs nothing more. ``start`` lets several sources share one cap (zip members).
    """
    total = start
    while True:
        chunk = read(min(CHUNK, max_bytes + 1 - total))
        if not chunk:
            return total
        total += len(chunk)
        if total > max_bytes:
            raise DownloadError(f"{what} exceeds max_bytes={max_bytes} (stopped at {total} bytes)")
        out.write(chunk)


def _reason(exc: BaseException) -> str:
    """A short, one-line reason for a network or file error."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return _reason(exc.reason) if isinstance(exc.reason, BaseException) else str(exc.reason)
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def _http_error(exc: urllib.error.HTTPError, url: str) -> DownloadError:
    """A 5xx or 429 is transient; any other status is final (a 401 says what to do)."""
    exc.close()
    message = f"HTTP {exc.code} {exc.reason} for {redact_url(url)}"
    if exc.code >= 500 or exc.code == 429:
        return TransientError(message)
    if exc.code == 401 and "@" in urllib.parse.urlsplit(url).netloc:
        return DownloadError(f"{message}: the server refused the user name and password")
    if exc.code == 401:
        return DownloadError(
            f"{message}: the server wants a user name and password; put them in the url from "
            "the project's .env: https://${API_USER}:${API_PASSWORD}@host/..."
        )
    return DownloadError(message)


def _timed_out(exc: BaseException) -> bool:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    return isinstance(reason, TimeoutError)


def _open_http(url: str, deadline: Deadline) -> http.client.HTTPResponse:
    target, authorization = split_credentials(url)
    request = urllib.request.Request(target, headers={"User-Agent": USER_AGENT})
    if authorization:
        request.add_header("Authorization", authorization)
    request.dsflow_deadline = deadline  # type: ignore[attr-defined]
    try:
        return _OPENER.open(request, timeout=max(deadline.remaining(), 0.001))
    except urllib.error.HTTPError as exc:
        raise _http_error(exc, url) from None
    except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
        if deadline.expired or _timed_out(exc):
            raise deadline.exceeded(url, 0) from None
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else None
        kind = DownloadError if isinstance(reason, ssl.SSLCertVerificationError) else TransientError
        raise kind(f"cannot reach {redact_url(url)}: {_reason(exc)}") from None


def _fetch_http(url: str, out: IO[bytes], deadline: Deadline, max_bytes: int) -> int:
    with _open_http(url, deadline) as response:
        header = (response.headers.get("Content-Length") or "").strip()
        length = int(header) if header.isdigit() else None
        if length is not None and length > max_bytes:
            raise DownloadError(
                f"body exceeds max_bytes={max_bytes} (Content-Length is {length} bytes)"
            )
        done = [0]

        def read(size: int) -> bytes:
            chunk = _read(response.read, size, url, done[0], deadline)
            done[0] += len(chunk)
            return chunk

        size = copy_capped(read, out, max_bytes, "body")
    if length is not None and size < length:  # http.client does not flag a short body
        raise TransientError(
            f"connection to {redact_url(url)} closed after {size} of {length} bytes"
        )
    return size


def local_path(url: str) -> Path:
    """The local path a file:// URL names (relative paths are relative to the job folder)."""
    return Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))


def _fetch_file(url: str, out: IO[bytes], deadline: Deadline, max_bytes: int) -> int:
    try:
        src = local_path(url).open("rb")
    except OSError as exc:
        raise DownloadError(f"cannot read {redact_url(url)}: {_reason(exc)}") from None
    with src:
        size = os.fstat(src.fileno()).st_size
        if size > max_bytes:
            raise DownloadError(f"body exceeds max_bytes={max_bytes} (file is {size} bytes)")
        done = [0]

        def read(size: int) -> bytes:
            try:
                chunk = src.read(size)
            except OSError as exc:
                raise DownloadError(f"cannot read {redact_url(url)}: {_reason(exc)}") from None
            done[0] += len(chunk)
            if deadline.expired:
                raise deadline.exceeded(url, done[0])
            return chunk

        return copy_capped(read, out, max_bytes, "body")


def fetch_once(
    url: str,
    dest: Path,
    *,
    timeout: float,
    max_bytes: int,
    deadline: Deadline | None = None,
) -> int:
    """One attempt: write the body of ``url`` to ``dest`` (truncated first); return its size.

    ``deadline`` is the download's time budget (by default ``timeout`` seconds from now).
    Source errors arrive as DownloadError (TransientError when worth retrying,
    DeadlineExceeded when the budget is spent); an OSError left over can only come from
    writing ``dest``.
    """
    budget = deadline or Deadline(timeout)
    try:
        with dest.open("wb") as out:
            if urllib.parse.urlsplit(url).scheme.lower() == "file":
                return _fetch_file(url, out, budget, max_bytes)
            return _fetch_http(url, out, budget, max_bytes)
    except OSError as exc:
        raise DownloadError(f"cannot write {dest}: {_reason(exc)}") from None
    finally:
        if deadline is None:
            budget.close()


def fetch(
    url: str,
    dest: Path,
    *,
    timeout: float = 30.0,
    max_bytes: int = DEFAULTS["max_bytes"],
    retries: int = 3,
    backoff: float = 0.5,
    on_retry: Callable[[str], None] | None = None,
) -> int:
    """Download ``url`` into ``dest`` and return the number of bytes written.

    ``timeout`` (seconds) bounds the whole download: every attempt and the waits between them;
    when it is spent the download stops with DeadlineExceeded. Transient failures are retried
    ``retries`` times, waiting ``backoff`` * 2**n seconds before retry n (0-based), while time
    is left; ``on_retry`` gets a note about each. Raises DownloadError.
    """
    check_url(url)
    attempts = retries + 1
    deadline = Deadline(timeout)
    try:
        for attempt in range(1, attempts + 1):
            try:
                return fetch_once(
                    url, dest, timeout=timeout, max_bytes=max_bytes, deadline=deadline
                )
            except TransientError as exc:
                if attempt == attempts:
                    suffix = f" (after {attempts} attempts)" if attempts > 1 else ""
                    raise TransientError(f"{exc}{suffix}") from None
                delay = backoff * 2 ** (attempt - 1)
                if delay >= deadline.remaining():
                    raise deadline.exceeded(url, 0, attempt, exc) from None
                if on_retry:
                    on_retry(
                        f"attempt {attempt} of {attempts} failed: {exc}; retrying in {delay:g} s"
                    )
                time.sleep(delay)
    finally:
        deadline.close()
    raise AssertionError("unreachable")  # pragma: no cover


# ------------------------------------------------------------------ checking and unpacking


def sha256_of(path: Path) -> str:
    """The hexadecimal SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as src:
        for chunk in iter(lambda: src.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    """Raise DownloadError unless the file at ``path`` has SHA-256 ``expected`` (if given)."""
    expected = _check_sha256(expected)
    if not expected:
        return
    actual = sha256_of(path)
    if actual != expected:
        raise DownloadError(f"sha256 mismatch: expected {expected}, got {actual}")


def _head(path: Path, size: int = 4) -> bytes:
    with path.open("rb") as src:
        return src.read(size)


def _name_suffix(*names: str) -> str:
    """'.gz', '.zip' or '' from the first of ``names`` that ends in one of them."""
    for name in names:
        lower = name.lower()
        if lower.endswith((".gz", ".tgz")):
            return ".gz"
        if lower.endswith(".zip"):
            return ".zip"
    return ""


def choose_mode(mode: str, path: Path, url: str, file_name: str) -> str:
    """Resolve ``auto`` to none, gunzip or unzip from the name suffixes, then the magic bytes."""
    if mode != "auto":
        return mode
    suffix = _name_suffix(file_name, urllib.parse.urlsplit(url).path)
    if suffix:
        return {".gz": "gunzip", ".zip": "unzip"}[suffix]
    head = _head(path)
    if head.startswith(GZIP_MAGIC):
        return "gunzip"
    if head.startswith(ZIP_MAGICS) and not file_name.lower().endswith(ZIP_CONTAINER_SUFFIXES):
        return "unzip"
    return "none"


def gunzip_name(file_name: str) -> str:
    """``file_name`` without its .gz suffix (.tgz becomes .tar)."""
    lower = file_name.lower()
    if lower.endswith(".tgz"):
        return file_name[:-4] + ".tar"
    if lower.endswith(".gz") and len(file_name) > 3:
        return file_name[:-3]
    return file_name


def _gunzip(src: Path, work: Path, file_name: str, url: str, max_bytes: int) -> list[str]:
    if not _head(src, 2).startswith(GZIP_MAGIC):
        raise DownloadError(f"not a gzip file: {redact_url(url)} (set decompress: none to keep it)")
    name = check_file_name(gunzip_name(file_name))
    try:
        with gzip.open(src, "rb") as data, (work / name).open("wb") as out:
            copy_capped(data.read, out, max_bytes, "decompressed data")
    except (OSError, EOFError, zlib.error) as exc:
        raise DownloadError(f"corrupt gzip file from {redact_url(url)}: {_reason(exc)}") from None
    return [name]


def member_path(name: str) -> Path | None:
    """The relative path to extract zip member ``name`` to; None for folders and hidden members.

    Raises DownloadError for an absolute path or a '..' component (zip-slip).
    """
    posix = name.replace("\\", "/")
    parts = posix.split("/")
    if posix.startswith("/") or (parts[0].endswith(":") and len(parts[0]) == 2) or ".." in parts:
        raise DownloadError(f"unsafe path in zip: {name!r} (absolute or with '..')")
    parts = [p for p in parts if p not in ("", ".")]
    if not parts or posix.endswith("/"):
        return None
    if any(p[0] in "._" for p in parts):  # __MACOSX/, .DS_Store, _SUCCESS: readers skip them
        return None
    return Path(*parts)


def _members(archive: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, Path]]:
    """The members to extract, all checked before anything is written."""
    chosen: list[tuple[zipfile.ZipInfo, Path]] = []
    seen: set[Path] = set()
    for info in archive.infolist():
        target = member_path(info.filename)
        if target is None or info.is_dir():
            continue
        if target in seen:
            raise DownloadError(f"duplicate member in zip: {info.filename!r}")
        seen.add(target)
        chosen.append((info, target))
    if not chosen:
        raise DownloadError("the zip file holds no files to extract")
    return chosen


def _unzip(src: Path, work: Path, url: str, max_bytes: int) -> list[str]:
    if not zipfile.is_zipfile(src):
        raise DownloadError(f"not a zip file: {redact_url(url)} (set decompress: none to keep it)")
    written: list[str] = []
    total = 0
    try:
        with zipfile.ZipFile(src) as archive:
            for info, target in _members(archive):
                (work / target).parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as data, (work / target).open("wb") as out:
                    total = copy_capped(data.read, out, max_bytes, "decompressed data", total)
                written.append(target.as_posix())
    except ZIP_ERRORS as exc:
        raise DownloadError(f"cannot extract zip from {redact_url(url)}: {_reason(exc)}") from None
    return written


def decompress(
    src: Path, sink: Path, *, mode: str, url: str, file_name: str, max_bytes: int
) -> list[str]:
    """Put the downloaded ``src`` into ``sink`` as ``mode`` says; return the names written.

    Output is built in a hidden folder inside ``sink`` and moved in only when complete, so a
    failure leaves ``sink`` as it was.
    """
    mode = choose_mode(mode, src, url, file_name)
    if mode == "none":
        os.replace(src, sink / file_name)
        follow_umask(sink / file_name)  # mkstemp made it 0600
        return [file_name]
    work = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, suffix=".d", dir=sink))
    try:
        if mode == "gunzip":
            names = _gunzip(src, work, file_name, url, max_bytes)
        else:
            names = _unzip(src, work, url, max_bytes)
        for entry in sorted(work.iterdir()):
            os.replace(entry, sink / entry.name)
            follow_umask(sink / entry.name)
        return names
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------------------ the job


def download(
    params: Params, on_retry: Callable[[str], None] | None = None
) -> tuple[int, list[str]]:
    """Run one download into ``params.sink``; return (bytes downloaded, names written)."""
    fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".part", dir=params.sink)
    os.close(fd)
    temp = Path(temp_name)
    try:
        size = fetch(
            params.url,
            temp,
            timeout=params.timeout_s,
            max_bytes=params.max_bytes,
            retries=params.retries,
            backoff=params.backoff_s,
            on_retry=on_retry,
        )
        verify_sha256(temp, params.sha256)
        names = decompress(
            temp,
            params.sink,
            mode=params.decompress,
            url=params.url,
            file_name=params.file_name,
            max_bytes=params.max_bytes,
        )
        return size, names
    finally:
        temp.unlink(missing_ok=True)


def _clear(sink: Path, before: set[str]) -> None:
    """Remove what this run added to ``sink`` (after a failure)."""
    for entry in sink.iterdir():
        if entry.name in before:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _summary(size: int, names: list[str], elapsed: float) -> str:
    shown = names[0] if len(names) == 1 else f"{len(names)} files: {', '.join(names[:5])}"
    if len(names) > 5:
        shown += ", ..."
    return f"downloaded {size} bytes, wrote {shown}, in {elapsed:.2f} s"


def _one_line(text: str) -> str:
    """``text`` on one line, without URL credentials: what this job prints goes to log.txt."""
    return redact_url(" ".join(text.split()))


def run(specs: Mapping[str, Any], out: IO[str]) -> None:
    """Validate ``specs``, download into the sink and print the summary line to ``out``.

    Whatever fails, the sink is left as it was found.
    """
    started = time.monotonic()
    params = read_params(specs)
    prefix = prefix_of(specs)
    before = {entry.name for entry in params.sink.iterdir()}
    try:
        size, names = download(
            params,
            on_retry=lambda note: print(_one_line(f"{prefix}: {note}"), file=out, flush=True),
        )
    except BaseException:
        _clear(params.sink, before)
        raise
    print(_one_line(_summary(size, names, time.monotonic() - started)), file=out, flush=True)


def main(
    env: Mapping[str, str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """Run the job with ``env`` (default os.environ); return the exit status.

    0: downloaded; 1: the download or a parameter failed; 2: TASK_SPECS missing or malformed.
    Failures print one line, ``<job_name>: ds=<ds>: <cause>``, on ``stderr``.
    """
    env = os.environ if env is None else env
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    prefix = "dsflow.download"
    try:
        specs = load_specs(env)
        prefix = prefix_of(specs)
        run(specs, out)
    except SpecsError as exc:
        print(_one_line(f"{prefix}: {exc}"), file=err)
        return 2
    except DownloadError as exc:
        print(_one_line(f"{prefix}: {exc}"), file=err)
        return 1
    except Exception as exc:  # anything unforeseen still gets one line, not a traceback
        print(_one_line(f"{prefix}: unexpected {type(exc).__name__}: {exc}"), file=err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
