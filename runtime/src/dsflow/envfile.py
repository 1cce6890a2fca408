"""The project's ``.env``: per-project secrets, generated once, never committed."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRET_KEYS = ("JUPYTER_TOKEN", "AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_DB_PASSWORD")


def read_env(path: Path) -> dict[str, str]:
    """Parse a ``KEY=value`` file, ignoring blank lines and comments."""
    values: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and key and not key.startswith("#"):
                values[key.strip()] = value.strip()
    return values


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
