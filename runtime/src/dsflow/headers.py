"""Headers of raw files matched by name with the declared columns, before Spark reads them.

:func:`read_header` (a CSV file's first line) and :func:`json_keys` (every key of a JSON
file's records) read what a file holds; :func:`match_header` refuses, in one line naming the
file, duplicates, undeclared names and missing ones. Used by :mod:`dsflow.readers`; no JVM.
The messages for values and records that do not convert are :mod:`dsflow.read_messages`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import DsflowError
from .schemas import INLINE_SOURCE

PARTITION_COLUMNS = ("ds", "hr")  # from the folder names; ignored in a file unless declared


def read_header(path: Path, delimiter: str) -> list[str] | None:
    """The column names on the first line of a CSV file (Python's csv rules: quotes, embedded
    delimiters); None for an empty file."""
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        return next(csv.reader(handle, delimiter=delimiter), None)


def json_keys(path: Path, multiline: bool = False) -> set[str] | None:
    """Every key of the records of a JSON Lines file (or of its one document when
    ``multiline``); None when it holds no readable record (Spark then says what is wrong)."""
    keys: set[str] = set()
    found = False

    def collect(value: Any) -> None:
        nonlocal found
        for record in value if isinstance(value, list) else [value]:
            if isinstance(record, dict):
                keys.update(record)
                found = True

    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        if multiline:
            try:
                collect(json.load(handle))
            except ValueError:
                return None
        else:
            for line in handle:
                if line.strip():
                    try:
                        collect(json.loads(line))
                    except ValueError:
                        continue  # Spark reports the malformed line with its file
    return keys if found else None


def match_header(
    header: Sequence[str],
    declared: Sequence[str],
    where: str,
    source: str = INLINE_SOURCE,
    missing_columns: str = "refuse",
    word: str = "column",
) -> list[str]:
    """Check a file's header (or JSON keys) against the declared column names, by name.

    Duplicates, names the schema does not declare and (unless ``missing_columns="null"``)
    declared names the file lacks are refused with one line naming ``where`` (the file);
    ``ds``/``hr`` are ignored unless declared. Returns the declared names the file lacks.
    """
    seen: dict[str, int] = {}
    for name in header:
        seen[name] = seen.get(name, 0) + 1
    twice = [n for n, count in seen.items() if count > 1]
    if twice:
        raise DsflowError(
            f"{where}: {word} {twice[0]} appears {seen[twice[0]]} times in the header; "
            "rename or remove the copies"
        )
    wanted = set(declared)
    extra = [n for n in header if n not in wanted and n not in PARTITION_COLUMNS]
    missing = [n for n in declared if n not in seen]
    if extra and missing:
        raise DsflowError(
            f"{where}: {_names(word, extra)} not in {source} and {_names(word, missing)} "
            f"missing; fix the file, or the schema"
        )
    if extra:
        them = "it" if len(extra) == 1 else "them"
        raise DsflowError(
            f"{where}: {_names(word, extra)} not in {source}; declare {them} there, or remove "
            f"{them} from the file"
        )
    if missing and missing_columns != "null":
        them = "it" if len(missing) == 1 else "them"
        raise DsflowError(
            f"{where}: {_names(word, missing, f' of {source}')} missing; fix the file, or run "
            f"with missing_columns=null to read {them} as nulls"
        )
    return missing


def _names(word: str, names: Sequence[str], qualifier: str = "") -> str:
    if len(names) == 1:
        return f"{word} {names[0]}{qualifier} is"
    return f"{word}s {', '.join(names)}{qualifier} are"
