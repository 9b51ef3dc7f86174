"""The default call-log sink: a SQLite database in WAL mode, its schema, and the batched
inserts and busy retries that let several processes write one file without losing records.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from .call_records import Record

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    call_id TEXT NOT NULL, ts REAL NOT NULL, env TEXT, segment TEXT, name TEXT NOT NULL,
    version TEXT NOT NULL, variant TEXT NOT NULL, digest TEXT, model TEXT, key_hash TEXT,
    latency_ms REAL, success INTEGER NOT NULL, error TEXT, tokens_in INTEGER,
    tokens_out INTEGER, scores TEXT, bucket INTEGER, threshold INTEGER
);
CREATE INDEX IF NOT EXISTS calls_by_release ON calls (name, env, version, ts);
CREATE INDEX IF NOT EXISTS calls_by_id ON calls (call_id);
CREATE TABLE IF NOT EXISTS feedback (call_id TEXT NOT NULL, ts REAL NOT NULL, scores TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS feedback_by_call ON feedback (call_id);
"""

CALL_COLUMNS = ("call_id, ts, env, segment, name, version, variant, digest, model, key_hash, "
                "latency_ms, success, error, tokens_in, tokens_out, scores, bucket, threshold")
# Rows per INSERT statement, largest first. sqlite3 releases the GIL around each statement
# step: a step per row made a served app's request thread and the writer hand the GIL back
# and forth once per logged call; a step per 64 rows does it once per 64.
_ROWS_PER_INSERT = (64, 16, 4, 1)
_INSERT_CALLS = {n: f"INSERT INTO calls ({CALL_COLUMNS}) VALUES "
                    + ",".join([f"({','.join('?' * 18)})"] * n) for n in _ROWS_PER_INSERT}
# Logs written before the routing bucket was recorded get the columns on first open.
_ADDED_COLUMNS = (("bucket", "INTEGER"), ("threshold", "INTEGER"))
_INSERT_FEEDBACK = "INSERT INTO feedback VALUES (?,?,?)"


def _retry(action: Callable[[], Any], timeout: float) -> Any:
    """Run `action`, retrying while SQLite says busy/locked.

    busy_timeout covers most contention, but switching to WAL and some lock upgrades
    return SQLITE_BUSY at once; a batch must not be lost to that.
    """
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            return action()
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def connect(path: Path, *, timeout: float = 30.0) -> sqlite3.Connection:
    """A connection to a call-log database in WAL mode, created with its schema if new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=timeout, check_same_thread=False,
                           isolation_level=None)
    # busy_timeout makes concurrent writers from other processes wait instead of failing.
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")

    def setup() -> None:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")
        have = {row[1] for row in conn.execute("PRAGMA table_info(calls)")}
        for name, kind in _ADDED_COLUMNS:
            if name not in have:
                try:
                    conn.execute(f"ALTER TABLE calls ADD COLUMN {name} {kind}")
                except sqlite3.OperationalError as exc:
                    if "duplicate column" not in str(exc):   # another process was first
                        raise

    _retry(setup, timeout)
    return conn


def _insert_calls(conn: sqlite3.Connection, rows: list[tuple]) -> None:
    """The rows in their order, many to a statement (see _ROWS_PER_INSERT)."""
    done = 0
    for size in _ROWS_PER_INSERT:
        count = (len(rows) - done) // size
        if count:
            conn.executemany(_INSERT_CALLS[size], [
                [value for row in rows[start:start + size] for value in row]
                for start in range(done, done + count * size, size)])
            done += count * size


class SQLiteSink:
    """Batches go into one transaction; WAL lets readers (`canary analyze`) run meanwhile."""

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self._timeout = timeout
        self._conn: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"SQLiteSink({str(self.path)!r})"

    def write(self, records: Sequence[Record]) -> None:
        if self._conn is None:
            self._conn = connect(self.path, timeout=self._timeout)
        calls, feedback = [], []
        for r in records:
            if r.kind == "call":
                calls.append((r.call_id, r.time, r.env, r.segment, r.name, r.version, r.variant,
                              r.digest, r.model, r.key_hash, r.latency_ms, int(r.success),
                              r.error, r.tokens_in, r.tokens_out,
                              json.dumps(r.scores) if r.scores else None, r.bucket, r.threshold))
            else:
                feedback.append((r.call_id, r.time, json.dumps(r.scores)))
        conn = self._conn

        def insert() -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if calls:
                    _insert_calls(conn, calls)
                if feedback:
                    conn.executemany(_INSERT_FEEDBACK, feedback)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        _retry(insert, self._timeout)

    def after_fork(self) -> None:
        # A SQLite connection must not be used across fork; the child opens its own.
        self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
