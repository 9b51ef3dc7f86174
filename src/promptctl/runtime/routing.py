"""Sticky, monotonic canary routing.

bucket = int(sha1(f"{salt}.{key}").hexdigest()[:15], 16) % 10000; a key is in the canary
when bucket < weight × 100. The bucket does not depend on the weight, so raising the
weight only adds keys: a key in the canary at 5% is still in it at 50%.
"""

from __future__ import annotations

import hashlib
import random

BUCKETS = 10_000
_random = random.SystemRandom()


def default_salt(name: str, env: str, segment: str | None, version: str) -> str:
    """Changing the canary version re-shuffles who gets it; re-weighting does not."""
    return f"{name}:{env}:{segment or ''}:{version}"


def bucket(salt: str, key: str) -> int:
    digest = hashlib.sha1(f"{salt}.{key}".encode("utf-8")).hexdigest()
    return int(digest[:15], 16) % BUCKETS


def threshold(weight: float) -> int:
    """Buckets below this go to the canary; round() keeps 0.01-percent steps exact."""
    return int(round(weight * 100))


def draw(salt: str, key: object | None) -> int:
    """The call's bucket: the key's own, or a fresh one per call when there is no key."""
    if key is None:
        return _random.randrange(BUCKETS)
    return bucket(salt, str(key))


def in_canary(salt: str, key: object | None, weight: float) -> bool:
    """Whether this call goes to the canary (the registry's rule: draw() < threshold)."""
    return draw(salt, key) < threshold(weight)
