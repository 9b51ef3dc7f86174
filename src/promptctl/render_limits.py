"""Budgets for rendering: a template may not build a gigabyte or run for minutes.

Jinja's sandbox stops attribute access, not resource use: `'a' * 1000000000` ate 1 GB and
`('a' * 1000000) | wordwrap(1)` ran for minutes. Every operation that can multiply a size
is checked *before* it allocates (repeat, power, padding, joining, replacing, formatting),
ranges are short, output is counted as it streams, and an optional deadline (set by
`check`) is polled at every call and every chunk. A violation raises `BudgetExceeded`, a
SecurityError, so renders report it as "blocked by the sandbox".
"""

from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

from jinja2 import filters as _filters
from jinja2 import pass_environment, pass_eval_context
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

MAX_RENDER_CHARS = 1_000_000   # one rendered template; a prompt is far below any model's window
MAX_RANGE = 10_000             # items in one range(); loops over data are bounded by the data
MAX_WRAP_CHARS = 100_000       # wordwrap's input (textwrap is quadratic on long words)
MAX_POWER_BITS = 100_000

class _Budget(threading.local):
    deadline: float | None = None   # a class default: reading it unset must not raise (it is hot)
    seconds: float = 0.0


_budget = _Budget()
# A width or precision in a %-format or {}-format spec: `%0999999d`, `{:>999999}`, `%*d`.
_PERCENT_WIDTH = re.compile(r"%[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?")
_BRACE_WIDTH = re.compile(r"\{[^{}]*:[^{}]*?(\d+)[^{}]*\}")


class BudgetExceeded(SecurityError):
    """A render went over its size or time budget."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Renders in this thread fail once `seconds` have passed (used by `check`)."""
    previous = _budget.deadline
    _budget.deadline = time.monotonic() + seconds
    _budget.seconds = seconds
    try:
        yield
    finally:
        _budget.deadline = previous


def tick() -> None:
    limit = _budget.deadline
    if limit is not None and time.monotonic() > limit:
        raise BudgetExceeded(f"rendering took longer than {_budget.seconds:g}s")


def _too_big(size: float, what: str) -> None:
    if size > MAX_RENDER_CHARS:
        raise BudgetExceeded(f"{what} would make {int(size):,} characters, more than the "
                             f"{MAX_RENDER_CHARS:,} a render may produce")


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, list, tuple)) else 0


def bounded_range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise BudgetExceeded(f"range of {len(rng):,} items, more than the {MAX_RANGE:,} allowed")
    return rng


def _check_format(spec: str) -> None:
    for match in _PERCENT_WIDTH.finditer(spec):
        for part in match.groups():
            if part == "*" or (part and int(part) > MAX_RENDER_CHARS):
                raise BudgetExceeded(f"format width {part} in {spec[:40]!r} is not allowed")
    for match in _BRACE_WIDTH.finditer(spec):
        if int(match.group(1)) > MAX_RENDER_CHARS:
            raise BudgetExceeded(f"format width {match.group(1)} in {spec[:40]!r} is too big")


def _replace_size(s: str, old: str, new: str, count: int | None = None) -> int:
    hits = (len(s) + 1) if old == "" else s.count(old)
    if count is not None and count >= 0:
        hits = min(hits, count)
    return len(s) + hits * max(0, len(new) - len(old))


class BoundedNamespace(Namespace):
    """`namespace()` whose string attributes cannot grow past the budget in a loop."""

    def __setitem__(self, name: str, value: Any) -> None:
        _too_big(_size(value), f"namespace attribute {name!r}")
        tick()
        super().__setitem__(name, value)


_DICT_ATTRIBUTES = frozenset(dir(dict))


class BudgetedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox plus size and time budgets."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.globals["range"] = bounded_range
        self.globals["namespace"] = BoundedNamespace
        self.globals.pop("lipsum", None)   # lipsum(n=10**8) is a one-call gigabyte
        self.filters.update(center=_center, indent=_indent, wordwrap=_wordwrap,
                            format=_format, replace=_replace, join=_join)

    def getattr(self, obj: Any, attribute: str) -> Any:
        # `{{ o.id }}` on a plain dict: Jinja tries the attribute first and falls back to the
        # item through a caught AttributeError, a costly exception per lookup on the request
        # path. A plain dict has no attribute but dict's own, so this is the same answer.
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(times, int) and isinstance(seq, (str, list, tuple)):
                    _too_big(len(seq) * times, "repeating")
        elif operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
            if abs(left).bit_length() * right > MAX_POWER_BITS:
                raise BudgetExceeded(f"{left} ** {right} is too large a number")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        tick()
        for value in (*args, *kwargs.values()):
            _too_big(_size(value), "an argument")   # macros that double a string each call
        args = _check_method(__obj, args)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None

        def checked(*args: Any, **kwargs: Any) -> str:
            _check_format(value.__self__)
            return wrapped(*args, **kwargs)
        return checked


def _check_method(obj: Any, args: tuple) -> tuple:
    """Refuse a str method call whose result would be too big; returns the args to use."""
    owner = getattr(obj, "__self__", None)
    if not isinstance(owner, str):
        return args
    name = getattr(obj, "__name__", "")
    if name in ("ljust", "rjust", "center", "zfill") and args and isinstance(args[0], int):
        _too_big(args[0], f"str.{name}")
    elif name == "expandtabs":
        _too_big(len(owner) * (args[0] if args and isinstance(args[0], int) else 8), "expandtabs")
    elif name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
        _too_big(_replace_size(owner, args[0], args[1]), "replace")
    elif name == "join" and args:
        items = list(args[0])   # a generator has no length until it is consumed
        _too_big(len(owner) * len(items), "join")
        return (items, *args[1:])
    return args


def _center(value: str, width: int = 80) -> str:
    _too_big(width, "center")
    return _filters.do_center(value, width)


def _indent(s: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    pad = width if isinstance(width, int) else len(str(width))
    _too_big(len(str(s)) + (str(s).count("\n") + 1) * pad, "indent")
    return _filters.do_indent(s, width, first, blank)


@pass_environment
def _wordwrap(environment: Any, s: str, width: int = 79, *args: Any, **kwargs: Any) -> str:
    text = str(s)
    if len(text) > MAX_WRAP_CHARS or len(text) / max(int(width), 1) > MAX_RANGE:
        raise BudgetExceeded(f"wordwrap of {len(text):,} characters at width {width} is too "
                             f"costly (at most {MAX_WRAP_CHARS:,} characters, "
                             f"{MAX_RANGE:,} lines)")
    return _filters.do_wordwrap(environment, s, width, *args, **kwargs)


def _format(value: str, *args: Any, **kwargs: Any) -> str:
    _check_format(str(value))
    return _filters.do_format(value, *args, **kwargs)


@pass_eval_context
def _replace(eval_ctx: Any, s: Any, old: str, new: str, count: int | None = None) -> str:
    _too_big(_replace_size(str(s), str(old), str(new), count), "replace")
    return _filters.do_replace(eval_ctx, s, old, new, count)


@pass_eval_context
def _join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> str:
    items = list(value)
    _too_big(len(str(d)) * len(items), "join")
    return _filters.do_join(eval_ctx, items, d, attribute)


def render_bounded(template: Any, values: dict[str, Any]) -> str:
    """Render, counting output as it streams, so a loop cannot build an unbounded string."""
    parts, size = [], 0
    timed = _budget.deadline is not None
    for chunk in template.root_render_func(_context(template, values)):
        size += len(chunk)
        if size > MAX_RENDER_CHARS:
            _too_big(size, "the rendered output")
        if timed:
            tick()
        parts.append(chunk)
    return "".join(parts)


def _context(template: Any, values: dict[str, Any]) -> Any:
    """Jinja's own `generate` merges the template's globals (a ChainMap) into every
    context, a third of a small render's cost; a flat copy made once per template, merged
    with the values as a shared context, is the same namespace at a fraction of it."""
    flat = template.__dict__.get("_promptctl_globals")
    if flat is None:
        flat = template._promptctl_globals = dict(template.globals)
    # new_context(shared=True) with the flat globals: Context lists the globals' names, and
    # iterating the ChainMap for them on every render cost more than the rest of the setup
    environment = template.environment
    return environment.context_class(environment, {**flat, **values}, template.name,
                                     template.blocks, globals=flat)
