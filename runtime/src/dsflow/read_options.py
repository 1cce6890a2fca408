"""Read options of the raw readers: the arguments, the schema file's options, the defaults.

:func:`resolve_options` combines them into :class:`ReadOptions` (an argument wins over the
declared schema's YAML file, :mod:`dsflow.schemas`, which wins over the default);
:func:`effective_columns` gives each declared column its date or timestamp format and time
zone. Used by :mod:`dsflow.readers`; no JVM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import DsflowError
from .schemas import (
    Column,
    Schema,
    check_datetime_format,
    check_delimiter,
    check_timezone,
    null_markers,
)

MISSING_CHOICES = ("refuse", "null")
DEFAULT_NULL_VALUES = ("",)


@dataclass(frozen=True)
class ReadOptions:
    """How a partition is read, once the arguments and the schema file are combined."""

    delimiter: str | None  # None: detected from the first file
    null_values: tuple[str, ...]
    date_format: str | None  # None: ISO (yyyy-MM-dd)
    timestamp_format: str | None  # None: ISO (yyyy-MM-dd HH:mm:ss, offsets understood)
    timezone: str
    missing_columns: str


def resolve_options(
    declared: Schema | None,
    delimiter: str | None = "auto",
    null_values: Any = None,
    date_format: str | None = None,
    timestamp_format: str | None = None,
    timezone: str | None = None,
    missing_columns: str | None = "refuse",
) -> ReadOptions:
    """Combine the read options: an argument given (not None, "" or "auto") wins over the
    schema file's option, which wins over the default (delimiter detected, null_values
    ``[""]``, ISO dates and timestamps, UTC).

    ``missing_columns`` is ``"refuse"`` or ``"null"`` (None, YAML's null, means "null").
    """
    file = declared.options if declared else {}

    def pick(value: Any, key: str) -> Any:
        return value if value not in (None, "") else file.get(key)

    given_delimiter = None if delimiter in (None, "", "auto") else delimiter
    chosen_delimiter = pick(given_delimiter, "delimiter")
    markers = null_markers(null_values)
    chosen_markers = markers if markers is not None else file.get("null_values")
    date_fmt = pick(date_format, "date_format")
    timestamp_fmt = pick(timestamp_format, "timestamp_format")
    missing = "null" if missing_columns is None else str(missing_columns).strip().lower()
    if missing not in MISSING_CHOICES:
        raise DsflowError(
            f"missing_columns: refuse or null, not {missing_columns!r} (null reads a declared "
            "column a file lacks as nulls)"
        )
    return ReadOptions(
        delimiter=check_delimiter(chosen_delimiter) if chosen_delimiter else None,
        null_values=tuple(chosen_markers) if chosen_markers is not None else DEFAULT_NULL_VALUES,
        date_format=check_datetime_format(date_fmt, "date_format") if date_fmt else None,
        timestamp_format=(
            check_datetime_format(timestamp_fmt, "timestamp_format") if timestamp_fmt else None
        ),
        timezone=check_timezone(pick(timezone, "timezone") or "UTC"),
        missing_columns=missing,
    )


def effective_columns(declared: Schema, options: ReadOptions) -> list[Column]:
    """The declared columns with the global formats and time zone filled in where a column
    does not set its own."""
    columns = []
    for column in declared.columns.values():
        fmt, zone = column.format, column.timezone
        if column.type == "date":
            fmt = fmt or options.date_format
        elif column.type in ("timestamp", "timestamp_ntz"):
            fmt = fmt or options.timestamp_format
            zone = zone or options.timezone
        columns.append(Column(column.name, column.type, fmt, zone))
    return columns
