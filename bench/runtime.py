"""Runtime speed: the request path of an app serving many prompts, in process.

    python bench/runtime.py [--prompts 200] [--calls 100000] [--runs 3]

Builds a repo of N prompts × 2 releases (scale_repo.py: text and chat prompts, a shared
partial, canaries on every 10th prompt and segments), opens it with Registry.open, then
times, round-robin over every prompt with distinct keys, interleaved, medians of --runs:

  bare      the routed versions' compiled Jinja templates rendered directly
  get       reg.get(name, key=...).render(question=...)
  tracked   get + render + `with reg.track(p) as call: call.record(...)` with the SQLite
            sink, counting the writer's drain (flush) and its thread's CPU

CPU is the process's (every thread: process_time) beside wall time. Targets: get + render
<= 1.5x bare; tracked <= 30 us CPU per call; no git read or file read in the loop.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_repo import build_repo, prompt_name  # noqa: E402

TRACKED_TARGET_US = 30.0


class Counter:
    """Wraps the calls through which the runtime could touch disk or git."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self._undo: list = []

    def wrap(self, owner, attr: str, label: str) -> None:
        original = getattr(owner, attr)

        def counted(*args, **kwargs):
            self.counts[label] = self.counts.get(label, 0) + 1
            return original(*args, **kwargs)
        setattr(owner, attr, counted)
        self._undo.append((owner, attr, original))

    def restore(self) -> None:
        for owner, attr, original in reversed(self._undo):
            setattr(owner, attr, original)


def measure(func, calls: int) -> tuple[float, float]:
    """(CPU, wall) microseconds per call."""
    cpu, wall = time.process_time(), time.perf_counter()
    func(calls)
    return ((time.process_time() - cpu) / calls * 1e6, (time.perf_counter() - wall) / calls * 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import promptctl
    from promptctl import store

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        build_repo(root, args.prompts, 2)
        start = time.process_time()
        reg = promptctl.Registry.open(root, env="production", call_log=Path(tmp) / "calls.sqlite")
        opened = time.process_time() - start
        names = [prompt_name(i) for i in range(args.prompts)]
        for name in names:     # first render compiles; the loop measures the steady state
            reg.get(name, key="warm").render(question="warm")
        stable = [reg.get(name, key="warm")._compiled for name in names]
        n = len(names)

        def bare(calls: int) -> None:
            for i in range(calls):
                stable[i % n].render({"question": "Where is my order?"})

        def get(calls: int) -> None:
            for i in range(calls):
                reg.get(names[i % n], key=f"user-{i}").render(question="Where is my order?")

        def tracked(calls: int) -> None:
            for i in range(calls):
                p = reg.get(names[i % n], key=f"user-{i}")
                p.render(question="Where is my order?")
                with reg.track(p) as call:
                    call.record(success=True, tokens_in=120, tokens_out=40)
            reg.flush(None)     # the writer's work is part of the cost

        tracked(2000)
        counter = Counter()
        counter.wrap(os, "stat", "os.stat")
        counter.wrap(Path, "read_text", "file reads")
        counter.wrap(store.GitStore, "source_at", "git reads")
        counter.wrap(store.GitStore, "releases", "git tag listings")
        counter.wrap(subprocess.Popen, "__init__", "subprocesses")
        samples: dict[str, list] = {"bare": [], "get": [], "tracked": []}
        try:
            for _ in range(args.runs):       # interleaved
                for label, func in (("bare", bare), ("get", get), ("tracked", tracked)):
                    samples[label].append(measure(func, args.calls))
        finally:
            counter.restore()
        stats = reg._logger.stats
        canary = sum(reg.get(names[0], key=f"user-{i}").variant == "canary" for i in range(10_000))

    cpu = {k: statistics.median(s[0] for s in v) for k, v in samples.items()}
    wall = {k: statistics.median(s[1] for s in v) for k, v in samples.items()}
    print(f"{args.prompts} prompts, Registry.open {opened:.2f} s CPU; {args.calls:,} calls x "
          f"{args.runs} runs (medians, CPU us/call with wall in brackets)")
    print(f"bare jinja render          {cpu['bare']:7.2f} ({wall['bare']:6.2f})")
    print(f"get + render               {cpu['get']:7.2f} ({wall['get']:6.2f})   "
          f"{cpu['get'] / cpu['bare']:.2f}x bare (target <= 1.5x)")
    print(f"get + render + track       {cpu['tracked']:7.2f} ({wall['tracked']:6.2f})   "
          f"target <= {TRACKED_TARGET_US:g} us CPU{'' if cpu['tracked'] <= TRACKED_TARGET_US else ' MISSED'}; "
          f"track alone {cpu['tracked'] - cpu['get']:.2f} us")
    print(f"call log: written {stats.written:,}, dropped {stats.dropped:,}, failed {stats.failed:,}")
    print(f"canary share of {names[0]}: {canary / 100:.1f}% of 10,000 keys at weight 5")
    seen = {k: counter.counts.get(k, 0) for k in
            ("os.stat", "file reads", "git reads", "git tag listings", "subprocesses")}
    print("during the timed loops: " + ", ".join(f"{k} {v}" for k, v in seen.items())
          + "  (the manifest is stat'ed at most once per refresh_interval)")
    ok = cpu["get"] / cpu["bare"] <= 1.5 and cpu["tracked"] <= TRACKED_TARGET_US and seen["git reads"] == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
