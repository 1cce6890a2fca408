"""Schemas of data files: infer them (``just infer-schema``), save them as YAML, declare them.

Inference reads with pyarrow (no JVM): CSV (delimiter detected), JSON / JSON Lines, Parquet.
Types are written as Spark SQL type names, so a saved schema file is what a
``create_table_from_csv`` or ``create_table_from_json`` job declares as its ``schema``::

    # schema of datastore/raw/meteo/ds=2024-01-01 ...
    format: csv
    delimiter: ";"
    columns:
      station: string
      temperature_c: double
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import yaml

from .errors import DsflowError
from .project import current_project

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


def _spark_type(arrow_type: Any) -> str:
    import pyarrow.types as t

    if t.is_boolean(arrow_type):
        return "boolean"
    if t.is_int8(arrow_type) or t.is_int16(arrow_type) or t.is_int32(arrow_type):
        return "int"
    if t.is_integer(arrow_type):
        return "bigint"
    if t.is_floating(arrow_type):
        return "double"
    if t.is_timestamp(arrow_type):
        return "timestamp"
    if t.is_date(arrow_type):
        return "date"
    if t.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    return "string"


def infer_schema(path: Path) -> dict[str, Any]:
    """``{"format", "delimiter" (CSV only), "columns": {name: Spark SQL type}}`` of ``path``."""
    fmt = file_format(path)
    first = data_files(path)[0]
    result: dict[str, Any] = {"format": fmt}
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            schema = pq.read_schema(first)
        elif fmt == "json":
            import pyarrow.json as pj

            schema = pj.read_json(first).schema
        else:
            import pyarrow.csv as pc

            delimiter = detect_delimiter(first)
            result["delimiter"] = delimiter
            options = pc.ParseOptions(delimiter=delimiter)
            schema = pc.read_csv(first, parse_options=options).schema
    except Exception as exc:  # pyarrow's parse errors are ArrowInvalid, OSError, ...
        message = " ".join(str(exc).split())[:200]
        raise DsflowError(f"{first}: cannot read it as {fmt}: {message}") from None
    result["columns"] = {f.name: _spark_type(f.type) for f in schema if f.name not in ("ds", "hr")}
    return result


def schema_yaml(schema: dict[str, Any], source: str) -> str:
    """The YAML text of a schema, with a comment saying where it came from."""
    header = f"# schema of {source}, inferred by `just infer-schema`; edit the types freely\n"
    return header + yaml.safe_dump(schema, sort_keys=False, allow_unicode=True)


def ddl(schema: Any, root: Path | None = None) -> str:
    """A Spark DDL string from a declared schema.

    ``schema`` is a DDL string (``"a string, b double"``), a mapping ``{column: type}``, or the
    path (relative to ``root``, the project root by default) of a YAML file holding ``columns:``.
    Empty means "infer": returns ``""``.
    """
    if not schema:
        return ""
    if isinstance(schema, str) and schema.strip().endswith((".yaml", ".yml")):
        path = Path(schema.strip())
        if not path.is_absolute():
            path = (root or current_project().root) / path
        if not path.is_file():
            raise DsflowError(f"schema file {path} does not exist (make one: just infer-schema)")
        loaded = yaml.safe_load(path.read_text()) or {}
        schema = loaded.get("columns") if isinstance(loaded, dict) else None
        if not isinstance(schema, dict) or not schema:
            raise DsflowError(f"{path}: expected a `columns:` mapping of column: type")
    if isinstance(schema, dict):
        return ", ".join(f"`{name}` {kind}" for name, kind in schema.items())
    return str(schema)
