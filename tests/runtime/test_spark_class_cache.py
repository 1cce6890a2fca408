"""Spark's class archive cache (dsflow.spark_class_cache) and the server command that uses it.

No JVM here: a fake pyspark distribution in tmp_path stands for the installed one, and the
archive build is replaced by a file write where a test is about linking and locking. The real
build, and a server that maps the archive, are in tests/test_spark_class_archive.py.
"""

from __future__ import annotations

import errno
import gzip
import os
import shlex
from pathlib import Path

import pyspark
import pytest
from dsflow import spark_class_cache
from dsflow.project import find_project
from dsflow.spark_server import server_launch

from .conftest import write_file, write_project


@pytest.fixture
def fake_spark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pyspark-like distribution (bin/, jars/) and an empty per-user cache."""
    home = tmp_path / "venv" / "pyspark"
    write_file(home / "bin" / "spark-submit", "#!/bin/sh\n")
    write_file(home / "jars" / "spark-core.jar", b"core" * 100)
    write_file(home / "jars" / "slf4j-api.jar", b"log")
    write_file(home / "python" / "__pycache__" / "x.pyc", b"")
    java = tmp_path / "jdk" / "bin" / "java"
    write_file(java, "#!/bin/sh\n")
    monkeypatch.setattr(spark_class_cache, "venv_spark_home", lambda: home)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("SPARK_HOME", raising=False)
    monkeypatch.delenv(spark_class_cache.SWITCH_ENV, raising=False)  # tests/conftest.py: off
    monkeypatch.setattr(spark_class_cache, "java_executable", lambda: str(java))
    return home


@pytest.fixture
def dumps(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Archive builds, each writing its archive file instead of running ``java -Xshare:dump``."""
    built: list[Path] = []

    def dump(java: str, home: Path, archive: Path) -> None:
        built.append(archive)
        archive.write_bytes(b"archive")

    monkeypatch.setattr(spark_class_cache, "_dump_archive", dump)
    return built


def test_nothing_is_cached_before_setup_builds_it(fake_spark: Path) -> None:
    assert spark_class_cache.cached_home() is None
    assert not (spark_class_cache.cache_root()).exists()


def test_build_links_the_distribution_once_and_later_calls_find_it(
    fake_spark: Path, dumps: list[Path]
) -> None:
    home = spark_class_cache.build()
    assert home is not None
    assert home.path.parent == spark_class_cache.cache_root()
    assert home.path.name.startswith(f"{pyspark.__version__}-")
    linked = home.path / "jars" / "spark-core.jar"
    assert linked.stat().st_ino == (fake_spark / "jars" / "spark-core.jar").stat().st_ino
    assert not (home.path / "python" / "__pycache__").exists()
    assert home.archive.read_bytes() == b"archive"
    assert spark_class_cache.build() == home
    assert dumps == [home.archive]  # built once
    assert spark_class_cache.cached_home() == home
    assert home.java_option() == f"-XX:SharedArchiveFile={home.archive}"


def test_a_changed_jar_gets_an_entry_of_its_own(fake_spark: Path, dumps: list[Path]) -> None:
    first = spark_class_cache.build()
    (fake_spark / "jars" / "connector.jar").write_bytes(b"s3")
    assert spark_class_cache.cached_home() is None  # the first entry lacks that jar
    second = spark_class_cache.build()
    assert first and second and second.path != first.path
    assert (second.path / "jars" / "connector.jar").is_file()


def test_a_class_list_of_ones_own_gets_an_archive_of_its_own(
    fake_spark: Path, dumps: list[Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shipped = spark_class_cache.build()
    own = tmp_path / "classes.txt"
    own.write_text("java/lang/Object\n")
    monkeypatch.setenv(spark_class_cache.LIST_ENV, str(own))
    assert spark_class_cache.cached_home() is None  # the shipped list's archive is not it
    mine = spark_class_cache.build()
    assert shipped and mine and mine.path == shipped.path  # one copy of Spark for both
    assert mine.archive != shipped.archive and ".list-" in mine.archive.name
    assert spark_class_cache.cached_home() == mine
    monkeypatch.delenv(spark_class_cache.LIST_ENV)
    assert spark_class_cache.cached_home() == shipped


def test_another_filesystem_means_no_cache_and_no_error(
    fake_spark: Path, dumps: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def cross_device(src: str, dst: str) -> None:
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), src, None, dst)

    monkeypatch.setattr(os, "link", cross_device)
    assert spark_class_cache.build() is None
    assert dumps == []
    assert [p.name for p in spark_class_cache.cache_root().iterdir()] == [
        f"{spark_class_cache.spark_build_key(fake_spark)}.lock"
    ]  # no half-linked copy left behind


def test_no_java_means_no_cache(fake_spark: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spark_class_cache, "java_executable", lambda: None)
    assert spark_class_cache.build() is None
    assert spark_class_cache.cached_home() is None


def _project(tmp_path: Path, java_options: str) -> Path:
    root = write_project(tmp_path / "project")
    write_file(
        root / "config" / "spark-defaults.conf",
        f"spark.ui.enabled false\nspark.driver.extraJavaOptions {java_options}\n",
    )
    return root


def _conf(command: list[str], key: str) -> str | None:
    values = [command[i + 1] for i, arg in enumerate(command) if arg == "--conf"]
    found = [v.partition("=")[2] for v in values if v.startswith(f"{key}=")]
    return found[-1] if found else None  # spark-submit: the last --conf wins


def test_without_an_archive_the_server_runs_from_the_venv(tmp_path: Path, fake_spark: Path) -> None:
    root = _project(tmp_path, "-XX:+UseSerialGC")
    command, env = server_launch(find_project(root), 15002)
    assert command[0] == str(fake_spark / "bin" / "spark-submit")
    assert env == {}
    assert _conf(command, "spark.driver.extraJavaOptions") is None  # the file's value stands
    assert _conf(command, "spark.connect.grpc.binding.port") == "15002"


def test_with_an_archive_the_server_maps_it_and_keeps_the_projects_java_options(
    tmp_path: Path, fake_spark: Path, dumps: list[Path]
) -> None:
    home = spark_class_cache.build()
    assert home is not None
    root = _project(tmp_path, "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
    command, env = server_launch(find_project(root), 15002)
    assert command[0] == str(home.path / "bin" / "spark-submit")
    assert env == {"SPARK_HOME": str(home.path)}
    options = shlex.split(_conf(command, "spark.driver.extraJavaOptions") or "")
    assert options == ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", home.java_option()]


def test_a_users_own_spark_home_is_left_alone(
    tmp_path: Path, fake_spark: Path, dumps: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert spark_class_cache.build() is not None
    monkeypatch.setenv("SPARK_HOME", str(tmp_path / "their-spark"))
    command, env = server_launch(find_project(_project(tmp_path, "-Xss4m")), 15002)
    assert command[0] == str(fake_spark / "bin" / "spark-submit")
    assert env == {}


def test_the_shipped_class_list_is_for_the_installed_pyspark() -> None:
    text = gzip.decompress(spark_class_cache.CLASS_LIST.read_bytes()).decode()
    first, *classes = text.splitlines()
    assert first.startswith(f"# pyspark {pyspark.__version__}:"), (
        "the Spark class list is for another pyspark: run `just spark-class-list`"
    )
    assert len(classes) > 10_000
    assert "org/apache/spark/sql/connect/service/SparkConnectServer" in classes


def test_switched_off_the_archive_is_neither_built_nor_used(
    tmp_path: Path, fake_spark: Path, dumps: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert spark_class_cache.build() is not None
    monkeypatch.setenv(spark_class_cache.SWITCH_ENV, "off")
    assert spark_class_cache.cached_home() is None
    command, env = server_launch(find_project(_project(tmp_path, "-Xss4m")), 15002)
    assert command[0] == str(fake_spark / "bin" / "spark-submit")
    assert env == {}
