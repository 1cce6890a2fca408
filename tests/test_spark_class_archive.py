"""`just setup` archives Spark's classes, and the project's Spark server maps that archive.

The rest of the suite runs with the archive off (conftest.ARCHIVE_ENV). Here `just setup`
builds it (about 50 s of CPU on a machine that has none in its per-user cache) and a second
`just setup` keeps it; the server `just spark` starts runs from the cached Spark with the
archive mapped, which a JVM in ``-Xshare:on`` mode proves it can use for that exact class path
(it refuses to start on an archive that does not match).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import ARCHIVE_ENV, just, own_spark_env

CACHED_HOME = """
import json
from dsflow import spark_class_cache as c
home = c.cached_home()
print(json.dumps(home and {"path": str(home.path), "archive": str(home.archive),
                           "classpath": c.launch_classpath("java", home.path)}))
"""


def archive_on() -> dict[str, str]:
    """The environment of a user who has not turned the archive off (the project's own Spark)."""
    return {k: v for k, v in own_spark_env().items() if k != ARCHIVE_ENV}


@pytest.fixture(scope="module")
def cached(env_project: Path) -> dict[str, str]:
    """`just setup` with the archive on; the cached Spark it built: path, archive, class path."""
    out = just(env_project, "setup", env=archive_on()).stdout
    assert "spark:   class archive" in out, out  # built, or kept from an earlier run
    home = json.loads(
        subprocess.run(
            [env_project / ".venv/bin/python", "-c", CACHED_HOME],
            cwd=env_project,
            env=archive_on(),
            check=True,
            capture_output=True,
            text=True,
        ).stdout  # fmt: skip
    )
    assert home, "`just setup` built no Spark class archive"
    return home


def test_setup_says_when_the_archive_is_off(env_project: Path) -> None:
    out = just(env_project, "setup").stdout  # the suite's environment: off
    assert f"spark:   no class archive ({ARCHIVE_ENV} is off)" in out


def test_setup_keeps_the_archive_it_built(env_project: Path, cached: dict[str, str]) -> None:
    before = Path(cached["archive"]).stat().st_mtime_ns
    out = just(env_project, "setup", env=archive_on()).stdout
    assert "spark:   class archive kept in" in out
    assert Path(cached["archive"]).stat().st_mtime_ns == before


def test_the_archive_serves_the_servers_class_path(cached: dict[str, str]) -> None:
    ok = subprocess.run(
        ["java", "-Xshare:on", f"-XX:SharedArchiveFile={cached['archive']}",
         "-cp", cached["classpath"], "-version"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    other = subprocess.run(  # the check can fail: another class path is refused
        ["java", "-Xshare:on", f"-XX:SharedArchiveFile={cached['archive']}",
         "-cp", cached["classpath"].replace(cached["path"], "/nowhere"), "-version"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert other.returncode != 0 and "shared class paths mismatch" in other.stderr


def test_the_projects_server_runs_the_cached_spark_with_the_archive_mapped(
    env_project: Path, cached: dict[str, str]
) -> None:
    just(env_project, "spark", env=archive_on())
    try:
        record = json.loads((env_project / ".dsflow/services/spark.json").read_text())
        pid = int(record["pid"])
        command = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        assert f"-XX:SharedArchiveFile={cached['archive']}" in command
        assert any(arg.startswith(f"{cached['path']}/conf:") for arg in command)  # its -cp
        maps = Path(f"/proc/{pid}/maps").read_text()
        assert cached["archive"] in maps
        query = "from dsflow.spark import spark_session; print(spark_session().sql('select 6 * 7').first()[0])"  # noqa: E501
        out = subprocess.run(
            [env_project / ".venv/bin/python", "-c", query],
            cwd=env_project, env=archive_on(), check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        assert out.strip().splitlines()[-1] == "42"  # through this server
    finally:
        just(env_project, "stop", "spark", env=archive_on())
