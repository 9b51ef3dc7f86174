"""`promptctl drift`: re-ask the live model for every served version and compare with its
accepted baseline.

A model snapshot can change under a pinned prompt version. Drift re-runs the suite of
each version the manifest serves, never answering from the response cache, and compares
the run with the version's accepted baseline (see `drift_baseline`): paired per case
(McNemar / paired bootstrap, as `eval --baseline`) when that run's case scores are
recorded here, else an unpaired two-sample test on the aggregates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from ..errors import NotFoundError, UsageError
from .eval_history import HISTORY_FILE, state_path
from .eval_run import load_suite
from .evaluate import EvalOptions
from .project import Project, load_version

ERRORS, REGRESSED, GATE_FAILED = "provider errors", "regressed", "gate failed"
NO_BASELINE, STABLE, ACCEPTED = "no baseline", "stable", "accepted"


@dataclass
class DriftOptions:
    env: str | None = None
    model: str | None = None           # vet a new snapshot before switching the pin
    provider: str | None = None
    since: str | None = None           # only baselines recorded since this date
    concurrency: int | None = None
    record: bool = True
    accept: bool = False               # today's runs become the accepted baselines
    on_progress: Callable[[str, int, int], None] | None = None


@dataclass(frozen=True)
class Served:
    """One prompt version as the manifest serves it, with the model it runs on."""

    name: str
    version: str
    model: str | None                  # the env's pin; None: the suite's or prompt's model
    where: tuple[str, ...]             # "production", "production/enterprise (canary 5%)"
    pin: str | None = None             # the pin the baseline belongs to (when --model runs another)


@dataclass
class DriftItem:
    served: Served
    run: Any                           # evals.results.RunResult, with .comparison set
    baseline: Any = None               # drift_baseline.BaselineRun or None
    accepted: bool = False             # this run is now the accepted baseline

    @property
    def status(self) -> str:
        comparison = self.run.comparison or {}
        # Failed calls score worst on every metric: say the provider failed, not the prompt.
        if self.run.summary.get("outage"):
            return ERRORS
        if self.accepted and self.baseline is not None:
            return ACCEPTED
        if comparison.get("regressed"):
            return REGRESSED
        if not self.run.summary.get("gates_passed"):
            return GATE_FAILED
        return NO_BASELINE if self.baseline is None else STABLE

    @property
    def failed(self) -> bool:
        return self.status in (ERRORS, REGRESSED, GATE_FAILED)

    @property
    def outage(self) -> bool:
        return self.status == ERRORS

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
                "accepted": self.accepted,
                "baseline": None if base is None else {
                    "run": base.id, "source": base.source, "tag": base.tag,
                    "accepted": base.accepted, "started": base.started, "model": base.model,
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
                # --model runs another model against the pinned one's baseline
                key = (target.model, model or target.model)
                found.setdefault((name, target.active, key), []).append(place)
                canary = target.canary
                if canary is not None and canary.running:
                    found.setdefault((name, canary.version, key), []).append(
                        f"{place} (canary {canary.weight:g}%)")
    return [Served(n, v, run_model, tuple(w), pin) for (n, v, (pin, run_model)), w in found.items()]


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

def drift(project: Project, options: DriftOptions) -> DriftReport:
    """`promptctl drift`: re-run every served version live and compare with its history."""
    from .working_manifest import read_manifest

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
    from ..evals.attestation import params_digest
    from ..evals.history import History
    from . import drift_baseline
    from .eval_run import execute_suite, suite_digest

    content = load_version(project, served.name, served.version)
    suite, cases, dataset_digest = load_suite(project, suite_file, set(content.spec.inputs))
    positions = {case.id: i for i, case in enumerate(cases)}
    spec = content.spec
    need = drift_baseline.Need(
        prompt=served.name, digest=content.digest, suite_digest=suite_digest(project, suite_file),
        dataset_digest=dataset_digest,
        provider=options.provider or suite.provider or spec.model.provider,
        model=served.pin or suite.model or spec.model.name,
        params_digest=params_digest(dict(spec.model.params if suite.params is None
                                         else suite.params)))
    history = History(state_path(project, "history", HISTORY_FILE))
    try:
        found = drift_baseline.gather(project, history, served.name, content.digest,
                                      dataset_digest)
        baseline = drift_baseline.choose(found, need, since)
        base_cases = history.case_scores(baseline.id) if baseline and baseline.id else None
        # no_cache: drift exists to hear what the model says today, never yesterday's answer.
        eval_options = EvalOptions(model=served.model, provider=options.provider,
                                   concurrency=options.concurrency, no_cache=True,
                                   on_progress=options.on_progress)
        run = execute_suite(project, served.name, served.version, content, suite, cases,
                       dataset_digest, suite.repeat, eval_options, positions)
        run.suite_digest = need.suite_digest
        if baseline is not None:
            policy = suite.baseline
            run.comparison = compare_with_history(baseline, base_cases, run, policy.tolerance,
                                                  policy.alpha, policy.resamples)
        accepted = _accepts(run, baseline, options, served)
        if options.record:
            history.record(run, kind="drift", accepted=accepted)
    finally:
        history.close()
    return DriftItem(served, run, baseline, accepted and options.record)


def _accepts(run, baseline, options: DriftOptions, served: Served) -> bool:
    """Whether today's run becomes the accepted baseline: on `--accept`, or as the first
    baseline of a version that has none and passed; never a run during an outage, and
    never unasked a run of another model than the pinned one."""
    if run.summary.get("outage"):
        return False
    if options.accept:
        return True
    return baseline is None and run.passed and served.model == served.pin


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
                       "baseline_label": getattr(row, "label", f"run #{row.id}"),
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
    from ..evals.results import case_values, judge_family

    rows = {}
    n_base = max(row.cases, 1)
    for info in run.metrics:
        values = list(case_values(run, info.name).values())
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
        rows[info.name] = {"baseline": b, "candidate": c, "delta": delta, "n": len(values),
                           "low": delta - stats.Z95 * se, "high": delta + stats.Z95 * se,
                           "p": p, "test": test, "broke": 0, "fixed": 0,
                           "drop": -delta if info.direction == "higher" else delta,
                           "_sd": se * math.sqrt(len(values)) if se > 0 else None}
    return {"baseline_digest": row.digest, "paired": 0, "method": "unpaired",
            "tolerance": tolerance, "alpha": alpha, "flipped": [],
            **judge_family(rows, tolerance, alpha, len(run.cases))}


def _two_sided_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2))


__all__ = ["DriftItem", "DriftOptions", "DriftReport", "Served", "compare_with_history", "drift",
           "served_versions"]
