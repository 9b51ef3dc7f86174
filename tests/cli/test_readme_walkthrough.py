"""The README's worked example, run as written: its commands in a real shell, real CLI.

Blocks after `<!-- walkthrough -->` are shell commands; a block after
`<!-- walkthrough-file: NAME -->` is saved as NAME where the walkthrough stands then.
A `# → TEXT` comment after a command means its output contains TEXT.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from support.repos import git

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"<!-- walkthrough(?:-file: (?P<file>\S+))? -->\s*```\w*\n(?P<body>.*?)```", re.S)
MARK = "@@step "


def steps(readme: str) -> list[tuple[str, str | None]]:
    """(shell line, expected text or None) in document order; files become heredocs."""
    found = []
    for block in BLOCK.finditer(readme):
        if block["file"]:
            found.append((f"cat > {block['file']} <<'WALKTHROUGH_EOF'\n{block['body']}WALKTHROUGH_EOF", None))
            continue
        for line in block["body"].splitlines():
            command, _, expected = line.partition("# →")
            if command.strip() and not command.strip().startswith("#"):
                found.append((command.strip(), expected.strip() or None))
    return found


def run_walkthrough(cwd: Path, lines: list[tuple[str, str | None]]) -> list[str]:
    script = ["set -euo pipefail"]
    for i, (command, _) in enumerate(lines):
        script += [f"echo '{MARK}{i}'", command]
    bin_dir = str(Path(sys.executable).parent)      # where `pip install -e .` put promptctl
    result = subprocess.run(["bash", "--norc", "-c", "\n".join(script)], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=180,
                            env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    outputs = result.stdout.split(MARK)[1:]
    if result.returncode != 0:
        last = outputs[-1] if outputs else result.stdout
        index = int(last.split("\n", 1)[0]) if outputs else 0
        raise AssertionError(f"README step failed: {lines[index][0]}\n{last}")
    return [out.split("\n", 1)[1] if "\n" in out else "" for out in outputs]


def test_the_readme_walkthrough_runs_as_written(tmp_path):
    lines = steps(README.read_text(encoding="utf-8"))
    commands = " ".join(c for c, _ in lines)
    for verb in ("init", "bump", "eval", "promote", "canary", "rollback"):
        assert f"promptctl {verb}" in commands, f"the walkthrough lost `promptctl {verb}`"
    outputs = run_walkthrough(tmp_path, lines)
    assert len(outputs) == len(lines)
    for (command, expected), output in zip(lines, outputs, strict=True):
        if expected:
            assert expected in output, f"`{command}` printed:\n{output}\nnot: {expected}"

    repo = tmp_path / "acme-prompts"
    assert git(repo, "tag", "--list").split() == ["support-reply/v1.0.0", "support-reply/v1.1.0"]
    release = (repo / "release.yaml").read_text()
    assert release.startswith("# yaml-language-server: $schema=.schemas/manifest.schema.json")
    entry = yaml.safe_load(release)["environments"]["production"]["support-reply"]
    assert entry["active"] == "1.0.0" and entry["canary"]["weight"] == 0
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""


def registered_commands() -> set[str]:
    """Every command and subcommand name, as typed after `promptctl`."""
    import typer.main

    from promptctl.cli import app
    names, todo = set(), [("", typer.main.get_command(app))]
    while todo:
        prefix, group = todo.pop()
        for name, cmd in getattr(group, "commands", {}).items():
            if not getattr(cmd, "hidden", False):
                names.add(f"{prefix}{name}")
                todo.append((f"{prefix}{name} ", cmd))
    return names


def documented(name: str, spans: list[str]) -> bool:
    """`eval history` is documented by `promptctl eval history …`, `promptctl eval [run] …`
    or `promptctl schema prompt|suite …`."""
    for span in spans:
        words = span.replace("\\|", "|").split()[1:]
        if len(words) >= len(name.split()) and all(
                part in words[i].strip("[]").split("|") for i, part in enumerate(name.split())):
            return True
    return False


def test_the_cli_reference_names_every_command():
    readme = README.read_text(encoding="utf-8")
    reference = readme[readme.index("## CLI reference"):readme.index("## Integrating an app")]
    spans = re.findall(r"`(promptctl [^`]+)`", reference)
    missing = sorted(name for name in registered_commands() if not documented(name, spans))
    assert not missing, f"README's CLI reference lacks: {missing}"
