"""Spark SQL type names: the one grammar of types in the runtime (pure Python, no JVM).

:func:`normalize_type` reads a declared type (``DOUBLE``, ``integer``, ``Decimal(10, 2)``,
``array<int>``, ``struct<a:int,b:string>``) as its canonical Spark SQL name; :func:`spark_type`
names the type Spark gives a Parquet column of an arrow type and :func:`arrow_type` goes the
other way; :func:`parse_ddl` splits a DDL column list (``"a string, `b c` decimal(10,2)"``)
into names and types. Declared schemas (:mod:`dsflow.schemas`), table contracts
(:mod:`dsflow.contracts`) and ``just infer-schema`` (:mod:`dsflow.schema_inference`) all read
and write types through it.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import DsflowError


def spark_type(arrow_type: Any) -> str:
    """The Spark SQL type name Spark gives a Parquet column of this arrow type.

    Every timestamp (with or without a time zone, any unit) is ``timestamp``; types Spark has
    no name for (time, duration) are ``string``; arrow's ``null`` type is ``void``.
    """
    import pyarrow as pa
    import pyarrow.types as t

    if t.is_dictionary(arrow_type):
        return spark_type(arrow_type.value_type)
    if t.is_null(arrow_type):
        return "void"
    if t.is_boolean(arrow_type):
        return "boolean"
    simple = {
        pa.int8(): "tinyint",
        pa.int16(): "smallint",
        pa.int32(): "int",
        pa.int64(): "bigint",
        pa.uint8(): "smallint",
        pa.uint16(): "int",
        pa.uint32(): "bigint",
        pa.uint64(): "decimal(20,0)",
        pa.float16(): "float",
        pa.float32(): "float",
        pa.float64(): "double",
        pa.date32(): "date",
        pa.date64(): "date",
    }
    if arrow_type in simple:
        return simple[arrow_type]
    if t.is_timestamp(arrow_type):
        return "timestamp"
    if t.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    if t.is_binary(arrow_type) or t.is_large_binary(arrow_type):
        return "binary"
    if t.is_fixed_size_binary(arrow_type) or getattr(t, "is_binary_view", lambda _: False)(
        arrow_type
    ):
        return "binary"
    if t.is_list(arrow_type) or t.is_large_list(arrow_type) or t.is_fixed_size_list(arrow_type):
        return f"array<{spark_type(arrow_type.value_type)}>"
    if t.is_map(arrow_type):
        return f"map<{spark_type(arrow_type.key_type)},{spark_type(arrow_type.item_type)}>"
    if t.is_struct(arrow_type):
        inner = ",".join(f"{_quote(f.name)}:{spark_type(f.type)}" for f in arrow_type)
        return f"struct<{inner}>"
    return "string"


def arrow_type(type_name: str) -> Any:
    """The arrow type a reader gets for a (canonical) Spark SQL type name.

    ``timestamp`` is an instant, read in UTC (``timestamp[us, tz=UTC]``); ``timestamp_ntz``
    is a wall-clock time without a zone.
    """
    import pyarrow as pa

    parsed, _ = _parse_type(_tokens(type_name), 0, type_name)
    return _to_arrow(pa, parsed)


_SIMPLE = {
    "boolean": "boolean", "bool": "boolean",
    "tinyint": "tinyint", "byte": "tinyint", "int8": "tinyint",
    "smallint": "smallint", "short": "smallint", "int16": "smallint",
    "int": "int", "integer": "int", "int32": "int",
    "bigint": "bigint", "long": "bigint", "int64": "bigint",
    "float": "float", "real": "float", "float32": "float",
    "double": "double", "float64": "double",
    "string": "string", "varchar": "string", "char": "string", "utf8": "string",
    "binary": "binary",
    "date": "date",
    "timestamp": "timestamp", "timestamp_ltz": "timestamp",
    "timestamp_ntz": "timestamp_ntz",
    "void": "void", "null": "void",
}  # fmt: skip
_DECIMAL = ("decimal", "dec", "numeric")
_TOKEN = re.compile(r"\s*(?:(`(?:[^`]|``)*`)|([A-Za-z_][A-Za-z0-9_]*)|(\d+)|([<>(),:]))")


def _tokens(text: str) -> list[str]:
    tokens, pos, text = [], 0, text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise DsflowError(f"cannot read the type {text!r} (near {text[pos : pos + 10]!r})")
        tokens.append(match.group(match.lastindex or 0))
        pos = match.end()
    return tokens


def _name(token: str) -> str:
    return token[1:-1].replace("``", "`") if token.startswith("`") else token


def _quote(name: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return name
    return "`" + name.replace("`", "``") + "`"


def _expect(tokens: list[str], i: int, symbol: str, text: str) -> int:
    if i >= len(tokens) or tokens[i] != symbol:
        found = tokens[i] if i < len(tokens) else "the end"
        raise DsflowError(f"cannot read the type {text!r}: expected {symbol!r}, found {found!r}")
    return i + 1


def _parse_type(tokens: list[str], i: int, text: str) -> tuple[Any, int]:
    """One type from ``tokens[i:]``: a canonical name or ("array"|"map"|"struct", parts)."""
    if i >= len(tokens):
        raise DsflowError(f"cannot read the type {text!r}: a type is missing")
    word = tokens[i].lower()
    i += 1
    if word in _DECIMAL:
        digits = ["10", "0"]
        if i < len(tokens) and tokens[i] == "(":
            close = tokens.index(")", i) if ")" in tokens[i:] else len(tokens)
            digits = [t for t in tokens[i + 1 : close] if t != ","] + ["0"]
            i = _expect(tokens, close, ")", text)
        if (
            len(digits) > 3
            or not all(d.isdigit() for d in digits)
            or not (0 < int(digits[0]) <= 38 and 0 <= int(digits[1]) <= int(digits[0]))
        ):
            raise DsflowError(
                f"{text!r}: a decimal is decimal(precision, scale), precision 1-38, scale 0 to "
                "precision"
            )
        return f"decimal({int(digits[0])},{int(digits[1])})", i
    if word in _SIMPLE:
        if word in ("varchar", "char") and i < len(tokens) and tokens[i] == "(":
            i = _expect(tokens, i + 2, ")", text)  # a length: Parquet stores plain strings
        return _SIMPLE[word], i
    if word == "array":
        inner, i = _parse_type(tokens, _expect(tokens, i, "<", text), text)
        return ("array", inner), _expect(tokens, i, ">", text)
    if word == "map":
        key, i = _parse_type(tokens, _expect(tokens, i, "<", text), text)
        value, i = _parse_type(tokens, _expect(tokens, i, ",", text), text)
        return ("map", (key, value)), _expect(tokens, i, ">", text)
    if word == "struct":
        i = _expect(tokens, i, "<", text)
        fields: list[tuple[str, Any]] = []
        while i < len(tokens) and tokens[i] != ">":
            if fields:
                i = _expect(tokens, i, ",", text)
            name = _name(tokens[i])
            i += 1
            if i < len(tokens) and tokens[i] == ":":
                i += 1
            kind, i = _parse_type(tokens, i, text)
            fields.append((name, kind))
        return ("struct", fields), _expect(tokens, i, ">", text)
    known = ", ".join(sorted({*_SIMPLE.values(), "decimal(p,s)", "array<..>", "map<..>"}))
    where = "" if tokens[i - 1] == text.strip() else f" in {text!r}"
    raise DsflowError(f"unknown type {tokens[i - 1]!r}{where} (known: {known}, struct<..>)")


def _render(parsed: Any) -> str:
    if isinstance(parsed, str):
        return parsed
    kind, parts = parsed
    if kind == "array":
        return f"array<{_render(parts)}>"
    if kind == "map":
        return f"map<{_render(parts[0])},{_render(parts[1])}>"
    return "struct<" + ",".join(f"{_quote(n)}:{_render(t)}" for n, t in parts) + ">"


def _to_arrow(pa: Any, parsed: Any) -> Any:
    if isinstance(parsed, tuple):
        kind, parts = parsed
        if kind == "array":
            return pa.list_(_to_arrow(pa, parts))
        if kind == "map":
            return pa.map_(_to_arrow(pa, parts[0]), _to_arrow(pa, parts[1]))
        return pa.struct([pa.field(n, _to_arrow(pa, t)) for n, t in parts])
    if parsed.startswith("decimal("):
        precision, scale = (int(x) for x in parsed[8:-1].split(","))
        return pa.decimal128(precision, scale)
    return {
        "boolean": pa.bool_(),
        "tinyint": pa.int8(),
        "smallint": pa.int16(),
        "int": pa.int32(),
        "bigint": pa.int64(),
        "float": pa.float32(),
        "double": pa.float64(),
        "string": pa.string(),
        "binary": pa.binary(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "timestamp_ntz": pa.timestamp("us"),
        "void": pa.null(),
    }[parsed]


def normalize_type(type_name: str) -> str:
    """The canonical Spark SQL name of a declared type: ``DOUBLE`` -> ``double``, ``integer``
    -> ``int``, ``Decimal(10, 2)`` -> ``decimal(10,2)``, ``int64`` -> ``bigint``."""
    tokens = _tokens(str(type_name))
    parsed, end = _parse_type(tokens, 0, str(type_name))
    if end != len(tokens):
        raise DsflowError(f"cannot read the type {type_name!r}: unexpected {tokens[end]!r}")
    return _render(parsed)


def backticked(name: str) -> str:
    """``name`` between backticks (backticks in it doubled), as a Spark DDL column name."""
    return "`" + name.replace("`", "``") + "`"


# ------------------------------------------------------------------ DDL column lists


def _split_top(text: str) -> list[str]:
    """``text`` split at the commas outside ``<..>``, ``(..)``, backticks and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for pos, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "`'\"":
            quote = char
        elif char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        elif depth == 0 and char == ",":
            parts.append(text[start:pos])
            start = pos + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


_DDL_ITEM = re.compile(r"(`(?:[^`]|``)*`|[^\s:`]+)\s*:?\s*(.*)", re.S)
_COMMENT = re.compile(r"\s+COMMENT\s+('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")", re.I)
_NOT_NULL = re.compile(r"\s+NOT\s+NULL\b", re.I)


def parse_ddl(text: str, source: str) -> list[tuple[str, str]]:
    """The ``(name, type)`` pairs of a DDL column list (``"a string, `b c` decimal(10,2)"``;
    ``COMMENT '..'`` and ``NOT NULL`` dropped), types as written; ``source`` names the schema
    in the error raised for an item without a type."""
    items = []
    for item in _split_top(text):
        match = _DDL_ITEM.fullmatch(item)
        name = match.group(1) if match else item
        if name.startswith("`"):
            name = name[1:-1].replace("``", "`")
        kind = _NOT_NULL.sub("", _COMMENT.sub("", " " + match.group(2))).strip() if match else ""
        if not kind:
            raise DsflowError(
                f"{source}: cannot read {item!r}: a DDL schema reads `name type, name type`"
            )
        items.append((name, kind))
    return items
