"""Call logging for apps: the `track` context manager and the buffered logger. The records
are defined in `call_records`; the sink they go to is chosen in `log_target`.

The app thread only builds a small record and puts it on a bounded queue; a daemon
thread batches records into a sink. A full queue drops the record (counted) rather
than block the app, and a failing sink is counted in `stats`, never raised: logging
must not break or slow the code it observes. Heavy imports stay out of this module
(no typer, rich, eval engine); sinks import their optional libraries lazily.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Literal

from .call_records import (CallRecord, FeedbackRecord, Record, count_or_none, error_name, number_or_none,
                           clean_scores, hash_key, new_call_id)
from .log_target import DEFAULT_PATH, ENV_VAR, default_log_path, open_sink, resolve_target  # noqa: F401 - promptctl.calllog names apps used

_log = logging.getLogger("promptctl.calllog")
_perf = time.perf_counter


@dataclass
class LoggerStats:
    """What happened to the records handed to a logger; read it, it is never raised."""

    submitted: int = 0
    written: int = 0
    dropped: int = 0          # queue full: the app was not made to wait
    failed: int = 0           # records in batches the sink refused
    sink_errors: int = 0      # failed batches
    last_error: str | None = None


class Call:
    """One tracked call: `with logger.track(p) as call: ...; call.record(...)`.

    Latency runs from entering the block to `record()` (or to the block's end when
    `record` is not called). An exception in the block records success=False with the
    exception's type name and propagates unchanged.
    """

    __slots__ = ("_logger", "_prompt", "_env", "_segment", "_key", "_t0", "_latency",
                 "_fields", "call_id", "_done", "_spans")

    def __init__(self, logger: "CallLogger", prompt: Any, env: str | None,
                 segment: str | None, key: Any) -> None:
        self._logger = logger
        self._prompt = prompt
        self._env = env
        self._segment = segment
        self._key = key
        self._latency: float | None = None
        self._fields: dict[str, Any] = {}
        self._done = False
        self._spans: tuple = ()
        self.call_id = new_call_id()

    def __enter__(self) -> "Call":
        live = self._logger.live_sinks
        if live:   # a trace span starts now, in the caller's context (OpenTelemetry)
            self._spans = tuple(s.start_call(self._prompt, self.call_id, self._env, self._segment)
                                for s in live)
        self._t0 = _perf()
        return self

    def record(self, success: bool = True, *, tokens_in: int | None = None,
               tokens_out: int | None = None, scores: dict[str, float] | None = None,
               error: Any = None, model: str | None = None) -> None:
        self._latency = (_perf() - self._t0) * 1000.0
        self._fields = {"success": bool(success) and error is None, "tokens_in": tokens_in,
                        "tokens_out": tokens_out, "scores": scores, "error": error_name(error),
                        "model": model}

    def __exit__(self, exc_type, exc, tb) -> Literal[False]:
        if self._done:
            return False
        self._done = True
        latency = self._latency if self._latency is not None else (_perf() - self._t0) * 1000.0
        fields = self._fields
        if exc_type is not None:
            fields = {**fields, "success": False, "error": exc_type.__name__}
        elif not fields:
            fields = {"success": True}
        for span in self._spans:
            span.end(fields)
        logger = self._logger
        get = fields.get
        # positional, past log_call's keywords: this runs once per served request
        logger.submit(logger._record(
            self._prompt, None, None, None, self._env, self._segment, self._key, latency,
            get("success", True), get("error"), get("tokens_in"), get("tokens_out"),
            get("scores"), get("model"), None, self.call_id, None, None, None))
        return False


EXIT_TIMEOUT = 2.0   # what an app's exit may wait for the call log, at most


class CallLogger:
    """Buffered, thread-safe call logger writing batches to one sink from a daemon thread.

    The buffer is a deque: appending is atomic under the GIL and takes no lock, which
    keeps the app's cost per call to a few microseconds. The writer wakes every
    `flush_interval` seconds (or on flush/close) and drains it in batches.
    """

    def __init__(self, sink: Any, *, queue_size: int = 100_000, batch_size: int = 2000,
                 flush_interval: float = 0.05, env: str | None = None,
                 segment: str | None = None) -> None:
        self.sink = sink if hasattr(sink, "write") else open_sink(sink)
        self.live_sinks = _live_sinks(self.sink)
        self.env = env
        self.segment = segment
        self.stats = LoggerStats()
        self.queue_size = queue_size
        self._batch_size = batch_size
        self._interval = flush_interval
        self._buffer: deque = deque()
        self._busy = False
        self._closed = False
        self._stop = False
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None
        self._start()
        ref = weakref.ref(self)
        atexit.register(lambda: (lg := ref()) is not None and lg.close(EXIT_TIMEOUT))  # type: ignore[func-returns-value]
        if hasattr(os, "register_at_fork"):
            # A forked child inherits the buffer but not the writer thread: start a fresh one.
            os.register_at_fork(after_in_child=lambda: (lg := ref()) is not None and lg._reset())  # type: ignore[func-returns-value]

    # --- app side -------------------------------------------------------------------------

    def track(self, prompt: Any, *, env: str | None = None, segment: str | None = None,
              key: Any = None) -> Call:
        """Context manager timing one call of `prompt` (any object with name, version...)."""
        return Call(self, prompt, env, segment, key)

    def log_call(self, prompt: Any = None, *, name: str | None = None, version: str | None = None,
                 variant: str | None = None, env: str | None = None, segment: str | None = None,
                 key: Any = None, latency_ms: float | None = None, success: bool = True,
                 error: Any = None, tokens_in: int | None = None, tokens_out: int | None = None,
                 scores: dict[str, float] | None = None, model: str | None = None,
                 digest: str | None = None, call_id: str | None = None,
                 time_: float | None = None, bucket: int | None = None,
                 threshold: int | None = None) -> str:
        """Log one call; fields not given are taken from `prompt`. Returns the call id."""
        record = self._record(prompt, name, version, variant, env, segment, key, latency_ms,
                              success, error, tokens_in, tokens_out, scores, model, digest,
                              call_id, time_, bucket, threshold)
        self.submit(record)
        return record.call_id

    def _record(self, p: Any, name: str | None, version: str | None, variant: str | None,
                env: str | None, segment: str | None, key: Any, latency_ms: float | None,
                success: bool, error: Any, tokens_in: Any, tokens_out: Any, scores: Any,
                model: str | None, digest: str | None, call_id: str | None, time_: float | None,
                bucket: Any, threshold: Any) -> CallRecord:
        get = getattr
        return CallRecord(
            call_id or new_call_id(),
            time_ if time_ is not None else time.time(),
            name or get(p, "name", None) or "",
            str(version or get(p, "version", None) or ""),
            variant or get(p, "variant", None) or "stable",
            env or get(p, "env", None) or self.env,
            segment or get(p, "segment", None) or self.segment,
            digest or get(p, "digest", None),
            model or get(p, "model", None),
            hash_key(key if key is not None else get(p, "key", None)),
            number_or_none(latency_ms),
            bool(success) and error is None,
            error_name(error) if error is not None else None,
            count_or_none(tokens_in), count_or_none(tokens_out),
            clean_scores(scores) if scores else {},
            count_or_none(bucket if bucket is not None else get(p, "bucket", None)),
            count_or_none(threshold if threshold is not None else get(p, "threshold", None)),
        )

    def attach(self, call_id: str, scores: dict[str, float]) -> None:
        """Attach quality signals that arrived after the call (stored as a feedback record)."""
        self.submit(FeedbackRecord(call_id=call_id, time=time.time(), scores=clean_scores(scores)))

    def submit(self, record: Record) -> None:
        stats = self.stats
        stats.submitted += 1
        if self._closed or len(self._buffer) >= self.queue_size:
            stats.dropped += 1
            return
        self._buffer.append(record)

    # --- lifecycle ------------------------------------------------------------------------

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until every buffered record reached the sink (or failed); False on timeout."""
        deadline = None if timeout is None else _perf() + timeout
        self._wake.set()
        with self._idle:
            while self._buffer or self._busy:
                if self._thread is None or not self._thread.is_alive():
                    return not self._buffer
                left = None if deadline is None else deadline - _perf()
                if left is not None and left <= 0:
                    return False
                self._wake.set()
                self._idle.wait(0.05 if left is None else min(left, 0.05))
        return True

    def close(self, timeout: float | None = 10.0) -> None:
        """Flush, stop the writer and close the sink; later records are dropped (counted)."""
        if self._closed:
            return
        self._closed = True
        deadline = None if timeout is None else _perf() + timeout
        self.flush(timeout)
        self._stop = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(None if deadline is None else max(0.0, deadline - _perf()))
            if self._thread.is_alive():
                # the sink is stuck (a database locked by another process): do not wait on it,
                # and do not close it under the writer's feet; the records still queued are lost
                self.stats.dropped += len(self._buffer)
                self.stats.last_error = f"sink still busy after {timeout:g} s at close"
                return
        close = getattr(self.sink, "close", None)
        if close is not None:
            try:
                close()
            except Exception as exc:  # a sink that cannot close must not fail the app's exit
                self.stats.last_error = repr(exc)

    def __enter__(self) -> "CallLogger":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- writer side ----------------------------------------------------------------------

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="promptctl-calllog", daemon=True)
        self._thread.start()

    def _reset(self) -> None:
        # Records buffered before the fork are the parent's to write; counters start afresh.
        self._buffer.clear()
        self.stats = LoggerStats()
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._busy = False
        reset = getattr(self.sink, "after_fork", None)
        if reset is not None:
            reset()
        if not self._closed:
            self._start()

    def _run(self) -> None:
        buffer = self._buffer
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            # _busy is set before popping so flush() never sees "empty and idle" mid-batch.
            self._busy = True
            try:
                while buffer:
                    batch = []
                    pop = buffer.popleft
                    try:
                        for _ in range(self._batch_size):
                            batch.append(pop())
                    except IndexError:
                        pass
                    self._write(batch)
            finally:
                self._busy = False
                with self._idle:
                    self._idle.notify_all()
            if self._stop:
                return

    def _write(self, batch: list[Record]) -> None:
        try:
            self.sink.write(batch)
            self.stats.written += len(batch)
        except Exception as exc:
            landed = min(len(batch), max(0, int(getattr(exc, "written", 0) or 0)))
            self.stats.written += landed        # a full disk: the lines that made it count
            self.stats.failed += len(batch) - landed
            self.stats.sink_errors += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            if self.stats.sink_errors in (1, 10, 100, 1000) or self.stats.sink_errors % 10000 == 0:
                _log.warning("call log sink %r failed (%d failed batches so far): %s",
                             self.sink, self.stats.sink_errors, self.stats.last_error)


def _live_sinks(sink: Any) -> tuple:
    """Sinks that act when a tracked call starts (`start_call`), found through fan-outs."""
    if hasattr(sink, "start_call"):
        return (sink,)
    return tuple(s for child in getattr(sink, "sinks", ()) for s in _live_sinks(child))


def open_logger(target: str | Path | Callable[[list[Record]], Any] | Iterable | None = None,
                root: Path | None = None, **options: Any) -> CallLogger:
    """The logger `Registry.track()`/`log_call()` delegate to (see `resolve_target`);
    a CallLogger passed as `target` is used as it is."""
    if isinstance(target, CallLogger):
        return target
    return CallLogger(open_sink(resolve_target(target, root), root), **options)
