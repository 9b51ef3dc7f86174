"""A team in miniature: a bare origin and clones of it, with a prompt served by a model API.

The prompt's provider is openai; evals reach a loopback server speaking its protocol
(`support.llm.FakeLLM`) through OPENAI_BASE_URL, so no paid API is called.
"""

from __future__ import annotations

from pathlib import Path

from support.cli import invoke as cli
from support.repos import build_file_tree, git, git_save

PROMPT = """\
name: support-reply
model: {provider: openai, name: gpt-4o-mini, params: {temperature: 0}}
inputs: {question: string}
template: "Answer politely: {{ question }}"
"""
CASES = "".join(f'{{"id": "c{i}", "inputs": {{"question": "q{i}"}}, "expected": "q{i}"}}\n'
                for i in range(3))
SUITE = """\
dataset: cases.jsonl
metrics:
  - {type: contains, value: politely}
gates: ["contains >= 0.9"]
"""
FILES = {
    "promptctl.yaml": "prompts_dir: prompts\nevals_dir: evals\n",
    "release.yaml": "environments: {}\n",
    ".gitignore": ".promptctl/\n",
    "prompts/support-reply/prompt.yaml": PROMPT,
    "evals/support-reply/suite.yaml": SUITE,
    "evals/support-reply/cases.jsonl": CASES,
    "evals/lenient/suite.yaml": "dataset: ../support-reply/cases.jsonl\nmetrics: [{type: contains, value: zzz}]\n",
}


def make_origin(tmp_path: Path) -> Path:
    """A bare origin holding main with support-reply 1.0.0 released (tag pushed)."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    seed = tmp_path / "seed"
    seed.mkdir()
    git(seed, "init", "-q", "-b", "main")
    prompt = "prompts/support-reply/prompt.yaml"
    build_file_tree(seed, {k: v for k, v in FILES.items() if k != prompt})
    git_save(seed, "initial")
    build_file_tree(seed, {prompt: FILES[prompt]})
    r = cli(seed, "bump", "support-reply", "-m", "first")    # commits the prompt: "release ..."
    assert r.exit_code == 0, r.output
    git(seed, "remote", "add", "origin", str(origin))
    git(seed, "push", "-q", "origin", "main", "--tags")
    return origin


def clone(origin: Path, dest: Path, *args: str) -> Path:
    git(origin.parent, "clone", "-q", *args, f"file://{origin}", str(dest))
    return dest


def release_next(root: Path, text: str) -> str:
    """Edit the template, bump, and return the new version."""
    path = root / "prompts/support-reply/prompt.yaml"
    path.write_text(path.read_text().replace("Answer politely:", text))
    r = cli(root, "bump", "support-reply", "patch")
    assert r.exit_code == 0, r.output
    return r.output.split()[2]      # "released support-reply 1.0.1 (tag ...)"
