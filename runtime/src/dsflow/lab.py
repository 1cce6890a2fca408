"""``just jupyter``: Jupyter Lab for the project, in the background, on 127.0.0.1.

The server's root is the project (jobs/, adhoc/, datastore/ reachable), its kernels run the
project's environment (the runtime package and Spark importable), jupytext opens ``.py``
notebooks as notebooks, and a token generated per project into ``.env`` protects it: it is
passed through the environment, not the command line other users can read.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request

from . import services
from .bootstrap import check_java
from .envfile import project_secret
from .project import PROJECT_ROOT_ENV, Project
from .settings import load_settings

NAME = "jupyter"


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def start_jupyter(project: Project, port: int | None = None) -> tuple[services.Service, str]:
    """Start Jupyter Lab on ``port`` (default ``ports.jupyter``); returns the service and the
    URL to open (with its token)."""
    check_java()  # a Spark notebook without Java fails late and obscurely: say it now
    token = project_secret(project.root, "JUPYTER_TOKEN")
    port = port or load_settings(project).port("jupyter")
    base = f"http://127.0.0.1:{port}"
    command = [
        str(project.root / ".venv" / "bin" / "jupyter"),
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={project.root}",
    ]
    if os.geteuid() == 0:  # containers and CI run as root; Jupyter refuses unless told
        command.append("--allow-root")
    service = services.start(
        project,
        NAME,
        command,
        port=port,
        url=base + "/lab",
        port_setting="choose another: just jupyter port=NNNN (or set ports.jupyter in dsflow.yml)",
        env={"JUPYTER_TOKEN": token, PROJECT_ROOT_ENV: str(project.root)},
        ready=lambda: _status(f"{base}/api/status?token={token}") == 200,
        timeout=90,
        announce="starting Jupyter Lab...",
    )
    return service, f"{base}/lab?token={token}"
