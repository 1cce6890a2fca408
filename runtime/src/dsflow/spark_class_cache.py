"""Spark's classes, archived once per machine so that its JVM starts in about half the time.

Most of a cold Spark start is the JVM loading and verifying some 20,000 classes. Java's
class-data sharing (CDS) maps them from an archive instead: ``just setup`` builds one (about
50 s, once per machine, Java and Spark build) from the class list shipped beside this module
(``spark-classes.txt.gz``, written by ``tools/spark_class_list.py``), and the project's Spark
Connect server then listens after ~2 s instead of ~4.5 s and runs its first job ~3 s sooner.

An archive serves only a JVM whose class path names the very files it was built from, and
each project has its own ``.venv``. So the cache holds one copy of the Spark distribution per
Spark build, hard-linked from the first project's (no data copied), and the servers of every
project run Spark from there. Nothing depends on it: without hard links (the cache on another
filesystem), an archive or a matching Java, Spark starts from the project's ``.venv`` as before,
and a JVM silently ignores an archive that does not match it. ``DSFLOW_SPARK_CLASS_ARCHIVE=off``
turns it all off: ``just setup`` builds nothing and servers run Spark from the ``.venv``.
"""

from __future__ import annotations

import errno
import fcntl
import gzip
import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .bootstrap import java_executable
from .caches import user_cache

CLASS_LIST = Path(__file__).with_name("spark-classes.txt.gz")
SWITCH_ENV = "DSFLOW_SPARK_CLASS_ARCHIVE"
# another class list (one class per line, as -XX:DumpLoadedClassList writes it; .gz or not):
# the classes of your own jobs' server, or a short list that builds in seconds (the tests)
LIST_ENV = "DSFLOW_SPARK_CLASS_LIST"
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


@dataclass(frozen=True)
class SparkHome:
    """A Spark distribution in the cache and the class archive a JVM of ``java`` can use."""

    path: Path
    archive: Path

    def java_option(self) -> str:
        """The JVM option that maps the archive."""
        return f"-XX:SharedArchiveFile={self.archive}"


def switched_off() -> bool:
    """True when ``DSFLOW_SPARK_CLASS_ARCHIVE`` is ``off`` (or ``0``, ``false``, ``no``)."""
    return os.environ.get(SWITCH_ENV, "").strip().lower() in ("off", "0", "false", "no")


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/dsflow/spark`` (``~/.cache/dsflow/spark``)."""
    return user_cache("spark")


def venv_spark_home() -> Path:
    """The Spark distribution inside the installed pyspark package."""
    import pyspark

    return Path(pyspark.__file__).parent


def spark_build_key(source: Path) -> str:
    """The pyspark version and a digest of its jars' names and sizes: a jar added to or
    changed in one ``.venv`` gives that environment a cache entry of its own."""
    import pyspark

    jars = sorted((p.name, p.stat().st_size) for p in (source / "jars").glob("*.jar"))
    digest = hashlib.sha256(repr(jars).encode()).hexdigest()[:12]
    return f"{pyspark.__version__}-{digest}"


def _java_key(java: str) -> str:
    real = Path(java).resolve()
    # an upgraded JDK replaces the binary: a new archive (the JVM would ignore the old one)
    return hashlib.sha256(f"{real}:{real.stat().st_mtime_ns}".encode()).hexdigest()[:12]


def cached_home(java: str | None = None) -> SparkHome | None:
    """The cached Spark distribution of this ``.venv`` when its archive is built, else None."""
    java = java or java_executable()
    if java is None or switched_off():
        return None
    source = venv_spark_home()
    path = cache_root() / spark_build_key(source)
    archive = _archive_path(path, java)
    if not (path / "jars").is_dir() or not archive.is_file():
        return None
    return SparkHome(path, archive)


def launch_home() -> tuple[Path, SparkHome | None]:
    """The Spark distribution a project's server or cluster runs, and its archive: the cached
    copy when its archive is built and the user set no ``SPARK_HOME`` of their own, else the
    ``.venv``'s (whose scripts then follow the user's ``SPARK_HOME``)."""
    cached = None if os.environ.get("SPARK_HOME") else cached_home()
    return (cached.path if cached else venv_spark_home()), cached


def build(java: str | None = None) -> SparkHome | None:
    """Link the distribution into the cache and build its class archive, unless both exist.

    Returns None (Spark then starts as before) when no Java is found or the cache is on
    another filesystem than the ``.venv``; raises OSError or CalledProcessError when the
    archive cannot be built. Safe to run from several processes at once (a lock per entry).
    """
    java = java or java_executable()
    if java is None:
        return None
    source = venv_spark_home()
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    key = spark_build_key(source)
    with (root / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = root / key
        if not (path / "jars").is_dir() and not _link_tree(source, path):
            return None
        archive = _archive_path(path, java)
        if not archive.is_file():
            _dump_archive(java, path, archive)
    return SparkHome(path, archive)


def class_list() -> Path:
    """The class list archived: ``$DSFLOW_SPARK_CLASS_LIST``, else the one dsflow ships."""
    return Path(os.environ.get(LIST_ENV) or CLASS_LIST)


def _archive_path(path: Path, java: str) -> Path:
    name = f"{path.name}.java-{_java_key(java)}"
    if class_list() != CLASS_LIST:  # another list, another archive
        name += f".list-{hashlib.sha256(class_list().read_bytes()).hexdigest()[:12]}"
    return path.with_name(f"{name}.jsa")


def _link_tree(source: Path, path: Path) -> bool:
    """Hard-link ``source`` to ``path`` (all or nothing); False across filesystems."""
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        shutil.copytree(
            source,
            staging / "spark",
            copy_function=os.link,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    except shutil.Error as exc:  # copytree gathers the per-file errors
        shutil.rmtree(staging)
        # copytree keeps each error as text: (src, dst, "[Errno 18] Invalid cross-device ...")
        if any(f"[Errno {errno.EXDEV}]" in err[2] for err in exc.args[0]):
            return False
        raise
    except OSError:
        shutil.rmtree(staging)
        raise
    os.replace(staging / "spark", path)
    staging.rmdir()
    return True


def launch_classpath(java: str, home: Path) -> str:
    """The ``-cp`` Spark's launcher gives the server's JVM when ``SPARK_HOME`` is ``home``
    (the archive must be built for exactly this class path)."""
    # what bin/spark-class does before it runs the command: the launcher prints it, NUL-separated
    script = '. "$SPARK_HOME/bin/load-spark-env.sh"; exec "$0" -cp "$SPARK_HOME/jars/*" "$@"'
    out = subprocess.run(
        ["bash", "-c", script, java, "org.apache.spark.launcher.Main",
         "org.apache.spark.deploy.SparkSubmit", "--class", SERVER_CLASS, "spark-internal"],
        env={**os.environ, "SPARK_HOME": str(home)},
        capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    args = out.stdout.decode().split("\0")
    return args[args.index("-cp") + 1]


def _dump_archive(java: str, home: Path, archive: Path) -> None:
    classes = archive.with_name(f".{archive.name}.classes")
    listed = class_list().read_bytes()
    classes.write_bytes(gzip.decompress(listed) if listed[:2] == b"\x1f\x8b" else listed)
    partial = archive.with_name(f".{archive.name}.partial")
    try:
        subprocess.run(
            [java, "-Xshare:dump", f"-XX:SharedClassListFile={classes}",
             f"-XX:SharedArchiveFile={partial}", "-cp", launch_classpath(java, home)],
            stdin=subprocess.DEVNULL, capture_output=True, check=True, timeout=600,
        )  # fmt: skip
        os.replace(partial, archive)  # a killed build leaves no archive to map
    finally:
        partial.unlink(missing_ok=True)
        classes.unlink(missing_ok=True)
