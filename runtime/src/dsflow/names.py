"""Validation of the names users type: jobs, tables, datasets.

One rule for all of them (:func:`check_name`): a name becomes a folder, a Spark view, an Airflow
task and a line of HTML, so it is kept to what is safe in all of those. Folders starting with
``_`` or ``.`` are hidden markers to Spark and to ``just tree``, hence the leading letter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import DsflowError

MAX_NAME = 64
NAME_RULE = (
    f"use lowercase letters, digits, '-' and '_', starting with a letter, "
    f"at most {MAX_NAME} characters"
)
_NAME = re.compile(r"[a-z][a-z0-9_-]*")


def quoted(text: str, limit: int = 40) -> str:
    """``text`` as a Python literal on one line, cut after ``limit`` characters when longer."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def check_name(name: str, kind: str = "job") -> str:
    """Return ``name`` if it follows the name rule, else raise a one-line error.

    ``kind`` only labels the message (``job``, ``dataset``, ``table``): the rule is the same.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > MAX_NAME:
        if isinstance(name, str):
            shown = quoted(name) if name else "(empty)"
        else:  # YAML read yes/no/null/a number where a name was meant
            shown = f"{name!r} (not text: put the name in quotes)"
        raise DsflowError(f"invalid {kind} name {shown}: {NAME_RULE}")
    return name


def check_job_name(name: str) -> str:
    """Return ``name`` if it is a safe job folder name, else raise a one-line error."""
    return check_name(name, "job")


def check_dataset_name(name: str) -> str:
    """Return ``name`` (the part after ``raw/`` or ``tables/``) if it follows the name rule."""
    return check_name(name, "dataset")


def normalised_name(name: str) -> str:
    """The job name as Airflow task variables see it: ``-`` and ``_`` are the same there, so
    two jobs whose normalised names are equal cannot both exist."""
    return name.replace("-", "_")


def check_distinct_names(names: Iterable[str]) -> None:
    """Refuse two job names that differ only by ``-`` and ``_`` (one line naming both)."""
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(normalised_name(name), name)
        if other != name:
            raise DsflowError(
                f"jobs {other} and {name} differ only by '-' and '_': Airflow DAG code cannot "
                "tell them apart; rename one"
            )
