"""Child processes that do not outlive the run that started them.

A job script, or the Spark Connect server a backfill starts for itself, is killed by the
kernel (``PR_SET_PDEATHSIG``) when its parent dies, even by SIGKILL: a killed ``just run``
leaves no script writing into a staging folder the next run removes, a killed backfill no
server holding its port. Linux only; elsewhere children are left as they are.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` for :class:`subprocess.Popen` that ties the child to this process
    (more exactly to the calling thread: start children from a thread that outlives them)."""
    if os.uname().sysname != "Linux":
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec
