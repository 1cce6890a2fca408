"""Execute a job's code: notebooks in-process through papermill's API, scripts as processes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .child_lifetime import die_with_parent
from .errors import DsflowError

if TYPE_CHECKING:
    from .specs import JobSpec


class JobFailed(DsflowError):
    """The job's own code failed; the report shows where."""

    exit_code = 1


def read_notebook(script: Path, cache: Path | None = None) -> Any:
    """Load ``.ipynb`` as is, or a jupytext ``.py`` (percent format) into a notebook in memory.

    With ``cache`` (a folder), a ``.py`` converted once is kept there as ``.ipynb`` under the
    hash of its text and jupytext's version: jupytext's import alone costs about 1 s a run.
    """
    import nbformat

    if script.suffix == ".ipynb":
        return _with_kernelspec(nbformat.read(script, as_version=4))
    text = script.read_bytes()
    cached = None
    if cache is not None:
        from importlib.metadata import version

        digest = hashlib.sha256(text + version("jupytext").encode()).hexdigest()[:32]
        cached = cache / f"{digest}.ipynb"
        if cached.is_file():
            with contextlib.suppress(ValueError, OSError):  # a torn cache file: convert again
                return _with_kernelspec(nbformat.read(cached, as_version=4))
    import jupytext

    notebook = _with_kernelspec(jupytext.reads(text.decode(), fmt=script.suffix.lstrip(".")))
    if cached is not None:
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(f".{os.getpid()}.tmp")
            nbformat.write(notebook, partial)
            os.replace(partial, cached)
    return notebook


def _with_kernelspec(notebook: Any) -> Any:
    notebook.metadata.setdefault(
        "kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"}
    )
    return notebook


def run_notebook(
    script: Path,
    output: Path,
    parameters: dict[str, Any],
    engine: dict[str, Any],
    cache: Path | None = None,
) -> None:
    """Execute ``script`` with ``parameters`` injected; the executed notebook goes to ``output``.

    The output is written whatever the outcome, so a failing cell is visible in the report.
    ``engine`` (from :meth:`dsflow.kernels.KernelPool.engine_kwargs`) names the kernel it runs
    on, started in the job's folder; ``cache`` keeps converted ``.py`` notebooks.
    """
    import logging

    import papermill
    from papermill.exceptions import PapermillExecutionError

    # papermill warns about every parameter the notebook does not declare: all of them are
    # offered on purpose, so only errors are worth showing
    logging.getLogger("papermill").setLevel(logging.ERROR)

    try:
        papermill.execute_notebook(
            read_notebook(script, cache),
            str(output),
            parameters=parameters,
            kernel_name="python3",
            progress_bar=False,
            log_output=False,
            **engine,
        )
    except PapermillExecutionError as exc:
        # Spark appends the JVM stack trace to its messages: the report has it, the line not
        evalue = " ".join(str(exc.evalue).split("JVM stacktrace:")[0].split())[:300]
        raise JobFailed(f"cell {exc.exec_count} raised {exc.ename}: {evalue}") from None


def _tee(
    stream: IO[bytes],
    sinks: list[IO[bytes]],
    keep: list[bytes],
    failed: list[OSError],
    redact: Callable[[str], str] | None,
) -> None:
    # the pipe is drained to its end whatever happens to a sink: a child blocked on a full
    # pipe would never exit, and the run would hang holding its lock
    live = list(sinks)
    for raw in iter(stream.readline, b""):
        # secrets leave each line before it reaches the log (or the terminal): a run killed
        # half-way leaves none behind for the explorer to serve
        line = (
            redact(raw.decode(errors="surrogateescape")).encode(errors="surrogateescape")
            if redact
            else raw
        )
        for sink in list(live):
            try:
                sink.write(line)
                sink.flush()
            except OSError as exc:  # a full or read-only disk under the log
                live.remove(sink)
                failed.append(exc)
        keep.append(line)


def script_command(spec: JobSpec) -> list[str]:
    """The command line of a command-line job: its script by suffix, or ``python -m module``."""
    if spec.script is None:
        return [sys.executable, "-m", str(spec.module)]
    if spec.script.suffix == ".py":
        return [sys.executable, str(spec.script)]
    if spec.script.suffix == ".sh":
        return ["bash", str(spec.script)]
    return [str(spec.script)]


def run_script(
    cmd: list[str],
    task_specs: dict[str, Any],
    cwd: Path,
    log: Path,
    redact: Callable[[str], str] | None = None,
) -> None:
    """Run a command-line job with ``TASK_SPECS`` (JSON) in its environment; log its output,
    each line passed through ``redact`` first."""
    env = dict(os.environ, TASK_SPECS=json.dumps(task_specs, default=str))
    with log.open(
        "wb", buffering=0
    ) as log_file:  # unbuffered: a full disk fails the write, not close()
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=die_with_parent(),  # noqa: PLW1509 - prctl only, no locks taken
        )
        errors: list[bytes] = []
        failed: list[OSError] = []
        threads = [
            threading.Thread(
                target=_tee,
                args=(proc.stdout, [sys.stdout.buffer, log_file], [], failed, redact),
            ),
            threading.Thread(target=_tee, args=(proc.stderr, [log_file], errors, failed, redact)),
        ]
        for thread in threads:
            thread.start()
        code = proc.wait()
        for thread in threads:
            thread.join()
    if failed:
        exc = failed[0]
        raise DsflowError(f"cannot write {log}: {exc.strerror or exc}; the job's output is lost")
    if code != 0:
        last = next((e.decode(errors="replace").strip() for e in reversed(errors) if e.strip()), "")
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited {code}"
        raise JobFailed(f"{Path(cmd[-1]).name} {how}" + (f": {last}" if last else ""))
