"""dsflow.kernels: a pool's kernel talks over Unix sockets of its own, and leaves none behind.

Over TCP, jupyter_client picks a free port and the kernel binds it moments later; under
parallel backfills another process took one in between and the kernel died before replying
("Address already in use"). These tests start a real ipykernel.
"""

from __future__ import annotations

import glob
import stat
from pathlib import Path

from dsflow.kernels import KernelPool, kernel_address


def test_each_kernel_gets_a_private_unique_socket_name():
    first, second = kernel_address(), kernel_address()
    assert first["transport"] == second["transport"] == "ipc"
    assert first["ip"] != second["ip"]
    assert stat.S_IMODE(Path(first["ip"]).parent.stat().st_mode) & 0o077 == 0


def test_a_pool_kernel_runs_code_over_unix_sockets_and_removes_them(tmp_path):
    pool = KernelPool()
    engine = pool.engine_kwargs(tmp_path, tmp_path / "kernel.log")
    km = engine["km"]
    try:
        pool.start(tmp_path, "open('ran.txt', 'w').write('yes')\n")
        sockets = glob.glob(f"{km.ip}-*")
        assert len(sockets) == 5  # shell, iopub, stdin, control, heartbeat
        assert all(stat.S_ISSOCK(Path(s).stat().st_mode) for s in sockets)
        assert (tmp_path / "ran.txt").read_text() == "yes"  # in the job's folder
    finally:
        pool.shutdown()
    assert glob.glob(f"{km.ip}-*") == []
