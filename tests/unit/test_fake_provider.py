"""The fake provider satisfies the Provider protocols and drives the real eval engine on
both its paths: the plain loop (a SyncProvider) and the async one."""

from __future__ import annotations

import pytest

from promptctl.evals.datasets import Case
from promptctl.evals.engine import Plan, run
from promptctl.evals.suite import MetricSpec
from promptctl.providers.base import Provider, Response, SyncProvider, make_provider, ProviderSettings
from promptctl.providers.fake import FakeProvider

CASES = [Case("a", {"q": "two"}, expected="TWO"), Case("b", {"q": "three"}, expected="3")]


def _plan(provider) -> Plan:
    return Plan(render=lambda inputs: f"shout {inputs['q']}", cases=list(CASES),
                metrics=[MetricSpec(name="exact", type="exact")], provider=provider,
                model="m", params={"temperature": 0})


@pytest.mark.parametrize("synchronous", [True, False])
def test_the_engine_scores_what_the_fake_answers(synchronous):
    fake = FakeProvider(lambda r: r.text().split()[-1].upper(), synchronous=synchronous)
    assert isinstance(fake, Provider) and isinstance(fake, SyncProvider) is synchronous
    results = run(_plan(fake))
    assert [(c.id, c.output, c.passed) for c in results] == [("a", "TWO", True), ("b", "THREE", False)]
    assert [r.messages[0]["content"] for r in fake.requests] == ["shout two", "shout three"]
    assert fake.requests[0].params == (("temperature", 0),)
    assert fake.closed is not synchronous   # only the async path closes its providers


def test_a_fake_can_answer_with_a_full_response():
    fake = FakeProvider(lambda r: Response(text="x", tokens_in=7, tokens_out=1, latency_ms=12.5))
    [first, _] = run(_plan(fake))
    assert (first.tokens_in, first.tokens_out, first.latency_ms) == (7, 1, 12.5)


def test_shipped_providers_meet_the_protocol():
    echo = make_provider(ProviderSettings(kind="echo"))
    openai = make_provider(ProviderSettings(kind="openai", base_url="http://127.0.0.1:9"))
    assert isinstance(echo, SyncProvider)
    assert isinstance(openai, Provider) and not isinstance(openai, SyncProvider)
