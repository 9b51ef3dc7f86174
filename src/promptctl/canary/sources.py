"""Metric sources for the canary controller: a call-log file, read by its format.

Each source returns `Observations`: per variant, call and error counts and, per
metric, the moments of per-routing-key means (calls without a key count as their
own key). The readers: `sqlite_source`, `jsonl_source` and, for metrics an exporter
keeps, `prometheus_source`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from .decide import MetricPolicy, Observations
from .jsonl_source import jsonl_scan, read_jsonl_log
from .selection import Selection
from .sqlite_source import read_sqlite, sqlite_scores


def recorded_scores(path: str | Path, sel: Selection) -> set[str]:
    """Names of the scores the selection's calls recorded (observe-only candidates)."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return jsonl_scan(path, sel)[1]
    return sqlite_scores(path, sel)


def read_call_log(path: str | Path, sel: Selection,
                  metrics: Iterable[MetricPolicy]) -> Observations:
    """Observations from a call-log file, SQLite or JSONL by its suffix."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return read_jsonl_log(path, sel, metrics)
    return read_sqlite(path, sel, metrics)
