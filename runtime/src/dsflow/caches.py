"""The user's cache folder for what dsflow builds once per machine (not per project)."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache(name: str) -> Path:
    """``$XDG_CACHE_HOME/dsflow/<name>`` (``~/.cache/dsflow/<name>``); not created here."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dsflow" / name
