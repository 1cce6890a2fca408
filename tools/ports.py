"""Shift a project's ports (``ports:`` in dsflow.yml), to run its services beside another's."""

from __future__ import annotations

import re
from pathlib import Path

from dsflow.settings import DEFAULT_PORTS

_SERVICES = "|".join(DEFAULT_PORTS)  # every port dsflow.yml may set
_PORT_LINE = re.compile(rf"^(  (?:{_SERVICES}): *)(\d+)", re.MULTILINE)


def shift_ports(project: Path, offset: int) -> None:
    """Add ``offset`` to every port of the project's dsflow.yml (keeping its comments)."""
    if offset:
        path = project / "dsflow.yml"
        text = path.read_text()
        path.write_text(_PORT_LINE.sub(lambda m: f"{m.group(1)}{int(m.group(2)) + offset}", text))
