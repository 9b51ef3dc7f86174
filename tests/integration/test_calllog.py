"""Call logging against real sinks: SQLite files, JSONL files, several processes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support.cli import modules_loaded_by

from promptctl.runtime.calllog import CallLogger, hash_key, open_logger
from promptctl.runtime.sinks import JsonlSink, SQLiteSink, read_jsonl


@dataclass
class Resolved:
    """Stands in for the runtime's resolved prompt: only the attributes calllog reads."""

    name: str = "support-refund"
    version: str = "1.2.0"
    variant: str = "canary"
    model: str = "gpt-x"
    digest: str = "sha256:abc"
    params: dict = field(default_factory=dict)


def rows(path: Path, sql: str = "SELECT * FROM calls") -> list[sqlite3.Row]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_track_records_a_call_with_hashed_key(tmp_path):
    db = tmp_path / "calls.sqlite"
    with open_logger(db) as logger:
        with logger.track(Resolved(), env="production", segment="eu", key="user-42") as call:
            call.record(success=True, tokens_in=12, tokens_out=30, scores={"thumbs_up": 1})
        logger.flush()
        assert logger.stats.written == 1
    [row] = rows(db)
    assert (row["name"], row["version"], row["variant"], row["env"], row["segment"]) == \
        ("support-refund", "1.2.0", "canary", "production", "eu")
    assert row["call_id"] == call.call_id
    assert row["key_hash"] == hash_key("user-42") and "user-42" not in row["key_hash"]
    assert len(row["key_hash"]) == 16
    assert row["success"] == 1 and row["error"] is None
    assert (row["tokens_in"], row["tokens_out"]) == (12, 30)
    assert json.loads(row["scores"]) == {"thumbs_up": 1}
    assert 0 <= row["latency_ms"] < 1000
    assert row["model"] == "gpt-x" and row["digest"] == "sha256:abc"


def test_exception_in_block_is_logged_as_failure_and_reraised(tmp_path):
    db = tmp_path / "calls.sqlite"
    with open_logger(db) as logger:
        with pytest.raises(TimeoutError):
            with logger.track(Resolved(), env="production"):
                raise TimeoutError("provider too slow")
    [row] = rows(db)
    assert row["success"] == 0 and row["error"] == "TimeoutError"


def test_record_with_error_and_late_feedback_joined_by_call_id(tmp_path):
    db = tmp_path / "calls.sqlite"
    with open_logger(db) as logger:
        with logger.track(Resolved(), env="production") as call:
            call.record(success=True, error=ValueError("bad json"))
        logger.attach(call.call_id, {"thumbs_up": 0, "escalated": 1})
        other = logger.log_call(name="x", version="1.0.0", latency_ms=5.0, env="production")
    assert other != call.call_id
    joined = rows(db, "SELECT c.error, c.success, f.scores FROM calls c "
                      "JOIN feedback f USING (call_id)")
    assert len(joined) == 1
    assert (joined[0]["error"], joined[0]["success"]) == ("ValueError", 0)
    assert json.loads(joined[0]["scores"]) == {"thumbs_up": 0, "escalated": 1}


def test_sink_failure_is_counted_not_raised():
    def broken(batch):
        raise OSError("disk full")

    logger = CallLogger(broken)
    for _ in range(5):
        with logger.track(Resolved()) as call:
            call.record(success=True)
    assert logger.flush(5)
    logger.close()
    assert logger.stats.failed == 5 and logger.stats.written == 0
    assert logger.stats.sink_errors >= 1
    assert "disk full" in logger.stats.last_error


def test_full_queue_drops_and_counts_instead_of_blocking():
    release = threading.Event()
    got: list = []

    def slow(batch):
        release.wait(5)
        got.extend(batch)

    logger = CallLogger(slow, queue_size=10, batch_size=1)
    for _ in range(50):
        logger.log_call(name="p", version="1.0.0", latency_ms=1.0)
    release.set()
    logger.close()
    assert logger.stats.dropped > 0
    assert logger.stats.dropped + len(got) == 50 == logger.stats.submitted


def test_jsonl_sink_round_trip(tmp_path):
    path = tmp_path / "log" / "calls.jsonl"
    with open_logger(path) as logger:
        assert isinstance(logger.sink, JsonlSink)
        with logger.track(Resolved(), env="staging", key=7) as call:
            call.record(tokens_in=3)
        logger.attach(call.call_id, {"csat": 4.5})
    calls, feedback = read_jsonl(path)
    assert [c.call_id for c in calls] == [call.call_id]
    assert calls[0].env == "staging" and calls[0].key_hash == hash_key(7)
    assert feedback[0].call_id == call.call_id and feedback[0].scores == {"csat": 4.5}


def test_open_logger_target_resolution(tmp_path, monkeypatch):
    with open_logger(None, root=tmp_path) as logger:
        assert isinstance(logger.sink, SQLiteSink)
        assert logger.sink.path == tmp_path / ".promptctl" / "calls.sqlite"
    monkeypatch.setenv("PROMPTCTL_CALL_LOG", str(tmp_path / "env.jsonl"))
    with open_logger(None, root=tmp_path) as logger:
        assert logger.sink.path == tmp_path / "env.jsonl"
    monkeypatch.delenv("PROMPTCTL_CALL_LOG")
    (tmp_path / "promptctl.yaml").write_text("call_log: {path: logs/calls.db}\n")
    with open_logger(None, root=tmp_path) as logger:
        assert logger.sink.path == tmp_path / "logs" / "calls.db"
    with open_logger("rel.db", root=tmp_path) as logger:
        assert isinstance(logger.sink, SQLiteSink) and logger.sink.path == tmp_path / "rel.db"


WRITER = """
import sys
from promptctl.calllog import open_logger
logger = open_logger(sys.argv[1])
tag = sys.argv[2]
for i in range(10_000):
    logger.log_call(name="p", version=tag, variant="stable", env="production",
                    key=i, latency_ms=1.0)
# no explicit close: the atexit hook must flush
"""


def test_two_processes_lose_no_record(tmp_path):
    db = tmp_path / "shared.sqlite"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), tag])
             for tag in ("1.0.0", "2.0.0")]
    assert [p.wait(120) for p in procs] == [0, 0]
    counts = dict(tuple(r) for r in rows(
        db, "SELECT version, COUNT(DISTINCT call_id) FROM calls GROUP BY version"))
    assert counts == {"1.0.0": 10_000, "2.0.0": 10_000}


def test_importing_calllog_stays_light():
    heavy = ("typer", "rich", "promptctl.evals", "prometheus_client", "opentelemetry")
    assert modules_loaded_by("promptctl.runtime.calllog, promptctl.runtime.sinks, promptctl.canary.decide", heavy) == []


def test_forked_child_gets_its_own_writer_and_ids(tmp_path):
    import os
    db = tmp_path / "fork.sqlite"
    logger = open_logger(db)
    parent_id = logger.log_call(name="p", version="1.0.0", latency_ms=1.0)
    assert logger.flush()
    pid = os.fork()
    if pid == 0:     # child: log, close (flushes) and leave without running pytest's teardown
        try:
            for _ in range(100):
                logger.log_call(name="p", version="2.0.0", latency_ms=1.0)
            logger.close()
        finally:
            os._exit(0 if logger.stats.written == 100 else 1)
    _, status = os.waitpid(pid, 0)
    logger.close()
    assert os.waitstatus_to_exitcode(status) == 0
    ids = [r["call_id"] for r in rows(db)]
    assert len(ids) == len(set(ids)) == 101 and parent_id in ids


def test_two_processes_append_one_jsonl_file(tmp_path):
    path = tmp_path / "shared.jsonl"
    code = WRITER.replace("range(10_000)", "range(3_000)")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), tag])
             for tag in ("1.0.0", "2.0.0")]
    assert [p.wait(120) for p in procs] == [0, 0]
    calls, _ = read_jsonl(path)
    assert sorted(c.version for c in calls).count("1.0.0") == 3_000
    assert len({c.call_id for c in calls}) == 6_000


def test_values_that_are_not_numbers_are_dropped_not_raised(tmp_path):
    # The app is never made to fail by logging, and garbage must not reach the analysis:
    # a JSONL reader would crash on float("high"); SQLite would average it as 0.
    path = tmp_path / "calls.jsonl"
    with open_logger(path) as logger:
        with logger.track(Resolved(), env="production") as call:
            call.record(tokens_in="12", tokens_out=3,
                        scores={"thumbs_up": "high", "csat": 4.5, "nan": float("nan")})
        logger.log_call(Resolved(), latency_ms="slow", scores="bad", env="production")
        logger.attach(call.call_id, {"thumbs_up": "yes", "escalated": True})
    calls, feedback = read_jsonl(path)
    assert (calls[0].tokens_in, calls[0].tokens_out, calls[0].scores) == (None, 3, {"csat": 4.5})
    assert calls[1].latency_ms is None and calls[1].scores == {}
    assert feedback[0].scores == {"escalated": True}


def test_a_jsonl_line_that_is_not_a_record_is_reported_with_its_number(tmp_path):
    path = tmp_path / "calls.jsonl"
    path.write_text('{"kind": "call", "call_id": "a", "time": 1, "name": "p", "version": "1"}\n'
                    '{"garbage": 1}\n{"torn": ')
    with pytest.raises(ValueError, match="line 2 is not a call-log record"):
        read_jsonl(path)


def test_error_text_holding_a_known_key_is_masked_in_the_log(tmp_path, monkeypatch):
    monkeypatch.setenv("PAYMENTS_API_KEY", "pk-live-0123456789")
    db = tmp_path / "calls.sqlite"
    with open_logger(db) as logger:
        logger.log_call(name="x", version="1.0.0", latency_ms=5.0, env="production",
                        error="upstream refused key pk-live-0123456789")
        with logger.track(Resolved(), env="production") as call:
            call.record(success=False, error="retry with pk-live-0123456789 failed")
    errors = sorted(row["error"] for row in rows(db))
    assert errors == ["retry with *** failed", "upstream refused key ***"]


@pytest.mark.parametrize("count", [1, 3, 64, 150])
def test_a_batch_lands_whole_and_in_order_however_many_rows_a_statement_takes(tmp_path, count):
    from promptctl.runtime.calllog import CallRecord

    records = [CallRecord(call_id=f"c{i}", time=1.5 + i, name="p", version="1.0.0",
                          latency_ms=i / 7, tokens_in=i, scores={"s": i} if i % 2 else {},
                          bucket=i % 10_000, threshold=5000) for i in range(count)]
    sink = SQLiteSink(tmp_path / "calls.sqlite")
    sink.write(records)
    sink.close()
    got = rows(tmp_path / "calls.sqlite", "SELECT * FROM calls ORDER BY rowid")
    assert [r["call_id"] for r in got] == [r.call_id for r in records]
    assert [(r["ts"], r["latency_ms"], r["tokens_in"], r["bucket"]) for r in got] == \
        [(r.time, r.latency_ms, r.tokens_in, r.bucket) for r in records]
    assert [json.loads(r["scores"]) if r["scores"] else {} for r in got] == [r.scores for r in records]
