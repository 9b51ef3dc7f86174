"""A small eval project: one prompt whose template decides how many cases pass."""

from __future__ import annotations

import json
from pathlib import Path

from support.repos import build_file_tree, git, git_save

PROMPT = """\
name: qa
model: {{provider: {provider}, name: m-1, params: {{temperature: 0}}}}
inputs:
  word: string
  n: integer
template: "{template}"
"""
SUITE = """\
dataset: cases.jsonl
metrics:
  - {name: accuracy, type: contains}
  - {name: sim, type: similarity, method: chars, threshold: 0}
gates: ["accuracy >= 0.7"]
"""


def make_qa_repo(root: Path, provider: str = "echo", template: str = "Answer: {{ word }}",
                 cases: int = 40, config: str = "") -> Path:
    """A repo with prompt qa (template over `word`, `n`) released as 1.0.0 and live in production,
    and a suite of `cases` cases expecting the word back: an echo model passes them all."""
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    lines = [json.dumps({"id": f"c{i:02d}", "inputs": {"word": f"w{i}", "n": i},
                         "expected": f"w{i}", "tags": ["low" if i < 20 else "high"]})
             for i in range(cases)]
    build_file_tree(root, {
        "promptctl.yaml": "prompts_dir: prompts\nevals_dir: evals\n" + config,
        "release.yaml": "environments:\n  production:\n    qa: {active: 1.0.0}\n",
        ".gitignore": ".promptctl/\n",
        "prompts/qa/prompt.yaml": PROMPT.format(provider=provider, template=template),
        "evals/qa/suite.yaml": SUITE,
        "evals/qa/cases.jsonl": "\n".join(lines) + "\n",
    })
    git_save(root, "v1", tag="qa/v1.0.0")
    return root


def set_qa_template(root: Path, template: str, provider: str = "echo") -> None:
    """A working-tree edit of qa's template (not committed): the candidate of an eval."""
    (root / "prompts/qa/prompt.yaml").write_text(PROMPT.format(provider=provider, template=template))
