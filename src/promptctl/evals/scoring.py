"""What every scorer shares: the Observation it scores, the Context it is built with, the
Score it returns, and the expected value it compares the answer with.

A scorer is built once per metric from its params and called once per case, so
anything expensive (regex compilation, imports) happens at build time.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from .datasets import Case

Score = tuple[float, str]


@dataclass(frozen=True)
class Observation:
    """What a scorer may look at: the answer, the case and the call's measurements."""

    output: str
    case: Case
    latency_ms: float = 0.0
    cost: float = 0.0
    tokens_out: int = 0
    tool_calls: tuple[dict, ...] = ()   # {id, name, arguments} of a reply that called tools


@dataclass(frozen=True)
class Context:
    root: Any = None                 # repo root, for `python` scorers
    output_schema: dict | None = None
    tools: tuple[dict, ...] = ()     # the prompt's declared tools, for argument schemas


def target(params: dict, obs: Observation) -> Any:
    """What the answer is compared with: the metric's `value` (or `values`), else the case's expected."""
    for key in ("value", "values"):
        if key in params:
            value = params[key]
            if isinstance(value, str) and "{{" in value:
                return _case_template(value).render(expected=obs.case.expected,
                                                    inputs=obs.case.inputs,
                                                    metadata=obs.case.metadata)
            return value
    return obs.case.expected


@functools.lru_cache(maxsize=256)
def _case_template(source: str):
    """`value: "{{ expected }}"` reads per-case fields; compiled once per distinct text."""
    from ..render import make_environment
    return make_environment({}).from_string(source)


def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]

