"""The one YAML loader every promptctl file goes through, with limits.

A hostile or broken file must cost at most a fraction of a second and end in a one-line
error naming the file: size is capped before parsing, nesting depth and alias expansion
are measured on the event stream (which parses iteratively, so a 5,000-deep list cannot
blow the stack) unless counting characters already proves the text within them, and
duplicate keys are refused instead of the last one silently winning.
"""

from __future__ import annotations

from typing import Any

import yaml

from .errors import Problem, ValidationError

MAX_YAML_BYTES = 2 * 1024 * 1024      # a prompt repo's YAML is kilobytes; big datasets are JSONL
MAX_DEPTH = 100                       # deep enough for any JSON Schema written by hand
MAX_ALIAS_NODES = 100_000             # nodes that aliases may add beyond the text itself

_Parser = getattr(yaml, "CSafeLoader", yaml.SafeLoader)   # libyaml when built with it


class _NoDuplicatesLoader(_Parser):  # type: ignore[misc, valid-type]
    """Safe loading that refuses a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue   # `<<: *base` is meant to be overridden by the keys beside it
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise _DuplicateKey(key, seen[key], line)
                seen[key] = line
            except TypeError:
                continue   # an unhashable key: the base constructor reports it
        return super().construct_mapping(node, deep=deep)


class _DuplicateKey(Exception):
    def __init__(self, key: Any, first: int, again: int) -> None:
        super().__init__(key)
        self.key, self.first, self.again = key, first, again


# Every collection is opened by one of these characters of its own (a flow bracket, a
# block entry's dash, a key's colon or question mark), so a text holding no more of them
# than MAX_DEPTH cannot nest deeper than MAX_DEPTH.
_OPENERS = "[{-:?"


def within_limits_by_counting(text: str) -> bool:
    """True when counting characters proves the event walk of `check_limits` would pass:
    a typical prompt.yaml is decided in a microsecond instead of a full parse."""
    if "*" in text and ("&" in text or text.count("*") > MAX_ALIAS_NODES):
        return False   # aliases that may expand (without anchors each alias adds one value)
    return sum(map(text.count, _OPENERS)) <= MAX_DEPTH


def check_limits(text: str, file: str) -> None:
    """Refuse a document too big, too deep or whose aliases expand too far; before loading."""
    if len(text) * 4 > MAX_YAML_BYTES:   # 4 bytes per character at most: encode only then
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_YAML_BYTES:
            _fail(file, f"file is {size / 1048576:.1f} MB, more than the "
                        f"{MAX_YAML_BYTES // 1048576} MB a YAML file may hold (split it, or use "
                        "JSONL for large datasets)")
    if not within_limits_by_counting(text):
        check_nesting(text, file)


def check_nesting(text: str, file: str) -> None:
    """Nesting depth and alias expansion measured on the event stream (iterative: a
    5,000-deep list cannot blow the stack)."""
    depth, expanded = 0, 0
    stack: list[list] = []           # [anchor, expanded size] of each open collection
    sizes: dict[str, int] = {}
    for event in yaml.parse(text, Loader=_Parser):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                _fail(file, f"nested more than {MAX_DEPTH} levels deep (flatten the data)",
                      _line(event))
            stack.append([event.anchor, 1])
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
            anchor, count = stack.pop()
            if anchor:
                sizes[anchor] = count
            if stack:
                stack[-1][1] += count
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor:
                sizes[event.anchor] = 1
            if stack:
                stack[-1][1] += 1
        elif isinstance(event, yaml.AliasEvent):
            count = sizes.get(event.anchor, 1) if event.anchor is not None else 1
            expanded += count
            if expanded > MAX_ALIAS_NODES:
                _fail(file, f"aliases expand to more than {MAX_ALIAS_NODES:,} values (an alias "
                            "bomb? write the values out, or use fewer nested aliases)",
                      _line(event))
            if stack:
                stack[-1][1] += count


def load_yaml(text: str, file: str) -> Any:
    """Parse one YAML document safely; every failure is a ValidationError naming `file`."""
    try:
        check_limits(text, file)
        return yaml.load(text, Loader=_NoDuplicatesLoader)  # noqa: S506 - a safe loader
    except _DuplicateKey as exc:
        _fail(file, f"key {exc.key!r} is given twice (lines {exc.first} and {exc.again}; "
                    "keep one)", exc.again)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = Problem(file, f"invalid YAML: {getattr(exc, 'problem', None) or exc}", line=line)
        raise ValidationError(problems=[problem]) from exc
    except (RecursionError, MemoryError) as exc:   # a last resort: limits should stop these first
        _fail(file, f"YAML too complex to load ({type(exc).__name__})")


def compose(text: str) -> yaml.Node | None:
    """The node tree (for line numbers) of a document `load_yaml` accepted; None if broken."""
    try:
        check_limits(text, "(yaml)")
        return yaml.compose(text, Loader=_Parser)
    except (yaml.YAMLError, ValidationError, RecursionError):
        return None


def _line(event: yaml.Event) -> int | None:
    """The 1-based line an event starts on (the parser always marks it; the stubs allow None)."""
    return event.start_mark.line + 1 if event.start_mark is not None else None


def _fail(file: str, message: str, line: int | None = None) -> None:
    raise ValidationError(problems=[Problem(file, message, line=line)])
