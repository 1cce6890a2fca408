"""The Jinja sandbox parameter and spec values are rendered in (:mod:`dsflow.resolve`).

A value sees the documented variables only (``ds``, ``ds_nodash``, ``partition``, ``job_name``,
``job_parameters``) and Jinja's filters: no Python internal, no method that changes an object
(Jinja's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`, with no globals).

Rendering is bounded too, so that a value such as ``{{ 'x' * 10**12 }}`` is refused at once
instead of filling the memory: every string, list or number a value builds is refused beyond
:data:`MAX_LENGTH` characters (numbers beyond :data:`MAX_INT_BITS` bits), *before* it is built
wherever its size follows from the operands (``*``, ``**``, ``%``, a filter's or a method's
width, replacement or separator), and all a value builds together beyond :data:`MAX_WORK`.
Tags that would repeat that work (``{% for %}``, ``{% macro %}``, ``{% call %}``,
``{% block %}``) or load other templates are refused.
"""

from __future__ import annotations

import functools
import math
import re
import string
from collections.abc import Callable, Mapping
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

MAX_LENGTH = 64 * 1024  # characters of a rendered value, and of anything built on the way
MAX_INT_BITS = 10_000  # about 3000 decimal digits
MAX_WORK = 16 * MAX_LENGTH  # characters built in all while rendering one value
DOCUMENTED = "ds, ds_nodash, partition, job_name, job_parameters.<key>"
# tag -> the node it parses to: each would repeat work (loops, macros, blocks called again
# through `self`) or needs a template loader, which values do not have
_REFUSED_TAGS = {
    nodes.For: "for",
    nodes.Macro: "macro",
    nodes.CallBlock: "call",
    nodes.Block: "block",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from",
    nodes.Extends: "extends",
}
# printf-style conversions, for their widths and precisions: %(name)-10.3f, %*d, %%
_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?.")
# a method or filter whose result may be far larger than its operands (the others are bounded
# by a small multiple of them, which the check of their result covers)
_PRODUCT_CALLS = {"replace", "join", "translate", "indent", "wordwrap", "expandtabs"}


class RenderRefused(Exception):
    """A value uses a refused tag, or would exceed a bound (:class:`ValueTooLarge`); the
    message says which, without the key or file (:mod:`dsflow.resolve` adds them)."""


class ValueTooLarge(RenderRefused):
    """A value would be too long, compute too big a number, or build too much."""


def too_long() -> ValueTooLarge:
    """The refusal of a value that would be longer than :data:`MAX_LENGTH`."""
    return ValueTooLarge(
        f"the value would be longer than {MAX_LENGTH} characters; shorten it (a parameter or "
        f"spec value renders to {MAX_LENGTH} characters at most)"
    )


def _too_big_a_number() -> ValueTooLarge:
    return ValueTooLarge(
        f"the value would compute a number of more than {MAX_INT_BITS} bits; use smaller "
        "numbers (about 3000 digits at most)"
    )


def _too_much_work() -> ValueTooLarge:
    return ValueTooLarge(
        f"the value would build more than {MAX_WORK} characters while rendering; simplify it"
    )


def size(obj: Any) -> int:
    """About how many characters ``obj`` takes as text (strings, numbers, lists, tuples, sets
    and dicts walked; anything else counts as one)."""
    if isinstance(obj, str | bytes):
        return len(obj)
    if isinstance(obj, bool) or obj is None:
        return 5
    if isinstance(obj, int):
        return obj.bit_length() * 3 // 10 + 1  # decimal digits
    if isinstance(obj, list | tuple | set | frozenset):
        return 2 + sum(size(item) + 2 for item in obj)
    if isinstance(obj, Mapping):
        return 2 + sum(size(k) + size(v) + 4 for k, v in obj.items())
    return 1


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with no globals, bounded sizes and no repeating tags; one
    environment renders one value (it counts the work done)."""

    # intercepted operators are also left out of compile-time constant folding, which would
    # otherwise build "ab" * 2000000000 while compiling
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        super().__init__(undefined=jinja2.StrictUndefined, autoescape=False, finalize=self._output)
        self.globals.clear()  # range, lipsum, cycler, joiner, namespace: nothing a value needs
        self.filters = {name: self._bounded_filter(name, f) for name, f in self.filters.items()}
        self.filters["dsflow_concat"] = self._concat
        self.filters["dsflow_slice"] = self._slice
        self.work = 0

    def render_value(self, source: str, context: Mapping[str, Any]) -> str:
        """``source`` rendered with ``context``: RenderRefused past a bound or for a refused
        tag; Jinja's and Python's own errors (an undefined name, ``ds + 1``) as they are."""
        if len(source) > MAX_LENGTH:
            raise too_long()
        tree = self.parse(source)
        for node_type, tag in _REFUSED_TAGS.items():
            if next(tree.find_all(node_type), None) is not None:
                raise RenderRefused(
                    f"a value may not use {{% {tag} %}}: it may use the documented variables "
                    f"({DOCUMENTED}) and Jinja's filters"
                )
        tree = _Hooked().visit(tree)
        tree.set_environment(self)
        rendered = self.from_string(tree).render(context)
        if len(rendered) > MAX_LENGTH:
            raise too_long()
        return rendered

    # ---------------------------------------------------------------- the hooks

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """``left <operator> right`` for ``*``, ``**``, ``+`` and ``%``, refused beforehand
        when its result would be too big (``+`` is at most the sum of two bounded operands)."""
        if operator == "*":
            _check_product(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            _check_length(_printf_estimate(left, right))
        return self._built(super().call_binop(context, operator, left, right))

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Call ``obj`` (a method, ``loop``, ...) from a value, its result's size checked
        beforehand where it follows from the arguments, and afterwards."""
        if not getattr(obj, "dsflow_format", False):
            _check_call(getattr(obj, "__name__", ""), getattr(obj, "__self__", None), args, kwargs)
        return self._built(super().call(context, obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Jinja's sandboxed ``str.format`` and ``str.format_map``, refused beforehand when
        their widths would make the result too long."""
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        text = value.__self__

        @functools.wraps(wrapper)
        def bounded(*args: Any, **kwargs: Any) -> str:
            _check_length(_format_estimate(text, args, kwargs))
            return self._built(wrapper(*args, **kwargs))

        bounded.dsflow_format = True  # type: ignore[attr-defined]
        return bounded

    def _bounded_filter(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        """``func``, the Jinja filter ``name``, with its arguments and its result checked."""
        passes = jinja2.utils._PassArg.from_obj(func) is not None  # context or environment

        @functools.wraps(func)  # keeps the pass_context/pass_environment mark
        def bounded(*args: Any, **kwargs: Any) -> Any:
            value, rest = args[passes], args[passes + 1 :]
            if name == "format":  # value % args, printf-style
                _check_length(_printf_estimate(str(value), kwargs or rest))
            else:
                _check_call(name, value, rest, kwargs)
            return self._built(func(*args, **kwargs))

        return bounded

    def _concat(self, parts: list[Any]) -> str:
        """``a ~ b ~ ...``: the parts joined as text, refused beforehand when too long."""
        _check_length(sum(size(part) for part in parts))
        return self._built("".join(str(part) for part in parts))

    def _slice(self, value: Any, start: Any, stop: Any, step: Any) -> Any:
        """``value[start:stop:step]``: a copy, which counts."""
        return self._built(self.getitem(value, slice(start, stop, step)))

    def _output(self, value: Any) -> Any:
        """Each ``{{ ... }}`` before it is written out: refused when too long."""
        _check_length(size(value))
        return self._built(value)

    def _built(self, result: Any) -> Any:
        """``result``, counted; refused when too big, or when the value built too much."""
        if isinstance(result, int) and result.bit_length() > MAX_INT_BITS:
            raise _too_big_a_number()
        length = size(result)
        _check_length(length)
        self.work += length + 1
        if self.work > MAX_WORK:
            raise _too_much_work()
        return result


class _Hooked(NodeTransformer):
    """``a ~ b`` and ``a[i:j]`` run code Jinja generates, with no sandbox hook: make them calls
    of the bounded ``dsflow_concat`` and ``dsflow_slice`` filters instead."""

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:  # noqa: N802 -- Jinja's naming
        """The filter call replacing ``node``."""
        self.generic_visit(node)
        parts = nodes.List(node.nodes, lineno=node.lineno)
        return nodes.Filter(parts, "dsflow_concat", [], [], None, None, lineno=node.lineno)

    def visit_Getitem(self, node: nodes.Getitem) -> nodes.Node:  # noqa: N802
        """A slice's filter call replacing ``node``; an index stays (the sandbox sees it)."""
        self.generic_visit(node)
        if not isinstance(node.arg, nodes.Slice):
            return node
        bounds = [b or nodes.Const(None) for b in (node.arg.start, node.arg.stop, node.arg.step)]
        return nodes.Filter(node.node, "dsflow_slice", bounds, [], None, None, lineno=node.lineno)


def _check_length(estimate: int) -> None:
    if estimate > MAX_LENGTH:
        raise too_long()


def _check_product(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS + 1:
            raise _too_big_a_number()
    elif isinstance(right, int):
        _check_length(size(left) * max(right, 0))
    elif isinstance(left, int):
        _check_length(size(right) * max(left, 0))


def _check_power(base: Any, exponent: Any) -> None:
    if not (isinstance(base, int) and isinstance(exponent, int)) or abs(base) < 2:
        return
    # a base of 2 or more makes at least `exponent` bits (and a float of a huge int overflows)
    if exponent > MAX_INT_BITS or exponent * math.log2(abs(base)) > MAX_INT_BITS:
        raise _too_big_a_number()


def _check_call(name: str, subject: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """A width (an integer argument) past the bound is refused; so is a call whose result may
    be the product of its operands (a replacement, a separator) when that product is."""
    values = [*args, *kwargs.values()]
    if any(isinstance(v, int) and abs(v) > MAX_LENGTH for v in values):
        raise too_long()
    if name in _PRODUCT_CALLS:
        widths = sum(abs(v) for v in values if isinstance(v, int))
        others = sum(size(v) for v in values if not isinstance(v, int))
        _check_length(max(size(subject), 1) * (1 + others + widths))


def _printf_estimate(fmt: str, args: Any) -> int:
    """At most how long ``fmt % args`` is: the format, the arguments and every width."""
    values = list(args.values()) if isinstance(args, Mapping) else args
    values = list(values) if isinstance(values, tuple | list) else [values]
    total = len(fmt) + size(args)
    for match in _PRINTF_SPEC.finditer(fmt):
        for number in match.groups():
            if number == "*":
                total += sum(abs(v) for v in values if isinstance(v, int))
            elif number:
                total += _number(number)
    return total


def _format_estimate(fmt: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    """At most how long ``fmt.format(*args, **kwargs)`` is (``format_map``'s mapping is in
    ``args``): the format, the arguments and every width, nested ones included."""
    total = len(fmt) + size(args) + size(kwargs)
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return total  # str.format refuses it with its own message
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec:  # the width comes from an argument (format_map's: from its mapping)
            values = [*args, *kwargs.values()]
            values += [v for a in args if isinstance(a, Mapping) for v in a.values()]
            total += sum(abs(v) for v in values if isinstance(v, int))
        total += sum(_number(digits) for digits in re.findall(r"\d+", spec))
    return total


def _number(digits: str) -> int:
    return int(digits) if len(digits) <= 9 else MAX_LENGTH + 1
