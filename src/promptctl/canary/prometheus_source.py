"""Prometheus as a canary metric source: the exporter sink's metrics, or your PromQL."""

from __future__ import annotations

import math
from typing import Any, Iterable

from ..errors import MetricSourceError
from .decide import MetricKind, MetricPolicy, Observations, VariantData
from .selection import Selection
from .stats import Moments


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
