"""The JSONL call log as a canary metric source: the SQLite reader's aggregation, in Python."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

from ..errors import MetricSourceError
from .decide import MetricKind, MetricPolicy, Observations, VariantData
from .selection import EXAMPLES, Selection, expected_threshold, routing_split
from .srm import RoutingCheck
from .stats import Moments


def read_jsonl_log(path: str | Path, sel: Selection,
                   metrics: Iterable[MetricPolicy]) -> Observations:
    """The same aggregation as `read_sqlite`, in Python, for JSONL logs."""
    metrics = list(metrics)
    calls, feedback = _read_jsonl(path)
    late: dict[str, dict[str, float]] = defaultdict(dict)
    for fb in sorted(feedback, key=lambda f: f.time):
        late[fb.call_id].update(fb.scores)
    variants = {}
    for variant in ("stable", "canary"):
        version = sel.canary_version if variant == "canary" else sel.stable_version
        per_key: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        n_calls = n_errors = 0
        for c in calls:
            if (c.name != sel.name or c.env != sel.env or c.version != version
                    or c.variant != variant or c.time < sel.since
                    or (sel.until is not None and c.time >= sel.until)
                    or c.segment != sel.segment):
                continue
            n_calls += 1
            n_errors += not c.success
            unit = per_key[c.key_hash or c.call_id]
            unit["__err"].append(0.0 if c.success else 1.0)
            if c.latency_ms is not None:
                unit["__lat"].append(math.log(max(c.latency_ms, 0.001)))
            scores = {**c.scores, **late.get(c.call_id, {})}
            for name, value in scores.items():
                unit[name].append(float(value))
        moments = {}
        for m in metrics:
            field = {MetricKind.ERROR_RATE: "__err", MetricKind.LATENCY: "__lat"}.get(m.kind, m.name)
            means = [sum(v) / len(v) for v in (u[field] for u in per_key.values()) if v]
            k = sum(len(u[field]) for u in per_key.values())
            moments[m.name] = Moments(len(means), sum(means), sum(x * x for x in means), k)
        variants[variant] = VariantData(version, n_calls, n_errors, len(per_key), moments)
    return Observations(variants["stable"], variants["canary"], source=f"jsonl:{path}",
                        routing=jsonl_scan(path, sel)[0])


def _read_jsonl(path: str | Path) -> tuple[list, list]:
    from ..runtime.sinks import read_jsonl
    try:
        return read_jsonl(path)
    except (OSError, ValueError) as exc:
        raise MetricSourceError(f"cannot read the call log: {exc}", file=str(path)) from exc


def _selected(c: Any, sel: Selection) -> bool:
    version = sel.canary_version if c.variant == "canary" else sel.stable_version
    return (c.name == sel.name and c.env == sel.env and c.version == version
            and c.variant in ("stable", "canary") and c.time >= sel.since
            and (sel.until is None or c.time < sel.until) and c.segment == sel.segment)


def jsonl_scan(path: str | Path, sel: Selection) -> tuple[RoutingCheck, set[str]]:
    """The routing check and the recorded score names of a JSONL log's selection."""
    calls, feedback = _read_jsonl(path)
    expected = expected_threshold(sel)
    checked = misrouted = other = 0
    examples: list[str] = []
    names: set[str] = set()
    ids = set()
    keys: dict[str, set] = {"stable": set(), "canary": set()}
    at_weight = {"stable": 0, "canary": 0}
    for c in calls:
        if not _selected(c, sel):
            continue
        ids.add(c.call_id)
        names.update(c.scores)
        if c.bucket is None or c.threshold is None:
            continue
        checked += 1
        other += sel.weight is not None and c.threshold != expected
        if c.threshold == expected:
            keys[c.variant].add(c.key_hash or c.call_id)
            at_weight[c.variant] += 1
        if (c.bucket < c.threshold) != (c.variant == "canary"):
            misrouted += 1
            if len(examples) < EXAMPLES:
                examples.append(c.call_id)
    for fb in feedback:
        if fb.call_id in ids:
            names.update(fb.scores)
    split = routing_split((len(keys["stable"]), at_weight["stable"]),
                   (len(keys["canary"]), at_weight["canary"])) if checked else None
    return RoutingCheck(checked, misrouted, tuple(examples), other, split), names
