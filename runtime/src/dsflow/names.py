"""Validation of the names users type: jobs, tables, datasets."""

from __future__ import annotations

import re

from .errors import DsflowError

_JOB_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


def check_job_name(name: str) -> str:
    """Return ``name`` if it is a safe job folder name, else raise a one-line error."""
    if not _JOB_NAME.fullmatch(name or ""):
        shown = repr(name) if name else "(empty)"
        raise DsflowError(
            f"invalid name {shown}: use lowercase letters, digits, '-' and '_', "
            "starting with a letter (no '/', '..' or spaces)"
        )
    return name
