"""Per-partition checks declared in job_specs.yaml, run on the staged data before publishing."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from .errors import DsflowError

CHECK_KINDS = ("min_rows", "not_null", "unique", "schema", "sql")


class CheckFailed(DsflowError):
    """A check refused the partition: it is not published."""

    exit_code = 1


def _got(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else f"{shown[:60]}..."


def _is_columns(arg: Any) -> bool:
    if isinstance(arg, str):
        return bool(arg.strip())
    return (
        isinstance(arg, list) and bool(arg) and all(isinstance(c, str) and c.strip() for c in arg)
    )


def check_problem(check: Any) -> str | None:
    """What is wrong with one ``checks:`` entry of a job spec, or None when it is valid.

    Called when the spec is loaded, so a mistyped argument is refused before the job runs
    rather than failing in :func:`run_checks` after it.
    """
    if not isinstance(check, dict) or len(check) != 1:
        return f"each check is a one-key mapping, got {_got(check)}"
    ((kind, arg),) = check.items()
    if kind not in CHECK_KINDS:
        return f"unknown check {kind!r} (known: {', '.join(CHECK_KINDS)})"
    if kind == "min_rows":
        if isinstance(arg, bool) or not isinstance(arg, int) or arg < 0:
            return f"min_rows needs a whole number of rows (0 or more), got {_got(arg)}"
    elif kind in ("not_null", "unique"):
        if not _is_columns(arg):
            return f"{kind} needs a column name or a list of column names, got {_got(arg)}"
    elif kind == "schema":
        if not (
            isinstance(arg, dict)
            and arg
            and all(isinstance(k, (str, int)) and not isinstance(k, bool) for k in arg)
            and all(isinstance(v, str) and v.strip() for v in arg.values())
        ):
            return (
                "schema needs a mapping of column: type name (string, int64, double, ...), "
                f"got {_got(arg)}"
            )
        for column, type_name in arg.items():
            if not _is_arrow_type(type_name.strip()):
                return (
                    f"schema: column {column}: unknown type {type_name!r} (pyarrow's names, as "
                    "a partition's files show them: int64, double, string, bool, date32[day], "
                    "timestamp[us], decimal128(10, 2), ...)"
                )
    elif kind == "sql" and not (isinstance(arg, str) and arg.strip()):
        return f"sql needs a query selecting the offending rows of `this`, got {_got(arg)}"
    return None


_COMPOSITE_TYPES = ("decimal", "list<", "large_list<", "struct<", "map<", "timestamp[", "time")


def _is_arrow_type(name: str) -> bool:
    """True for a name the schema check can meet: what ``str(pyarrow type)`` prints."""
    import pyarrow as pa

    if name.startswith(_COMPOSITE_TYPES):
        return True
    try:
        return str(pa.type_for_alias(name)) == name
    except (ValueError, KeyError):
        return False


def parquet_files(folder: Path) -> list[Path]:
    """Data files of a partition folder (Spark and pyarrow naming), skipping markers."""
    return sorted(
        p
        for p in folder.rglob("*.parquet")
        if p.is_file()
        and not any(part.startswith(("_", ".")) for part in p.relative_to(folder).parts)
    )


def count_rows(folder: Path) -> int:
    """Rows in the Parquet files of ``folder``, read from their footers only."""
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(p).num_rows for p in parquet_files(folder))


def _table(folder: Path) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = parquet_files(folder)
    if not files:
        return None
    # file by file, not pq.ParquetDataset: the dataset layer imports pandas (1 s of a run)
    return pa.concat_tables([pq.ParquetFile(f).read() for f in files], promote_options="default")


def _columns(checked: Any, table: Any, name: str) -> list[str]:
    cols = [checked] if isinstance(checked, str) else list(checked or [])
    missing = [c for c in cols if c not in table.column_names]
    if missing:
        raise CheckFailed(f"check {name}: no column {', '.join(missing)} in the output")
    return cols


def run_checks(folder: Path, checks: list[dict[str, Any]]) -> list[str]:
    """Run ``checks`` on the staged partition; return one line per check that passed."""

    passed: list[str] = []
    if not checks:
        return passed
    # row counts come from the footers; the data is read only for checks on values
    table = _table(folder) if any(set(c) - {"min_rows"} for c in checks) else None
    rows = count_rows(folder) if table is None else table.num_rows
    for check in checks:
        ((kind, arg),) = check.items()
        if kind not in CHECK_KINDS:
            raise CheckFailed(f"unknown check {kind!r} (known: {', '.join(CHECK_KINDS)})")
        if kind == "min_rows":
            if rows < int(arg):
                raise CheckFailed(f"check min_rows={arg} failed: {rows} rows")
            passed.append(f"min_rows={arg}: {rows} rows")
            continue
        if table is None:
            raise CheckFailed(f"check {kind} failed: the output has no Parquet data")
        if kind == "not_null":
            for col in _columns(arg, table, kind):
                nulls = table.column(col).null_count
                if nulls:
                    raise CheckFailed(f"check not_null({col}) failed: {nulls} null rows")
                passed.append(f"not_null({col})")
        elif kind == "unique":
            cols = _columns(arg, table, kind)
            distinct = table.group_by(cols).aggregate([]).num_rows
            if distinct != rows:
                raise CheckFailed(
                    f"check unique({', '.join(cols)}) failed: {rows - distinct} duplicate rows"
                )
            passed.append(f"unique({', '.join(cols)})")
        elif kind == "schema":
            expected = {str(k): str(v) for k, v in dict(arg).items()}
            actual = {f.name: str(f.type) for f in table.schema}
            wrong = [
                f"{c}: expected {t}, got {actual.get(c, 'missing')}"
                for c, t in expected.items()
                if actual.get(c) != t
            ]
            if wrong:
                raise CheckFailed(f"check schema failed: {'; '.join(wrong)}")
            passed.append(f"schema ({len(expected)} columns)")
        elif kind == "sql":
            passed.append(sql_check(folder, str(arg)))
    return passed


_SQL_LOCK = threading.Lock()  # one Spark session and one view name for every thread


def sql_check(folder: Path, query: str) -> str:
    """A SQL assertion: ``query`` selects the offending rows of the view ``this`` (the staged
    partition); the check passes when it returns none. Runs on the project's Spark."""
    from .spark import spark_session

    spark = spark_session("dsflow-checks")
    with _SQL_LOCK:
        spark.read.parquet(str(folder)).createOrReplaceTempView("this")
        try:
            offending = spark.sql(query).count()
        except Exception as exc:  # AnalysisException, ParseException: the query itself is wrong
            message = " ".join(str(exc).split("JVM stacktrace:")[0].split())[:200]
            raise CheckFailed(f"check sql {query!r} cannot run: {message}") from None
    if offending:
        raise CheckFailed(f"check sql failed: {offending} offending rows for {query!r}")
    return f"sql: {query}"
