"""``dsflow.__version__`` is the version of the dsflow-runtime distribution in
runtime/pyproject.toml (read from the installed metadata, not written twice)."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import dsflow

PYPROJECT = Path(__file__).resolve().parents[2] / "runtime" / "pyproject.toml"


def test_version_is_the_runtime_pyproject_version():
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    assert project["name"] == "dsflow-runtime"
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"]), project["version"]
    assert dsflow.__version__ == project["version"]
    assert version("dsflow-runtime") == project["version"]


def test_the_package_is_imported_from_runtime_src():
    assert Path(dsflow.__file__).resolve() == PYPROJECT.parent / "src" / "dsflow" / "__init__.py"
