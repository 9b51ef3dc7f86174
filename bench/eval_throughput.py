"""Eval throughput and memory: every figure from a real `promptctl eval` process (CLI
start included), CPU with wall time, each beside its target (not a timed test).

1. 1,000 cases x 3 scorers with the echo provider: target <= 1.5 s wall, <= 120 MB peak
   RSS (promptfoo 0.123: ~6.3 s, ~300 MB).
2. 10,000 and 100,000 echo cases x 3 scorers in every output format: peak RSS <= 150 MiB
   at 100,000 (results stream to the writers and the history), CPU linear in the cases.
3. 500 cases at concurrency 20 against a loopback OpenAI-compatible server that sleeps
   50 ms per call: wall <= 1.3 x the ideal 500 / 20 x 0.05 s = 1.25 s.
4. 2,000 cases of a `python:` provider sleeping 5 ms at concurrency 8: the sync
   function within 1.3 x the async one (sync pipelines run on a thread pool).

Run: python bench/eval_throughput.py [--runs N] [--big 100000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

PROMPT = """\
name: bench
model: {{provider: {provider}, name: bench-model}}
inputs:
  question: string
  customer: {{type: string, default: there}}
messages:
  - role: system
    content: "You answer support questions for {{{{ customer }}}}. Never promise refunds."
  - role: user
    content: "{{{{ question }}}}"
"""
SUITE = """\
dataset: cases.jsonl
concurrency: {concurrency}
metrics:
  - {{name: mentions, type: icontains}}
  - {{name: no_promise, type: not_contains, value: ["we will refund"]}}
  - {{name: short, type: length, max: 400}}
gates: ["mentions >= 0.9", "no_promise >= 1.0"]
"""


def make_repo(root: Path, cases: int, provider: str, concurrency: int, config: str = "") -> None:
    files = {
        "promptctl.yaml": "prompts_dir: prompts\nevals_dir: evals\n" + config,
        "prompts/bench/prompt.yaml": PROMPT.format(provider=provider),
        "evals/bench/suite.yaml": SUITE.format(concurrency=concurrency),
        "evals/bench/cases.jsonl": "".join(
            json.dumps({"id": f"case-{i}", "inputs": {"question": f"Where is order {i}?"},
                        "expected": f"order {i}", "tags": ["even" if i % 2 else "odd"]}) + "\n"
            for i in range(cases)),
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)


def promptctl() -> list[str]:
    exe = shutil.which("promptctl", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "promptctl"]


def child_peak_rss_mb(cmd: list[str], cwd: Path) -> tuple[float, float, int, float]:
    """Wall seconds, peak RSS (MiB), exit code and CPU seconds of one child process."""
    code = ("import resource, subprocess, sys, time, json\n"
            "t = time.perf_counter()\n"
            "rc = subprocess.run(json.loads(sys.argv[1]), cwd=sys.argv[2], stdout=subprocess.DEVNULL).returncode\n"
            "wall = time.perf_counter() - t\n"
            "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            "print(json.dumps([wall, u.ru_maxrss / 1024, rc, u.ru_utime + u.ru_stime]))\n")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(cmd), str(cwd)],
                         capture_output=True, text=True, check=True).stdout
    wall, rss, rc, cpu = json.loads(out)
    return wall, rss, rc, cpu


def bench_echo(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_repo(root, 1000, "echo", 8)
        results = [child_peak_rss_mb([*promptctl(), "eval", "bench"], root) for _ in range(runs)]
        assert all(r[2] == 0 for r in results), results
        wall = statistics.median(r[0] for r in results)
        rss = max(r[1] for r in results)
        json_wall, json_rss, rc, _ = child_peak_rss_mb(
            [*promptctl(), "eval", "bench", "--format", "json", "--output", str(root / "r.json")], root)
        assert rc == 0
    print("1) 1,000 cases x 3 scorers, echo provider, `promptctl eval` process "
          f"(median of {runs}):")
    print(f"   wall {wall:.2f} s  (target 1.50 s: ratio {wall / 1.5:.2f}; promptfoo 6.3 s: "
          f"{6.3 / wall:.1f}x faster)")
    print(f"   peak RSS {rss:.0f} MB  (target 120 MB: ratio {rss / 120:.2f}; promptfoo ~300 MB)")
    print(f"   with --format json --output (every case written): {json_wall:.2f} s, {json_rss:.0f} MB")


FORMATS = ("table", "json", "junit", "markdown", "html")


def bench_big(sizes: list[int]) -> None:
    print(f"2) echo cases x 3 scorers in every format (peak RSS MiB / CPU s / wall s; "
          f"target <= 150 MiB at {sizes[-1]:,}, CPU linear):")
    cpu = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            make_repo(root, size, "echo", 8)
            row = []
            for fmt in FORMATS:
                extra = [] if fmt == "table" else ["--format", fmt, "--output", str(root / f"r.{fmt}")]
                wall, rss, rc, used = child_peak_rss_mb([*promptctl(), "eval", "bench", *extra], root)
                assert rc == 0, (fmt, rc)
                row.append(f"{fmt} {rss:.0f}/{used:.1f}/{wall:.1f}"
                           + ("" if size != sizes[-1] or rss <= 150 else " MISSED"))
                cpu.setdefault(size, []).append(used)
        print(f"   {size:>7,}: " + "  ".join(row))
    # linear: the CPU each extra case costs stays the same from one size to the next
    med = {size: statistics.median(values) for size, values in cpu.items()}
    steps = [((med[b] - med[a]) / (b - a)) * 1e3 for a, b in zip(sizes, sizes[1:], strict=False)]
    print("   CPU per extra case: " + ", ".join(
        f"{a:,}->{b:,} {ms:.3f} ms" for (a, b), ms in zip(zip(sizes, sizes[1:], strict=False), steps, strict=True))
        + (f" ({steps[-1] / steps[0]:.2f}x; linear = 1.00x)" if len(steps) > 1 else ""))


def _serve(port_queue, delay: float) -> None:
    from support.llm import FakeLLM
    server = FakeLLM(reply=lambda body: "order 1", delay=delay)
    port_queue.put(server.url)
    while True:
        time.sleep(3600)


def bench_loopback(runs: int) -> None:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    proc = multiprocessing.Process(target=_serve, args=(queue, 0.05), daemon=True)
    proc.start()
    url = queue.get(timeout=10)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            make_repo(root, 500, "openai", 20,
                      config=f"providers:\n  openai: {{base_url: '{url}'}}\n")
            os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-real-key")
            samples = [child_peak_rss_mb([*promptctl(), "eval", "bench", "--no-cache"], root)
                       for _ in range(runs)]
        assert all(s[2] in (0, 1) for s in samples), samples   # 1: the canned reply fails gates
        wall = statistics.median(s[0] for s in samples)
        cpu = statistics.median(s[3] for s in samples)
        ideal = 500 / 20 * 0.05
        print(f"3) 500 cases, concurrency 20, loopback server sleeping 50 ms, `promptctl eval` "
              f"process (median of {runs}):")
        print(f"   wall {wall:.2f} s, CPU {cpu:.2f} s (ideal {ideal:.2f} s: ratio {wall / ideal:.2f}; "
              f"target <= 1.30)")
    finally:
        proc.terminate()
        proc.join()


PIPELINE = """\
import asyncio, time

def sync_answer(prompt, **params):
    time.sleep(0.005)
    return "order 1"

async def async_answer(prompt, **params):
    await asyncio.sleep(0.005)
    return "order 1"
"""


def bench_python_provider(runs: int) -> None:
    walls: dict[str, list[float]] = {"sync": [], "async": []}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in walls:
            root = Path(tmp) / kind
            root.mkdir()
            make_repo(root, 2000, f"'python:bench_pipeline:{kind}_answer'", 8)
            (root / "bench_pipeline.py").write_text(PIPELINE)
        for _ in range(runs):       # interleaved
            for kind in walls:
                wall, _, rc, _ = child_peak_rss_mb([*promptctl(), "eval", "bench", "--no-cache"],
                                                   Path(tmp) / kind)
                assert rc in (0, 1), kind      # 1: the canned reply fails gates
                walls[kind].append(wall)
    sync, async_ = (statistics.median(walls[k]) for k in ("sync", "async"))
    print(f"4) 2,000 cases of a python: provider sleeping 5 ms, concurrency 8 (median of {runs}):")
    print(f"   sync {sync:.2f} s, async {async_:.2f} s: sync / async {sync / async_:.2f}x "
          f"(target <= 1.30{'' if sync / async_ <= 1.3 else ', MISSED'}; ideal 2000 x 5 ms / 8 = 1.25 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--big", default="1000,10000,100000", help="case counts of the memory figures")
    args = parser.parse_args()
    bench_echo(args.runs)
    bench_big([int(n) for n in args.big.split(",")])
    bench_loopback(args.runs)
    bench_python_provider(args.runs)


if __name__ == "__main__":
    main()
