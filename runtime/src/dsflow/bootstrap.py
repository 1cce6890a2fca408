"""``just setup`` after ``uv sync``: Java check, Jupyter kernel, secrets."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
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
