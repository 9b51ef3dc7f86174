"""The scorers of an answer's text and of the call's measurements: exact, contains,
regex, refusal, length, similarity, latency and cost."""

from __future__ import annotations

import difflib
import re
from typing import Callable

from .scoring import Context, Observation, Score, as_list, target

REFUSAL_PATTERNS = (
    r"\bI(?:'m| am) (?:sorry|afraid)\b", r"\bI can(?:'|no)t\b", r"\bI cannot\b",
    r"\bI(?:'m| am) (?:not able|unable) to\b", r"\bI won'?t be able to\b",
    r"\bas an AI\b", r"\bI must decline\b", r"\bnot (?:able|allowed) to (?:help|assist)\b",
)


def _excerpt(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def exact(params: dict, ctx: Context) -> Callable[[Observation], Score]:
    strip, fold = params.get("strip", True), params.get("ignore_case", False)

    def norm(text: str) -> str:
        text = text.strip() if strip else text
        return text.casefold() if fold else text

    def score(obs: Observation) -> Score:
        want = target(params, obs)
        if want is None:
            return 0.0, "no expected value"
        ok = norm(obs.output) == norm(str(want))
        if ok:
            return 1.0, "matches"
        return 0.0, f"expected {str(want)[:60]!r}, got {_excerpt(obs.output)!r}"
    return score


def contains(fold: bool, negate: bool) -> Callable:
    """The factory of `contains`, `icontains` (fold) and `not_contains` (fold, negate)."""
    def factory(params: dict, ctx: Context) -> Callable[[Observation], Score]:
        mode = params.get("mode", "all")
        fold_here = params.get("ignore_case", fold)

        def score(obs: Observation) -> Score:
            needles = as_list(target(params, obs))
            if not needles:
                return 0.0, "nothing to look for"
            hay = obs.output.casefold() if fold_here else obs.output
            found = [n for n in needles if (n.casefold() if fold_here else n) in hay]
            if negate:
                return (0.0, f"contains {found[0]!r}") if found else (1.0, "none found")
            ok = bool(found) if mode == "any" else len(found) == len(needles)
            missing = [n for n in needles if n not in found]
            return (1.0, "found") if ok else (0.0, f"missing {missing[0]!r}")
        return score
    return factory


def regex(params: dict, ctx: Context) -> Callable[[Observation], Score]:
    flags = re.IGNORECASE if params.get("ignore_case") else 0
    fixed = re.compile(params["pattern"], flags) if "pattern" in params else None
    full = params.get("full", False)

    def score(obs: Observation) -> Score:
        pattern = fixed or re.compile(str(obs.case.expected), flags)
        found = pattern.fullmatch(obs.output.strip()) if full else pattern.search(obs.output)
        return (1.0, "matches") if found else (0.0, f"no match for /{pattern.pattern[:40]}/")
    return score


def refusal(params: dict, ctx: Context) -> Callable[[Observation], Score]:
    pattern = re.compile("|".join([*REFUSAL_PATTERNS, *as_list(params.get("patterns"))]),
                         re.IGNORECASE)

    def score(obs: Observation) -> Score:
        found = pattern.search(obs.output)
        return (1.0, f"refusal: {found[0]!r}") if found else (0.0, "answered")
    return score


def length(params: dict, ctx: Context) -> Callable[[Observation], Score]:
    low, high = params.get("min", 0), params.get("max", float("inf"))
    words = params.get("unit", "chars") == "words"

    def score(obs: Observation) -> Score:
        size = len(obs.output.split()) if words else len(obs.output)
        ok = low <= size <= high
        return (1.0 if ok else 0.0), f"{size} {'words' if words else 'chars'}"
    return score


def latency(params: dict, ctx: Context) -> Callable[[Observation], Score]:
    limit = float(params.get("max_ms", 2000))

    def score(obs: Observation) -> Score:
        return (1.0 if obs.latency_ms <= limit else 0.0), f"{obs.latency_ms:.0f} ms"
    return score


def cost(params: dict, ctx: Context) -> Callable[[Observation], Score]:
    limit = float(params.get("max", 0.01))

    def score(obs: Observation) -> Score:
        return (1.0 if obs.cost <= limit else 0.0), f"${obs.cost:.6f}"
    return score


def similarity(params: dict, ctx: Context) -> Callable[[Observation], Score]:
    method = params.get("method", "tokens")

    def score(obs: Observation) -> Score:
        want = target(params, obs)
        if want is None:
            return 0.0, "no expected value"
        a, b = obs.output.strip().casefold(), str(want).strip().casefold()
        if method == "chars":
            value = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
        else:
            value = _token_f1(a.split(), b.split())
        return round(value, 6), f"{method} similarity {value:.2f}"
    return score


def _token_f1(got: list[str], want: list[str]) -> float:
    if not got or not want:
        return float(got == want)
    counts: dict[str, int] = {}
    for token in want:
        counts[token] = counts.get(token, 0) + 1
    common = 0
    for token in got:
        if counts.get(token, 0) > 0:
            counts[token] -= 1
            common += 1
    if not common:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)

