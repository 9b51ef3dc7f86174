"""Hostile and broken files through every command that reads them.

Each case writes bad input into a copy of one prepared repo, runs a command in-process and
asserts the exit code (1 for `check`, 2 otherwise), one line naming the file and the field,
no traceback, quick refusal, and a repo left exactly as it was (files, symlinks, git status,
refs).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from typer.testing import CliRunner

from support.repos import build_file_tree, chat_prompt, git, git_save
from promptctl.cli import app

P = "prompts/support-refund/prompt.yaml"
T = "prompts/triage/prompt.yaml"
S = "evals/support-refund/suite.yaml"
D = "evals/support-refund/cases.jsonl"
C = "promptctl.yaml"
M = "release.yaml"

PROMPT = """\
name: support-refund
description: Answers a support question.
model:
  provider: echo
  name: echo-1
  params: {temperature: 0}
inputs:
  question: {type: string}
template: |
  {% include "_partials/policy.j2" %}
  Question: {{ question }}
"""
CHAT = chat_prompt("triage")
SUITE = "dataset: cases.jsonl\nmetrics:\n  - {name: asks, type: contains}\n"
CASES = '{"id": "a", "inputs": {"question": "q1"}, "expected": "q1"}\n'
MANIFEST = "environments:\n  production:\n    support-refund:\n      active: 1.0.0\n"
LAUGHS = 'lol: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True))
DEEP = "[" * 5000 + "]" * 5000 + "\n"
HUGE = "a: " + "x" * 10_000_000 + "\n"


@dataclass
class Case:
    id: str
    args: list[str]
    write: dict[str, str | Callable[[Path], None]]
    needles: tuple[str, ...]
    code: int = 2
    commit: bool = False   # commit the bad input first (commands that refuse a dirty file)


def link(target: str) -> Callable[[Path], None]:
    """A symlink whose target is relative to the link (may climb out of the repo)."""
    def make(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() or path.is_symlink():
            path.unlink()
        path.symlink_to(target)
    return make


def edit(base: str, old: str, new: str) -> str:
    assert old in base
    return base.replace(old, new)


def with_template(body: str, inputs: str = "  question: {type: string}\n") -> str:
    head = PROMPT.split("inputs:")[0]
    return f"{head}inputs:\n{inputs}template: |\n" + "".join(f"  {line}\n" for line in body.splitlines())


def cmd(kind: str, name: str = "support-refund") -> tuple[list[str], int]:
    return {"check": (["check", name], 1), "bump": (["bump", name], 2),
            "show": (["show", name], 2), "eval": (["eval", name], 2),
            "diff": (["diff", name], 2), "status": (["status"], 2),
            "promote": (["promote", name, "1.0.0", "--env", "staging"], 2),
            "list": (["list"], 2), "verify": (["verify"], 2),
            "render-diff": (["diff", name, "--render", "vars.yaml"], 2)}[kind]


def cases() -> list[Case]:  # noqa: C901 (a flat list of cases, one block per file kind)
    out: list[Case] = []

    def add(id_: str, kind: str, write: dict, *needles: str, name: str = "support-refund",
            code: int | None = None, commit: bool = False) -> None:
        args, default = cmd(kind, name)
        out.append(Case(f"{id_}-{kind}", args, write, needles, default if code is None else code,
                        commit))

    # ---- hostile YAML, in every YAML file kind, through the commands that read it
    hostile = {"bomb": (LAUGHS, "alias"), "deep": (DEEP, "nest"), "huge": (HUGE, "MB"),
               "dupkey": (None, "given twice")}
    for label, (text, needle) in hostile.items():
        prompt = text or PROMPT.replace("  provider: echo\n", "  provider: echo\n  provider: openai\n")
        for kind in ("check", "bump", "show", "eval", "diff"):
            add(f"prompt-{label}", kind, {P: prompt}, P, needle)
        config = text or "prompts_dir: prompts\nprompts_dir: other\n"
        for kind in ("check", "status", "show", "bump"):
            add(f"config-{label}", kind, {C: config}, C, needle, code=2)
        manifest = text or MANIFEST + "  production:\n    triage: {active: 1.0.0}\n"
        for kind in ("status", "promote"):
            add(f"manifest-{label}", kind, {M: manifest}, M, needle, commit=True)
        suite = text or SUITE + "dataset: other.jsonl\n"
        for kind in ("check", "eval"):
            add(f"suite-{label}", kind, {S: suite}, S, needle)
        dataset = text or "- inputs: {question: a}\n  inputs: {question: b}\n"
        for kind in ("check", "eval"):
            add(f"dataset-yaml-{label}", kind,
                {S: SUITE.replace("cases.jsonl", "cases.yaml"), "evals/support-refund/cases.yaml": dataset},
                "evals/support-refund/cases.yaml", needle)
        add(f"vars-{label}", "render-diff", {"vars.yaml": text or "question: a\nquestion: b\n"},
            "vars.yaml", needle)

    # ---- includes and files leaving the prompts folder
    escape = with_template('{% include "_partials/../../../outside.txt" %}\n{{ question }}')
    for kind in ("check", "bump", "show", "eval", "diff"):
        add("include-dotdot", kind, {P: escape}, P, "leaves the prompts/ folder")
    absolute = with_template('{% include "/etc/hostname" %}\n{{ question }}')
    add("include-absolute", "check", {P: absolute}, P, "leaves the prompts/ folder")
    for kind in ("check", "bump", "show", "eval"):
        add("partial-symlink-out", kind, {"prompts/_partials/policy.j2": link("../../../outside.txt")},
            "prompts/_partials/policy.j2", "outside the prompts/ folder")
    for kind in ("check", "bump", "show"):
        add("content-file-symlink-out", kind, {"prompts/triage/system.j2": link("../../../outside.txt")},
            "prompts/triage/system.j2", "outside the prompts/ folder", name="triage")
    add("partial-symlink-to-evals", "check",
        {"prompts/_partials/policy.j2": link("../../evals/support-refund/cases.jsonl")},
        "prompts/_partials/policy.j2", "outside the prompts/ folder")
    add("prompt-yaml-symlink-out", "check", {P: link("../../../outside.txt")}, P, "outside")
    add("dataset-outside-repo", "eval", {S: "dataset: ../../../outside.txt\n"},
        "outside.txt", "outside the repo")

    # ---- template budgets and include cycles
    budgets = {
        "repeat": ("{{ 'a' * 1000000000 }}{{ question }}", "repeating"),
        "wordwrap": ("{{ ('a' * 1000000) | wordwrap(1) }}{{ question }}", "wordwrap"),
        "range": ("{% for i in range(100000000) %}x{% endfor %}{{ question }}", "range"),
        "center": ("{{ question | center(1000000000) }}", "center"),
        "format": ("{{ '%0999999999d' | format(1) }}{{ question }}", "format width"),
        "str-format": ("{{ '{:>999999999}'.format(question) }}", "format width"),
        "ljust": ("{{ question.ljust(1000000000) }}", "ljust"),
        "join": ("{{ range(10000) | join('x' * 100000) }}{{ question }}", "join"),
        "doubling": ("{% set ns = namespace(s='a') %}{% for i in range(60) %}"
                     "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}{{ question }}", "namespace"),
        "output": ("{% for i in range(10000) %}{{ question * 200 }}{% endfor %}", "rendered output"),
        "slow": ("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"
                 "{{ question }}", "longer than"),
        "power": ("{{ 7 ** 100000000 }}{{ question }}", "too large a number"),
    }
    for label, (body, needle) in budgets.items():
        add(f"budget-{label}", "check", {P: with_template(body)}, P, "template", needle)
    for label in ("repeat", "wordwrap"):
        body, needle = budgets[label]
        add(f"budget-{label}", "bump", {P: with_template(body)}, P, needle)
    self_include = {"prompts/_partials/policy.j2": '{% include "_partials/policy.j2" %}\n'}
    for kind in ("check", "bump", "show", "eval"):
        add("include-cycle", kind, self_include, "prompts/_partials/policy.j2", "include cycle")
    add("include-cycle-two", "check",
        {"prompts/_partials/policy.j2": '{% include "_partials/b.j2" %}\n',
         "prompts/_partials/b.j2": '{% include "_partials/policy.j2" %}\n'}, "include cycle")

    # ---- fields check must validate
    for label, (old, new, needle) in {
        "temperature-hot": ("{temperature: 0}", "{temperature: hot}", "model.params.temperature"),
        "top-p-range": ("{temperature: 0}", "{top_p: 3}", "model.params.top_p"),
        "max-tokens-text": ("{temperature: 0}", "{max_tokens: abc}", "model.params.max_tokens"),
        "stop-number": ("{temperature: 0}", "{stop: 5}", "model.params.stop"),
    }.items():
        for kind in ("check", "bump"):
            add(label, kind, {P: edit(PROMPT, old, new)}, P, needle)
    for label, schema in {"schema-type": "{type: strang}", "schema-required": "{type: object, required: 3}",
                          "schema-pattern": "{type: string, pattern: '('}",
                          "schema-props": "{type: object, properties: {a: {type: nope}}}"}.items():
        add(label, "check", {P: PROMPT + f"output:\n  format: json\n  schema: {schema}\n"},
            P, "output.schema")
    suite_cases = {
        "gates-empty": (SUITE + "gates: []\n", "gates"),
        "judge-no-rubric": ("dataset: cases.jsonl\nmetrics:\n  - {type: llm_judge}\n", "rubric"),
        "python-no-function": ("dataset: cases.jsonl\nmetrics:\n  - {type: python}\n", "function"),
        "json-schema-nothing": ("dataset: cases.jsonl\nmetrics:\n  - {type: json_schema}\n", "metrics.0"),
        "json-schema-invalid": ("dataset: cases.jsonl\nmetrics:\n  - {type: json_schema, schema: {type: 7}}\n",
                                "metrics.0"),
        "gate-unknown-metric": (SUITE + "gates: ['nope >= 1']\n", "gates.0"),
        "repeat-zero": (SUITE + "repeat: 0\n", "repeat"),
    }
    for label, (suite, needle) in suite_cases.items():
        add(label, "check", {S: suite}, S, needle)
    add("gates-empty", "eval", {S: SUITE + "gates: []\n"}, S, "gates")
    deep_json = '{"inputs": {"question": ' + "[" * 100000 + "]" * 100000 + "}}\n"
    for kind in ("check", "eval"):
        add("jsonl-deep", kind, {D: deep_json}, D, "nested too deeply")
    add("bundle-deep", "verify", {"release.lock.json": "[" * 100000 + "]" * 100000},
        "release.lock.json", "nested too deeply", code=1)   # verify reports findings, like check
    csv_suite = SUITE.replace("cases.jsonl", "cases.csv")
    csv_path = "evals/support-refund/cases.csv"
    for label, (text, needle) in {
        "csv-extra-field": ("id,question,expected\na,q1,q1,surplus\n", "4 fields"),
        "csv-short-row": ("id,question,expected\na,q1\n", "2 fields"),
        "csv-dup-header": ("id,question,question\na,q1,q2\n", "appears twice"),
        "csv-empty-header": ("id,,expected\na,q1,q1\n", "empty header"),
    }.items():
        for kind in ("check", "eval"):
            add(label, kind, {S: csv_suite, csv_path: text}, csv_path, needle)
    config_cases = {
        "canary-alpha": ("canary: {alpha: lots}\n", "canary.alpha", 1),
        "canary-steps": ("canary: {steps: [50, 10]}\n", "canary.steps", 1),
        "canary-unknown": ("canary: {speed: 3}\n", "canary", 1),
        "canary-webhook": ("canary: {webhook: 'ftp://x'}\n", "canary.webhook", 1),
        "providers-unknown": ("providers:\n  openai: {timeoutt: 5}\n", "providers.openai", 1),
        "providers-timeout": ("providers:\n  openai: {timeout: abc}\n", "providers.openai.timeout", 1),
        "providers-cap": ("providers:\n  openai: {max_response_bytes: 10}\n",
                          "providers.openai.max_response_bytes", 1),
        "prompts-dir-outside": ("prompts_dir: ../elsewhere\n", "prompts_dir", 2),
        "prompts-dir-absolute": ("prompts_dir: /etc\n", "prompts_dir", 2),
        "manifest-outside": ("manifest: ../../release.yaml\n", "manifest", 2),
        "evals-dir-outside": ("evals_dir: ../evals\n", "evals_dir", 2),
        "state-dir-outside": ("state_dir: /tmp/state\n", "state_dir", 2),
        "publish-neither": ("publish:\n  production: [{timeout: 5}]\n", "publish.production.0", 2),
        "publish-timeout": ("publish:\n  production: [{path: out/, timeout: 0}]\n",
                            "publish.production.0.timeout", 2),
    }
    for label, (extra, needle, code) in config_cases.items():
        add(label, "check", {C: "prompts_dir: prompts\nevals_dir: evals\n" + extra}, C, needle, code=code)
    add("manifest-outside", "status", {C: "manifest: ../../release.yaml\n"}, C, "manifest")
    add("prompts-dir-outside", "show", {C: "prompts_dir: ../elsewhere\n"}, C, "prompts_dir")
    add("providers-timeout", "eval",
        {C: "providers:\n  echo: {timeout: abc}\n"}, C, "providers.echo.timeout")

    # ---- tools, conversations, structured output, Azure
    tools = PROMPT + "tools:\n  - name: lookup\n    parameters: {type: object, properties: {a: {type: nope}}}\n"
    for kind in ("check", "bump", "eval"):
        add("tool-schema", kind, {P: tools}, P, "tools.0.parameters", "not a valid JSON Schema")
    add("tool-choice-unknown", "check", {P: PROMPT + "tools: [{name: lookup}]\ntool_choice: find\n"},
        P, "tool_choice", "'find'")
    chat_cases = {
        "placeholder-undeclared": (CHAT + "  - placeholder: history\n", "messages.2.placeholder",
                                   "not a declared input"),
        "placeholder-not-messages": (CHAT.replace("  ticket: string\n",
                                                  "  ticket: string\n  history: {type: list, default: []}\n")
                                     + "  - placeholder: history\n", "messages.2.placeholder", "type: messages"),
        "tool-message-no-id": (CHAT + "  - role: tool\n    content: done\n", "messages.2", "tool_call_id"),
    }
    for label, (text, *needles) in chat_cases.items():
        for kind in ("check", "bump", "show"):
            add(label, kind, {T: text}, T, *needles, name="triage")
    conversation = PROMPT.replace("  question: {type: string}\n",
                                  "  question: {type: string}\n  history: {type: messages, required: false}\n")
    for kind in ("check", "eval"):
        add("history-no-role", kind, {P: conversation, D: '{"id": "a", "inputs": {"question": "q1", '
                                      '"history": [{"content": "hi"}]}}\n'},
            D, "inputs.history", "history[0].role: missing")
    add("azure-incomplete", "check", {C: "prompts_dir: prompts\nevals_dir: evals\nproviders:\n  openai:\n"
                                          "    azure: {endpoint: 'https://x.openai.azure.com', deployment: d}\n"},
        C, "providers.openai.azure.api_version", code=1)
    return out


CASES_LIST = cases()


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """One repo built once: a text prompt with a partial, a chat prompt, a suite, releases."""
    root = tmp_path_factory.mktemp("template") / "repo"
    root.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        for var, value in {"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.com",
                           "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.com",
                           "GIT_CONFIG_NOSYSTEM": "1",
                           "GIT_CONFIG_GLOBAL": str(root.parent / "gitconfig")}.items():
            mp.setenv(var, value)
        git(root, "init", "-q", "-b", "main")
        build_file_tree(root, {
            C: "prompts_dir: prompts\nevals_dir: evals\n", M: "environments: {}\n",
            ".gitignore": ".promptctl/\n", "prompts/_partials/policy.j2": "Never promise refunds.\n",
            P: PROMPT, T: CHAT, "prompts/triage/system.j2": "Label the ticket.\n",
            S: SUITE, D: CASES, "vars.yaml": "question: where is it?\n"})
        git_save(root, "initial")
        for name in ("support-refund", "triage"):
            result = CliRunner().invoke(app, ["-C", str(root), "bump", name])
            assert result.exit_code == 0, result.output
        (root / M).write_text(MANIFEST)
        git_save(root, "promote")
    return root


LOCK = ".promptctl/release.lock"   # the manifest writers' lock file exists once any ran


def snapshot(root: Path) -> dict:
    """Every file's bytes and every symlink's target, git status and every ref."""
    (root / LOCK).parent.mkdir(exist_ok=True)
    (root / LOCK).touch()
    entries = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in dirs + files:
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                entries[rel] = ("link", os.readlink(path))
            elif path.is_file():
                entries[rel] = path.read_bytes()
    return {"files": entries, "status": git(root, "status", "--porcelain", "--ignored"),
            "refs": git(root, "for-each-ref", "--format=%(refname) %(objectname)"),
            "head": git(root, "rev-parse", "HEAD")}


def apply(root: Path, write: dict) -> None:
    for rel, value in write.items():
        path = root / rel
        if callable(value):
            value(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(value, encoding="utf-8")


def test_the_corpus_is_large_and_ids_are_unique():
    ids = [c.id for c in CASES_LIST]
    assert len(ids) >= 90 and len(set(ids)) == len(ids)


@pytest.mark.parametrize("case", CASES_LIST, ids=[c.id for c in CASES_LIST])
def test_bad_input_is_one_line_the_exit_code_and_no_change(prepared, tmp_path, case, monkeypatch):
    monkeypatch.setattr("promptctl.checks.CHECK_RENDER_SECONDS", 0.5)   # the slow case, sooner
    root = tmp_path / "repo"
    shutil.copytree(prepared, root, symlinks=True)
    (tmp_path / "outside.txt").write_text("SECRET FROM OUTSIDE THE REPO\n")
    apply(root, case.write)
    if case.commit:
        git_save(root, "bad input")
    before = snapshot(root)
    start = time.monotonic()
    result = CliRunner().invoke(app, ["-C", str(root), *case.args])
    elapsed = time.monotonic() - start
    output = result.output
    assert result.exit_code == case.code, output
    assert "Traceback" not in output and "SECRET FROM OUTSIDE" not in output, output
    hits = [line for line in output.splitlines() if all(n in line for n in case.needles)]
    assert hits, f"no line names {case.needles}:\n{output}"
    assert elapsed < 5, f"took {elapsed:.1f}s"
    assert snapshot(root) == before
