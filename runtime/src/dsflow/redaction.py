"""Credentials out of everything dsflow writes or shows: the one place for the rule.

Two kinds of secret are hidden:

* the user-info part of any URL (``scheme://user:password@host`` becomes ``scheme://***@host``),
  wherever it appears in a text: a parameter, an error line, a log;
* the values of the ``${NAME}`` references a run substituted from ``.env`` or the environment
  (:func:`dsflow.resolve.resolve_secrets`), which are put back as ``${NAME}``.

Run records (``run.json``, ``history.jsonl``), logs, executed notebooks and error lines go
through these functions before they are written or printed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# scheme://userinfo@ : the user-info runs to the last '@' of the authority, as urllib splits it
# (a password may hold a raw '@'); the authority ends at '/', '?', '#', a space, '"', '<' or '>'.
_URL_USERINFO = re.compile(r'\b([A-Za-z][A-Za-z0-9+.-]*://)([^/?#\s"<>@]*(?:@[^/?#\s"<>@]*)*)@')
# user-info made of ${NAME} references only names secrets without holding them: it stays
_REFERENCES_ONLY = re.compile(r"(?:\$\{[A-Za-z_][A-Za-z0-9_]*\}|:)+")
HIDDEN = "***"
# Values shorter than this are not searched for in texts: "1" or "dev" would deface a record
# while hiding nothing worth hiding (URL user-info is hidden whatever its length).
MIN_SECRET_LENGTH = 4
# The files of a run's report folder that a job's output reaches.
RUN_FILES = ("log.txt", "report.ipynb")


def redact_url(text: str) -> str:
    """``text`` with the user-info of every URL in it (``user:password@``) replaced by ``***@``.

    User-info made only of ``${NAME}`` references (``https://${USER}:${PASSWORD}@host``) is
    kept: it names the secrets without holding them.
    """
    return _URL_USERINFO.sub(_hide_userinfo, text)


def _hide_userinfo(match: re.Match[str]) -> str:
    scheme, userinfo = match.group(1), match.group(2)
    if _REFERENCES_ONLY.fullmatch(userinfo):
        return match.group(0)
    return f"{scheme}{HIDDEN}@"


def redact_text(text: str, secrets: Mapping[str, str] | None = None) -> str:
    """``text`` with each value of ``secrets`` (name -> value) put back as ``${name}`` (longest
    first; also as JSON writes it, escaped), then URL user-info hidden (:func:`redact_url`)."""
    for name, value in _by_length(secrets):
        for form in _written_forms(value):
            text = text.replace(form, "${" + name + "}")
    return redact_url(text)


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
    """``value`` as it is and as a JSON string holds it (an executed notebook, a record)."""
    escaped = json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]
    return list(dict.fromkeys((value, *escaped)))


def _by_length(secrets: Mapping[str, str] | None) -> list[tuple[str, str]]:
    pairs = [(n, v) for n, v in (secrets or {}).items() if len(v) >= MIN_SECRET_LENGTH]
    return sorted(pairs, key=lambda pair: -len(pair[1]))
