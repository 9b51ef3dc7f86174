#!/usr/bin/env python3
"""How the registry commands scale with the number of prompts and tags.

Builds two repos with `git fast-import` (100 and 1,000 prompts, 10 releases each, so up
to 10,000 annotated tags with real digests), then times the installed `promptctl` against
`git for-each-ref refs/tags` in the same run. Prints medians and the ratios the foundation
issue sets as targets:

  promptctl --version < 0.25 s; show/log/diff/bump at 1,000 prompts <= 1.5x at 100;
  list on 1,000 prompts < 2 s.

Usage: python bench/registry_scale.py [--prompts 100,1000] [--releases 10] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from promptctl.files import content_digest  # noqa: E402
from promptctl.tags import format_message  # noqa: E402

IDENTITY = "Bench <bench@example.com> 1700000000 +0000"


def prompt_text(name: str, release: int) -> str:
    return (f"name: {name}\nmodel: {{provider: echo, name: echo-1}}\n"
            f"inputs:\n  question: string\n"
            f"template: |\n  Release {release} of {name}.\n  Question: {{{{ question }}}}\n")


def build_repo(root: Path, prompts: int, releases: int) -> None:
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    names = [f"p{i:04d}" for i in range(prompts)]
    stream: list[bytes] = []

    def data(text: str) -> None:
        raw = text.encode()
        stream.append(f"data {len(raw)}\n".encode() + raw + b"\n")

    for release in range(1, releases + 1):
        stream.append(f"commit refs/heads/main\nmark :{release}\ncommitter {IDENTITY}\n".encode())
        data(f"round {release}")
        if release == 1:
            stream.append(b"M 100644 inline promptctl.yaml\n")
            data("prompts_dir: prompts\n")
        else:
            stream.append(f"from :{release - 1}\n".encode())
        for name in names:
            stream.append(f"M 100644 inline prompts/{name}/prompt.yaml\n".encode())
            data(prompt_text(name, release))
        for name in names:
            version = f"{release}.0.0"
            digest = content_digest({f"{name}/prompt.yaml": prompt_text(name, release)})
            stream.append(f"tag {name}/v{version}\nfrom :{release}\ntagger {IDENTITY}\n".encode())
            data(format_message(name, version, digest, f"release {release}"))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=b"".join(stream), check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=root, check=True)
    subprocess.run(["git", "pack-refs", "--all"], cwd=root, check=True)


def timed(cmd: list[str], cwd: Path, runs: int, before=None) -> float:
    samples = []
    for _ in range(runs):
        if before:
            before()
        start = time.perf_counter()
        result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        samples.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {result.stderr.strip()}")
    return statistics.median(samples)


def measure(root: Path, releases: int, runs: int) -> dict[str, float]:
    exe = shutil.which("promptctl") or sys.exit("install promptctl first: pip install -e .")
    target = root / "prompts/p0042/prompt.yaml"
    counter = iter(range(10**6))

    def edit() -> None:
        target.write_text(prompt_text("p0042", 1000 + next(counter)))

    last = f"{releases}.0.0"
    return {
        "git for-each-ref": timed(["git", "for-each-ref", "refs/tags"], root, runs),
        "list": timed([exe, "list"], root, runs),
        "show": timed([exe, "show", f"p0042@{last}"], root, runs),
        "log": timed([exe, "log", "p0042"], root, runs),
        "diff": timed([exe, "diff", "p0042", "1.0.0", last], root, runs),
        "bump": timed([exe, "bump", "p0042", "minor"], root, runs, before=edit),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", default="100,1000")
    parser.add_argument("--releases", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) for s in args.prompts.split(",")]
    exe = shutil.which("promptctl") or sys.exit("install promptctl first: pip install -e .")
    version = timed([exe, "--version"], Path.cwd(), args.runs * 2)
    print(f"promptctl --version: {version * 1000:.0f} ms (target < 250 ms)")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            root = Path(tmp) / f"repo{size}"
            start = time.perf_counter()
            build_repo(root, size, args.releases)
            print(f"built {size} prompts x {args.releases} releases "
                  f"({size * args.releases} tags) in {time.perf_counter() - start:.1f} s")
            results[size] = measure(root, args.releases, args.runs)
    print(f"\n{'command':<18}" + "".join(f"{s:>10} prompts" for s in sizes)
          + ("   ratio" if len(sizes) == 2 else ""))
    for key in results[sizes[0]]:
        row = f"{key:<18}" + "".join(f"{results[s][key] * 1000:>15.0f} ms" for s in sizes)
        if len(sizes) == 2:
            row += f"   {results[sizes[1]][key] / results[sizes[0]][key]:.2f}x"
        print(row)
    big = results[sizes[-1]]
    print(f"\nlist on {sizes[-1]} prompts: {big['list']:.2f} s (target < 2 s); "
          f"list / for-each-ref: {big['list'] / big['git for-each-ref']:.1f}x")


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    main()
