"""Data files: the files of a raw partition, their format and CSV delimiter, their names in
messages, and writing a Parquet file every reader of a table can read.

Used by the Spark readers (:mod:`dsflow.readers`), ``just infer-schema``
(:mod:`dsflow.schema_inference`) and adhoc notebooks (:mod:`dsflow.adhoc`).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from .errors import DsflowError

FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".json": "json", ".jsonl": "json"}
FORMATS |= {".ndjson": "json", ".parquet": "parquet", ".pq": "parquet"}
DELIMITERS = ",;\t|"


def data_files(path: Path) -> list[Path]:
    """The data files of a file or folder (``_``- and ``.``-prefixed files skipped), sorted."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DsflowError(f"{path} does not exist")
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and not any(part.startswith(("_", ".")) for part in p.relative_to(path).parts)
    )
    if not files:
        raise DsflowError(f"{path} holds no data files")
    return files


def file_format(path: Path) -> str:
    """csv, json or parquet, from the file name (a folder: from its first data file)."""
    first = data_files(path)[0]
    fmt = FORMATS.get(first.suffix.lower())
    if fmt is None:
        raise DsflowError(
            f"cannot tell the format of {first.name} (known suffixes: {', '.join(sorted(FORMATS))})"
        )
    return fmt


def detect_delimiter(path: Path) -> str:
    """The delimiter of a CSV file (or of a folder's first data file), sniffed from its head."""
    first = data_files(path)[0]
    with first.open(newline="", errors="replace") as handle:
        head = handle.read(64 * 1024)
    lines = head.splitlines()
    if not lines:
        raise DsflowError(f"{first} is empty: cannot detect a CSV delimiter")
    try:
        return csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=DELIMITERS).delimiter
    except csv.Error:
        # one column, or a sniffer miss: the candidate that splits the header most often wins
        counts = {d: lines[0].count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def file_label(path: Path, datastore: Path | None = None) -> str:
    """``path`` relative to the project's datastore when inside it (raw/x/ds=.../f.csv)."""
    datastore = datastore or _datastore()
    resolved = path.resolve()
    if datastore and resolved.is_relative_to(datastore):
        return str(resolved.relative_to(datastore))
    return str(path)


def file_labels(files: list[Path]) -> dict[Path, str]:
    """:func:`file_label` of each file (the project's settings read once)."""
    datastore = _datastore()
    return {f: file_label(f, datastore) for f in files}


def _datastore() -> Path | None:
    try:
        from .project import current_project
        from .settings import load_settings

        return load_settings(current_project()).datastore.resolve()
    except DsflowError:
        return None  # outside a project: paths are shown as given


def write_parquet(table: Any, path: Path) -> None:
    """Write a pyarrow Table as Parquet that Spark reads too: timestamps in microseconds
    (pyarrow would keep pandas' nanoseconds, which Spark's Parquet reader refuses)."""
    import pyarrow.parquet as pq

    pq.write_table(table, path, coerce_timestamps="us", allow_truncated_timestamps=True)
