"""dsflow.bootstrap.compile_run_modules: `just setup` writes the bytecode of what a run imports
and of the runtime's own modules (and no more), also where PYTHONDONTWRITEBYTECODE is set; a
module an older runtime lacks does not stop the others."""

from __future__ import annotations

import sys

from dsflow import bootstrap


def test_the_modules_a_run_imports_get_their_bytecode(tmp_path, monkeypatch):
    for name in ("first", "unused"):
        (tmp_path / f"{name}.py").write_text("VALUE = 1\n")
    (tmp_path / "second").mkdir()
    (tmp_path / "second" / "__init__.py").write_text("from . import part\n")
    (tmp_path / "second" / "part.py").write_text("X = 2\n")
    monkeypatch.setattr(bootstrap, "RUN_MODULES", ("first", "not_installed", "second"))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")  # as on this machine: runs write none
    assert bootstrap.compile_run_modules(sys.executable) is not None
    tag = sys.implementation.cache_tag
    assert (tmp_path / "__pycache__" / f"first.{tag}.pyc").is_file()
    assert (tmp_path / "second" / "__pycache__" / f"part.{tag}.pyc").is_file()  # what it imports
    assert not (tmp_path / "__pycache__" / f"unused.{tag}.pyc").exists()  # nothing else


def test_every_module_of_the_runtime_gets_its_bytecode(tmp_path, monkeypatch):
    """The CLI imports each command's modules only when that command runs: all are compiled
    (a stand-in ``dsflow`` package first on the path, with a module nothing imports)."""
    package = tmp_path / "dsflow"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "lazy_command.py").write_text("X = 1\n")
    monkeypatch.setattr(bootstrap, "RUN_MODULES", ())
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    assert bootstrap.compile_run_modules(sys.executable) is not None
    tag = sys.implementation.cache_tag
    assert (package / "__pycache__" / f"lazy_command.{tag}.pyc").is_file()


def test_every_module_named_exists():
    """A misspelt or removed module would be skipped in silence at setup: not here."""
    import importlib.util

    missing = [m for m in bootstrap.RUN_MODULES if importlib.util.find_spec(m) is None]
    assert missing == []


def test_a_python_that_cannot_run_is_none(tmp_path):
    assert bootstrap.compile_run_modules(str(tmp_path / "no-python")) is None
