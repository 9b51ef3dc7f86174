"""Run a suite's cases through a provider and score every answer.

The echo provider and other synchronous providers take a plain loop (no event loop per
case); remote providers run as asyncio tasks bounded by the suite's concurrency.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import PromptctlError, ProviderError, UsageError
from ..providers.base import Provider, Request, Response, SyncProvider
from ..redaction import redactor
from . import scorers
from .cache import ResponseCache, cache_key
from .datasets import Case
from .judge import judge_messages, parse_judge
from .results import CaseList, CaseResult, MetricInfo
from .scoring import Context, Observation
from .suite import MetricSpec

Progress = Callable[[int, int], None]


@dataclass
class Plan:
    """Everything one run needs, already resolved: no files are read past this point."""

    render: Callable[[dict[str, Any]], Any]
    cases: list[Case]
    metrics: list[MetricSpec]
    provider: Provider
    model: str
    params: dict[str, Any]
    repeat: int = 1
    concurrency: int = 8
    cache: ResponseCache | None = None
    judge: Provider | None = None
    judge_model: str = ""
    judge_params: dict[str, Any] = field(default_factory=dict)
    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    context: Context = field(default_factory=Context)
    on_progress: Progress | None = None
    # case id -> index before sharding; without shards a case's index is its position
    positions: dict[str, int] = field(default_factory=dict)
    tools: Callable[[dict[str, Any]], list[dict]] | None = None   # renders tool descriptions
    tool_choice: str | None = None
    output: dict[str, Any] | None = None     # structured output asked of the model
    name: str = "output"


def metric_infos(metrics: list[MetricSpec]) -> list[MetricInfo]:
    return [MetricInfo(m.name, m.type, m.weight, m.threshold, m.direction) for m in metrics]


def price(prices: dict[str, dict[str, float]], model: str, tokens_in: int, tokens_out: int) -> float:
    """USD from a price table given per million tokens: {model: {input: .., output: ..}}."""
    row = prices.get(model)
    if not row:
        return 0.0
    return (tokens_in * row.get("input", 0.0) + tokens_out * row.get("output", 0.0)) / 1e6


class _Runner:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.infos = metric_infos(plan.metrics)
        self.sync_scorers = [(m.name, scorers.build(m, plan.context))
                             for m in plan.metrics if m.type != "llm_judge"]
        self.judged = [m for m in plan.metrics if m.type == "llm_judge"]
        self.inflight: dict[str, asyncio.Future] = {}
        self.redact = redactor()   # known key values, read once per run
        self.done = 0
        self.total = len(plan.cases) * plan.repeat

    def jobs(self):
        """(case, sample, position in the dataset) of every call, lazily."""
        return ((case, sample, self.plan.positions.get(case.id, i))
                for i, case in enumerate(self.plan.cases) for sample in range(self.plan.repeat))

    def request(self, case: Case) -> Request:
        plan = self.plan
        tools = plan.tools(case.inputs) if plan.tools is not None else ()
        return Request.of(plan.model, plan.render(case.inputs), plan.params, tools=tools,
                          tool_choice=plan.tool_choice, output=plan.output, name=plan.name)

    def blank(self, case: Case, sample: int, index: int) -> CaseResult:
        return CaseResult(id=case.id, sample=sample, inputs=case.inputs, expected=case.expected,
                          tags=list(case.tags), output=None, error=None, index=index)

    def fill(self, result: CaseResult, response: Response) -> Observation:
        result.output = response.text
        result.latency_ms = round(response.latency_ms, 3)
        result.tokens_in, result.tokens_out = response.tokens_in, response.tokens_out
        result.cost = price(self.plan.prices, self.plan.model, response.tokens_in,
                            response.tokens_out)
        result.cached = response.cached
        result.tool_calls = list(response.tool_calls)
        obs = Observation(response.text, _case_of(result), result.latency_ms,
                                  result.cost, response.tokens_out, tuple(response.tool_calls))
        for name, scorer in self.sync_scorers:
            try:
                result.scores[name], result.reasons[name] = scorer(obs)
            except Exception as exc:  # a broken custom scorer is this case's error, not a crash
                result.error = f"scorer {name}: {type(exc).__name__}: {exc}"
        return obs

    def finish(self, result: CaseResult) -> CaseResult:
        if result.error:
            # An error is never a pass: every metric gets its worst score.
            for info in self.infos:
                result.scores[info.name] = 0.0 if info.direction == "higher" else 1.0
                result.reasons.setdefault(info.name, "error")
            result.metric_errors.clear()
            result.passed = False
        else:
            # A metric without a score (its judge failed) is not a pass either.
            result.passed = all(info.name in result.scores and info.passes(result.scores[info.name])
                                for info in self.infos)
        self.done += 1
        if self.plan.on_progress:
            self.plan.on_progress(self.done, self.total)
        return result

    # ------------------------------------------------------------ synchronous path

    def run_sync(self, provider: SyncProvider) -> CaseList:
        complete = provider.complete_sync
        out = CaseList()
        for case, sample, index in self.jobs():
            result = self.blank(case, sample, index)
            try:
                request = self.request(case)
                self.fill(result, self.masked(complete(request)))
            except PromptctlError as exc:
                _fail(result, exc)
            out.append(self.finish(result))
        return out

    # ------------------------------------------------------------ async path

    async def run_async(self) -> CaseList:
        limit = asyncio.Semaphore(self.plan.concurrency)
        # Tasks are started a window ahead of the oldest unfinished one and results are
        # kept in dataset order: calls overlap fully, yet 100,000 cases never sit in
        # memory as tasks and full results at once.
        window = max(1000, self.plan.concurrency * 8)

        async def one(case: Case, sample: int, index: int) -> CaseResult:
            async with limit:
                return await self.one(case, sample, index)

        out, pending = CaseList(), deque[Any]()
        try:
            for case, sample, index in self.jobs():
                pending.append(asyncio.ensure_future(one(case, sample, index)))
                if len(pending) >= window:
                    out.append(await pending.popleft())
            while pending:
                out.append(await pending.popleft())
            return out
        finally:
            for task in pending:
                task.cancel()
            await self.plan.provider.aclose()
            if self.plan.judge is not None and self.plan.judge is not self.plan.provider:
                await self.plan.judge.aclose()

    async def one(self, case: Case, sample: int, index: int) -> CaseResult:
        result = self.blank(case, sample, index)
        try:
            request = self.request(case)
            response = await self.call(self.plan.provider, request, sample)
            obs = self.fill(result, response)
        except PromptctlError as exc:
            _fail(result, exc)
            return self.finish(result)
        for metric in self.judged:
            try:
                result.scores[metric.name], result.reasons[metric.name] = await self.judge(metric, obs)
            except PromptctlError as exc:
                # The judge failed on this metric only: the answer and its other scores stand.
                result.metric_errors[metric.name] = exc.one_line()
                result.reasons[metric.name] = exc.one_line()
        return self.finish(result)

    async def call(self, provider: Provider, request: Request, sample: int) -> Response:
        cache = self.plan.cache
        key = cache_key(provider.settings, request, sample if self.plan.repeat > 1 else 0)
        if cache is not None:
            hit = cache.get(key)
            if hit is not None:
                return hit
            # Identical requests in flight at once (a judge grading equal answers) share one call.
            if key in self.inflight:
                response = await asyncio.shield(self.inflight[key])
                return Response(response.text, response.tokens_in, response.tokens_out,
                                response.latency_ms, cached=True, tool_calls=response.tool_calls)
            self.inflight[key] = asyncio.ensure_future(self.masked_call(provider, request))
            try:
                response = await self.inflight[key]
            finally:
                del self.inflight[key]
            cache.put(key, response)
            return response
        return await self.masked_call(provider, request)

    async def masked_call(self, provider: Provider, request: Request) -> Response:
        return self.masked(await provider.complete(request))

    def masked(self, response: Response) -> Response:
        """A completion echoing a known key must not carry it into results, HTML or cache."""
        response.text = self.redact(response.text)
        if response.tool_calls:   # a model may echo the key into a call's arguments too
            response.tool_calls = json.loads(self.redact(json.dumps(response.tool_calls)))
        return response

    async def judge(self, metric: MetricSpec, obs: Observation) -> tuple[float, str]:
        judge = self.plan.judge
        if judge is None:
            raise PromptctlError("llm_judge needs a judge model", field="judge",
                                 fix="set judge.provider and judge.model in suite.yaml")
        model = metric.params.get("model") or self.plan.judge_model
        request = Request.of(model, judge_messages(metric, obs), self.plan.judge_params)
        response = await self.call(judge, request, 0)
        try:
            return parse_judge(metric, response.text)
        except ValueError as exc:
            raise PromptctlError(f"judge: {exc}") from exc


def _fail(result: CaseResult, exc: PromptctlError) -> None:
    result.error = exc.one_line()
    result.provider_error = isinstance(exc, ProviderError)


def _case_of(result: CaseResult) -> Case:
    return Case(result.id, result.inputs, result.expected, tuple(result.tags))


def run(plan: Plan) -> CaseList:
    """Run every case (× repeat) and return results in dataset order."""
    runner = _Runner(plan)
    try:
        if isinstance(plan.provider, SyncProvider) and not runner.judged:
            return runner.run_sync(plan.provider)
        return asyncio.run(runner.run_async())
    finally:
        if plan.cache is not None:
            plan.cache.flush()


def shard(cases: list[Case], spec: str | None) -> list[Case]:
    """Cases of shard `I/N` (1-based), split by position so every case lands in one shard."""
    if not spec:
        return cases
    try:
        index, total = (int(x) for x in spec.split("/"))
    except ValueError:
        index = total = 0
    if not (total >= 1 and 1 <= index <= total):
        raise UsageError(f"--shard {spec!r} is not I/N with 1 <= I <= N", field="--shard",
                             fix="for example --shard 2/4")
    return cases[index - 1::total]

