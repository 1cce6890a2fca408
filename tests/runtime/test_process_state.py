"""dsflow.services: a process that has ended but is not reaped yet (a zombie: init reaps
orphans on its own schedule, ~2 s on some machines) is not running. `just stop` and
`just stop-all` returned only once init had reaped the server and the spare kernel."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from dsflow import services


def _zombie() -> subprocess.Popen:
    """A child in its own process group that has exited and that we have not reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        state = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "Z":
            return child
        time.sleep(0.02)
    raise AssertionError("the child did not exit")


def test_an_ended_process_has_no_start_time_and_its_group_is_not_alive():
    child = _zombie()
    try:
        os.killpg(child.pid, 0)  # the kernel still lists it...
        assert services._start_time(child.pid) == ""  # ...but it runs no more
        assert not services.process_running(child.pid)
        assert not services.group_running(child.pid)
    finally:
        child.wait()


def test_a_running_process_keeps_its_start_time_and_group():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                             start_new_session=True)  # fmt: skip
    try:
        assert services._start_time(child.pid) != ""
        assert services.group_running(child.pid)
        assert services._group_alive(child.pid)
    finally:
        child.kill()
        child.wait()
    assert not services._group_alive(child.pid)
