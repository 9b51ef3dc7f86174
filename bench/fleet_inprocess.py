"""The request path of bench/fleet.py's /prompt, in one process: where its CPU goes.

    python bench/fleet_inprocess.py [--calls 20000] [--runs 3]

Builds the same repo as bench/fleet.py (bench-chat: two chat messages, a loop and a
condition, a 50 % canary), opens it with Registry.open and times, interleaved, medians of
--runs, CPU of every thread (process_time, so the call log's writer counts) beside wall:

  bare       the routed version's compiled templates rendered directly (/bare)
  get        reg.get with a distinct key per call
  render     get + render (/render)
  tracked    get + render + track with the SQLite sink, the writer's drain included (/prompt)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fleet import INPUTS, build_repo  # noqa: E402


def loops(reg, bare_inputs: dict) -> dict:
    from promptctl.render_limits import render_bounded

    warm = reg.get("bench-chat", key="warm")
    warm.render(**INPUTS)           # compiles the templates (lazily, on the first render)
    templates = [t for _, t in warm._compiled._plain]

    def bare(n: int) -> None:
        for _ in range(n):
            [render_bounded(t, bare_inputs) for t in templates]

    def get(n: int) -> None:
        for i in range(n):
            reg.get("bench-chat", key=f"u{i % 500}")

    def render(n: int) -> None:
        for i in range(n):
            reg.get("bench-chat", key=f"u{i % 500}").render(**INPUTS)

    def tracked(n: int) -> None:
        for i in range(n):
            p = reg.get("bench-chat", key=f"u{i % 500}")
            with reg.track(p) as call:
                p.render(**INPUTS)
                call.record(tokens_in=12, tokens_out=30)
        reg.flush(60)
    return {"bare": bare, "get": get, "render": render, "tracked": tracked}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import promptctl

    with tempfile.TemporaryDirectory() as tmp:
        root, served = Path(tmp) / "repo", Path(tmp) / "www"
        root.mkdir()
        served.mkdir()
        build_repo(root, served)
        reg = promptctl.Registry.open(root, env="production", refresh_interval=None,
                                      call_log=Path(tmp) / "calls.sqlite")
        timed = loops(reg, {"language": "en", **INPUTS})
        timed["tracked"](100)       # first render compiles; the logger opens its database
        figures: dict[str, list] = {name: [] for name in timed}
        for _ in range(args.runs):  # interleaved: a slower moment slows every loop alike
            for name, loop in timed.items():
                cpu, wall = time.process_time(), time.perf_counter()
                loop(args.calls)
                figures[name].append(((time.process_time() - cpu) / args.calls * 1e6,
                                      (time.perf_counter() - wall) / args.calls * 1e6))
        reg.close()
    print(f"bench-chat, {args.calls:,} calls x {args.runs} runs (medians, us per call)")
    med = {n: tuple(statistics.median(r[i] for r in rows) for i in (0, 1)) for n, rows in figures.items()}
    for name, (cpu, wall) in med.items():
        print(f"{name:8} {cpu:6.1f} CPU  ({wall:6.1f} wall)")
    print(f"track alone {med['tracked'][0] - med['render'][0]:.1f} us CPU; "
          f"get + render over bare {med['render'][0] - med['bare'][0]:.1f} us CPU")


if __name__ == "__main__":
    main()
