"""Run results and their summaries: pure data, so shards can be merged and re-summarised."""

from __future__ import annotations

import math
import pickle
import re
import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Iterator

from . import stats
from .suite import Gate, parse_gate


@dataclass(slots=True)
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
    # A metric that could not be scored (a failed judge): no score, the others keep theirs.
    metric_errors: dict[str, str] = field(default_factory=dict)
    provider_error: bool = False      # `error` came from the model provider (an outage)
    index: int = 0                    # position in the dataset, so merged shards keep order
    tool_calls: list[dict[str, Any]] = field(default_factory=list)   # {id, name, arguments}

    @property
    def key(self) -> tuple[str, int]:
        return self.id, self.sample


_EMPTY: dict = {}     # shared by light results; never written to
_NO_CALLS: list = []
_HEAVY = ("inputs", "expected", "output", "reasons", "tool_calls")


class CaseList(Sequence[CaseResult]):
    """A run's case results with the bulky fields (inputs, expected, output, reasons,
    tool calls) spooled to a temporary file: summaries, gates, comparisons and history read the light
    copies kept in memory; report writers iterate full results one at a time. 100,000
    cases then take tens of MB, not the 7.5 KiB each a list of full results held.
    """

    def __init__(self, results: Any = ()) -> None:
        self._light: list[CaseResult] = []
        self._offsets: list[int] = []
        self._spool: Any = None   # a temporary file once the first case arrives
        for result in results:
            self.append(result)

    def append(self, result: CaseResult) -> None:
        if self._spool is None:
            self._spool = tempfile.TemporaryFile(prefix="promptctl-cases-")
        spool = self._spool
        spool.seek(0, 2)
        self._offsets.append(spool.tell())
        pickle.dump(tuple(getattr(result, name) for name in _HEAVY), spool, pickle.HIGHEST_PROTOCOL)
        self._light.append(replace(result, inputs=_EMPTY, expected=None, output=None, reasons=_EMPTY,
                                   tool_calls=_NO_CALLS))

    def light(self) -> list[CaseResult]:
        """Every result without its bulky fields (scores, verdicts, tags, errors are there)."""
        return self._light

    def __len__(self) -> int:
        return len(self._light)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._full(i) for i in range(*index.indices(len(self)))]
        return self._full(range(len(self))[index])

    def __iter__(self) -> Iterator[CaseResult]:
        for i in range(len(self)):
            yield self._full(i)

    def _full(self, i: int) -> CaseResult:
        self._spool.seek(self._offsets[i])
        heavy = pickle.load(self._spool)   # noqa: S301 (our own temporary file)
        return replace(self._light[i], **dict(zip(_HEAVY, heavy, strict=True)))


def light_cases(cases: Any) -> list[CaseResult]:
    """The light copies of a CaseList; a plain list (merged shards, tests) as it is."""
    return cases.light() if isinstance(cases, CaseList) else cases


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
    cases: Sequence[CaseResult]      # a CaseList from a run; a list from merged shards or JSON
    shard: str | None = None
    started: str = ""
    duration_s: float = 0.0
    summary: dict[str, Any] = field(default_factory=dict)
    comparison: dict[str, Any] | None = None
    baseline_note: str | None = None   # why --baseline compared nothing (a new prompt)
    attested: list[str] = field(default_factory=list)   # release tags whose note holds this run
    suite: str = ""                   # the suite file the run used (repo-relative)
    suite_digest: str = ""             # the suite file's text as run (drift matches baselines on it)
    params_digest: str = ""            # the model params as run

    @property
    def passed(self) -> bool:
        ok = bool(self.summary.get("gates_passed", False))
        if self.comparison is not None:
            ok = ok and not self.comparison.get("regressed", False)
        return ok

    def to_dict(self, cases: bool = True) -> dict[str, Any]:
        """As JSON data; `cases=False` leaves the list empty (a streaming writer fills it)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "cases"}
        data = asdict(RunResult(**data, cases=[]))
        if cases:
            data["cases"] = [asdict(c) for c in self.cases]
        data["passed"] = self.passed
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunResult":
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["metrics"] = [MetricInfo(**m) for m in data["metrics"]]
        fields["cases"] = [CaseResult(**c) for c in data["cases"]]
        return cls(**fields)


def case_values(run: RunResult, metric: str) -> dict[str, float]:
    """Each case's score on `metric`, averaged over its samples (`--repeat`): the case is
    the unit, so N samples of one case never pose as N independent cases. Samples without
    a score (a failed judge) are left out; a case with none has no value."""
    sums: dict[str, list[float]] = {}
    for c in light_cases(run.cases):
        if metric in c.scores and metric not in c.metric_errors:
            sums.setdefault(c.id, []).append(c.scores[metric])
    return {case: math.fsum(v) / len(v) for case, v in sums.items()}


_K_OF_N = re.compile(r"^(?:(?P<metric>.+)\.)?(?:pass_all|pass_at_(?P<k>[1-9][0-9]*))$")


def k_of_n(name: str) -> tuple[str | None, int | None] | None:
    """`pass_at_2` / `accuracy.pass_all` → (metric or None for the whole case, k or None
    for all samples); None when `name` is not a k-of-n gate metric."""
    match = _K_OF_N.match(name)
    if not match:
        return None
    return match["metric"], int(match["k"]) if match["k"] else None


def k_of_n_value(run: RunResult, name: str) -> float:
    """The share of cases with at least k passing samples (`pass_at_k`) or only passing
    samples (`pass_all`); a sample passes a metric when it scored and met the threshold,
    and passes the case when it passed every metric."""
    metric, k = k_of_n(name)  # type: ignore[misc]
    info = {m.name: m for m in run.metrics}.get(metric) if metric else None
    samples: dict[str, list[bool]] = {}
    for c in light_cases(run.cases):
        if info is None:
            ok = c.passed
        else:
            ok = (not c.error and info.name in c.scores and info.name not in c.metric_errors
                  and info.passes(c.scores[info.name]))
        samples.setdefault(c.id, []).append(ok)
    if not samples:
        return 0.0
    hits = sum(1 for s in samples.values() if sum(s) >= (len(s) if k is None else k))
    return hits / len(samples)


def summarise(run: RunResult) -> dict[str, Any]:
    """Per-metric mean and 95% interval (over cases: samples of a case are averaged
    first), per-tag means, gate verdicts, overall pass."""
    cases = light_cases(run.cases)
    n = len(cases)
    errors = sum(1 for c in cases if c.error)
    provider_errors = sum(1 for c in cases if c.error and c.provider_error)
    metrics: dict[str, Any] = {}
    for info in run.metrics:
        values = list(case_values(run, info.name).values())
        est = stats.estimate(values)
        scored = [c.scores[info.name] for c in cases
                  if info.name in c.scores and info.name not in c.metric_errors]
        passes = sum(1 for v in scored if info.passes(v))
        metrics[info.name] = {"mean": est.mean, "low": est.low, "high": est.high, "n": est.n,
                              "pass_rate": passes / n if n else 0.0, "direction": info.direction,
                              "errors": sum(1 for c in cases if info.name in c.metric_errors)}
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
        if gate.metric in metrics:
            value = metrics[gate.metric]["mean"]
        elif gate.metric in builtins:
            value = builtins[gate.metric]
        else:
            value = builtins.setdefault(gate.metric, k_of_n_value(run, gate.metric))
        # Only a shard can be empty (more shards than cases): it has nothing to fail on;
        # the merged run is gated as a whole.
        gate_rows.append({"gate": gate.text, "metric": gate.metric, "value": value,
                          "passed": n == 0 or gate.holds(value)})
    errors_ok = errors <= run.max_errors
    weights = sum(m.weight for m in run.metrics) or 1.0
    score = sum(metrics[m.name]["mean"] * m.weight if m.direction == "higher"
                else (1 - metrics[m.name]["mean"]) * m.weight for m in run.metrics) / weights
    return {"cases": n, "errors": errors, "errors_ok": errors_ok, "metrics": metrics,
            "provider_errors": provider_errors,
            # the provider, not the prompt, used up the error budget: no quality verdict
            "outage": provider_errors > run.max_errors,
            "builtins": builtins, "by_tag": by_tag, "gates": gate_rows, "score": score,
            "gates_passed": errors_ok and all(g["passed"] for g in gate_rows),
            "cost": sum(c.cost for c in cases),
            "tokens": sum(c.tokens_in + c.tokens_out for c in cases),
            "cached": sum(1 for c in cases if c.cached)}


def compare(base: RunResult, cand: RunResult, tolerance: float, alpha: float,
            resamples: int = 2000) -> dict[str, Any]:
    """Paired comparison on the cases both runs share (per case: samples are averaged),
    with Holm's correction across the metrics so the run as a whole keeps `alpha`."""
    rows = {}
    for info in cand.metrics:
        b_values, c_values = case_values(base, info.name), case_values(cand, info.name)
        ids = [case for case in c_values if case in b_values]
        b = [b_values[i] for i in ids]
        c = [c_values[i] for i in ids]
        rows[info.name] = paired_row(info, b, c, resamples)
    paired = len({c.id for c in light_cases(cand.cases)} & {c.id for c in light_cases(base.cases)})
    result = judge_family(rows, tolerance, alpha, paired)
    # A case flipped when any metric it passed on the baseline fails on the candidate.
    b_all = {m.name: case_values(base, m.name) for m in cand.metrics}
    c_all = {m.name: case_values(cand, m.name) for m in cand.metrics}
    flipped = [case for case in dict.fromkeys(c.id for c in light_cases(cand.cases))
               if any(case in b_all[m.name] and case in c_all[m.name]
                      and m.passes(b_all[m.name][case]) and not m.passes(c_all[m.name][case])
                      for m in cand.metrics)]
    return {"baseline_version": base.version, "baseline_digest": base.digest,
            "paired": paired, "tolerance": tolerance, "alpha": alpha,
            **result, "flipped": flipped}


def paired_row(info: MetricInfo, b: list[float], c: list[float], resamples: int) -> dict:
    """One metric's paired test: McNemar for pass/fail values, else a paired bootstrap."""
    delta, low, high, p_boot = stats.paired_bootstrap(b, c, resamples)
    binary = stats.is_binary(b) and stats.is_binary(c)
    if binary:
        p, broke, fixed = stats.mcnemar([float(info.passes(x)) for x in b],
                                        [float(info.passes(x)) for x in c])
        test = "mcnemar"
    else:
        p, broke, fixed, test = p_boot, 0, 0, "paired_bootstrap"
    diffs = [y - x for x, y in zip(b, c, strict=False)]
    sd = None if binary or len(diffs) < 2 else statistics.stdev(diffs) or None
    return {"baseline": math.fsum(b) / len(b) if b else 0.0,
            "candidate": math.fsum(c) / len(c) if c else 0.0, "n": len(b),
            "delta": delta, "low": low, "high": high, "p": p, "test": test,
            "broke": broke, "fixed": fixed,
            "drop": -delta if info.direction == "higher" else delta, "_sd": sd}


def judge_family(rows: dict[str, dict], tolerance: float, alpha: float,
                 cases: int) -> dict[str, Any]:
    """Holm-adjust the rows' p-values, mark regressions, and state what the suite can
    detect: a drop smaller than that is "not detectable", never "no regression"."""
    adjusted = stats.holm({name: row["p"] for name, row in rows.items()})
    # a drop in one metric is tested first, at alpha / m: what a single drop must beat
    level = alpha / max(len(rows), 1)
    regressed = undetectable = False
    for name, row in rows.items():
        row["p_adjusted"] = adjusted[name]
        row["regression"] = row["drop"] > tolerance and adjusted[name] < alpha
        mde = stats.min_detectable_drop(row["n"], level, row.pop("_sd", None))
        row["min_detectable"] = mde
        if row["regression"]:
            row["verdict"] = "regression"
        elif row["drop"] > tolerance and (mde is None or row["drop"] < mde):
            row["verdict"] = f"not detectable with {row['n']} cases"
        else:
            row["verdict"] = "no regression"
        regressed = regressed or row["regression"]
        undetectable = undetectable or row["verdict"].startswith("not detectable")
    detectable = [r["min_detectable"] for r in rows.values()]
    return {"metrics": rows, "regressed": regressed, "correction": "holm",
            "min_detectable": None if None in detectable or not detectable else max(detectable),
            "verdict": "regressed" if regressed else
                       f"not detectable with {cases} cases" if undetectable else "no regression"}
