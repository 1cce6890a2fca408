"""Notebook files: convert between ``.ipynb`` and jupytext ``.py``, or pair them (the seed's
transform-notebook). A job may hold either form; ``just run`` reads both.
"""

from __future__ import annotations

from pathlib import Path

from .errors import DsflowError

FORMATS = {"ipynb": ".ipynb", "py": ".py"}
PAIRED = "ipynb,py:percent"


def _source(path: str) -> Path:
    source = Path(path)
    if source.suffix not in (".ipynb", ".py"):
        raise DsflowError(f"{path}: expected a .ipynb notebook or a jupytext .py file")
    if not source.is_file():
        raise DsflowError(f"{path} does not exist")
    return source


def convert(path: str, to: str) -> Path:
    """Write ``path`` in the other form (``to`` = ipynb or py) beside it; refuses to overwrite."""
    import jupytext

    source = _source(path)
    if to not in FORMATS:
        raise DsflowError(f"to must be ipynb or py, not {to!r}")
    target = source.with_suffix(FORMATS[to])
    if target == source:
        raise DsflowError(f"{path} is already a .{to} file")
    if target.exists():
        raise DsflowError(f"{target} already exists; pair the two instead: just pair path={path}")
    notebook = jupytext.read(source)
    jupytext.write(notebook, target, fmt="py:percent" if to == "py" else "ipynb")
    return target


def pair(path: str) -> list[Path]:
    """Pair ``path`` with its other form and sync them; the newer file's cells win.

    Afterwards Jupyter (with jupytext) keeps both files in step on every save.
    """
    from jupytext.cli import jupytext as jupytext_cli

    source = _source(path)
    for args in (["--set-formats", PAIRED], ["--sync"]):
        if jupytext_cli([*args, "--quiet", str(source)]):
            raise DsflowError(f"jupytext {args[0]} failed on {path}")
    return [source.with_suffix(".ipynb"), source.with_suffix(".py")]
