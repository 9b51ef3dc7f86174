"""Where call records go: SQLite (default), JSONL, OpenTelemetry, Prometheus, a callable.

Every sink has `write(records)` (called from the logger's writer thread with a batch)
and `close()`. Optional libraries are imported when the sink is created, never at
module import, so the runtime stays light.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from .calllog import CallRecord, FeedbackRecord, Record
from .errors import UsageError

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
_INSERT_CALL = f"INSERT INTO calls ({CALL_COLUMNS}) VALUES ({','.join('?' * 18)})"
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
                    conn.executemany(_INSERT_CALL, calls)
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


class JsonlSink:
    """One JSON object per line, appended under a file lock so processes do not interleave."""

    def __init__(self, path: str | Path) -> None:
        from filelock import FileLock
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.path) + ".lock")

    def __repr__(self) -> str:
        return f"JsonlSink({str(self.path)!r})"

    def write(self, records: Sequence[Record]) -> None:
        text = "".join(json.dumps(r.as_dict(), separators=(",", ":")) + "\n" for r in records)
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()

    def close(self) -> None:
        pass


def read_jsonl(path: str | Path) -> tuple[list[CallRecord], list[FeedbackRecord]]:
    """Every record of a JSONL call log; a torn last line (crash mid-write) is skipped."""
    calls, feedback = [], []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            try:
                data = json.loads(line)
            except ValueError:
                continue
            try:
                kind = data.pop("kind", "call")
                if kind == "feedback":
                    feedback.append(FeedbackRecord(**data))
                else:
                    calls.append(CallRecord(**data))
            except (TypeError, AttributeError) as exc:
                raise ValueError(f"line {number} is not a call-log record ({exc})") from exc
    return calls, feedback


class CallableSink:
    """Hands each batch to a function (for custom pipelines and tests)."""

    def __init__(self, func: Callable[[list[Record]], Any]) -> None:
        self.func = func

    def write(self, records: Sequence[Record]) -> None:
        self.func(list(records))

    def close(self) -> None:
        pass


class FanoutSink:
    """Several sinks; one failing does not stop the others, the first error is re-raised."""

    def __init__(self, sinks: list[Any]) -> None:
        self.sinks = sinks

    def write(self, records: Sequence[Record]) -> None:
        error: Exception | None = None
        for sink in self.sinks:
            try:
                sink.write(records)
            except Exception as exc:
                error = error or exc
        if error is not None:
            raise error

    def after_fork(self) -> None:
        for sink in self.sinks:
            getattr(sink, "after_fork", lambda: None)()

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


class OtelSink:
    """One span per call with the GenAI semantic-convention attributes.

    Spans are created after the fact with the call's own start and end times, so the
    app's hot path does not touch OpenTelemetry at all.
    """

    def __init__(self, tracer_provider: Any = None) -> None:
        try:
            from opentelemetry import trace
        except ImportError as exc:
            raise UsageError("the OpenTelemetry sink needs the `otel` extra",
                             fix="pip install 'promptctl[otel]'") from exc
        provider = tracer_provider or trace.get_tracer_provider()
        self._tracer = provider.get_tracer("promptctl")
        self._error_status = trace.Status(trace.StatusCode.ERROR)

    def write(self, records: Sequence[Record]) -> None:
        for r in records:
            if r.kind != "call":
                continue   # feedback has no span of its own; it is joined by call id later
            end = int(r.time * 1e9)
            start = end - int((r.latency_ms or 0.0) * 1e6)
            attrs = {"gen_ai.operation.name": "chat", "promptctl.call_id": r.call_id,
                     "promptctl.prompt.name": r.name, "promptctl.prompt.version": r.version,
                     "promptctl.prompt.variant": r.variant}
            for attr, value in (("gen_ai.request.model", r.model), ("gen_ai.response.model", r.model),
                                ("gen_ai.usage.input_tokens", r.tokens_in),
                                ("gen_ai.usage.output_tokens", r.tokens_out),
                                ("promptctl.prompt.environment", r.env),
                                ("promptctl.prompt.segment", r.segment),
                                ("promptctl.prompt.digest", r.digest),
                                ("error.type", r.error)):
                if value is not None:
                    attrs[attr] = value
            for score, value in r.scores.items():
                attrs[f"promptctl.score.{score}"] = float(value)
            span = self._tracer.start_span(f"chat {r.model or r.name}", start_time=start,
                                           attributes=attrs)
            if not r.success:
                span.set_status(self._error_status)
            span.end(end_time=end)

    def close(self) -> None:
        pass


LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0)
LABELS = ("prompt", "version", "variant", "env", "segment")


class PrometheusSink:
    """Counters and a latency histogram for Prometheus to scrape (`prometheus_client`).

    Scores are exported as three counters (sum, count, sum of squares) so a Prometheus
    metric source can rebuild their mean and variance for the canary controller.
    """

    _shared: dict[int, dict[str, Any]] = {}
    _shared_lock = threading.Lock()

    def __init__(self, registry: Any = None) -> None:
        try:
            import prometheus_client as pc
        except ImportError as exc:
            raise UsageError("the Prometheus sink needs the `prometheus` extra",
                             fix="pip install 'promptctl[prometheus]'") from exc
        self.registry = registry or pc.REGISTRY
        # One set of collectors per registry: a second sink must not register duplicates.
        with self._shared_lock:
            metrics = self._shared.get(id(self.registry))
            if metrics is None:
                reg = self.registry
                s = ("prompt", "version", "variant", "env", "segment", "score")
                metrics = {
                    "calls": pc.Counter("promptctl_calls", "Prompt calls", LABELS, registry=reg),
                    "errors": pc.Counter("promptctl_call_errors", "Failed prompt calls", LABELS,
                                         registry=reg),
                    "tokens": pc.Counter("promptctl_tokens", "Tokens used", (*LABELS, "direction"),
                                         registry=reg),
                    "latency": pc.Histogram("promptctl_call_latency_seconds", "Call latency",
                                            LABELS, buckets=LATENCY_BUCKETS, registry=reg),
                    "score_sum": pc.Counter("promptctl_score_sum", "Sum of scores", s, registry=reg),
                    "score_count": pc.Counter("promptctl_score_count", "Number of scores", s,
                                              registry=reg),
                    "score_sq": pc.Counter("promptctl_score_squares", "Sum of squared scores", s,
                                           registry=reg),
                }
                self._shared[id(self.registry)] = metrics
        self._m = metrics
        self._seen: set[tuple] = set()

    def write(self, records: Sequence[Record]) -> None:
        m = self._m
        for r in records:
            if r.kind != "call":
                continue
            labels = (r.name, r.version, r.variant, r.env or "", r.segment or "")
            if labels not in self._seen:
                # Create the error series at 0 with the first call: a series that first
                # appears with the first error makes PromQL's increase() miss that error.
                self._seen.add(labels)
                m["errors"].labels(*labels)
            m["calls"].labels(*labels).inc()
            if not r.success:
                m["errors"].labels(*labels).inc()
            if r.tokens_in:
                m["tokens"].labels(*labels, "input").inc(r.tokens_in)
            if r.tokens_out:
                m["tokens"].labels(*labels, "output").inc(r.tokens_out)
            if r.latency_ms is not None:
                m["latency"].labels(*labels).observe(r.latency_ms / 1000.0)
            for score, value in r.scores.items():
                value = float(value)
                # Counters cannot go down: negative scores are not exported (documented).
                if math.isfinite(value) and value >= 0:
                    m["score_sum"].labels(*labels, score).inc(value)
                    m["score_count"].labels(*labels, score).inc()
                    m["score_sq"].labels(*labels, score).inc(value * value)

    def close(self) -> None:
        pass
