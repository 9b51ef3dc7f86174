"""Call-log speed: overhead of track() + SQLite sink per call, and analyze over 1M calls.

Run: .venv/bin/python bench/call_log.py [--calls 200000] [--log-size 1000000] [--runs 3]
Targets: <= 20 µs CPU added per call, counting the writer thread and its drain (the
default bounded queue, so a writer that falls behind shows as dropped records);
analysis of 1,000,000 logged calls < 3 s.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from promptctl.runtime.calllog import CallRecord, hash_key, new_call_id, open_logger
from promptctl.canary.decide import decide, parse_policy
from promptctl.canary.selection import Selection
from promptctl.canary.sqlite_source import read_sqlite
from promptctl.runtime.sinks import SQLiteSink


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


def bare_loop(n: int) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(n):
        work(i)
    return time.process_time() - cpu, time.perf_counter() - wall


def tracked_loop(n: int, logger) -> tuple[float, float]:
    """CPU (every thread: the writer's too) and wall of n tracked calls and the drain."""
    p = Prompt()
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(n):
        with logger.track(p, env="production", key=i) as call:
            work(i)
            call.record(success=True, tokens_in=10, tokens_out=20)
    logger.flush(None)      # the writer's drain is part of what logging costs
    return time.process_time() - cpu, time.perf_counter() - wall


def overhead(n: int, root: Path, runs: int) -> None:
    # The default, bounded queue: when the writer falls behind, records are dropped (counted)
    logger = open_logger(root / "overhead.sqlite")
    tracked_loop(1000, logger)   # warm-up: schema, thread, caches
    bare, tracked = [], []
    for _ in range(runs):        # interleaved, medians
        bare.append(bare_loop(n))
        tracked.append(tracked_loop(n, logger))
    logger.close()
    med = {label: [statistics.median(s[i] for s in samples) / n * 1e6 for i in (0, 1)]
           for label, samples in (("bare", bare), ("tracked", tracked))}
    added_cpu = med["tracked"][0] - med["bare"][0]
    print(f"track + SQLite sink, drain included ({runs} runs of {n:,} calls, medians): "
          f"{med['tracked'][0]:.2f} us CPU/call ({med['tracked'][1]:.2f} wall), bare loop "
          f"{med['bare'][0]:.2f} ({med['bare'][1]:.2f}) -> added {added_cpu:.2f} us CPU/call "
          f"(target <= 20)")
    stats = logger.stats
    print(f"  submitted {stats.submitted:,}, written {stats.written:,}, dropped {stats.dropped:,} "
          f"(queue {logger.queue_size:,}), failed {stats.failed:,}")


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

    from promptctl.canary.sources import recorded_scores
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
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        overhead(args.calls, root, args.runs)
        took = fill_log(root / "big.sqlite", args.log_size)
        print(f"(wrote {args.log_size:,} calls in {took:.1f} s, "
              f"{args.log_size / took:,.0f} calls/s through the SQLite sink)")
        analyze(root / "big.sqlite", args.log_size)


if __name__ == "__main__":
    main()
