"""Eval throughput: figures and ratios against its targets (not a timed test).

1. 1,000 cases x 3 scorers with the echo provider, as a real `promptctl eval` process:
   target <= 1.5 s wall and <= 120 MB peak RSS (promptfoo 0.123: ~6.3 s, ~300 MB).
2. 500 cases at concurrency 20 against a loopback OpenAI-compatible server that sleeps
   50 ms per call: target wall <= 1.3 x the ideal 500 / 20 x 0.05 s = 1.25 s.

Run: python bench/eval_throughput.py [--runs N]
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


def child_peak_rss_mb(cmd: list[str], cwd: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MB) and exit code of one child process."""
    code = ("import resource, subprocess, sys, time, json\n"
            "t = time.perf_counter()\n"
            "rc = subprocess.run(json.loads(sys.argv[1]), cwd=sys.argv[2], stdout=subprocess.DEVNULL).returncode\n"
            "wall = time.perf_counter() - t\n"
            "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
            "print(json.dumps([wall, rss, rc]))\n")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(cmd), str(cwd)],
                         capture_output=True, text=True, check=True).stdout
    wall, rss, rc = json.loads(out)
    return wall, rss, rc


def bench_echo(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_repo(root, 1000, "echo", 8)
        results = [child_peak_rss_mb([*promptctl(), "eval", "bench"], root) for _ in range(runs)]
        assert all(rc == 0 for _, _, rc in results), results
        wall = statistics.median(r[0] for r in results)
        rss = max(r[1] for r in results)
        json_wall, json_rss, rc = child_peak_rss_mb(
            [*promptctl(), "eval", "bench", "--format", "json", "--output", str(root / "r.json")], root)
        assert rc == 0
    print("1) 1,000 cases x 3 scorers, echo provider, `promptctl eval` process "
          f"(median of {runs}):")
    print(f"   wall {wall:.2f} s  (target 1.50 s: ratio {wall / 1.5:.2f}; promptfoo 6.3 s: "
          f"{6.3 / wall:.1f}x faster)")
    print(f"   peak RSS {rss:.0f} MB  (target 120 MB: ratio {rss / 120:.2f}; promptfoo ~300 MB)")
    print(f"   with --format json --output (every case written): {json_wall:.2f} s, {json_rss:.0f} MB")


def _serve(port_queue, delay: float) -> None:
    from evalserver import FakeLLM
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
        from promptctl.services.evaluate import EvalOptions, evaluate
        walls = []
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            make_repo(root, 500, "openai", 20,
                      config=f"providers:\n  openai: {{base_url: '{url}'}}\n")
            os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-real-key")
            for _ in range(runs):
                start = time.perf_counter()
                report = evaluate(root, "bench", EvalOptions(no_cache=True, record=False))
                walls.append(time.perf_counter() - start)
                assert report.runs[0].summary["errors"] == 0
        wall = statistics.median(walls)
        ideal = 500 / 20 * 0.05
        print(f"2) 500 cases, concurrency 20, loopback server sleeping 50 ms (median of {runs}):")
        print(f"   wall {wall:.2f} s  (ideal {ideal:.2f} s: ratio {wall / ideal:.2f}; target <= 1.30)")
    finally:
        proc.terminate()
        proc.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    bench_echo(args.runs)
    bench_loopback(args.runs)


if __name__ == "__main__":
    main()
