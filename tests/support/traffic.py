"""Calls written to a repo's call log the way a running app logs them: a stable and a canary
variant answering the same users, each call a success or a failure with a latency."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Callable

from promptctl.runtime.calllog import open_logger

# (variant, call index) -> (success, latency in ms)
Outcome = Callable[[str, int], "tuple[bool, float]"]


def log_canary_traffic(root: Path, n: int, *, outcome: Outcome, at: Callable[[int], float],
                       stable: str = "1.0.0", canary: str = "1.1.0") -> None:
    """n calls of each variant of support-refund in production, stable first, user by user."""
    with open_logger(None, root=root) as logger:
        for i in range(n):
            for variant, version in (("stable", stable), ("canary", canary)):
                success, latency = outcome(variant, i)
                logger.log_call(name="support-refund", version=version, variant=variant,
                                env="production", key=f"{variant}{i}", success=success,
                                latency_ms=latency, time_=at(i))
        assert logger.flush()


def seeded_errors(seed: int, canary_error: float, latency: Callable[[random.Random], float],
                  stable_error: float = 0.02) -> Outcome:
    """Calls failing at random (seeded) at `stable_error` and `canary_error`."""
    rng = random.Random(seed)

    def outcome(variant: str, i: int) -> tuple[bool, float]:
        p = stable_error if variant == "stable" else canary_error
        return rng.random() > p, latency(rng)
    return outcome


def canary_fails_one_in_three(variant: str, i: int) -> tuple[bool, float]:
    """Every stable call succeeds, every third canary call fails; latencies cycle 100-106 ms."""
    return variant == "stable" or i % 3 != 0, 100.0 + i % 7
