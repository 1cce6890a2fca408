"""Table contracts: one schema per table, fixed at its first publish, read with every partition.

A table's contract lives in ``datastore/tables/<table>/_schema.json`` (a ``_`` name: Spark and
pyarrow skip it)::

    {"columns": [{"name": "station", "type": "string"}, {"name": "temp", "type": "double"}],
     "evolution": false, "fixed_by": "first publish: job create-table-x, ds=2024-01-05"}

Types are Spark SQL type names (``string``, ``int``, ``bigint``, ``double``, ``date``,
``timestamp``, ``decimal(10,2)``, ``array<int>``, ``struct<a:int,b:string>``, ...; their
grammar and arrow mapping are :mod:`dsflow.sqltypes`). The first publish fixes it from the
output's declared ``schema:`` (:mod:`dsflow.schemas`), else from the partition's own Parquet
schema; the run protocol (:mod:`dsflow.runner`) checks every staged partition against it
before the publish (:mod:`dsflow.contract_enforcement`), and readers (:mod:`dsflow.tables`,
:mod:`dsflow.notebook`, :mod:`dsflow.dashboards`) read every partition with it
(:func:`conform`). The ``ds``/``hr`` partition columns come from the folders and are never
part of it.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import DsflowError
from .schemas import parse_columns
from .sqltypes import arrow_type, backticked, normalize_type, spark_type

CONTRACT_FILE = "_schema.json"


def declared_columns(schema: Any, root: Path | None = None) -> dict[str, str]:
    """``{column: canonical Spark SQL type}`` of an output's declared ``schema:`` (a mapping,
    a DDL string or a YAML file path relative to ``root``, the project root by default),
    parsed by :func:`dsflow.schemas.parse_columns`, the one reader of declared schemas."""
    columns = parse_columns(schema, root)
    if not columns:
        raise DsflowError("a declared schema names at least one column: column: type")
    return columns


# ------------------------------------------------------------------ the contract


@dataclass
class Contract:
    """A table's schema: ``columns`` maps each column name to its Spark SQL type."""

    columns: dict[str, str]
    evolution: bool = False
    fixed_by: str = ""

    def ddl(self) -> str:
        """The Spark DDL read schema, e.g. ``"`station` string, `temp` double"``.

        A ``void`` column (every value null so far: no type yet) is left out: Spark's Parquet
        reader has no null type."""
        return ", ".join(
            f"{backticked(name)} {kind}" for name, kind in self.columns.items() if kind != "void"
        )

    def arrow_schema(self) -> Any:
        """The pyarrow schema readers cast every partition to (every column nullable)."""
        import pyarrow as pa

        return pa.schema([pa.field(n, arrow_type(t)) for n, t in self.columns.items()])

    def to_json(self) -> dict[str, Any]:
        """What ``_schema.json`` holds."""
        columns = [{"name": n, "type": t} for n, t in self.columns.items()]
        return {"columns": columns, "evolution": self.evolution, "fixed_by": self.fixed_by}


def read_contract(table_folder: Path) -> Contract | None:
    """The contract in ``table_folder/_schema.json``; None when the table has none yet."""
    path = Path(table_folder) / CONTRACT_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DsflowError(
            f"{path} cannot be read ({exc.__class__.__name__}): fix it, or delete it and the "
            "next publish fixes the table's schema again"
        ) from None
    try:
        columns = {str(c["name"]): normalize_type(c["type"]) for c in data["columns"]}
        return Contract(columns, bool(data.get("evolution")), str(data.get("fixed_by", "")))
    except (KeyError, TypeError, DsflowError) as exc:
        raise DsflowError(
            f"{path} is not a table contract ({exc}): fix it, or delete it and the next "
            "publish fixes the table's schema again"
        ) from None


def write_contract(table_folder: Path, contract: Contract) -> None:
    """Write ``_schema.json`` atomically (a reader sees the old contract or the new one)."""
    path = Path(table_folder) / CONTRACT_FILE
    tmp = path.with_name(f".{CONTRACT_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(contract.to_json(), indent=2) + "\n")
    os.replace(tmp, path)


@contextmanager
def contract_lock(lock_dir: Path, table: str) -> Iterator[None]:
    """Hold ``table``'s contract lock from the check of a staged partition to the contract's
    update, so that two runs of the writing job (a parallel backfill) fix or extend the
    contract one after the other. Waits for the holder, which a dead process never is."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir / f"table-{table}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# ------------------------------------------------------------------ coercion rules

_WIDER = {
    "tinyint": ("smallint", "int", "bigint", "double"),
    "smallint": ("int", "bigint", "double"),
    "int": ("bigint", "double"),
    "bigint": ("double",),
    "float": ("double",),
}
_DECIMAL_RE = re.compile(r"decimal\((\d+),(\d+)\)")


def widens(found: str, expected: str) -> bool:
    """True when every ``found`` value is exactly a value of ``expected`` (a safe widening):
    tinyint -> smallint -> int -> bigint -> double, float -> double, void -> anything, and a
    decimal to one with at least as many digits on each side of the point."""
    if found == "void" or expected in _WIDER.get(found, ()):
        return True
    small, large = _DECIMAL_RE.fullmatch(found), _DECIMAL_RE.fullmatch(expected)
    if small and large:
        (p1, s1), (p2, s2) = (map(int, m.groups()) for m in (small, large))
        return s2 >= s1 and p2 - s2 >= p1 - s1
    return False


def conform(table: Any, contract: Contract, where: str) -> Any:
    """``table`` as the contract's schema: its columns in the contract's order, cast to the
    contract's types, absent ones as nulls, others dropped (Spark does the same with a read
    schema). ``where`` names the data in the error raised when a value cannot be cast."""
    import pyarrow as pa

    target = contract.arrow_schema()
    arrays = []
    for fld in target:
        if fld.name not in table.column_names or pa.types.is_null(fld.type):
            arrays.append(pa.nulls(table.num_rows, fld.type))  # void: no values yet
            continue
        column = table.column(fld.name)
        if column.type == fld.type:
            arrays.append(column)
            continue
        try:
            arrays.append(column.cast(fld.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            raise DsflowError(
                f"{where}: column {fld.name} is {spark_type(column.type)}, which cannot be read "
                f"as {contract.columns[fld.name]} (the table's schema): re-run that partition"
            ) from None
    return pa.Table.from_arrays(arrays, schema=target)
