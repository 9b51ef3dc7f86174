"""`promptctl drift`: re-ask the live model for every served version and compare with history.

A model snapshot can change under a pinned prompt version. Drift re-runs the suite of
each version the manifest serves, never answering from the response cache, and compares
the run with the last recorded run of the same content digest on the same dataset:
paired per case (McNemar / paired bootstrap, as `eval --baseline`) when that run kept its
case scores, else an unpaired two-sample test on the aggregates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from ..errors import NotFoundError, UsageError
from .evaluate import HISTORY_FILE, EvalOptions, load_suite, state_path
from .project import Project, load_version, open_project

ERRORS, REGRESSED, GATE_FAILED = "provider errors", "regressed", "gate failed"
NO_BASELINE, STABLE = "no baseline", "stable"


@dataclass
class DriftOptions:
    env: str | None = None
    model: str | None = None           # vet a new snapshot before switching the pin
    provider: str | None = None
    since: str | None = None           # only baselines recorded since this date
    concurrency: int | None = None
    record: bool = True
    on_progress: Callable[[str, int, int], None] | None = None


@dataclass(frozen=True)
class Served:
    """One prompt version as the manifest serves it, with the model it runs on."""

    name: str
    version: str
    model: str | None                  # the env's pin; None: the suite's or prompt's model
    where: tuple[str, ...]             # "production", "production/enterprise (canary 5%)"


@dataclass
class DriftItem:
    served: Served
    run: Any                           # evals.results.RunResult, with .comparison set
    baseline: Any = None               # evals.history.HistoryRow or None

    @property
    def status(self) -> str:
        comparison = self.run.comparison or {}
        # Failed calls score worst on every metric: say the provider failed, not the prompt.
        if not self.run.summary.get("errors_ok", True):
            return ERRORS
        if comparison.get("regressed"):
            return REGRESSED
        if not self.run.summary.get("gates_passed"):
            return GATE_FAILED
        return NO_BASELINE if self.baseline is None else STABLE

    @property
    def failed(self) -> bool:
        return self.status in (ERRORS, REGRESSED, GATE_FAILED)

    @property
    def newly_failing_gates(self) -> list[str]:
        """Gates that fail now and passed (or did not exist) in the baseline run."""
        before = {g["gate"]: g["passed"] for g in (self.baseline.gates if self.baseline else [])}
        return [g["gate"] for g in self.run.summary["gates"]
                if not g["passed"] and before.get(g["gate"], True)]

    def to_dict(self) -> dict[str, Any]:
        base = self.baseline
        return {"prompt": self.served.name, "version": self.served.version,
                "served": list(self.served.where), "status": self.status,
                "model": self.run.model, "provider": self.run.provider,
                "baseline": None if base is None else {
                    "run": base.id, "started": base.started, "model": base.model,
                    "score": base.score, "metrics": base.metrics},
                "newly_failing_gates": self.newly_failing_gates, "run": self.run.to_dict()}


@dataclass
class DriftReport:
    items: list[DriftItem] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def runs(self) -> list:            # the eval report writers (JUnit, HTML) read `.runs`
        return [item.run for item in self.items]

    @property
    def passed(self) -> bool:
        return not any(item.failed for item in self.items)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "items": [i.to_dict() for i in self.items],
                "skipped": [{"prompt": p, "reason": r} for p, r in self.skipped]}


# ---------------------------------------------------------------- what is served

def served_versions(manifest, env: str | None = None, model: str | None = None) -> list[Served]:
    """Active versions, running canaries and segments of one env (or all), de-duplicated
    by (name, version, model): the same version pinned to two models is two checks."""
    found: dict[tuple, list[str]] = {}
    for env_name, prompts in sorted(manifest.environments.items()):
        if env is not None and env_name != env:
            continue
        for name, entry in sorted(prompts.items()):
            for segment, target in [(None, entry), *sorted(entry.segments.items())]:
                place = env_name + (f"/{segment}" if segment else "")
                pin = model or target.model
                found.setdefault((name, target.active, pin), []).append(place)
                canary = target.canary
                if canary is not None and canary.running:
                    found.setdefault((name, canary.version, pin), []).append(
                        f"{place} (canary {canary.weight:g}%)")
    return [Served(n, v, m, tuple(w)) for (n, v, m), w in found.items()]


def parse_since(text: str | None) -> str | None:
    """A date or datetime → the UTC ISO prefix history rows are compared with."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"{text!r} is not a date", field="--since",
                         fix="use YYYY-MM-DD or an ISO 8601 time") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------- the run

def drift(directory: Path | str, options: DriftOptions) -> DriftReport:
    """`promptctl drift`: re-run every served version live and compare with its history."""
    from .deploy import read_manifest

    project = open_project(directory)
    since = parse_since(options.since)
    manifest = read_manifest(project)
    if options.env is not None and options.env not in manifest.environments:
        raise NotFoundError(f"no environment {options.env!r}", file=project.config.manifest,
                            field="--env",
                            fix=f"known: {', '.join(manifest.environments) or 'none yet'}")
    report = DriftReport()
    for served in served_versions(manifest, options.env, options.model):
        suite_file = f"{project.config.evals_dir}/{served.name}/suite.yaml"
        if project.working.read(suite_file) is None:
            report.skipped.append((f"{served.name}@{served.version}", "no suite"))
            continue
        report.items.append(_check(project, served, suite_file, since, options))
    return report


def _check(project: Project, served: Served, suite_file: str, since: str | None,
           options: DriftOptions) -> DriftItem:
    from ..evals.history import History
    from .evaluate import _execute

    content = load_version(project, served.name, served.version)
    suite, cases, dataset_digest = load_suite(project, suite_file, set(content.spec.inputs))
    positions = {case.id: i for i, case in enumerate(cases)}
    history = History(state_path(project, "history", HISTORY_FILE))
    try:
        baseline = history.last_run(served.name, content.digest, dataset_digest, since)
        base_cases = history.case_scores(baseline.id) if baseline else None
        # no_cache: drift exists to hear what the model says today, never yesterday's answer.
        eval_options = EvalOptions(model=served.model, provider=options.provider,
                                   concurrency=options.concurrency, no_cache=True,
                                   on_progress=options.on_progress)
        run = _execute(project, served.name, served.version, content, suite, cases,
                       dataset_digest, suite.repeat, eval_options, positions)
        if baseline is not None:
            policy = suite.baseline
            run.comparison = compare_with_history(baseline, base_cases, run, policy.tolerance,
                                                  policy.alpha, policy.resamples)
        if options.record:
            history.record(run)
    finally:
        history.close()
    return DriftItem(served, run, baseline)


# ---------------------------------------------------------------- comparison

def compare_with_history(row, base_cases: list[dict] | None, run, tolerance: float,
                         alpha: float, resamples: int = 2000) -> dict[str, Any]:
    """The eval baseline comparison against a recorded run: paired when its cases were kept."""
    if base_cases:
        from ..evals.results import compare
        comparison = compare(_as_run(row, base_cases, run), run, tolerance, alpha, resamples)
        comparison["method"] = "paired"
    else:
        comparison = _unpaired(row, run, tolerance, alpha)
    comparison.update({"baseline_version": row.version, "baseline_run": row.id,
                       "baseline_started": row.started, "baseline_model": row.model,
                       "baseline_score": row.score, "score": run.summary["score"]})
    return comparison


def _as_run(row, base_cases: list[dict], run):
    from dataclasses import replace

    from ..evals.results import CaseResult

    cases = [CaseResult(id=c["id"], sample=c["sample"], inputs={}, expected=None, tags=[],
                        output=None, error="error" if c.get("error") else None,
                        scores=dict(c["scores"])) for c in base_cases]
    return replace(run, version=row.version, model=row.model, cases=cases, comparison=None)


def _unpaired(row, run, tolerance: float, alpha: float) -> dict[str, Any]:
    """Welch-style z test on means: the old run kept only its per-metric means, so its
    variance is taken from the new run (p(1-p) on each side for pass/fail scores)."""
    from ..evals import stats

    rows, regressed = {}, False
    n_base = max(row.cases, 1)
    for info in run.metrics:
        values = [c.scores.get(info.name, 0.0) for c in run.cases]
        n = max(len(values), 1)
        b = float(row.metrics.get(info.name, 0.0))
        c = math.fsum(values) / n
        if stats.is_binary(values):
            var_b, var_c, test = b * (1 - b), c * (1 - c), "two_proportion_z"
        else:
            var_c = math.fsum((v - c) ** 2 for v in values) / max(n - 1, 1)
            var_b, test = var_c, "two_sample_z"
        se = math.sqrt(var_b / n_base + var_c / n)
        delta = c - b
        p = _two_sided_p(delta / se) if se > 0 else (1.0 if delta == 0 else 0.0)
        drop = -delta if info.direction == "higher" else delta
        regression = drop > tolerance and p < alpha
        regressed = regressed or regression
        rows[info.name] = {"baseline": b, "candidate": c, "delta": delta,
                           "low": delta - stats.Z95 * se, "high": delta + stats.Z95 * se,
                           "p": p, "test": test, "broke": 0, "fixed": 0, "regression": regression}
    return {"baseline_digest": row.digest, "paired": 0, "method": "unpaired",
            "tolerance": tolerance, "alpha": alpha, "metrics": rows, "flipped": [],
            "regressed": regressed}


def _two_sided_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2))


__all__ = ["DriftItem", "DriftOptions", "DriftReport", "Served", "compare_with_history", "drift",
           "served_versions"]
