"""`just setup` archives Spark's classes, and the project's Spark server maps that archive.

The rest of the suite runs with the archive off (conftest.ARCHIVE_ENV). Here `just setup`
builds it (from a short class list: seconds, where the shipped list takes about 50 s) and a
second `just setup` keeps it; the server `just spark` starts runs from the cached Spark with the
archive mapped, which a JVM in ``-Xshare:on`` mode proves it can use for that exact class path
(it refuses to start on an archive that does not match).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ARCHIVE_ENV, just, own_spark_env
from dsflow.spark_class_cache import CLASS_LIST, LIST_ENV

CACHED_HOME = """
import json
from dsflow import spark_class_cache as c
home = c.cached_home()
print(json.dumps(home and {"path": str(home.path), "archive": str(home.archive),
                           "classpath": c.launch_classpath("java", home.path)}))
"""


# the first classes of the shipped list: an archive built in seconds, not 50 s, with all the
# same steps (its own name in the cache, beside the full one); tests/runtime covers the lists
SHORT_LIST = Path(tempfile.gettempdir()) / f"dsflow-test-classes-{os.getpid()}.txt"


def archive_on() -> dict[str, str]:
    """The environment of a user who has not turned the archive off (the project's own Spark),
    with the short class list."""
    if not SHORT_LIST.is_file():
        lines = gzip.decompress(CLASS_LIST.read_bytes()).decode().splitlines()
        SHORT_LIST.write_text("\n".join(lines[:1500]) + "\n")
    env = {k: v for k, v in own_spark_env().items() if k != ARCHIVE_ENV}
    return {**env, LIST_ENV: str(SHORT_LIST)}


@pytest.fixture(scope="module")
def cached(env_project: Path) -> Iterator[dict[str, str]]:
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
    assert ".list-" in home["archive"]  # the short list's own archive
    yield home
    SHORT_LIST.unlink(missing_ok=True)


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
