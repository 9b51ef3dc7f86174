"""`promptctl eval plan NAME --detect D`: how large a suite must be to see a drop of D.

The figures are the ones every baseline comparison prints (see `evals.stats`): 80% power
at the level Holm's correction gives a drop in one of the suite's m metrics (alpha / m),
for a pass/fail drop where the broken cases are not offset by fixed ones.
"""

from __future__ import annotations

from typing import Any

from ..errors import NotFoundError, UsageError
from .eval_run import load_suite
from .project import Project


def check_detect(detect: float | None) -> None:
    """Refuse a --detect that is not a drop; the CLI asks before it opens the repo."""
    if detect is not None and not 0 < detect <= 1:
        raise UsageError(f"{detect:g} is not a drop between 0 and 1", field="--detect",
                         fix="for example --detect 0.05 (five points)")


def plan(project: Project, name: str, detect: float | None = None) -> dict[str, Any]:
    from ..evals import stats

    check_detect(detect)
    suite_file = f"{project.config.evals_dir}/{name}/suite.yaml"
    if project.working.read(suite_file) is None:
        raise NotFoundError(f"no eval suite for {name!r}", file=suite_file,
                            fix="create it (see docs/evals.md)")
    suite, cases, _ = load_suite(project, suite_file)
    n, metrics, alpha = len(cases), len(suite.metrics), suite.baseline.alpha
    level = alpha / metrics
    out: dict[str, Any] = {"prompt": name, "cases": n, "metrics": metrics, "alpha": alpha,
                           "level": level, "power": stats.POWER, "repeat": suite.repeat,
                           "min_detectable": stats.min_detectable_drop(n, level),
                           "detect": detect}
    if detect is not None:
        needed = stats.cases_needed(detect, level)
        out.update(cases_needed=needed, more=max(0, needed - n))
    return out


def describe(p: dict[str, Any]) -> list[str]:
    """The plan as lines of text."""
    metrics = f"{p['metrics']} metric" + ("s" if p["metrics"] != 1 else "")
    lines = [f"{p['prompt']}: {p['cases']} cases, {metrics}, α {p['alpha']:g} "
             f"(Holm: a drop in one metric is tested at {p['level']:.3g})"]
    mde = p["min_detectable"]
    lines.append("  detectable now: " + ("no drop at all (too few cases)" if mde is None else
                                         f"a drop of {mde:.3f} or more at best (80% power)"))
    if p.get("detect") is not None:
        more = f" ({p['more']} more)" if p["more"] else " (the suite has enough)"
        lines.append(f"  to detect a drop of {p['detect']:.3f}: {p['cases_needed']} cases{more}")
    if p["repeat"] > 1:
        lines.append(f"  repeat: {p['repeat']} samples per case do not add cases: the case is the unit")
    return lines
