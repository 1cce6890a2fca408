"""Named points of the run protocol where the reliability suite kills a run.

``DSFLOW_KILL_AT=<point>`` makes the process SIGKILL itself when it reaches that point (the
``n``-th time, with ``<point>:<n>``), so tests can stop a run exactly between two steps and
check that no published partition was lost. Unset, a checkpoint is a dictionary lookup.
Every point is listed in :data:`POINTS`.
"""

from __future__ import annotations

import os
import signal

KILL_AT_ENV = "DSFLOW_KILL_AT"

POINTS = (
    "locked",  # the partition's lock is held; nothing else done
    "staged",  # staging folders made, the job not started
    "executed",  # the job wrote its staging folders
    "checked",  # contracts and checks passed; nothing published
    "marked",  # _SUCCESS and _dsflow.json written into staging
    "journaled",  # a multi-output publish's journal is on disk, nothing swapped
    "unpublished",  # success-last: an output's old _SUCCESS removed (":2" the second, ...)
    "copied",  # success-last: an output's new files moved in, its _SUCCESS not yet
    "swapped",  # one output swapped in (":2" the second, ...)
    "published",  # every output published; the table contract not yet written
    "recorded",  # run.json written; the history line not yet
    "finished",  # the history line written
)

_counts: dict[str, int] = {}


def checkpoint(point: str) -> None:
    """SIGKILL this process if ``DSFLOW_KILL_AT`` names ``point`` (and this is its n-th pass)."""
    target = os.environ.get(KILL_AT_ENV)
    if not target or not target.startswith(point):
        return
    name, _, nth = target.partition(":")
    if name != point:
        return
    _counts[point] = _counts.get(point, 0) + 1
    if _counts[point] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
