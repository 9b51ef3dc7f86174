"""Sample-ratio mismatch (SRM): does the traffic split the metrics see match the weight?

A canary at 5% should see about 5% of the routing keys. When it sees 1.4%, something
between routing and the metric source is broken (an app that drops canary logs, a
stale manifest, code that overrides the variant), and every comparison after that is
biased: the canary's calls that reached the log are not a random sample of its traffic.
The check is a chi-square goodness-of-fit test (1 degree of freedom) of the stable and
canary counts against the configured weight, per routing key (the unit the metrics use)
and per call; the keyed test decides. Calls logged with their routing bucket can also be
checked one by one: a call whose bucket says stable but whose variant says canary (or
the reverse) was misrouted. Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated, Any

from pydantic import AfterValidator

from ..model import StrictModel

MIN_EXPECTED = 5.0      # the chi-square approximation needs this many expected per side


class SrmAction(str, Enum):
    HOLD = "hold"
    ROLLBACK = "rollback"


@dataclass(frozen=True)
class SrmPolicy:
    alpha: float = 0.001        # strict: a false alarm stops a healthy canary
    action: SrmAction = SrmAction.HOLD
    enabled: bool = True        # `srm: false`: for logs that sample variants differently


@dataclass(frozen=True)
class RoutingCheck:
    """What the metric source found when it re-checked logged buckets against variants."""

    checked: int = 0                       # calls that carry a bucket and threshold
    misrouted: int = 0                     # bucket and variant disagree
    examples: tuple[str, ...] = ()         # call ids of some misrouted calls
    other_threshold: int = 0               # logged with another weight than the manifest's
    # (stable keys, canary keys, stable calls, canary calls) of the calls routed at the
    # manifest's weight: the split to test when buckets are logged (calls of an earlier
    # step, or of an app with a stale manifest, were routed at another weight)
    split: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class SrmResult:
    verdict: str                           # "ok", "mismatch", "no_data" or "off"
    expected: float                        # the canary's expected share (weight / 100)
    stable_keys: int
    canary_keys: int
    p_keys: float | None
    stable_calls: int
    canary_calls: int
    p_calls: float | None
    reason: str
    routing: RoutingCheck = field(default_factory=RoutingCheck)

    @property
    def mismatch(self) -> bool:
        return self.verdict == "mismatch"

    def as_dict(self) -> dict[str, Any]:
        r = self.routing
        return {"verdict": self.verdict, "expected": self.expected,
                "keys": {"stable": self.stable_keys, "canary": self.canary_keys, "p": self.p_keys},
                "calls": {"stable": self.stable_calls, "canary": self.canary_calls,
                          "p": self.p_calls},
                "misrouted": {"checked": r.checked, "count": r.misrouted,
                              "calls": list(r.examples), "other_threshold": r.other_threshold},
                "reason": self.reason}


def fraction(value: float) -> float:
    """An error level: strictly between 0 and 1 (0 never rejects, 1 always does)."""
    if not 0 < value < 1:
        raise ValueError(f"{value!r} must be between 0 and 1 (e.g. 0.05)")
    return value


Fraction = Annotated[float, AfterValidator(fraction)]


class SrmSettings(StrictModel):
    """`canary.srm:` as written; an unset field keeps the SrmPolicy default."""

    alpha: Fraction | None = None
    action: SrmAction | None = None

    def policy(self) -> SrmPolicy:
        return SrmPolicy(**{k: v for k, v in self if v is not None})


def chi_square_p(stable: float, canary: float, share: float) -> float | None:
    """p of a chi-square goodness-of-fit test (1 df) of (stable, canary) counts against a
    canary share; None when the expected counts are too small for the test."""
    n = stable + canary
    expected_c, expected_s = n * share, n * (1 - share)
    if min(expected_c, expected_s) < MIN_EXPECTED:
        return None
    chi2 = (canary - expected_c) ** 2 / expected_c + (stable - expected_s) ** 2 / expected_s
    return math.erfc(math.sqrt(chi2 / 2))


def check_srm(policy: SrmPolicy, weight: float, stable_keys: int, canary_keys: int,
              stable_calls: int, canary_calls: int,
              routing: RoutingCheck | None = None) -> SrmResult:
    share = weight / 100
    routing = routing or RoutingCheck()
    if routing.split is not None and any(routing.split[:2]):
        stable_keys, canary_keys, stable_calls, canary_calls = routing.split
    p_keys = chi_square_p(stable_keys, canary_keys, share)
    p_calls = chi_square_p(stable_calls, canary_calls, share)

    def result(verdict: str, reason: str) -> SrmResult:
        return SrmResult(verdict, share, stable_keys, canary_keys, p_keys, stable_calls,
                         canary_calls, p_calls, reason, routing)

    if not policy.enabled:
        return result("off", "srm: false in the policy")

    misrouted = (f"; {routing.misrouted} of {routing.checked} logged calls misrouted "
                 "(bucket and variant disagree)" if routing.misrouted else "")
    if routing.other_threshold:
        misrouted += (f"; {routing.other_threshold} calls routed at another weight left out "
                      "(an earlier step, or an app with a stale manifest)")
    if p_keys is None:
        if share >= 1:
            return result("no_data", "at 100% every call goes to the canary: no split to check"
                          + misrouted)
        return result("no_data", f"too few keys for the check ({stable_keys + canary_keys} "
                      f"seen; needs {MIN_EXPECTED:g} expected per variant)" + misrouted)
    observed = canary_keys / (stable_keys + canary_keys)
    text = (f"canary has {observed:.1%} of keys ({canary_keys} of {stable_keys + canary_keys}), "
            f"expected {share:.1%}: chi-square p = {p_keys:.2g}")
    if p_calls is not None:
        text += f" (per call {canary_calls} of {stable_calls + canary_calls}, p = {p_calls:.2g})"
    if p_keys < policy.alpha:
        return result("mismatch", text + misrouted)
    return result("ok", text + misrouted)
