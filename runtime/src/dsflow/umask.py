"""Files dsflow creates follow the user's umask, as files made with ``open()`` do.

Python's safe temporary files (``mkstemp`` 0600, ``mkdtemp`` 0700) are the right way to build
a download or a new job folder where no one sees it half-made; once moved into place they get
the mode ``open()``/``mkdir`` would have given them. Secrets (``.env``) stay 0600 on purpose.
"""

from __future__ import annotations

import os
import re
from pathlib import Path


def current_umask() -> int:
    """The process umask, read without changing it (other threads may be creating files)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        status = ""
    match = re.search(r"^Umask:\s*([0-7]+)$", status, re.MULTILINE)
    if match:
        return int(match.group(1), 8)
    mask = os.umask(0o022)  # no /proc: the classic dance, briefly
    os.umask(mask)
    return mask


def follow_umask(path: Path) -> None:
    """Give ``path`` (and, for a folder, everything in it) the mode the umask implies."""
    mask = current_umask()
    paths = [path, *path.rglob("*")] if path.is_dir() else [path]
    for item in paths:
        if not item.is_symlink():
            item.chmod(_open_mode(item) & ~mask)


def _open_mode(item: Path) -> int:
    # what mkdir() and open() ask for; an executable file (a job's .sh) stays executable
    return 0o777 if item.is_dir() or item.stat().st_mode & 0o111 else 0o666
