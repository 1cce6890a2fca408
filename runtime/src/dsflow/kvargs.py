"""Parse the ``key=value`` words just passes after a recipe name (``just run job=x ds=y``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .errors import DsflowError


def parse_kv(words: Sequence[str], allowed: Iterable[str] | None = None) -> dict[str, str]:
    """Turn ``["a=1", "b=2"]`` into ``{"a": "1", "b": "2"}``.

    Unknown keys (when ``allowed`` is given), repeated keys and words without ``=`` are errors.
    """
    allowed_set = set(allowed) if allowed is not None else None
    result: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        key = key.strip()
        if not sep or not key:
            raise DsflowError(f"expected key=value, got {word!r}")
        if allowed_set is not None and key not in allowed_set:
            known = ", ".join(sorted(allowed_set)) or "none"
            raise DsflowError(f"unknown parameter {key!r} (known: {known})")
        if key in result:
            raise DsflowError(f"parameter {key!r} given twice")
        result[key] = value
    return result
