"""What the benchmarks share: timing a whole process, and a set-up project to time things in."""

from __future__ import annotations

import functools
import http.server
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
from snapshot import GIT_ID, snapshot_repo  # noqa: E402


def timed(cmd: list, cwd: Path) -> float:
    """Wall-clock seconds of ``cmd`` as its own process (it must succeed)."""
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        shown = " ".join(str(c) for c in cmd)
        sys.exit(
            f"{shown} exited {result.returncode}:\n{result.stdout.decode()}{result.stderr.decode()}"
        )
    return time.perf_counter() - start


def template(base: Path) -> Path:
    """A tagged snapshot of this repository under ``base``."""
    return snapshot_repo(base / "template")


def set_up_project(repo: Path, project: Path) -> Path:
    """Bake ``project`` from ``repo``, commit it and run its `just setup`."""
    subprocess.run(
        ["copier", "copy", "--trust", "--defaults", "-q", str(repo), str(project)],
        check=True,
        capture_output=True,
    )
    subprocess.run(["just", "setup"], cwd=project, check=True, capture_output=True)
    for args in (["init", "-q"], ["add", "-A"], [*GIT_ID, "commit", "-q", "-m", "p"]):
        subprocess.run(["git", *args], cwd=project, check=True)
    return project


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def serve_meteo(base: Path, days: int) -> tuple[str, http.server.ThreadingHTTPServer]:
    """``days`` days of generated meteo samples served on 127.0.0.1: (base URL, server)."""
    samples = base / "samples"
    subprocess.run(
        [sys.executable, REPO / "samples/make_meteo.py", "--out", samples / "meteo",
         "--days", str(days)],
        check=True, capture_output=True,
    )  # fmt: skip
    handler = functools.partial(_Quiet, directory=str(samples))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def demo_project(base: Path, url: str, env: dict[str, str] | None = None) -> Path:
    """The demo's jobs (tools/demo.py --days 0) in a set-up project under ``base``."""
    project = base / "project"
    print("setting up a demo project (jobs only)...", flush=True)
    subprocess.run(
        [sys.executable, REPO / "tools/demo.py", project, "--days", "0",
         "--template", template(base), "--ref", "v1.0.0", "--base-url", url],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    return project
