"""The Prometheus path end to end: an app process exports metrics through the Prometheus
sink (and logs the same calls to SQLite); a real Prometheus server on loopback scrapes
it every second; the controller's verdicts from PromQL match those from the SQLite log.
Skipped when the `prometheus` binary (Debian package `prometheus`) is not installed."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from promptctl.canary.decide import decide, parse_policy
from promptctl.canary.prometheus_source import PrometheusSource
from promptctl.canary.selection import Selection
from promptctl.canary.sqlite_source import read_sqlite

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("prometheus") is None,
                                 reason="needs the prometheus server binary (apt install prometheus)")]
pytest.importorskip("prometheus_client")

APP = r"""
import math, random, sys, time
from pathlib import Path
import prometheus_client as pc
from promptctl.calllog import CallLogger
from promptctl.sinks import FanoutSink, PrometheusSink, SQLiteSink

db, port, work = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
registry = pc.CollectorRegistry()
logger = CallLogger(FanoutSink([SQLiteSink(db), PrometheusSink(registry)]))
pc.start_http_server(port, addr="127.0.0.1", registry=registry)
rng = random.Random(5)

def call(variant, version, p_error, median_ms, key):
    logger.log_call(name="support", version=version, variant=variant, env="production",
                    key=key, success=rng.random() > p_error,
                    latency_ms=median_ms * math.exp(rng.gauss(0, 0.3)))

# one call per series first, so Prometheus has a zero-ish baseline before the traffic
call("stable", "1.0.0", 0.0, 80, "warm-s"); call("canary", "1.1.0", 0.0, 80, "warm-c")
logger.flush(); (work / "ready").touch()
while not (work / "go").exists():
    time.sleep(0.05)
for i in range(600):
    call("stable", "1.0.0", 0.02, 80, f"s{i}")
    call("canary", "1.1.0", 0.20, 400, f"c{i}")
logger.flush(); (work / "done").touch()
while True:
    time.sleep(1)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (httpx.HTTPError, KeyError, IndexError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _total(prom: str) -> float:
    body = httpx.get(f"{prom}/api/v1/query",
                     params={"query": "sum(promptctl_calls_total)"}, timeout=5).json()
    return float(body["data"]["result"][0]["value"][1])


def test_prometheus_verdicts_match_the_sqlite_log(tmp_path: Path):
    start = time.time() - 1
    app_port, prom_port = _free_port(), _free_port()
    db = tmp_path / "calls.sqlite"
    app = subprocess.Popen([sys.executable, "-c", APP, str(db), str(app_port), str(tmp_path)])
    config = tmp_path / "prometheus.yml"
    config.write_text("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                      "scrape_configs:\n  - job_name: app\n    static_configs:\n"
                      f"      - targets: ['127.0.0.1:{app_port}']\n")
    prom_proc = None
    try:
        _wait(lambda: (tmp_path / "ready").exists(), 30, "the app")
        prom_proc = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{prom_port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        prom = f"http://127.0.0.1:{prom_port}"
        _wait(lambda: _total(prom) == 2, 60, "the first scrape")
        time.sleep(2.5)                         # two more scrapes of the baseline
        (tmp_path / "go").touch()
        _wait(lambda: (tmp_path / "done").exists(), 60, "the traffic")
        _wait(lambda: _total(prom) == 1202, 30, "the traffic to be scraped")
        time.sleep(2.5)

        now = time.time()
        policy = parse_policy({"min_calls": 100, "min_duration": 0})
        sel = Selection("support", "production", "1.0.0", "1.1.0", since=start)
        from_prom = PrometheusSource(prom).observations(sel, policy.metrics, now)
        from_log = read_sqlite(db, sel, policy.metrics)
        # Prometheus extrapolates increase() to the window's ends, by up to a scrape interval's
        # worth of traffic, more when a loaded machine delays scrapes (+15% seen): counts are
        # close, not equal; the verdicts below must agree all the same
        assert from_prom.canary.calls == pytest.approx(from_log.canary.calls, rel=0.3)
        assert from_prom.canary.errors / from_prom.canary.calls == pytest.approx(
            from_log.canary.errors / from_log.canary.calls, abs=0.02)
        a = decide(policy, from_prom, weight=5, elapsed=now - start)
        b = decide(policy, from_log, weight=5, elapsed=now - start)
        assert [m.verdict for m in a.metrics] == [m.verdict for m in b.metrics]
        assert a.action is b.action
        assert a.action.value == "rollback"
    finally:
        for proc in (prom_proc, app):
            if proc is not None:
                proc.terminate()
                proc.wait(10)
