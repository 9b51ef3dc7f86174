"""Runtime speed: 100,000 get()+render() with distinct keys vs bare Jinja2 on the same template.

    python bench/runtime.py [--calls 100000]

Builds a throw-away prompt repo with a chat prompt (five inputs, a loop, a condition),
releases two versions, promotes one and canaries the other at 50 %, then times:
  bare     the prompt's already-compiled Jinja templates rendered directly
  runtime  reg.get(name, key=f"user-{i}").render(**inputs)   (routing + render)
and counts file-system and git access during the timed runtime loop.
Target: runtime <= 1.5x bare; no git read and no file read per call after warm-up.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPT = """\
name: bench-chat
model: {provider: echo, name: echo-1, params: {temperature: 0}}
inputs:
  customer_name: string
  question: string
  orders: list
  vip: boolean
  language: {type: string, default: en}
messages:
  - role: system
    content: "You are a support agent{{VERSION}}. Answer in {{ language }}.{% if vip %} The customer is a VIP: be generous.{% endif %}"
  - role: user
    content: |
      Customer: {{ customer_name }}
      Orders:
      {% for o in orders %}
      - {{ o.id }}: {{ o.status }}
      {% endfor %}
      Question: {{ question }}
"""
INPUTS = {"customer_name": "Ann", "question": "Where is my refund?", "vip": True,
          "orders": [{"id": f"A-{i}", "status": "shipped"} for i in range(3)]}


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def build_repo(root: Path) -> None:
    from promptctl.files import WorkingTree, load_config, load_prompt
    from promptctl.services import deploy
    from promptctl.services.project import open_project
    from promptctl.tags import format_message

    env = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "bench",
           "GIT_COMMITTER_EMAIL": "b@x"}
    os.environ.update(env)
    git(root, "init", "-q", "-b", "main")
    (root / "promptctl.yaml").write_text("prompts_dir: prompts\n")
    (root / "release.yaml").write_text("environments: {}\n")
    (root / ".gitignore").write_text(".promptctl/\n")
    folder = root / "prompts/bench-chat"
    folder.mkdir(parents=True)
    for version, marker in (("1.0.0", ""), ("1.1.0", " (v1.1)")):
        (folder / "prompt.yaml").write_text(PROMPT.replace("{{VERSION}}", marker))
        tree = WorkingTree(root)
        digest = load_prompt(tree, load_config(tree), "bench-chat").digest
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", f"release {version}")
        git(root, "tag", "-a", f"bench-chat/v{version}", "-m",
            format_message("bench-chat", version, digest, "bench"))
    project = open_project(root)
    deploy.promote(project, "bench-chat", "1.0.0", "production")
    deploy.canary(project, "bench-chat", "1.1.0", "production", 50)


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


def timed(func, calls: int) -> float:
    start = time.perf_counter()
    func(calls)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100_000)
    calls = parser.parse_args().calls
    import promptctl
    from promptctl import store

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_repo(root)
        reg = promptctl.Registry.open(root, env="production", refresh_interval=1.0)
        compiled = reg.get("bench-chat", key="warm")._compiled._parts   # the same compiled templates
        parts = [(body.role, content) for body, content, _, _ in compiled]

        values = {**INPUTS, "language": "en"}   # bare Jinja gets the default pre-applied

        def bare(n: int) -> None:
            for _ in range(n):
                [{"role": role, "content": tpl.render(values)} for role, tpl in parts]

        def runtime(n: int) -> None:
            get = reg.get
            for i in range(n):
                get("bench-chat", key=f"user-{i}").render(**INPUTS)

        bare(2000)
        runtime(2000)                                  # warm-up
        counter = Counter()
        counter.wrap(os, "stat", "os.stat")
        counter.wrap(Path, "read_text", "file reads")
        counter.wrap(store.GitStore, "source_at", "git reads")
        counter.wrap(store.GitStore, "releases", "git tag listings")
        counter.wrap(subprocess.Popen, "__init__", "subprocesses")
        try:
            t_runtime = timed(runtime, calls)
        finally:
            counter.restore()
        t_bare = timed(bare, calls)
        canary = sum(reg.get("bench-chat", key=f"user-{i}").variant == "canary" for i in range(10_000))

    per_bare, per_runtime = t_bare / calls * 1e6, t_runtime / calls * 1e6
    print(f"calls                 {calls}")
    print(f"bare jinja render     {per_bare:7.2f} us/call")
    print(f"get + render          {per_runtime:7.2f} us/call")
    print(f"ratio                 {per_runtime / per_bare:7.2f}x  (target <= 1.5x)")
    print(f"canary share          {canary / 100:.1f}% of 10,000 keys at weight 50")
    seen = {k: counter.counts.get(k, 0) for k in
            ("os.stat", "file reads", "git reads", "git tag listings", "subprocesses")}
    print("during the timed loop: " + ", ".join(f"{k} {v}" for k, v in seen.items())
          + f"  (manifest stat at most once per refresh_interval, {t_runtime:.1f}s loop)")
    sys.exit(0 if per_runtime / per_bare <= 1.5 and seen["git reads"] == 0 else 1)


if __name__ == "__main__":
    main()
