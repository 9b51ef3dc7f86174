"""Where call records go: JSONL, OpenTelemetry, Prometheus, a callable, several at once.
The default, SQLite, lives in `sqlite_sink` and is importable from here too.

Every sink has `write(records)` (called from the logger's writer thread with a batch)
and `close()`. Optional libraries are imported when the sink is created, never at
module import, so the runtime stays light.
"""

from __future__ import annotations

import json
import math
import os
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

from .call_records import CallRecord, FeedbackRecord, Record
from ..errors import UsageError
from .sqlite_sink import SQLiteSink  # noqa: F401 - apps import it from promptctl.sinks


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
        blob = "".join(json.dumps(r.as_dict(), separators=(",", ":")) + "\n"
                       for r in records).encode("utf-8")
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                self._append(fd, blob)
            finally:
                os.close(fd)

    def _append(self, fd: int, blob: bytes) -> None:
        """All of `blob`, or its whole lines only: a full disk must not leave a torn line,
        and the lines that did land are counted as written."""
        start = os.fstat(fd).st_size
        done = 0
        try:
            while done < len(blob):
                done += self._os_write(fd, blob[done:])
        except OSError as exc:
            whole = blob.rfind(b"\n", 0, done) + 1
            try:
                os.ftruncate(fd, start + whole)
            except OSError:
                pass    # not a regular file (a pipe, /dev/full): nothing to cut back
            raise PartialWrite(blob[:whole].count(b"\n"), exc) from exc

    _os_write = staticmethod(os.write)   # a test replaces it to fill the disk

    def close(self) -> None:
        pass


class PartialWrite(OSError):
    """A batch of which only the first `written` records reached the sink."""

    def __init__(self, written: int, cause: OSError) -> None:
        super().__init__(cause.errno, f"{cause.strerror or cause} ({written} records written)")
        self.written = written


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
    """One CLIENT span per call with the GenAI semantic-convention attributes.

    A call tracked with `track()` gets its span when the block is entered, in the caller's
    context (a child of the request's span; current inside the block, so an instrumented
    HTTP client nests under it). A call logged after the fact (`log_call`) gets a span made
    by the writer thread with the call's own start and end times.
    """

    MAX_PENDING = 100_000

    def __init__(self, tracer_provider: Any = None) -> None:
        try:
            from opentelemetry import context, trace
        except ImportError as exc:
            raise UsageError("the OpenTelemetry sink needs the `otel` extra",
                             fix="pip install 'promptctl[otel]'") from exc
        provider = tracer_provider or trace.get_tracer_provider()
        self._tracer = provider.get_tracer("promptctl")
        self._trace, self._context = trace, context
        self._error_status = trace.Status(trace.StatusCode.ERROR)
        self._client = trace.SpanKind.CLIENT
        self._live: set[str] = set()   # call ids whose span was made live: not again later

    def start_call(self, prompt: Any, call_id: str, env: str | None, segment: str | None) -> "_LiveSpan":
        model = getattr(prompt, "model", None)
        name = getattr(prompt, "name", None) or ""
        attrs = {"gen_ai.operation.name": "chat", "promptctl.call_id": call_id,
                 "promptctl.prompt.name": name,
                 "promptctl.prompt.version": str(getattr(prompt, "version", None) or ""),
                 "promptctl.prompt.variant": getattr(prompt, "variant", None) or "stable"}
        for attr, value in (("gen_ai.provider.name", getattr(prompt, "provider", None)),
                            ("gen_ai.request.model", model),
                            ("promptctl.prompt.environment", env or getattr(prompt, "env", None)),
                            ("promptctl.prompt.segment", segment or getattr(prompt, "segment", None)),
                            ("promptctl.prompt.digest", getattr(prompt, "digest", None))):
            if value is not None:
                attrs[attr] = value
        span = self._tracer.start_span(f"chat {model or name}", kind=self._client, attributes=attrs)
        token = self._context.attach(self._trace.set_span_in_context(span))
        if len(self._live) >= self.MAX_PENDING:   # records dropped by a full queue never come
            self._live.clear()
        self._live.add(call_id)
        return _LiveSpan(self, span, token, model)

    def write(self, records: Sequence[Record]) -> None:
        for r in records:
            if r.kind != "call":
                continue   # feedback has no span of its own; it is joined by call id later
            if r.call_id in self._live:
                self._live.discard(r.call_id)
                continue
            end = int(r.time * 1e9)
            start = end - int((r.latency_ms or 0.0) * 1e6)
            attrs: dict[str, Any] = {"gen_ai.operation.name": "chat", "promptctl.call_id": r.call_id,
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
            for score, number in r.scores.items():
                attrs[f"promptctl.score.{score}"] = float(number)
            span = self._tracer.start_span(f"chat {r.model or r.name}", start_time=start,
                                           attributes=attrs, kind=self._client)
            if not r.success:
                span.set_status(self._error_status)
            span.end(end_time=end)

    def close(self) -> None:
        pass


class _LiveSpan:
    """The span of one tracked call, ended by the call's `__exit__` with what it recorded."""

    __slots__ = ("_sink", "_span", "_token", "_model")

    def __init__(self, sink: OtelSink, span: Any, token: Any, model: str | None) -> None:
        self._sink, self._span, self._token, self._model = sink, span, token, model

    def end(self, fields: dict) -> None:
        from .call_records import count_or_none, clean_scores

        span = self._span
        try:
            self._sink._context.detach(self._token)
        except ValueError:   # exited in another context (a generator, a thread): the span still ends
            pass
        model = fields.get("model") or self._model
        for attr, value in (("gen_ai.response.model", model),
                            ("gen_ai.usage.input_tokens", count_or_none(fields.get("tokens_in"))),
                            ("gen_ai.usage.output_tokens", count_or_none(fields.get("tokens_out"))),
                            ("error.type", fields.get("error"))):
            if value is not None:
                span.set_attribute(attr, value)
        for score, value in clean_scores(fields.get("scores")).items():
            span.set_attribute(f"promptctl.score.{score}", float(value))
        if not fields.get("success", True):
            span.set_status(self._sink._error_status)
        span.end()


LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0)
LABELS = ("prompt", "version", "variant", "env", "segment")


MULTIPROC_VARS = ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir")


def _multiproc_dir() -> str | None:
    return next((os.environ[v] for v in MULTIPROC_VARS if os.environ.get(v)), None)


def prometheus_registry() -> Any:
    """The registry to expose on /metrics. With PROMETHEUS_MULTIPROC_DIR set (several worker
    processes: gunicorn, uvicorn --workers), a fresh one that adds up every process's metric
    files at each scrape; otherwise prometheus_client's default registry."""
    try:
        import prometheus_client as pc
        from prometheus_client import multiprocess
    except ImportError as exc:
        raise UsageError("the Prometheus sink needs the `prometheus` extra",
                         fix="pip install 'promptctl[prometheus]'") from exc
    if _multiproc_dir() is None:
        return pc.REGISTRY
    registry = pc.CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def _check_multiproc(pc: Any) -> None:
    """Multiprocess mode is chosen when prometheus_client is first imported: a folder set
    later, or missing, would make each worker count alone (a scrape sees one worker)."""
    folder = _multiproc_dir()
    if folder is None:
        return
    if not Path(folder).is_dir():
        raise UsageError(f"PROMETHEUS_MULTIPROC_DIR={folder} is not a folder",
                         fix="create it, empty, before the workers start")
    if getattr(pc.values.ValueClass, "__name__", "") == "MutexValue":
        raise UsageError("PROMETHEUS_MULTIPROC_DIR was set after prometheus_client was imported",
                         fix="set it in the environment of the server process (before it starts)")


class PrometheusSink:
    """Counters and a latency histogram for Prometheus to scrape (`prometheus_client`).

    Scores are exported as three counters (sum, count, sum of squares) so a Prometheus
    metric source can rebuild their mean and variance for the canary controller. With
    several worker processes, set PROMETHEUS_MULTIPROC_DIR and expose
    `prometheus_registry()`: prometheus_client then keeps each process's values in files
    that one scrape adds up (see docs/runtime.md).
    """

    _shared: dict[int, dict[str, Any]] = {}
    _shared_lock = threading.Lock()

    def __init__(self, registry: Any = None) -> None:
        try:
            import prometheus_client as pc
        except ImportError as exc:
            raise UsageError("the Prometheus sink needs the `prometheus` extra",
                             fix="pip install 'promptctl[prometheus]'") from exc
        _check_multiproc(pc)
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
