"""``just setup`` after ``uv sync``: Java check, Jupyter kernel, secrets, bytecode."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .errors import DsflowError

MIN_JAVA = 17
_JAVA_HINT = (
    "install a Java 17+ runtime (Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless; "
    "macOS: brew install openjdk@17) or point JAVA_HOME at one"
)


def java_executable() -> str | None:
    """The java binary Spark will use: ``$JAVA_HOME/bin/java``, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def java_major_version(java: str) -> int | None:
    """Major version printed by ``java -version`` (8 for 1.8), or None if unreadable."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def check_java() -> str:
    """Return a one-line description of the Java found, or raise with how to install it."""
    java = java_executable()
    if java is None:
        raise DsflowError(f"Java not found; Spark needs Java {MIN_JAVA}+: {_JAVA_HINT}")
    major = java_major_version(java)
    if major is None or major < MIN_JAVA:
        raise DsflowError(
            f"{java} is Java {major or 'of unknown version'}; Spark needs {MIN_JAVA}+: {_JAVA_HINT}"
        )
    return f"Java {major} ({java})"


def install_kernel(project_slug: str) -> str:
    """Install the project's Jupyter kernel inside its own environment; return its name."""
    from ipykernel.kernelspec import install

    name = f"dsflow-{project_slug}"
    install(kernel_name=name, display_name=f"Python ({project_slug})", prefix=sys.prefix)
    return name


# what a notebook job's run and its kernel import, and `just new-job` and `just update`
# (copier): `just setup` writes their bytecode once. A kernel imports debugpy when it starts
# (ipykernel's debugger), ~110 modules that were otherwise compiled again at every start.
RUN_MODULES = (
    "dsflow.cli", "dsflow.runner", "dsflow.notebook_runs", "dsflow.reports", "dsflow.report_html",
    "dsflow.backfill", "dsflow.new_job", "dsflow.update", "dsflow.templates",
    "dsflow.kernels", "dsflow.spare_kernel", "dsflow.spark", "dsflow.readers",
    "papermill", "papermill.engines", "papermill.clientwrap", "nbclient", "nbformat",
    "jupyter_client", "jupytext", "nbconvert", "nbconvert.exporters.html",
    "ipykernel.kernelapp", "ipykernel.ipkernel", "debugpy", "debugpy.server.api", "IPython",
    "pyspark.sql.connect.session", "pyspark.sql.connect.functions", "pandas", "pyarrow.parquet",
    "copier", "copier._main", "questionary", "jinja2_ansible_filters", "grpc",
    "pygments.lexers.python", "pygments.styles.default", "pyarrow.pandas_compat",
    "IPython.core.debugger", "IPython.core.completerlib", "IPython.extensions.storemagic",
    "IPython.core.logger", "IPython.core.oinspect", "IPython.utils.wildcard", "grpc._channel",
    "grpc._auth", "grpc._plugin_wrapping",
)  # fmt: skip
_IMPORT_EACH = (
    "import compileall, importlib, sys\n"
    "try:\n"  # every module of the runtime: the CLI imports each command's lazily
    "    import dsflow\n"
    "    compileall.compile_dir(dsflow.__path__[0], quiet=1)\n"
    "except Exception:\n"
    "    pass\n"
    "for name in sys.argv[1:]:\n"
    "    try:\n"
    "        importlib.import_module(name)\n"
    "    except Exception:\n"  # an older runtime lacks a module: the others still count
    "        pass\n"
)


def compile_run_modules(python: str = sys.executable) -> float | None:
    """Write the bytecode of what a run imports (:data:`RUN_MODULES`) by importing it once in
    ``python``, and of every module of the runtime (the CLI imports a command's modules only
    when it runs); returns the seconds it took, or None when that Python could not run.

    A cold run then imports in about a third of the time, also where PYTHONDONTWRITEBYTECODE
    is set (a run never writes bytecode then). ``uv sync --compile-bytecode`` compiled every
    module of the environment instead: 8,000+ files, 20-30 s of every setup and update on 2
    cores, for the ~1,500 a run imports (about 6 s).
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    started = time.monotonic()
    try:
        done = subprocess.run(
            [python, "-c", _IMPORT_EACH, *RUN_MODULES],
            cwd=Path(python).parent,  # not a project root, whose files could shadow a module
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )
    except OSError:  # no such Python (a .venv not made yet)
        return None
    return time.monotonic() - started if done.returncode == 0 else None
