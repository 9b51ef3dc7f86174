"""Call-log speed: overhead of track() + SQLite sink per call, and analyze over 1M calls.

Run: .venv/bin/python bench/call_log.py [--calls 200000] [--log-size 1000000]
Targets: ≤ 20 µs added per call; analysis of 1,000,000 logged calls < 3 s.
"""

from __future__ import annotations

import argparse
import math
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from promptctl.calllog import CallRecord, hash_key, new_call_id, open_logger
from promptctl.canary import decide, parse_policy
from promptctl.canary_sources import Selection, read_sqlite
from promptctl.sinks import SQLiteSink


@dataclass
class Prompt:
    name: str = "support-refund"
    version: str = "1.2.0"
    variant: str = "stable"
    model: str = "gpt-x"
    digest: str = "sha256:0"
    params: dict = field(default_factory=dict)


def work(i: int) -> int:
    # stands in for the app's own code around the model call
    return i * 2


def bare_loop(n: int) -> float:
    t = time.perf_counter()
    for i in range(n):
        work(i)
    return time.perf_counter() - t


def tracked_loop(n: int, logger) -> float:
    p = Prompt()
    t = time.perf_counter()
    for i in range(n):
        with logger.track(p, env="production", key=i) as call:
            work(i)
            call.record(success=True, tokens_in=10, tokens_out=20)
    return time.perf_counter() - t


def overhead(n: int, root: Path) -> None:
    logger = open_logger(root / "overhead.sqlite", queue_size=2 * n)
    tracked_loop(1000, logger)   # warm-up: schema, thread, caches
    logger.flush()
    bare = min(bare_loop(n) for _ in range(3))
    tracked = tracked_loop(n, logger)
    t = time.perf_counter()
    logger.flush(None)
    drain = time.perf_counter() - t
    logger.close()
    added = (tracked - bare) / n * 1e6
    print(f"track + SQLite sink: {tracked / n * 1e6:.2f} µs/call, bare loop "
          f"{bare / n * 1e6:.2f} µs/call -> added {added:.2f} µs/call (target ≤ 20)")
    print(f"  counting the writer's drain after the loop ({drain:.2f} s): "
          f"{(tracked + drain - bare) / n * 1e6:.2f} µs/call added; written "
          f"{logger.stats.written}, dropped {logger.stats.dropped}, failed {logger.stats.failed}")


def fill_log(path: Path, size: int, seed: int = 1) -> float:
    rng = random.Random(seed)
    sink = SQLiteSink(path)
    now = time.time()
    t = time.perf_counter()
    batch = []
    for i in range(size):
        canary = i % 2 == 1
        batch.append(CallRecord(
            call_id=new_call_id(), time=now - 3600 + 3600 * i / size, name="support-refund",
            version="1.3.0" if canary else "1.2.0", variant="canary" if canary else "stable",
            env="production", model="gpt-x", key_hash=hash_key(rng.randrange(100_000)),
            latency_ms=math.exp(rng.gauss(6.5, 0.6)), success=rng.random() > 0.02,
            tokens_in=100, tokens_out=200))
        if len(batch) == 50_000:
            sink.write(batch)
            batch = []
    if batch:
        sink.write(batch)
    sink.close()
    return time.perf_counter() - t


def analyze(path: Path, size: int) -> None:
    sel = Selection("support-refund", "production", "1.2.0", "1.3.0", since=time.time() - 7200)
    policy = parse_policy({"min_calls": 1000, "min_duration": "5m"})
    t = time.perf_counter()
    obs = read_sqlite(path, sel, policy.metrics)
    decision = decide(policy, obs, weight=50, elapsed=3600)
    took = time.perf_counter() - t
    print(f"analyze over {size:,} logged calls: {took:.2f} s (target < 3) -> "
          f"{decision.action.value}; stable {obs.stable.calls:,} calls / {obs.stable.keys:,} keys,"
          f" canary {obs.canary.calls:,} / {obs.canary.keys:,}")
    # what `canary analyze` reads besides: the recorded score names (observe-only rows) and
    # the step's earlier looks (running intersections)
    from dataclasses import replace

    from promptctl.canary_sources import recorded_scores
    from promptctl.services.canary import EARLIER_LOOKS
    now = time.time()
    sel = replace(sel, until=now, weight=50)
    t = time.perf_counter()
    recorded_scores(path, sel)
    obs = read_sqlite(path, sel, policy.metrics)
    earlier = [read_sqlite(path, replace(sel, until=sel.since + (now - sel.since) * f),
                           policy.metrics) for f in EARLIER_LOOKS]
    decision = decide(policy, obs, weight=50, elapsed=3600, earlier=earlier)
    full = time.perf_counter() - t
    print(f"  with the score listing, routing check and {len(EARLIER_LOOKS)} earlier looks: "
          f"{full:.2f} s ({full / took:.2f}x) -> {decision.action.value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--log-size", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        overhead(args.calls, root)
        took = fill_log(root / "big.sqlite", args.log_size)
        print(f"(wrote {args.log_size:,} calls in {took:.1f} s, "
              f"{args.log_size / took:,.0f} calls/s through the SQLite sink)")
        analyze(root / "big.sqlite", args.log_size)


if __name__ == "__main__":
    main()
