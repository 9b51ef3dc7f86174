"""The SQLite call log as a canary metric source.

The aggregation is done in SQL (GROUP BY key, then sums over keys) so a million-call log
is analysed without a Python loop over rows.
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any, Iterable

from ..errors import MetricSourceError
from .decide import MetricKind, MetricPolicy, Observations, VariantData
from .selection import EXAMPLES, Selection, expected_threshold, routing_split
from .srm import RoutingCheck
from .stats import Moments


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



def _routing_sqlite(conn: sqlite3.Connection, sel: Selection) -> RoutingCheck:
    columns = {row[1] for row in conn.execute("PRAGMA table_info(calls)")}
    if "bucket" not in columns:     # a log written before buckets were recorded
        return RoutingCheck()
    checked = misrouted = other = 0
    examples: list[str] = []
    split = {}
    for variant in ("stable", "canary"):
        params = {**_params(sel, variant), "expected": expected_threshold(sel),
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
                        routing_split(split["stable"], split["canary"]) if checked else None)



def sqlite_scores(path: str | Path, sel: Selection) -> set[str]:
    """Names of the scores the selection's calls recorded (observe-only candidates)."""
    path = Path(path)
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
