"""The one exception type the CLI turns into a single line and a non-zero exit."""

import contextlib
import errno
from collections.abc import Iterator
from pathlib import Path


class DsflowError(Exception):
    """A problem the user can fix; its message says what happened and what to do next."""

    exit_code = 2


_DISK_HINTS = {
    errno.ENOSPC: "free some space",
    errno.EDQUOT: "free some space",
    errno.EROFS: "make it writable",
    errno.EACCES: "check its permissions",
    errno.EPERM: "check its permissions",
    errno.ENAMETOOLONG: "shorten the name it is made from (a job, dataset or project name)",
}


def disk_error(exc: OSError) -> DsflowError | None:
    """The one line for a full, read-only or forbidden disk, or None for other OS errors.

    Exit 1: the environment failed the run, not its input.
    """
    hint = _DISK_HINTS.get(exc.errno or 0)
    if hint is None:
        return None
    error = DsflowError(
        f"cannot write {exc.filename or 'a file'}: {exc.strerror}; {hint}, then run again"
    )
    error.exit_code = 1
    return error


@contextlib.contextmanager
def about_path(path: Path) -> Iterator[None]:
    """Name ``path`` in an OS error raised without one (a write that fails after ``open``, as
    a full disk's does), so the one line says which file."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
