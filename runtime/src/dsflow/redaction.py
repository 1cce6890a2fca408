"""Credentials out of everything dsflow writes or shows: the one place for the rule.

Two kinds of secret are hidden:

* the user-info part of any URL (``scheme://user:password@host`` becomes ``scheme://***@host``),
  wherever it appears in a text: a parameter, an error line, a log;
* the values of the ``${NAME}`` references a run substituted from ``.env`` or the environment
  (:func:`dsflow.resolve.resolve_secrets`), which are put back as ``${NAME}`` where they stand
  as a whole token (not touching a letter or digit: a value ``data`` leaves ``datastore`` and
  ``metadata`` alone).

What a job wrote (its log, its executed notebook, its error line) gets both
(:func:`redact_text`). Run records (``run.json``, ``history.jsonl``) get URL user-info hidden
only (:func:`redact_record`): they are built from the ``${NAME}`` form and never hold a value,
so putting references back would only corrupt them (a value ``data`` in ``data.csv``) and tell
the value to whoever reads them.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# scheme://userinfo@ : the user-info runs to the last '@' of the authority, as urllib splits it
# (a password may hold a raw '@'); the authority ends at '/', '?', '#', a space, '"', '<' or '>'.
URL_USERINFO = re.compile(r'\b([A-Za-z][A-Za-z0-9+.-]*://)([^/?#\s"<>@]*(?:@[^/?#\s"<>@]*)*)@')
# user-info made of ${NAME} references only names secrets without holding them: it stays
_REFERENCES_ONLY = re.compile(r"(?:\$\{[A-Za-z_][A-Za-z0-9_]*\}|:)+")
HIDDEN = "***"
# what may stand right before a secret's value: no letter or digit, or an escape ending in one
_DELIMITED_BEFORE = (
    r"(?:(?<![A-Za-z0-9])|(?<=\\[bfnrt])|(?<=\\u[0-9A-Fa-f]{4})|(?<=%[0-9A-Fa-f]{2}))"
)
# Values shorter than this are not searched for in texts: "1" or "dev" would deface a record
# while hiding nothing worth hiding (URL user-info is hidden whatever its length).
MIN_SECRET_LENGTH = 4
# The files of a run's report folder that a job's output reaches.
RUN_FILES = ("log.txt", "report.ipynb")


def redact_url(text: str) -> str:
    """``text`` with the user-info of every URL in it (``user:password@``) replaced by ``***@``.

    User-info made only of ``${NAME}`` references
    (``https://${API_USER}:${API_PASSWORD}@host``) is kept: it names the secrets without
    holding them.
    """
    return URL_USERINFO.sub(_hide_userinfo, text)


def _hide_userinfo(match: re.Match[str]) -> str:
    scheme, userinfo = match.group(1), match.group(2)
    if _REFERENCES_ONLY.fullmatch(userinfo):
        return match.group(0)
    return f"{scheme}{HIDDEN}@"


def redact_text(text: str, secrets: Mapping[str, str] | None = None) -> str:
    """``text`` with each value of ``secrets`` (name -> value) put back as ``${name}`` where it
    is a whole token (longest first; also as JSON and URLs write it, escaped), then URL
    user-info hidden (:func:`redact_url`)."""
    for name, value in _by_length(secrets):
        reference = "${" + name + "}"
        for form in _written_forms(value):
            text = _token(form).sub(lambda _, ref=reference: ref, text)
    return redact_url(text)


def redact_record(record: Any) -> Any:
    """A run record (``run.json``, a ``history.jsonl`` line) with URL user-info hidden only:
    records hold ``${NAME}`` references, never the values (module docstring)."""
    return redact_value(record)


def redact_value(obj: Any, secrets: Mapping[str, str] | None = None) -> Any:
    """A copy of ``obj`` (dicts, lists and tuples walked, keys included) with every string
    passed through :func:`redact_text`; other values are returned as they are."""
    if isinstance(obj, str):
        return redact_text(obj, secrets)
    if isinstance(obj, Mapping):
        return {redact_value(k, secrets): redact_value(v, secrets) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact_value(v, secrets) for v in obj]
    return obj


def redact_file(path: Path, secrets: Mapping[str, str] | None = None) -> bool:
    """Rewrite the text file at ``path`` redacted (:func:`redact_text`), if it needs it; True
    when it was rewritten. A missing file is left missing."""
    try:
        original = path.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return False
    text = redact_text(original, secrets)
    if text == original:
        return False
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    return True


def redact_run_files(report_dir: Path, secrets: Mapping[str, str] | None = None) -> None:
    """Redact what a job's code wrote into its report folder (its log, its executed notebook)
    before the report is rendered or served."""
    for name in RUN_FILES:
        redact_file(report_dir / name, secrets)


def _written_forms(value: str) -> list[str]:
    """``value`` as it is, as a JSON string holds it (an executed notebook) and as a URL's
    user-info holds it (:func:`dsflow.resolve.substitute_secrets` percent-encodes it there)."""
    escaped = json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]
    return list(dict.fromkeys((value, *escaped, urllib.parse.quote(value, safe=""))))


def _token(form: str) -> re.Pattern[str]:
    """``form`` where it stands alone: no letter or digit right before or after it (an edge
    of ``form`` that is not a letter or digit delimits it already). A JSON escape (``\\n``,
    ``\\u00e9``) or a percent-escape (``%2F``) right before it is a delimiter, not a letter."""
    before = _DELIMITED_BEFORE if form[:1].isascii() and form[:1].isalnum() else ""
    after = r"(?![A-Za-z0-9])" if form[-1:].isascii() and form[-1:].isalnum() else ""
    return re.compile(before + re.escape(form) + after)


def _by_length(secrets: Mapping[str, str] | None) -> list[tuple[str, str]]:
    pairs = [(n, v) for n, v in (secrets or {}).items() if len(v) >= MIN_SECRET_LENGTH]
    return sorted(pairs, key=lambda pair: -len(pair[1]))
