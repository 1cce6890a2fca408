"""Table contracts: one schema per table, checked by column name before every publish.

A table's contract lives in ``datastore/tables/<table>/_schema.json`` (a ``_`` name: Spark and
pyarrow skip it)::

    {"columns": [{"name": "station", "type": "string"}, {"name": "temp", "type": "double"}],
     "evolution": false, "fixed_by": "first publish: job create-table-x, ds=2024-01-05"}

Types are Spark SQL type names (``string``, ``int``, ``bigint``, ``double``, ``date``,
``timestamp``, ``decimal(10,2)``, ``array<int>``, ``struct<a:int,b:string>``, ...). The
first publish fixes it from the output's declared ``schema:``, else from the partition's own
Parquet schema; the run protocol (:mod:`dsflow.runner`) then checks every staged partition
against it with :func:`enforce` (Parquet footers, no JVM), and readers
(:mod:`dsflow.tables`, :mod:`dsflow.notebook`, :mod:`dsflow.dashboards`) read every partition
with it. The ``ds``/``hr`` partition columns come from the folders and are never part of it.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checks import parquet_files
from .errors import DsflowError

CONTRACT_FILE = "_schema.json"
PARTITION_COLUMNS = ("ds", "hr")


class ContractViolation(DsflowError):
    """A staged partition does not fit its table's contract: it is not published."""

    exit_code = 1


# ------------------------------------------------------------------ Spark SQL type names


def spark_type(arrow_type: Any) -> str:
    """The Spark SQL type name Spark gives a Parquet column of this arrow type.

    Every timestamp (with or without a time zone, any unit) is ``timestamp``; types Spark has
    no name for (time, duration) are ``string``; arrow's ``null`` type is ``void``.
    """
    import pyarrow as pa
    import pyarrow.types as t

    if t.is_dictionary(arrow_type):
        return spark_type(arrow_type.value_type)
    if t.is_null(arrow_type):
        return "void"
    if t.is_boolean(arrow_type):
        return "boolean"
    simple = {
        pa.int8(): "tinyint",
        pa.int16(): "smallint",
        pa.int32(): "int",
        pa.int64(): "bigint",
        pa.uint8(): "smallint",
        pa.uint16(): "int",
        pa.uint32(): "bigint",
        pa.uint64(): "decimal(20,0)",
        pa.float16(): "float",
        pa.float32(): "float",
        pa.float64(): "double",
        pa.date32(): "date",
        pa.date64(): "date",
    }
    if arrow_type in simple:
        return simple[arrow_type]
    if t.is_timestamp(arrow_type):
        return "timestamp"
    if t.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    if t.is_binary(arrow_type) or t.is_large_binary(arrow_type):
        return "binary"
    if t.is_fixed_size_binary(arrow_type) or getattr(t, "is_binary_view", lambda _: False)(
        arrow_type
    ):
        return "binary"
    if t.is_list(arrow_type) or t.is_large_list(arrow_type) or t.is_fixed_size_list(arrow_type):
        return f"array<{spark_type(arrow_type.value_type)}>"
    if t.is_map(arrow_type):
        return f"map<{spark_type(arrow_type.key_type)},{spark_type(arrow_type.item_type)}>"
    if t.is_struct(arrow_type):
        inner = ",".join(f"{_quote(f.name)}:{spark_type(f.type)}" for f in arrow_type)
        return f"struct<{inner}>"
    return "string"


def arrow_type(type_name: str) -> Any:
    """The arrow type a reader gets for a (canonical) Spark SQL type name.

    ``timestamp`` is an instant, read in UTC (``timestamp[us, tz=UTC]``); ``timestamp_ntz``
    is a wall-clock time without a zone.
    """
    import pyarrow as pa

    parsed, _ = _parse_type(_tokens(type_name), 0, type_name)
    return _to_arrow(pa, parsed)


_SIMPLE = {
    "boolean": "boolean", "bool": "boolean",
    "tinyint": "tinyint", "byte": "tinyint", "int8": "tinyint",
    "smallint": "smallint", "short": "smallint", "int16": "smallint",
    "int": "int", "integer": "int", "int32": "int",
    "bigint": "bigint", "long": "bigint", "int64": "bigint",
    "float": "float", "real": "float", "float32": "float",
    "double": "double", "float64": "double",
    "string": "string", "varchar": "string", "char": "string", "utf8": "string",
    "binary": "binary",
    "date": "date",
    "timestamp": "timestamp", "timestamp_ltz": "timestamp",
    "timestamp_ntz": "timestamp_ntz",
    "void": "void", "null": "void",
}  # fmt: skip
_DECIMAL = ("decimal", "dec", "numeric")
_TOKEN = re.compile(r"\s*(?:(`(?:[^`]|``)*`)|([A-Za-z_][A-Za-z0-9_]*)|(\d+)|([<>(),:]))")


def _tokens(text: str) -> list[str]:
    tokens, pos, text = [], 0, text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise DsflowError(f"cannot read the type {text!r} (near {text[pos : pos + 10]!r})")
        tokens.append(match.group(match.lastindex or 0))
        pos = match.end()
    return tokens


def _name(token: str) -> str:
    return token[1:-1].replace("``", "`") if token.startswith("`") else token


def _quote(name: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return name
    return "`" + name.replace("`", "``") + "`"


def _expect(tokens: list[str], i: int, symbol: str, text: str) -> int:
    if i >= len(tokens) or tokens[i] != symbol:
        found = tokens[i] if i < len(tokens) else "the end"
        raise DsflowError(f"cannot read the type {text!r}: expected {symbol!r}, found {found!r}")
    return i + 1


def _parse_type(tokens: list[str], i: int, text: str) -> tuple[Any, int]:
    """One type from ``tokens[i:]``: a canonical name or ("array"|"map"|"struct", parts)."""
    if i >= len(tokens):
        raise DsflowError(f"cannot read the type {text!r}: a type is missing")
    word = tokens[i].lower()
    i += 1
    if word in _DECIMAL:
        digits = ["10", "0"]
        if i < len(tokens) and tokens[i] == "(":
            close = tokens.index(")", i) if ")" in tokens[i:] else len(tokens)
            digits = [t for t in tokens[i + 1 : close] if t != ","] + ["0"]
            i = _expect(tokens, close, ")", text)
        if (
            len(digits) > 3
            or not all(d.isdigit() for d in digits)
            or not (0 < int(digits[0]) <= 38 and 0 <= int(digits[1]) <= int(digits[0]))
        ):
            raise DsflowError(
                f"{text!r}: a decimal is decimal(precision, scale), precision 1-38, scale 0 to "
                "precision"
            )
        return f"decimal({int(digits[0])},{int(digits[1])})", i
    if word in _SIMPLE:
        if word in ("varchar", "char") and i < len(tokens) and tokens[i] == "(":
            i = _expect(tokens, i + 2, ")", text)  # a length: Parquet stores plain strings
        return _SIMPLE[word], i
    if word == "array":
        inner, i = _parse_type(tokens, _expect(tokens, i, "<", text), text)
        return ("array", inner), _expect(tokens, i, ">", text)
    if word == "map":
        key, i = _parse_type(tokens, _expect(tokens, i, "<", text), text)
        value, i = _parse_type(tokens, _expect(tokens, i, ",", text), text)
        return ("map", (key, value)), _expect(tokens, i, ">", text)
    if word == "struct":
        i = _expect(tokens, i, "<", text)
        fields: list[tuple[str, Any]] = []
        while i < len(tokens) and tokens[i] != ">":
            if fields:
                i = _expect(tokens, i, ",", text)
            name = _name(tokens[i])
            i += 1
            if i < len(tokens) and tokens[i] == ":":
                i += 1
            kind, i = _parse_type(tokens, i, text)
            fields.append((name, kind))
        return ("struct", fields), _expect(tokens, i, ">", text)
    known = ", ".join(sorted({*_SIMPLE.values(), "decimal(p,s)", "array<..>", "map<..>"}))
    where = "" if tokens[i - 1] == text.strip() else f" in {text!r}"
    raise DsflowError(f"unknown type {tokens[i - 1]!r}{where} (known: {known}, struct<..>)")


def _render(parsed: Any) -> str:
    if isinstance(parsed, str):
        return parsed
    kind, parts = parsed
    if kind == "array":
        return f"array<{_render(parts)}>"
    if kind == "map":
        return f"map<{_render(parts[0])},{_render(parts[1])}>"
    return "struct<" + ",".join(f"{_quote(n)}:{_render(t)}" for n, t in parts) + ">"


def _to_arrow(pa: Any, parsed: Any) -> Any:
    if isinstance(parsed, tuple):
        kind, parts = parsed
        if kind == "array":
            return pa.list_(_to_arrow(pa, parts))
        if kind == "map":
            return pa.map_(_to_arrow(pa, parts[0]), _to_arrow(pa, parts[1]))
        return pa.struct([pa.field(n, _to_arrow(pa, t)) for n, t in parts])
    if parsed.startswith("decimal("):
        precision, scale = (int(x) for x in parsed[8:-1].split(","))
        return pa.decimal128(precision, scale)
    return {
        "boolean": pa.bool_(),
        "tinyint": pa.int8(),
        "smallint": pa.int16(),
        "int": pa.int32(),
        "bigint": pa.int64(),
        "float": pa.float32(),
        "double": pa.float64(),
        "string": pa.string(),
        "binary": pa.binary(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "timestamp_ntz": pa.timestamp("us"),
        "void": pa.null(),
    }[parsed]


def normalize_type(type_name: str) -> str:
    """The canonical Spark SQL name of a declared type: ``DOUBLE`` -> ``double``, ``integer``
    -> ``int``, ``Decimal(10, 2)`` -> ``decimal(10,2)``, ``int64`` -> ``bigint``."""
    tokens = _tokens(str(type_name))
    parsed, end = _parse_type(tokens, 0, str(type_name))
    if end != len(tokens):
        raise DsflowError(f"cannot read the type {type_name!r}: unexpected {tokens[end]!r}")
    return _render(parsed)


def declared_columns(schema: Any, root: Path | None = None) -> dict[str, str]:
    """``{column: canonical Spark SQL type}`` of an output's declared ``schema:`` (a mapping,
    a DDL string or a YAML file path relative to ``root``, the project root by default),
    parsed by :func:`dsflow.schemas.parse_columns`, the one reader of declared schemas."""
    from .schemas import parse_columns

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
            f"`{name.replace('`', '``')}` {kind}"
            for name, kind in self.columns.items()
            if kind != "void"
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


def _found(arrow_field_type: Any, expected: str | None) -> str:
    found = spark_type(arrow_field_type)
    if found == "timestamp" and expected == "timestamp_ntz" and arrow_field_type.tz is None:
        return "timestamp_ntz"  # a naive timestamp is what the contract declares
    return found


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


# ------------------------------------------------------------------ enforcement


@dataclass
class Enforced:
    """What :func:`enforce` decided for one staged partition."""

    contract: Contract | None  # the table's contract once this partition is published
    changed: bool  # the contract must be (re)written after the publish
    notes: list[str] = field(default_factory=list)  # what was coerced or added, for the report


def enforce(
    staged: Path,
    table_folder: Path,
    ref: Any,
    job: str,
    part: Any,
    sources: str,
    root: Path | None = None,
) -> Enforced:
    """Check the Parquet files of ``staged`` (a staged partition of output ``ref``, a
    :class:`dsflow.specs.DatasetRef`) against the table's contract, by column name, and
    coerce them in place to it; raise :class:`ContractViolation` when they do not fit.

    No contract yet: the declared ``schema:`` (the data must fit it) or, without one, the
    partition's own schema becomes it. Coerced: a safe widening (:func:`widens`) and a column
    whose values are all null. A new column is refused unless the output says
    ``schema_evolution: true`` (the contract gains it); so is a missing one (filled with
    nulls under ``schema_evolution``). A dimension snapshot with no rows is refused unless the
    output says ``allow_empty: true``. ``part`` is the run's
    :class:`~dsflow.partitions.Partition`, ``sources`` what the run read (for the messages);
    nothing is written but the coerced files.
    """
    import pyarrow.parquet as pq

    table = f"table {ref.path}"
    spec_file = f"jobs/{job}/job_specs.yaml"

    def refuse(problem: str, hint: str = "") -> ContractViolation:
        return ContractViolation(f"{table}: {problem} (source {sources}); nothing published{hint}")

    files = parquet_files(staged)
    schemas = [pq.read_schema(f) for f in files]
    rows = sum(pq.read_metadata(f).num_rows for f in files)
    if ref.kind == "dimension" and rows == 0 and not ref.allow_empty:
        raise refuse(
            "this snapshot has 0 rows, and a dimension's latest snapshot stands for every "
            "later day",
            f"; to publish empty snapshots add `allow_empty: true` to this output in {spec_file}",
        )
    skip = PARTITION_COLUMNS if part.parts else ()
    current = read_contract(table_folder)
    notes: list[str] = []
    if ref.schema:
        declared = {c: t for c, t in declared_columns(ref.schema, root).items() if c not in skip}
    else:
        declared = None
    if current is None:
        if declared:
            contract = Contract(dict(declared), ref.evolve, f"declared by job {job}")
        elif schemas:
            columns = {f.name: spark_type(f.type) for f in _unified(schemas) if f.name not in skip}
            contract = Contract(columns, ref.evolve, f"first publish: job {job}, {part.label}")
        else:
            return Enforced(None, False)  # no declaration, no data: nothing to fix it from
        notes.append(f"schema fixed ({contract.fixed_by})")
    else:
        contract = Contract(dict(current.columns), ref.evolve, current.fixed_by)
        changes = {c: t for c, t in (declared or {}).items() if current.columns.get(c) != t}
        if changes:  # a declaration changed on purpose: it wins, evolved columns stay
            contract.columns.update(changes)
            contract.fixed_by = f"declared by job {job}"
            for name, kind in changes.items():
                notes.append(f"column {name} declared {kind} (was {current.columns.get(name)})")

    # pass 1: columns this partition adds, and types for columns that had none (void)
    for schema in schemas:
        for fld in schema:
            if fld.name in skip:
                continue
            expected = contract.columns.get(fld.name)
            found = _found(fld.type, expected)
            if expected is None:
                if not ref.evolve:
                    raise refuse(
                        f"column {fld.name} ({found}) is new in this partition, the table's "
                        "schema has no such column",
                        "; to accept new columns add `schema_evolution: true` to this output "
                        f"in {spec_file}",
                    )
                contract.columns[fld.name] = found
                notes.append(f"column {fld.name} ({found}) added")
            elif expected == "void" and found != "void":
                contract.columns[fld.name] = found
                notes.append(f"column {fld.name} typed {found} (it was all null so far)")

    # pass 2: each file against the final contract; casts where safe, else refused
    target = contract.arrow_schema()
    for path, schema in zip(files, schemas, strict=True):
        names = set(schema.names)
        casts: list[str] = []
        for name, expected in contract.columns.items():
            if name not in names:
                if not ref.evolve:
                    raise refuse(
                        f"column {name} ({expected}) is missing in this partition",
                        "; to fill missing columns with nulls add `schema_evolution: true` to "
                        f"this output in {spec_file}",
                    )
                casts.append(name)
                notes.append(f"column {name} ({expected}) missing: filled with nulls")
                continue
            found = _found(schema.field(name).type, expected)
            if found == expected:
                continue
            if widens(found, expected) or _all_null(path, name):
                casts.append(name)
                notes.append(f"column {name}: {found} coerced to {expected}")
                continue
            raise refuse(
                f"column {name} is {found} in this partition, the table's schema says {expected}"
            )
        if casts:
            _rewrite(path, target, casts)
    changed = current is None or contract.to_json() != current.to_json()
    return Enforced(contract, changed, list(dict.fromkeys(notes)))


def _unified(schemas: list[Any]) -> Any:
    import pyarrow as pa

    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # the files disagree: the checks say where
        return schemas[0]


def _all_null(path: Path, column: str) -> bool:
    import pyarrow.parquet as pq

    data = pq.read_table(path, columns=[column]).column(column)
    return data.null_count == len(data)


def _rewrite(path: Path, target: Any, columns: list[str]) -> None:
    """Rewrite one staged Parquet file with ``columns`` cast to (or added as nulls of) their
    contract types; the others keep their bytes' types."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = pq.read_table(path)
    for name in columns:
        kind = target.field(name).type
        if name in data.column_names:
            column = data.column(name)
            if column.null_count == len(column):  # no values: any type becomes any other
                column = pa.nulls(len(column), kind)
            index = data.column_names.index(name)
            data = data.set_column(index, pa.field(name, kind), column.cast(kind))
        else:
            data = data.append_column(pa.field(name, kind), pa.nulls(data.num_rows, kind))
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(data, tmp)
    os.replace(tmp, path)
    # Spark's local file system checks a file against its .crc sibling: now stale
    path.with_name(f".{path.name}.crc").unlink(missing_ok=True)


def unreadable_partitions(
    table_folder: Path, contract: Contract, partitions: list[Path], skip: Path | None = None
) -> list[str]:
    """One line per published partition whose Parquet columns the contract cannot read
    (neither its type nor a safe widening of it), from the footers; ``skip`` is the partition
    being replaced."""
    import pyarrow.parquet as pq

    lines = []
    for part in partitions:
        if skip is not None and part == skip:
            continue
        key = str(part.relative_to(table_folder)) if part != table_folder else "(unpartitioned)"
        for path in parquet_files(part):
            bad = []
            for fld in pq.read_schema(path):
                expected = contract.columns.get(fld.name)
                found = _found(fld.type, expected)
                if expected not in (None, "void", found) and not widens(found, expected):
                    bad.append(f"{fld.name} is {found}, the schema says {expected}")
            if bad:
                lines.append(f"{key}: {'; '.join(bad)}")
                break
    return lines
