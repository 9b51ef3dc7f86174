"""Metric sources for the canary controller: the call log (SQLite, JSONL) and Prometheus.

Each source returns `Observations`: per variant, call and error counts and, per
metric, the moments of per-routing-key means (calls without a key count as their
own key). The SQLite reader does the aggregation in SQL (GROUP BY key, then sums
over keys) so a million-call log is analysed without a Python loop over rows.
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .decide import MetricKind, MetricPolicy, Observations, VariantData
from .srm import RoutingCheck
from .stats import Moments
from ..errors import MetricSourceError


@dataclass(frozen=True)
class Selection:
    """Which calls belong to the comparison."""

    name: str
    env: str
    stable_version: str
    canary_version: str
    since: float                  # unix seconds: the start of the current step
    segment: str | None = None    # None: every segment
    until: float | None = None
    weight: float | None = None   # the manifest's canary weight (to spot stale routing)


# --- SQLite ------------------------------------------------------------------------------

_BASE = """
SELECT COUNT(*), COALESCE(SUM(n), 0), COALESCE(SUM(e), 0),
       COALESCE(SUM(em), 0), COALESCE(SUM(em * em), 0),
       COUNT(lm), COALESCE(SUM(lm), 0), COALESCE(SUM(lm * lm), 0), COALESCE(SUM(lc), 0)
FROM (SELECT COUNT(*) AS n, SUM(1 - success) AS e, AVG(1.0 - success) AS em,
             AVG(ln(MAX(latency_ms, 0.001))) AS lm, COUNT(latency_ms) AS lc
      FROM calls WHERE {where} GROUP BY COALESCE(key_hash, call_id))
"""

# A score's value per call: the latest feedback carrying it, else the call's own score.
_SCORE = """
SELECT COUNT(v), COALESCE(SUM(v), 0), COALESCE(SUM(v * v), 0), COALESCE(SUM(k), 0) FROM (
  SELECT AVG(v) AS v, COUNT(v) AS k FROM (
    SELECT COALESCE(
        (SELECT json_extract(f.scores, :path) FROM feedback f
          WHERE f.call_id = calls.call_id AND json_extract(f.scores, :path) IS NOT NULL
          ORDER BY f.ts DESC LIMIT 1),
        json_extract(calls.scores, :path)) AS v,
      COALESCE(key_hash, call_id) AS unit
    FROM calls WHERE {where})
  WHERE v IS NOT NULL GROUP BY unit)
"""


def _where(sel: Selection, table: str = "") -> str:
    c = f"{table}." if table else ""
    clauses = [f"{c}name = :name", f"{c}env = :env", f"{c}version = :version",
               f"{c}variant = :variant", f"{c}ts >= :since"]
    if sel.until is not None:
        clauses.append(f"{c}ts < :until")
    # The default entry's canary is judged on its own traffic only: a segment routes its
    # calls by its own entry (and may run its own canary of the same versions).
    clauses.append(f"{c}segment = :segment" if sel.segment is not None else f"{c}segment IS NULL")
    return " AND ".join(clauses)


def _params(sel: Selection, variant: str) -> dict[str, Any]:
    version = sel.canary_version if variant == "canary" else sel.stable_version
    return {"name": sel.name, "env": sel.env, "version": version, "variant": variant,
            "since": sel.since, "until": sel.until, "segment": sel.segment}


def _open_readonly(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise MetricSourceError(f"no call log at {path}", file=str(path),
                                fix="log calls with reg.track() or set PROMPTCTL_CALL_LOG")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        conn.execute("SELECT ln(1)")
    except sqlite3.OperationalError:   # SQLite built without math functions
        conn.create_function("ln", 1, math.log, deterministic=True)
    return conn


MISROUTED = "(bucket < threshold) != (variant = 'canary')"
# One pass per variant: checked, misrouted, at another weight, and the keys and calls
# routed at the manifest's weight (the split the sample-ratio test uses).
_ROUTING = f"""
SELECT COUNT(*), COALESCE(SUM({MISROUTED}), 0), COALESCE(SUM(threshold != :expected), 0),
       COUNT(DISTINCT CASE WHEN threshold = :expected THEN COALESCE(key_hash, call_id) END),
       COALESCE(SUM(threshold = :expected), 0)
FROM calls WHERE {{where}} AND bucket IS NOT NULL AND threshold IS NOT NULL
"""
_MISROUTED_IDS = (f"SELECT call_id FROM calls WHERE {{where}} AND bucket IS NOT NULL "
                  f"AND threshold IS NOT NULL AND {MISROUTED} ORDER BY ts LIMIT :limit")
EXAMPLES = 10
# Score names the selection's latest calls recorded, themselves or by later feedback: a
# sample (apps record the same scores on most calls), so listing stays cheap on big logs.
NAME_SAMPLE = 5000
_SCORE_NAMES = """
WITH recent AS (SELECT call_id, scores FROM calls WHERE {where} ORDER BY ts DESC LIMIT :sample)
SELECT DISTINCT j.key FROM recent, json_each(recent.scores) AS j
UNION
SELECT DISTINCT j.key FROM recent JOIN feedback AS f ON f.call_id = recent.call_id,
       json_each(f.scores) AS j
"""


def _expected_threshold(sel: Selection) -> int:
    from ..runtime.routing import threshold
    return threshold(sel.weight) if sel.weight is not None else -1


def _routing_sqlite(conn: sqlite3.Connection, sel: Selection) -> RoutingCheck:
    columns = {row[1] for row in conn.execute("PRAGMA table_info(calls)")}
    if "bucket" not in columns:     # a log written before buckets were recorded
        return RoutingCheck()
    checked = misrouted = other = 0
    examples: list[str] = []
    split = {}
    for variant in ("stable", "canary"):
        params = {**_params(sel, variant), "expected": _expected_threshold(sel),
                  "limit": EXAMPLES}
        n, bad, stale, keys, calls = conn.execute(_ROUTING.format(where=_where(sel)),
                                                  params).fetchone()
        checked, misrouted = checked + n, misrouted + bad
        other += stale if sel.weight is not None else 0
        split[variant] = (keys, calls)
        if bad and len(examples) < EXAMPLES:
            examples += [r[0] for r in conn.execute(_MISROUTED_IDS.format(where=_where(sel)),
                                                    params)]
    return RoutingCheck(checked, misrouted, tuple(examples[:EXAMPLES]), other,
                        _split(split["stable"], split["canary"]) if checked else None)


def _split(stable: tuple[int, int], canary: tuple[int, int]) -> tuple[int, int, int, int]:
    return stable[0], canary[0], stable[1], canary[1]


def recorded_scores(path: str | Path, sel: Selection) -> set[str]:
    """Names of the scores the selection's calls recorded (observe-only candidates)."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return _jsonl_scan(path, sel)[1]
    conn = _open_readonly(path)
    try:
        names: set[str] = set()
        for variant in ("stable", "canary"):
            query = _SCORE_NAMES.format(where=_where(sel))
            names |= {r[0] for r in conn.execute(query, {**_params(sel, variant),
                                                         "sample": NAME_SAMPLE})}
        return names
    except sqlite3.DatabaseError as exc:
        raise MetricSourceError(f"cannot read the call log: {exc}", file=str(path)) from exc
    finally:
        conn.close()


def read_sqlite(path: str | Path, sel: Selection, metrics: Iterable[MetricPolicy]) -> Observations:
    metrics = list(metrics)
    conn = _open_readonly(Path(path))
    try:
        routing = _routing_sqlite(conn, sel)
        variants = {}
        for variant in ("stable", "canary"):
            params = _params(sel, variant)
            row = conn.execute(_BASE.format(where=_where(sel)), params).fetchone()
            keys, calls, errors, em, em2, lk, lm, lm2, lcalls = row
            moments = {}
            for m in metrics:
                if m.kind is MetricKind.ERROR_RATE:
                    moments[m.name] = Moments(keys, em, em2, calls)
                elif m.kind is MetricKind.LATENCY:
                    moments[m.name] = Moments(lk, lm, lm2, lcalls)
                else:
                    score = m.name
                    n, s, s2, k = conn.execute(_SCORE.format(where=_where(sel)),
                                               {**params, "path": f'$."{score}"'}).fetchone()
                    moments[m.name] = Moments(n, s, s2, k)
            version = params["version"]
            variants[variant] = VariantData(version, calls, errors, keys, moments)
    except sqlite3.DatabaseError as exc:
        raise MetricSourceError(f"cannot read the call log: {exc}", file=str(path)) from exc
    finally:
        conn.close()
    return Observations(variants["stable"], variants["canary"], source=f"sqlite:{path}",
                        routing=routing)


# --- JSONL -------------------------------------------------------------------------------


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
                        routing=_jsonl_scan(path, sel)[0])


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


def _jsonl_scan(path: str | Path, sel: Selection) -> tuple[RoutingCheck, set[str]]:
    """The routing check and the recorded score names of a JSONL log's selection."""
    calls, feedback = _read_jsonl(path)
    expected = _expected_threshold(sel)
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
    split = _split((len(keys["stable"]), at_weight["stable"]),
                   (len(keys["canary"]), at_weight["canary"])) if checked else None
    return RoutingCheck(checked, misrouted, tuple(examples), other, split), names


def read_call_log(path: str | Path, sel: Selection,
                  metrics: Iterable[MetricPolicy]) -> Observations:
    """Observations from a call-log file, SQLite or JSONL by its suffix."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return read_jsonl_log(path, sel, metrics)
    return read_sqlite(path, sel, metrics)


# --- Prometheus ----------------------------------------------------------------------------

SELECTOR = 'prompt="{prompt}",version="{version}",variant="{variant}",env="{env}"'
DEFAULT_QUERIES = {
    "calls": "sum(increase(promptctl_calls_total{{selector}}[{window}]))",
    "errors": "sum(increase(promptctl_call_errors_total{{selector}}[{window}]))",
    "latency_buckets": "sum by (le) (increase(promptctl_call_latency_seconds_bucket{{selector}}"
                       "[{window}]))",
    "score_count": 'sum(increase(promptctl_score_count_total{{selector},score="{score}"}[{window}]))',
    "score_sum": 'sum(increase(promptctl_score_sum_total{{selector},score="{score}"}[{window}]))',
    "score_sum_sq": 'sum(increase(promptctl_score_squares_total{{selector},score="{score}"}'
                    '[{window}]))',
}


def fill(template: str, **values: Any) -> str:
    """Substitute {placeholders} by name only, leaving PromQL's own braces alone."""
    text = template
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    return text


class PrometheusSource:
    """Reads the exporter sink's metrics (or your PromQL templates) via /api/v1/query.

    Prometheus holds counts per call, not per routing key, so each call is its own unit
    here; latency moments come from the histogram buckets (log of each bucket's
    geometric midpoint). A metric's `query:` may override `count`, `sum`, `sum_sq`
    with templates using {prompt} {version} {variant} {env} {segment} {window} {selector}.
    """

    def __init__(self, url: str, *, timeout: float = 10.0, client: Any = None) -> None:
        import httpx
        self.url = url.rstrip("/")
        self._client = client or httpx.Client(timeout=timeout)

    def query(self, promql: str, at: float | None = None) -> list[dict]:
        import httpx
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        try:
            response = self._client.get(f"{self.url}/api/v1/query", params=params)
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise MetricSourceError(f"Prometheus query failed: {exc}", file=self.url) from exc
        if response.status_code != 200 or body.get("status") != "success":
            raise MetricSourceError(f"Prometheus refused {promql!r}: "
                                    f"{body.get('error', response.status_code)}", file=self.url)
        return body["data"]["result"]

    def scalar(self, promql: str, at: float | None = None) -> float:
        result = self.query(promql, at)
        value = sum(float(r["value"][1]) for r in result)
        return 0.0 if math.isnan(value) else value

    def observations(self, sel: Selection, metrics: Iterable[MetricPolicy],
                     now: float) -> Observations:
        metrics = list(metrics)
        window = f"{max(1, int(math.ceil(now - sel.since)))}s"
        variants = {}
        for variant in ("stable", "canary"):
            version = sel.canary_version if variant == "canary" else sel.stable_version
            values = {"prompt": sel.name, "version": version, "variant": variant, "env": sel.env,
                      "segment": sel.segment or "", "window": window}
            # The exporter labels default-entry calls segment="": only those judge the default.
            selector = fill(SELECTOR, **values) + f',segment="{sel.segment or ""}"'
            values["selector"] = selector
            q = lambda template, **extra: self.scalar(fill(template, **values, **extra), now)  # noqa: B023 (called only in this iteration)
            calls = round(q(DEFAULT_QUERIES["calls"]))
            errors = round(q(DEFAULT_QUERIES["errors"]))
            moments = {}
            for m in metrics:
                if m.query:
                    n = round(q(m.query["count"]))
                    s = q(m.query["sum"])
                    s2 = q(m.query["sum_sq"]) if "sum_sq" in m.query else s
                    moments[m.name] = Moments(n, s, s2, n)
                elif m.kind is MetricKind.ERROR_RATE:
                    moments[m.name] = Moments(calls, errors, errors, calls)
                elif m.kind is MetricKind.LATENCY:
                    buckets = self.query(fill(DEFAULT_QUERIES["latency_buckets"], **values), now)
                    moments[m.name] = log_moments_from_buckets(
                        [(float(b["metric"]["le"]), float(b["value"][1])) for b in buckets])
                else:
                    n = round(q(DEFAULT_QUERIES["score_count"], score=m.name))
                    moments[m.name] = Moments(n, q(DEFAULT_QUERIES["score_sum"], score=m.name),
                                              q(DEFAULT_QUERIES["score_sum_sq"], score=m.name), n)
            variants[variant] = VariantData(version, calls, errors, calls, moments)
        return Observations(variants["stable"], variants["canary"], source=f"prometheus:{self.url}")


def log_moments_from_buckets(cumulative: list[tuple[float, float]]) -> Moments:
    """Moments of log(latency in ms) from a cumulative histogram [(le seconds, count)]."""
    points = sorted((le, count) for le, count in cumulative)
    n = total = total_sq = 0.0
    previous_le, previous_count = 0.0, 0.0
    for le, count in points:
        in_bucket = max(0.0, count - previous_count)
        if in_bucket > 0:
            if math.isinf(le):
                mid = previous_le * 2
            elif previous_le <= 0:
                mid = le / 2
            else:
                mid = math.sqrt(previous_le * le)
            x = math.log(max(mid, 1e-6) * 1000.0)
            n += in_bucket
            total += in_bucket * x
            total_sq += in_bucket * x * x
        previous_le, previous_count = le, count
    calls = round(n)
    return Moments(calls, total, total_sq, calls)
