"""Prometheus with several worker processes: each process's counters land in
PROMETHEUS_MULTIPROC_DIR, and one scrape of any worker adds them all up."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest
from support.http import free_url

pytest.importorskip("prometheus_client")
pytestmark = pytest.mark.timeout(60)

WORKER = r"""
import sys, time
from pathlib import Path
import prometheus_client as pc
from promptctl.calllog import CallLogger
from promptctl.sinks import PrometheusSink, prometheus_registry

calls, port, work = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
logger = CallLogger(PrometheusSink())
for i in range(calls):
    logger.log_call(name="support", version="1.0.0", variant="stable", env="production",
                    latency_ms=20.0, success=i % 4 != 0)
logger.flush()
if port:
    pc.start_http_server(port, addr="127.0.0.1", registry=prometheus_registry())
    (work / "serving").touch()
    deadline = time.monotonic() + 20
    while not (work / "stop").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
"""


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and 'prompt="support"' in line:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} in the scrape:\n{text}")


def test_two_worker_processes_add_up_in_one_scrape(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    port = int(free_url().split(":")[2].split("/")[0])
    serving = subprocess.Popen([sys.executable, "-c", WORKER, "7", str(port), str(tmp_path)], env=env)
    try:
        subprocess.run([sys.executable, "-c", WORKER, "5", "0", str(tmp_path)], env=env, check=True,
                       timeout=30)
        deadline = time.monotonic() + 20
        while not (tmp_path / "serving").exists():
            assert serving.poll() is None and time.monotonic() < deadline, "the serving worker died"
            time.sleep(0.02)
        scrape = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        (tmp_path / "stop").touch()
        serving.wait(20)
    assert _sample(scrape, "promptctl_calls_total") == 12
    assert _sample(scrape, "promptctl_call_errors_total") == 2 + 2
    assert _sample(scrape, "promptctl_call_latency_seconds_count") == 12


LATE = r"""
import prometheus_client, os
os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.getcwd()
from promptctl.errors import UsageError
from promptctl.sinks import PrometheusSink
try:
    PrometheusSink()
except UsageError as exc:
    print(exc)
"""


def test_setting_the_folder_after_prometheus_client_was_imported_is_refused(tmp_path):
    result = subprocess.run([sys.executable, "-c", LATE], cwd=tmp_path, capture_output=True,
                            text=True, timeout=30)
    assert "set after prometheus_client was imported" in result.stdout, result.stderr
