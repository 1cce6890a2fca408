"""``just adhoc NAME [path=...]``: an adhoc notebook that opens a data file, ready to explore.

Adhoc notebooks live in ``adhoc/`` as jupytext percent ``.py`` files (they diff well, and
Jupyter with jupytext opens them as notebooks). They are never run by ``just run`` and never
updated by ``copier update``. A table (``datastore/tables/<table>``) is opened as readers see
it (:func:`dsflow.notebook.read_table`: complete partitions, the table's schema, a dimension's
latest snapshot); a table partition with its table's schema; raw files with pyarrow's readers.
"""

from __future__ import annotations

from pathlib import Path

from .datafiles import data_files, detect_delimiter, file_format
from .errors import DsflowError
from .names import check_name
from .project import Project
from .settings import load_settings

_HEADER = """# %% [markdown]
# # {name}
#
# An adhoc notebook (`adhoc/{name}.py`, jupytext percent format): Jupyter opens it as a notebook.
"""

_PANDAS = """
# %% [markdown]
# `{rel}` read with pyarrow into pandas (no JVM).

# %%
{reader}
frame = table.to_pandas()
print(f"{{len(frame)}} rows")
frame.head(20)
"""

_READERS = {
    "parquet": (
        "import pyarrow.dataset as ds\n\n"
        'table = ds.dataset(path, format="parquet", partitioning="hive").to_table()'
    ),
    "json": "import pyarrow.json as pj\n\ntable = pj.read_json(path)",
    "csv": (
        "import pyarrow.csv as pc\n\n"
        "table = pc.read_csv(path, parse_options=pc.ParseOptions(delimiter={delimiter!r}))"
    ),
}
_TABLE = """
# %% [markdown]
# Table `{table}` ({what}), read with `dsflow.notebook.read_table` (pyarrow into pandas, no JVM):
# complete partitions only, every partition with the table's schema, `ds` as a column.
# {snapshots}

# %%
from dsflow.notebook import read_table

frame = read_table({name})
print(f"{{len(frame)}} rows")
frame.head(20)
"""
_FACT = "Unfinished partitions (no `_SUCCESS`) are left out."
_DIMENSION = (
    'A dimension: this reads its latest snapshot only; `read_table(name, as_of="YYYY-MM-DD")`'
    "\n# reads the snapshot of another day, `history=True` every snapshot."
)
_PARTITION = """
# %% [markdown]
# Partition `{rel}` of table `{table}`, read with its table's schema (pyarrow into pandas).

# %%
from dsflow.notebook import read_partition

{reader}
frame = read_partition(path)
print(f"{{len(frame)}} rows")
frame.head(20)
"""
_PATH = """from dsflow.project import find_project

path = {path}
"""

_SPARK = """
# %% [markdown]
# Spark SQL over every table of the project (complete partitions only; dimensions as of the
# latest snapshot — pass `as_of="YYYY-MM-DD"` for another day). With `just spark` running this
# connects to the warm server instead of starting a JVM.

# %%
from dsflow.spark import spark_session
from dsflow.tables import load_tables

spark = spark_session()
load_tables(spark)

# %%
spark.sql("SHOW VIEWS").show(truncate=False)
"""


def adhoc_notebook_text(name: str, project: Project, path: Path | None) -> str:
    """The text of a new adhoc notebook; with ``path``, cells that read that data file."""
    text = _HEADER.format(name=name)
    table = _table_folder(project, path) if path is not None else None
    if table is not None and path is not None:
        text += _table_cells(project, table, path)
    elif path is not None:
        fmt = file_format(path)
        target = path if fmt == "parquet" else data_files(path)[0]
        delimiter = detect_delimiter(target) if fmt == "csv" else ","
        reader = _PATH.format(path=_path_expr(target, project.root))
        reader += _READERS[fmt].format(delimiter=delimiter)
        text += _PANDAS.format(rel=_relative(target, project.root), reader=reader)
    return text + _SPARK


def _table_folder(project: Project, path: Path) -> Path | None:
    """The table folder ``path`` is (or is inside), when it is under ``datastore/tables``."""
    tables = (load_settings(project).datastore / "tables").resolve()
    resolved = path.resolve()
    if not resolved.is_dir() or tables not in resolved.parents:
        return None
    return tables / resolved.relative_to(tables).parts[0]


def _table_cells(project: Project, table: Path, path: Path) -> str:
    from .tables import find_tables

    shown = " ".join(table.name.split())  # a comment line stays one line
    if path.resolve() != table:
        reader = _PATH.format(path=_path_expr(path, project.root))
        rel = _relative(path, project.root)
        return _PARTITION.format(rel=rel, table=shown, reader=reader)
    kinds = {t.name: t.kind for t in find_tables(table.parent)}
    kind = kinds.get(table.name, "dimension" if table.name.startswith("dim_") else "fact")
    return _TABLE.format(
        table=shown,
        what="a dimension" if kind == "dimension" else "a fact table",
        snapshots=_DIMENSION if kind == "dimension" else _FACT,
        name=repr(table.name),
    )


def _path_expr(path: Path, root: Path) -> str:
    """Python source for ``path``: relative to the project root when inside it (portable)."""
    try:
        return f"find_project().root / {str(path.resolve().relative_to(root))!r}"
    except ValueError:
        return repr(str(path))


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def new_adhoc(project: Project, name: str, path: str | None) -> Path:
    """Create ``adhoc/<name>.py``; refuses to overwrite an existing notebook."""
    check_name(name, "notebook")
    target = project.root / "adhoc" / f"{name}.py"
    if target.exists() or target.with_suffix(".ipynb").exists():
        raise DsflowError(f"{target.relative_to(project.root)} already exists: pick another name")
    data = None
    if path:
        data = Path(path)
        data = data if data.is_absolute() else Path.cwd() / data
        if not data.exists():
            raise DsflowError(f"{path} does not exist")
    text = adhoc_notebook_text(name, project, data)
    target.parent.mkdir(exist_ok=True)
    target.write_text(text)
    return target
