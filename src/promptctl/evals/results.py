"""Run results and their summaries: pure data, so shards can be merged and re-summarised."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from . import stats
from .suite import Gate, parse_gate


@dataclass
class CaseResult:
    id: str
    sample: int
    inputs: dict[str, Any]
    expected: Any
    tags: list[str]
    output: str | None
    error: str | None
    latency_ms: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    cached: bool = False
    scores: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    passed: bool = False
    index: int = 0                    # position in the dataset, so merged shards keep order
    tool_calls: list[dict[str, Any]] = field(default_factory=list)   # {id, name, arguments}

    @property
    def key(self) -> tuple[str, int]:
        return self.id, self.sample


@dataclass
class MetricInfo:
    """What a summary needs to know about a metric, carried in results for merging."""

    name: str
    type: str
    weight: float = 1.0
    threshold: float = 0.5
    direction: str = "higher"

    def passes(self, score: float) -> bool:
        return score >= self.threshold if self.direction == "higher" else score < self.threshold


@dataclass
class RunResult:
    prompt: str
    version: str                      # a semver version or "working"
    digest: str
    provider: str
    model: str
    dataset_digest: str
    metrics: list[MetricInfo]
    gates: list[str]
    max_errors: int
    cases: list[CaseResult]
    shard: str | None = None
    started: str = ""
    duration_s: float = 0.0
    summary: dict[str, Any] = field(default_factory=dict)
    comparison: dict[str, Any] | None = None
    baseline_note: str | None = None   # why --baseline compared nothing (a new prompt)
    attested: list[str] = field(default_factory=list)   # release tags whose note holds this run
    suite: str = ""                   # the suite file the run used (repo-relative)

    @property
    def passed(self) -> bool:
        ok = bool(self.summary.get("gates_passed", False))
        if self.comparison is not None:
            ok = ok and not self.comparison.get("regressed", False)
        return ok

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunResult":
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["metrics"] = [MetricInfo(**m) for m in data["metrics"]]
        fields["cases"] = [CaseResult(**c) for c in data["cases"]]
        return cls(**fields)


def summarise(run: RunResult) -> dict[str, Any]:
    """Per-metric mean and 95% interval, per-tag means, gate verdicts, overall pass."""
    cases = run.cases
    n = len(cases)
    errors = sum(1 for c in cases if c.error)
    metrics: dict[str, Any] = {}
    for info in run.metrics:
        values = [c.scores.get(info.name, 0.0) for c in cases]
        est = stats.estimate(values)
        passes = sum(1 for v in values if info.passes(v))
        metrics[info.name] = {"mean": est.mean, "low": est.low, "high": est.high, "n": est.n,
                              "pass_rate": passes / n if n else 0.0, "direction": info.direction}
    builtins = {"error_rate": errors / n if n else 0.0,
                "pass_rate": sum(1 for c in cases if c.passed) / n if n else 0.0}
    by_tag: dict[str, dict[str, float]] = {}
    tags = sorted({t for c in cases for t in c.tags})
    for tag in tags:
        tagged = [c for c in cases if tag in c.tags]
        by_tag[tag] = {m.name: math.fsum(c.scores.get(m.name, 0.0) for c in tagged) / len(tagged)
                       for m in run.metrics}
        by_tag[tag]["n"] = len(tagged)
    gate_rows = []
    for text in run.gates:
        gate: Gate = parse_gate(text)
        value = metrics[gate.metric]["mean"] if gate.metric in metrics else builtins[gate.metric]
        # Only a shard can be empty (more shards than cases): it has nothing to fail on;
        # the merged run is gated as a whole.
        gate_rows.append({"gate": gate.text, "metric": gate.metric, "value": value,
                          "passed": n == 0 or gate.holds(value)})
    errors_ok = errors <= run.max_errors
    weights = sum(m.weight for m in run.metrics) or 1.0
    score = sum(metrics[m.name]["mean"] * m.weight if m.direction == "higher"
                else (1 - metrics[m.name]["mean"]) * m.weight for m in run.metrics) / weights
    return {"cases": n, "errors": errors, "errors_ok": errors_ok, "metrics": metrics,
            "builtins": builtins, "by_tag": by_tag, "gates": gate_rows, "score": score,
            "gates_passed": errors_ok and all(g["passed"] for g in gate_rows),
            "cost": sum(c.cost for c in cases),
            "tokens": sum(c.tokens_in + c.tokens_out for c in cases),
            "cached": sum(1 for c in cases if c.cached)}


def compare(base: RunResult, cand: RunResult, tolerance: float, alpha: float,
            resamples: int = 2000) -> dict[str, Any]:
    """Pairwise comparison on the cases both runs share: deltas, tests, flipped cases."""
    base_by_key = {c.key: c for c in base.cases}
    pairs = [(base_by_key[c.key], c) for c in cand.cases if c.key in base_by_key]
    rows = {}
    regressed = False
    for info in cand.metrics:
        b = [p[0].scores.get(info.name, 0.0) for p in pairs]
        c = [p[1].scores.get(info.name, 0.0) for p in pairs]
        delta, low, high, p_boot = stats.paired_bootstrap(b, c, resamples)
        if stats.is_binary(b) and stats.is_binary(c):
            p, broke, fixed = stats.mcnemar([float(info.passes(x)) for x in b],
                                            [float(info.passes(x)) for x in c])
            test = "mcnemar"
        else:
            p, broke, fixed, test = p_boot, 0, 0, "paired_bootstrap"
        drop = -delta if info.direction == "higher" else delta
        significant = p < alpha
        is_regression = drop > tolerance and significant
        regressed = regressed or is_regression
        rows[info.name] = {"baseline": sum(b) / len(b) if b else 0.0,
                           "candidate": sum(c) / len(c) if c else 0.0,
                           "delta": delta, "low": low, "high": high, "p": p, "test": test,
                           "broke": broke, "fixed": fixed, "regression": is_regression}
    # A case flipped when any metric it passed on the baseline fails on the candidate.
    flipped = [c.id if c.sample == 0 else f"{c.id}#{c.sample}" for b, c in pairs
               if any(info.passes(b.scores.get(info.name, 0.0))
                      and not info.passes(c.scores.get(info.name, 0.0)) for info in cand.metrics)]
    return {"baseline_version": base.version, "baseline_digest": base.digest,
            "paired": len(pairs), "tolerance": tolerance, "alpha": alpha,
            "metrics": rows, "flipped": flipped, "regressed": regressed}
