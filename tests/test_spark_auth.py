"""The project's Spark Connect server serves only clients holding the project's token.

A Connect client runs Python on the server as the server's user; before the token, another
local user (``nobody``) could run code as the project's owner through ``just spark``. Each
attempt below sends the same payload, a Python UDF that creates a file: refused clients must
leave no such file, and the project's own session (which reads the token from ``.env``) must
create it, so the payload is known to work.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from conftest import just, own_spark_env
from dsflow.envfile import SPARK_TOKEN, read_env

PAYLOAD = """
import os, sys
from pyspark.sql import SparkSession
from pyspark.sql.functions import udf

marker = sys.argv[1]
spark = SparkSession.builder.remote(sys.argv[2]).getOrCreate()
touch = udf(lambda _: open(marker, "w").write("ran") and "ran")
print(spark.range(1).select(touch("id")).collect())
"""


@pytest.fixture(scope="module")
def server(env_project: Path):
    """The project's server started by `just spark`: (project, port, token)."""
    just(env_project, "spark")
    try:
        record = (env_project / ".dsflow/services/spark.json").read_text()
        port = int(__import__("json").loads(record)["port"])
        yield env_project, port, read_env(env_project / ".env")[SPARK_TOKEN]
    finally:
        just(env_project, "stop", "spark")


def attempt(python: list[str], remote: str, marker: Path, token: str | None, **kw):
    env = {k: v for k, v in os.environ.items() if k != SPARK_TOKEN}
    env.update(kw.pop("env", {}))
    if token is not None:
        env[SPARK_TOKEN] = token
    return subprocess.run(
        [*python, "-c", textwrap.dedent(PAYLOAD), str(marker), remote],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        **kw,
    )


def test_the_token_is_in_env_and_not_on_the_command_line(server):
    project, port, token = server
    assert len(token) >= 32
    assert oct((project / ".env").stat().st_mode & 0o777) == "0o600"
    record = (project / ".dsflow/services/spark.json").read_text()
    pid = int(__import__("json").loads(record)["pid"])
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    assert token not in cmdline  # `ps` shows every user the command line
    assert token not in record


@pytest.mark.parametrize(
    ("host", "token"),
    [("localhost", None), ("127.0.0.1", None), ("localhost", "not-the-token")],
    ids=["no-token", "no-token-by-ip", "wrong-token"],
)
def test_a_client_without_the_token_runs_nothing(server, tmp_path, host, token):
    project, port, _ = server
    marker = tmp_path / "pwned"
    result = attempt([str(project / ".venv/bin/python")], f"sc://{host}:{port}", marker, token)
    assert result.returncode != 0, result.stdout
    assert "UNAUTHENTICATED" in result.stderr, result.stderr[-2000:]
    assert not marker.exists()


def test_the_projects_own_session_passes_the_token(server, tmp_path):
    project, port, _ = server
    marker = tmp_path / "ran"
    code = f"""
        from pyspark.sql.functions import udf
        from dsflow.spark import spark_session
        spark = spark_session()
        touch = udf(lambda _: open({str(marker)!r}, "w").write("ran") and "ran")
        print(spark.range(1).select(touch("id")).collect())
    """
    env = own_spark_env()  # no token, and not the test session's shared server: the project's
    result = subprocess.run(
        [str(project / ".venv/bin/python"), "-c", textwrap.dedent(code)],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert marker.read_text() == "ran"


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to user nobody needs root")
def test_another_local_user_cannot_use_the_server(server):
    """As user `nobody`, with the system Python and a world-readable (hard-linked) copy of the
    project's packages: the port answers, but without the token nothing runs."""
    project, port, token = server
    system_python = shutil.which("python3", path="/usr/bin:/bin")
    assert system_python, "the system python3 (Debian's) runs the other user's client"
    packages = next((project / ".venv/lib").glob("python3.*/site-packages"))
    assert packages.parent.name == f"python{sys.version_info.major}.{sys.version_info.minor}"
    shared = Path(tempfile.mkdtemp(prefix="dsflow-nobody-", dir="/tmp"))
    try:
        shared.chmod(0o777)
        subprocess.run(["cp", "-al", str(packages), str(shared / "site")], check=True)
        marker = shared / "pwned"
        as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        env = {"PYTHONPATH": str(shared / "site"), "HOME": str(shared)}
        probe = subprocess.run(
            [*as_nobody, system_python, "-c", "import pyspark, os; print(os.getuid())"],
            capture_output=True,
            text=True,
            env={**env, "PATH": "/usr/bin:/bin"},
            cwd=shared,
        )
        assert probe.returncode == 0 and probe.stdout.strip() != "0", probe.stderr
        for token_tried in (None, "guess", token[:-1]):
            result = attempt(
                [*as_nobody, system_python],
                f"sc://localhost:{port}",
                marker,
                token_tried,
                env=env,
                cwd=shared,
            )
            assert result.returncode != 0, result.stdout
            assert "UNAUTHENTICATED" in result.stderr, result.stderr[-2000:]
            assert not marker.exists()
    finally:
        shutil.rmtree(shared, ignore_errors=True)
