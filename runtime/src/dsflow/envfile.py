"""The project's ``.env``: per-project secrets, generated once, never committed."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path

# SPARK_CONNECT_AUTHENTICATE_TOKEN is the name Spark's server and pyspark's client both read
SPARK_TOKEN = "SPARK_CONNECT_AUTHENTICATE_TOKEN"
CLUSTER_SECRET = "SPARK_CLUSTER_SECRET"  # `just cluster`'s shared secret (spark.authenticate)
SECRET_KEYS = (
    "JUPYTER_TOKEN",
    "AIRFLOW_ADMIN_PASSWORD",
    "AIRFLOW_DB_PASSWORD",
    SPARK_TOKEN,
    CLUSTER_SECRET,
)


def read_env(path: Path) -> dict[str, str]:
    """Parse a ``KEY=value`` file, ignoring blank lines and comments.

    As docker compose and the shell read it: ``export KEY=value`` is ``KEY=value``, and a value
    in matching single or double quotes loses them (``KEY="a b"`` is ``a b``).
    """
    values: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and key and not key.startswith("#"):
                key = key.strip().removeprefix("export ").strip()
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                    value = value[1:-1]
                values[key] = value
    return values


def lookup_values(
    names: Iterable[str], env_file: Path, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The value of each of ``names`` that is set: ``env_file`` (the project's ``.env``) first,
    then the process environment (``environ``, by default ``os.environ``). An empty value
    counts as not set; names set nowhere are left out.

    The project's file wins so that a variable left in a shell cannot silently swap the
    credentials a job uses; the environment serves where there is no file (a container, CI).
    """
    environ = os.environ if environ is None else environ
    from_file = read_env(env_file)
    found = {}
    for name in names:
        value = from_file.get(name) or environ.get(name)
        if value:
            found[name] = value
    return found


def ensure_secrets(path: Path) -> list[str]:
    """Add a fresh random value for every secret missing from ``path``; keep the others.

    Returns the keys that were generated. The file is created readable by its owner only.
    """
    values = read_env(path)
    created = [key for key in SECRET_KEYS if not values.get(key)]
    if not created:
        return []
    lines = path.read_text().splitlines() if path.is_file() else ["# dsflow secrets (gitignored)"]
    lines = [ln for ln in lines if ln.partition("=")[0].strip() not in created]
    lines += [f"{key}={secrets.token_urlsafe(24)}" for key in created]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return created


def project_secret(root: Path, key: str) -> str:
    """The secret ``key`` (one of :data:`SECRET_KEYS`) of the project at ``root``, generated
    into its ``.env`` first if missing (a project set up before that secret existed)."""
    env_file = root / ".env"
    ensure_secrets(env_file)
    return read_env(env_file)[key]
