"""Contract enforcement: a staged partition checked against its table's contract before the
publish.

:func:`enforce` reads the staged Parquet footers (no JVM), fixes or extends the contract
(:mod:`dsflow.contracts`) as the output's ``schema:``, ``schema_evolution`` and
``allow_empty`` allow, coerces safe widenings in place, and refuses the rest in one line;
:func:`unreadable_partitions` lists the published partitions a changed contract cannot read.
The run protocol (:mod:`dsflow.runner`) calls both under the table's contract lock.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checks import parquet_files
from .contracts import Contract, declared_columns, read_contract, widens
from .datafiles import write_parquet
from .errors import DsflowError
from .sqltypes import spark_type

PARTITION_COLUMNS = ("ds", "hr")


class ContractViolation(DsflowError):
    """A staged partition does not fit its table's contract: it is not published."""

    exit_code = 1


def _found(arrow_field_type: Any, expected: str | None) -> str:
    found = spark_type(arrow_field_type)
    if found == "timestamp" and expected == "timestamp_ntz" and arrow_field_type.tz is None:
        return "timestamp_ntz"  # a naive timestamp is what the contract declares
    return found


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
    partition's own schema becomes it. Coerced: a safe widening
    (:func:`~dsflow.contracts.widens`) and a column whose values are all null. A new column is
    refused unless the output says ``schema_evolution: true`` (the contract gains it); so is a
    missing one (filled with nulls under ``schema_evolution``). A dimension snapshot with no
    rows is refused unless the output says ``allow_empty: true``. ``part`` is the run's
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
            hint = ""
            if widens(expected, found) and not declared:
                # an inferred contract can be too narrow (integers on the first day only)
                hint = (
                    f"; if {found} is right, declare it: `schema: {{{name}: {found}}}` on this "
                    f"output in {spec_file} (partitions published as {expected} read as {found})"
                )
            raise refuse(
                f"column {name} is {found} in this partition, the table's schema says {expected}",
                hint,
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
    write_parquet(data, tmp)
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
