"""Helpers for the fleet tests: atomic publishing of a bundle, and app processes that
report what they serve (the static file server they read from is `support.http`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from support.http import BUNDLE
from support.releases import project

from promptctl.services import bundle, deploy


def live_deploy(root: Path) -> Path:
    """support-refund 1.0.0 stable with 2.0.0 as a 50 % canary, an enterprise segment on
    1.1.0, triage 1.0.0: what the runtime tests serve."""
    p = project(root)
    deploy.promote(p, "support-refund", "1.0.0", "production")
    deploy.canary(p, "support-refund", "2.0.0", "production", 50)
    deploy.promote(p, "support-refund", "1.1.0", "production", segment="enterprise")
    deploy.promote(p, "triage", "1.0.0", "production")
    return root


def publish(root: Path, folder: Path, *, env: str = "production") -> Path:
    """Bundle the committed manifest and copy it into `folder` atomically (temp + rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{BUNDLE}.tmp"
    bundle.bundle(project(root), env, tmp)
    os.replace(tmp, folder / BUNDLE)
    return folder / BUNDLE


APP = r"""
import json, sys, time
import promptctl
url, cache_dir, interval, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
reg = promptctl.Registry.from_bundle(url, env="production", refresh_interval=interval,
                                     cache_dir=cache_dir)
keys = [f"user-{i}" for i in range(200)]
end = time.monotonic() + seconds
while time.monotonic() < end:
    served = [reg.get("support-refund", key=k) for k in keys]
    h = reg.health()
    print(json.dumps({"t": time.time(), "canary": sum(p.variant == "canary" for p in served),
                      "weight": h["versions"]["support-refund"]["canary_weight"],
                      "status": h["status"], "from_disk": h["from_disk"],
                      "loaded_at": reg._status.loaded_at,
                      "text": served[0].render(question="q").splitlines()[-1]}), flush=True)
    time.sleep(0.02)
"""


class App:
    """An app process reading the bundle by URL; `lines` collects what it reports."""

    def __init__(self, url: str, cache_dir: Path, *, interval: float, seconds: float) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", APP, url, str(cache_dir), str(interval),
                                      str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(json.loads(line))

    def wait_for(self, test, timeout: float) -> dict:
        """The first report after now that satisfies `test`; fails after `timeout` s."""
        start = len(self.lines)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines[start:]:
                if test(line):
                    return line
            if self.proc.poll() is not None and not self._reader.is_alive():
                raise AssertionError(f"app exited {self.proc.returncode}: {self.proc.stderr.read()}")
            time.sleep(0.01)
        raise AssertionError(f"no matching report within {timeout} s; last: {self.lines[-1:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)


def run_bounded(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Run a script that forks; on timeout kill its whole process group (children too)."""
    import signal

    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"timed out after {timeout} s: {err[-2000:]}") from None
    return subprocess.CompletedProcess(args, proc.returncode, out, err)
