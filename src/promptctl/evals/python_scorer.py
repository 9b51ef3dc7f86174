"""`type: python`: a function of the prompt repo scores the answer."""

from __future__ import annotations

from typing import Callable

from .scoring import Context, Observation, Score


def python(params: dict, ctx: Context) -> Callable[[Observation], Score]:
    from ..providers.python import load_callable

    func = load_callable(params["function"], ctx.root, "function")
    options = {k: v for k, v in params.items() if k != "function"}

    def score(obs: Observation) -> Score:
        result = func(obs.output, obs.case, **options)
        if isinstance(result, dict):
            value, reason = result.get("score", 0.0), str(result.get("reason", ""))
        elif isinstance(result, tuple):
            value, reason = result[0], str(result[1])
        else:
            value, reason = result, ""
        value = float(value)
        if value != value:   # NaN would silently clamp to 0 and hide the function's bug
            raise ValueError("returned NaN")
        return min(1.0, max(0.0, value)), reason
    return score
