"""Which calls a canary comparison reads (`Selection`), and what the call-log readers
share: the routing threshold the manifest's weight implies, and the sample-ratio split."""

from __future__ import annotations

from dataclasses import dataclass

EXAMPLES = 10     # misrouted call ids a routing check quotes


@dataclass(frozen=True)
class Selection:
    """Which calls belong to the comparison."""

    name: str
    env: str
    stable_version: str
    canary_version: str
    since: float                  # unix seconds: the start of the current step
    segment: str | None = None    # None: every segment
    until: float | None = None
    weight: float | None = None   # the manifest's canary weight (to spot stale routing)

def expected_threshold(sel: Selection) -> int:
    """The bucket threshold the manifest's weight routes by (-1 when it is not known)."""
    from ..runtime.routing import threshold
    return threshold(sel.weight) if sel.weight is not None else -1

def routing_split(stable: tuple[int, int], canary: tuple[int, int]) -> tuple[int, int, int, int]:
    """(stable keys, canary keys, stable calls, canary calls) from each variant's (keys, calls)."""
    return stable[0], canary[0], stable[1], canary[1]
