"""The call log under two faults an app cannot fix: its SQLite file locked by another
process (exit must not hang), and a full disk under the JSONL sink (counters and lines
stay whole)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time

from promptctl.runtime.calllog import CallLogger
from promptctl.runtime.sinks import JsonlSink, read_jsonl

LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(30)
"""

APP = """
import atexit, sys, time
atexit.register(lambda: print(f"exit waited {time.monotonic() - t0:.2f}", flush=True))
from promptctl.calllog import open_logger
logger = open_logger(sys.argv[1])
for i in range(10):
    logger.log_call(name="p", version="1.0.0", env="production", latency_ms=1.0)
t0 = time.monotonic()
"""


def test_app_exit_waits_at_most_2_s_for_a_locked_sqlite_log(tmp_path):
    db = tmp_path / "calls.db"
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(db)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        started = time.monotonic()
        app = subprocess.run([sys.executable, "-c", APP, str(db)], capture_output=True, text=True,
                             timeout=20)
        assert app.returncode == 0, app.stderr
        waited = float(app.stdout.split("exit waited ")[1])
        assert waited <= 2.3, app.stdout
        assert time.monotonic() - started < 12
    finally:
        locker.kill()
        locker.wait()


class _FullDisk(JsonlSink):
    """The disk fills after `room` bytes: os.write then fails with ENOSPC, as on a real one
    (a tiny filesystem needs root to mount, so the device's answer is played here)."""

    def __init__(self, path, room: int) -> None:
        super().__init__(path)
        self.room = room

    def _os_write(self, fd, data):   # noqa: D401 - the OS call's signature
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = min(len(data), self.room, 4096)     # the kernel may write part of a buffer
        self.room -= n
        return os.write(fd, data[:n])


def test_a_full_disk_keeps_jsonl_lines_and_counters_whole(tmp_path):
    path = tmp_path / "calls.jsonl"
    sink = _FullDisk(path, room=50_000)
    logger = CallLogger(sink, batch_size=100, flush_interval=0.01)
    for i in range(613):
        logger.log_call(name="support-refund", version="1.0.0", env="production",
                        key=f"user{i}", latency_ms=float(i))
    logger.close()
    stats = logger.stats
    data = path.read_bytes()
    assert data.endswith(b"\n")                                  # no torn last line
    lines = data.splitlines()
    assert all(json.loads(line)["kind"] == "call" for line in lines)
    assert 0 < stats.written == len(lines) < 613                 # what landed is counted
    assert stats.written + stats.failed == 613 and stats.sink_errors >= 1
    assert "No space left" in stats.last_error
    calls, _ = read_jsonl(path)
    assert len(calls) == stats.written
