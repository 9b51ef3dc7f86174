"""The OpenTelemetry and Prometheus sinks with their real libraries (skipped without them)."""

from __future__ import annotations

import time

import pytest

from promptctl.runtime.calllog import CallLogger, CallRecord


def _record(**kw) -> CallRecord:
    base = dict(call_id="c1", time=time.time(), name="support-refund", version="1.2.0",
                variant="canary", env="production", segment="eu", model="gpt-x",
                latency_ms=250.0, success=False, error="TimeoutError", tokens_in=10,
                tokens_out=20, scores={"thumbs_up": 1.0})
    base.update(kw)
    return CallRecord(**base)


def test_otel_sink_emits_genai_span():
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from promptctl.runtime.sinks import OtelSink

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    logger = CallLogger(OtelSink(provider))
    logger.submit(_record())
    logger.close()
    [span] = exporter.get_finished_spans()
    a = span.attributes
    assert a["gen_ai.request.model"] == "gpt-x" == a["gen_ai.response.model"]
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (10, 20)
    assert (a["promptctl.prompt.name"], a["promptctl.prompt.version"],
            a["promptctl.prompt.variant"], a["promptctl.prompt.environment"],
            a["promptctl.prompt.segment"]) == ("support-refund", "1.2.0", "canary",
                                               "production", "eu")
    assert a["error.type"] == "TimeoutError"
    assert abs((span.end_time - span.start_time) / 1e6 - 250.0) < 1.0
    assert not span.status.is_ok


def test_prometheus_sink_counts_and_histogram():
    pc = pytest.importorskip("prometheus_client")
    from promptctl.runtime.sinks import PrometheusSink

    registry = pc.CollectorRegistry()
    logger = CallLogger(PrometheusSink(registry))
    logger.submit(_record())
    logger.submit(_record(call_id="c2", success=True, error=None, latency_ms=20.0))
    logger.close()
    labels = {"prompt": "support-refund", "version": "1.2.0", "variant": "canary",
              "env": "production", "segment": "eu"}
    get = registry.get_sample_value
    assert get("promptctl_calls_total", labels) == 2
    assert get("promptctl_call_errors_total", labels) == 1
    assert get("promptctl_tokens_total", {**labels, "direction": "input"}) == 20
    assert get("promptctl_call_latency_seconds_count", labels) == 2
    assert get("promptctl_call_latency_seconds_bucket", {**labels, "le": "0.025"}) == 1
    assert get("promptctl_score_sum_total", {**labels, "score": "thumbs_up"}) == 2
    # a second sink on the same registry reuses the collectors instead of failing
    PrometheusSink(registry)


def test_otel_error_type_never_carries_a_known_key(monkeypatch):
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from promptctl.runtime.sinks import OtelSink

    monkeypatch.setenv("OPENAI_API_KEY", "sk-otel-secret-987654")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    logger = CallLogger(OtelSink(provider))
    logger.log_call(name="x", version="1.0.0", latency_ms=5.0,
                    error="401 for key sk-otel-secret-987654")
    logger.close()
    [span] = exporter.get_finished_spans()
    assert span.attributes["error.type"] == "401 for key ***"


def test_a_tracked_call_is_a_client_span_child_of_the_request_span(deploy_repo):
    pytest.importorskip("opentelemetry.sdk")
    from support.fleet import live_deploy
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    import promptctl
    from promptctl.runtime.sinks import FanoutSink, JsonlSink, OtelSink

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    sink = FanoutSink([OtelSink(provider), JsonlSink(deploy_repo / "calls.jsonl")])
    reg = promptctl.Registry.open(live_deploy(deploy_repo), env="production", call_log=sink,
                                  refresh_interval=None)
    request = provider.get_tracer("app")
    for i in range(20):
        with request.start_as_current_span(f"GET /reply {i}"):
            p = reg.get("support-refund", key=f"user-{i}")
            with reg.track(p) as call:
                with request.start_as_current_span("provider http"):   # nests under the call
                    pass
                call.record(tokens_in=3, tokens_out=5, error=None if i % 2 else "Timeout")
    reg.log_call(reg.get("triage"), latency_ms=12.0)          # timed by the app: a span later
    assert reg.flush()
    spans = exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}
    calls = [s for s in spans if s.name.startswith("chat") and
             s.attributes["promptctl.prompt.name"] == "support-refund"]
    assert len(calls) == 20                                   # one each: none made twice
    for span in calls:
        parent = by_id[span.parent.span_id]
        assert parent.name.startswith("GET /reply") and span.kind is SpanKind.CLIENT
        assert span.context.trace_id == parent.context.trace_id
        assert span.attributes["gen_ai.provider.name"] == "echo"
        assert span.attributes["gen_ai.usage.output_tokens"] == 5
    nested = [s for s in spans if s.name == "provider http"]
    assert all(by_id[s.parent.span_id].name.startswith("chat") for s in nested)
    assert sum(not s.status.is_ok for s in calls) == 10
    [later] = [s for s in spans if s.attributes.get("promptctl.prompt.name") == "triage"]
    assert later.kind is SpanKind.CLIENT
    assert len((deploy_repo / "calls.jsonl").read_text().splitlines()) == 21   # other sinks get all
