#!/usr/bin/env python3
"""How the registry commands scale with the number of prompts and tags.

Builds repos of 100, 1,000 and 5,000 prompts × 10 releases (up to 50,000 annotated tags
with real digests, chat prompts, a shared partial, and a release.yaml history with
canaries and segments, committed --history + 2 times; see scale_repo.py), checks each with `promptctl verify`, then
times every command as a fresh process (CLI start included) against
`git for-each-ref refs/tags`. Sizes are interleaved run by run, so a busy machine
slows all of them alike; figures are medians of CPU (the process and its children,
git included) and wall time, each printed with its target:

  verify: 1,000 prompts <= 3 s CPU, 5,000 <= 15 s; list <= 1 s at 1,000, <= 3 s at 5,000;
  status <= 0.5 s at 5,000; Registry.open (git) <= 1 s and bundle <= 1 s at 1,000;
  from_bundle <= 0.5 s; show/log/diff/bump at 5,000 <= 1.2x at 100; --version < 0.25 s.

Every bump is undone (tag deleted, commit reset), so each run sees the same repo.
`list` and `status` keep what they found in .promptctl/read-cache/; their "(cold)" rows
are timed with that folder removed first (a new clone's first run: "status (cold)" reads
every past release.yaml), the others with it as the previous run left it.

Usage: python bench/registry_scale.py [--prompts 100,1000,5000] [--releases 10] [--runs 3]
                                      [--history 300]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_repo import build_repo, prompt_files  # noqa: E402

# In-process API timings: the process's CPU and, once its git child is closed, git's.
_API = r"""
import resource, sys, time
import promptctl
def cpu():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime
c0, w0 = cpu(), time.perf_counter()
if sys.argv[1] == "open":
    reg = promptctl.Registry.open(".", env="production")
    reg._loader.inner.store.objects.close()
else:
    reg = promptctl.Registry.from_bundle(sys.argv[2], env="production")
assert reg.versions(), "no versions loaded"
print(cpu() - c0, time.perf_counter() - w0)
"""


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(cmd: list[str], cwd: Path) -> tuple[float, float, str]:
    """(CPU, wall, stdout) of one process; fails loudly, since a failing command is no figure."""
    cpu, start = children_cpu(), time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - start, children_cpu() - cpu
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} in {cwd} failed ({result.returncode}): "
                         f"{(result.stderr or result.stdout).strip()[-400:]}")
    return cpu, wall, result.stdout


class Repo:
    def __init__(self, root: Path, releases: int, exe: str) -> None:
        self.root, self.releases, self.exe = root, releases, exe
        self.bundle = root.parent / f"{root.name}.lock.json"
        self.edits = 0

    def commands(self) -> dict[str, callable]:
        exe, last = self.exe, f"{self.releases}.0.0"
        cli = {
            "git for-each-ref": ["git", "for-each-ref", "refs/tags"],
            "--version": [exe, "--version"],
            "verify": [exe, "verify"],
            "list": [exe, "list"],
            "list --json": [exe, "list", "--json"],
            "status": [exe, "status"],
            "show": [exe, "show", f"p0042@{last}"],
            "log": [exe, "log", "p0042"],
            "diff": [exe, "diff", "p0042", "1.0.0", last],
            "history": [exe, "history", "p0040", "--env", "production"],
            "bundle": [exe, "bundle", "--env", "production", "-o", str(self.bundle)],
        }
        out = {name: (lambda argv=argv: run(argv, self.root)[:2]) for name, argv in cli.items()}
        cold = {"list": ["working.json"], "status": ["manifest-history.json", "manifest-rows.json"]}
        for name, files in cold.items():   # the first run after a change, without its cache
            out[f"{name} (cold)"] = lambda name=name, files=files: self.cold(cli[name], files)
        out["bump"] = self.bump
        out["Registry.open"] = lambda: self.api("open")
        out["from_bundle"] = lambda: self.api("bundle", str(self.bundle))
        return out

    def cold(self, argv: list[str], files: list[str]) -> tuple[float, float]:
        for name in files:
            (self.root / ".promptctl" / "read-cache" / name).unlink(missing_ok=True)
        return run(argv, self.root)[:2]

    def bump(self) -> tuple[float, float]:
        """One edit and `bump`, then undone: the repo stays as built."""
        self.edits += 1
        head = run(["git", "rev-parse", "HEAD"], self.root)[2].strip()
        target = self.root / "prompts/p0042/prompt.yaml"
        before = target.read_text()
        target.write_text(prompt_files(42, 1000 + self.edits)["p0042/prompt.yaml"])
        cpu, wall, out = run([self.exe, "bump", "p0042", "minor"], self.root)
        tag = out.split("(tag ", 1)[1].split(",", 1)[0]
        run(["git", "tag", "-d", tag], self.root)
        run(["git", "reset", "-q", "--hard", head], self.root)
        assert target.read_text() == before
        return cpu, wall

    def api(self, *args: str) -> tuple[float, float]:
        cpu, wall = run([sys.executable, "-c", _API, *args], self.root)[2].split()
        return float(cpu), float(wall)


TARGETS = {   # (command, prompts) -> CPU seconds
    ("verify", 1000): 3.0, ("verify", 5000): 15.0, ("list", 1000): 1.0, ("list", 5000): 3.0,
    ("status", 5000): 0.5, ("Registry.open", 1000): 1.0, ("bundle", 1000): 1.0,
    ("from_bundle", 1000): 0.5, ("--version", 100): 0.25,
}
FLAT = ("show", "log", "diff", "bump", "history")   # one-prompt commands: <= 1.2x
FLAT_RATIO = 1.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", default="100,1000,5000")
    parser.add_argument("--releases", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--history", type=int, default=300,
                        help="release.yaml commits after the releases (one promote each)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.prompts.split(",")]
    exe = shutil.which("promptctl") or sys.exit("install promptctl first: pip install -e .")
    with tempfile.TemporaryDirectory() as tmp:
        repos = {}
        for size in sizes:
            start = time.perf_counter()
            repos[size] = Repo(Path(tmp) / f"repo{size}", args.releases, exe)
            build_repo(repos[size].root, size, args.releases, args.history)
            built = time.perf_counter() - start
            checked = run([exe, "verify"], repos[size].root)[2].strip()
            print(f"built {size} prompts x {args.releases} releases, release.yaml committed "
                  f"{args.history + 2} times, in {built:.1f} s; {checked}")
        samples: dict = {}
        for _ in range(args.runs):          # interleaved: every size and command each run
            for size in sizes:
                for name, measure in repos[size].commands().items():
                    samples.setdefault((name, size), []).append(measure())
        report(samples, sizes)


def report(samples: dict, sizes: list[int]) -> None:
    def median(name: str, size: int, i: int) -> float:
        return statistics.median(s[i] for s in samples[(name, size)])

    names = list(dict.fromkeys(name for name, _ in samples))
    print(f"\nmedian CPU s (wall s){'':12}" + "".join(f"{s:>20,}" for s in sizes) + "   target")
    for name in names:
        row = f"{name:<32}" + "".join(f"{median(name, s, 0):>11.2f} ({median(name, s, 1):5.2f})"
                                      for s in sizes)
        print(row + "   " + target_text(name, sizes, median))


def target_text(name: str, sizes: list[int], median) -> str:
    notes = []
    for (cmd, size), limit in TARGETS.items():
        if cmd == name and size in sizes:
            value = median(name, size, 0)
            notes.append(f"{value:.2f} s at {size:,} (target <= {limit:g} s"
                         f"{'' if value <= limit else ', MISSED'})")
    if name in FLAT and len(sizes) > 1:
        ratio = median(name, sizes[-1], 0) / median(name, sizes[0], 0)
        notes.append(f"{ratio:.2f}x {sizes[0]:,}->{sizes[-1]:,} (target <= {FLAT_RATIO}x"
                     f"{'' if ratio <= FLAT_RATIO else ', MISSED'})")
    return "; ".join(notes)


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    main()
