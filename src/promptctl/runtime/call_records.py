"""What the call log stores: one record per call and per late quality signal, the call id,
the hashed routing key, and how the app's values are cleaned into a record's fields.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal


def hash_key(key: Any) -> str | None:
    """The routing key as stored: sha256 truncated to 16 hex digits, never the raw key."""
    if key is None:
        return None
    return hashlib.sha256(str(key).encode("utf-8")).hexdigest()[:16]


_id_prefix = os.urandom(8).hex()
_id_counter = itertools.count()


def _new_id_prefix() -> None:
    global _id_prefix, _id_counter
    _id_prefix = os.urandom(8).hex()
    _id_counter = itertools.count()


if hasattr(os, "register_at_fork"):
    # a forked child must not hand out its parent's ids
    os.register_at_fork(after_in_child=_new_id_prefix)


def new_call_id() -> str:
    """Unique per call: a random per-process prefix and a counter (cheaper than uuid4)."""
    return f"{_id_prefix}{next(_id_counter):012x}"


@dataclass(slots=True)
class CallRecord:
    """One call of a prompt, as every sink stores it."""

    call_id: str
    time: float                 # unix seconds when the call ended
    name: str
    version: str
    variant: str = "stable"
    env: str | None = None
    segment: str | None = None
    digest: str | None = None
    model: str | None = None
    key_hash: str | None = None
    latency_ms: float | None = None
    success: bool = True
    error: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    scores: dict[str, float] = field(default_factory=dict)
    # Where routing put the key (0-9999) and the canary's bound then (weight x 100): a call
    # whose variant contradicts them was misrouted. None when no canary was running.
    bucket: int | None = None
    threshold: int | None = None

    kind: ClassVar[Literal["call"]] = "call"

    def as_dict(self) -> dict:
        return {"kind": self.kind, **asdict(self)}


@dataclass(slots=True)
class FeedbackRecord:
    """A quality signal that arrived after the call (thumbs down, escalation), joined by call id."""

    call_id: str
    time: float
    scores: dict[str, float]

    kind: ClassVar[Literal["feedback"]] = "feedback"

    def as_dict(self) -> dict:
        return {"kind": self.kind, **asdict(self)}


Record = CallRecord | FeedbackRecord


def error_name(error: Any) -> str | None:
    if error is None or error is False:
        return None
    if isinstance(error, BaseException):
        return type(error).__name__
    if isinstance(error, type) and issubclass(error, BaseException):
        return error.__name__
    from ..redaction import redact   # app error text may hold a key; it goes to logs and spans
    return redact(str(error))


# The app's values are not validated by raising (logging never breaks the app): a value
# that is not a number is dropped, so it can neither crash nor skew the canary analysis.
def number_or_none(value: Any) -> float | None:
    if isinstance(value, (int, float)) and value == value and abs(value) != float("inf"):
        return value
    return None


def count_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def clean_scores(scores: Any) -> dict[str, float]:
    if not isinstance(scores, dict):
        return {}
    return {str(k): v for k, v in scores.items() if number_or_none(v) is not None}
