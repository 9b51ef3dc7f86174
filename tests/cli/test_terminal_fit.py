"""promptctl in a terminal and in scripts: NO_COLOR, FORCE_COLOR, shell completion, --json."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support.cli import promptctl_exe
from support.shells import make_demo, read_pty
from promptctl.cli import app

ESC = "\x1b["


def run_in_terminal(args: list[str], cwd: Path, env: dict) -> str:
    """Run the real CLI with a pseudo-terminal as stdout/stderr, as a user's shell does."""
    code, out = read_pty(args, cwd, env)
    assert code == 0, out.decode()
    return out.decode()


def colour_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return {**env, "TERM": "xterm-256color", **extra}


@pytest.fixture
def demo(tmp_path) -> Path:
    return make_demo(tmp_path / "demo")


def styled_commands() -> list[list[str]]:
    return [["diff", "support-reply", "1.0.0", "1.1.0"], ["list"], ["show", "support-reply@1.1.0"]]


def test_a_terminal_gets_colour_and_no_color_turns_every_style_off(demo):
    for args in styled_commands():
        styled = run_in_terminal([*promptctl_exe(), *args], demo, colour_env())
        plain = run_in_terminal([*promptctl_exe(), *args], demo, colour_env(NO_COLOR="1"))
        if args[0] in ("diff", "list"):
            assert ESC in styled, f"promptctl {' '.join(args)} printed no style on a terminal"
        assert ESC not in plain, f"promptctl {' '.join(args)} styled output under NO_COLOR"
        assert plain.strip(), args


def test_force_color_styles_piped_output_and_pipes_are_plain_by_default(demo):
    args = ["diff", "support-reply", "1.0.0", "1.1.0"]
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    piped = subprocess.run([*promptctl_exe(), *args], cwd=demo, capture_output=True, text=True, env=env)
    forced = subprocess.run([*promptctl_exe(), *args], cwd=demo, capture_output=True, text=True,
                            env={**env, "FORCE_COLOR": "1"})
    assert piped.returncode == forced.returncode == 0
    assert ESC not in piped.stdout
    assert f"{ESC}31m-Answer in at most three sentences." in forced.stdout


def bash_complete(words: str, tmp_path: Path) -> list[str]:
    """Complete `words` in a real bash with the script `--show-completion bash` prints."""
    bin_dir = str(Path(promptctl_exe()[0]).parent)
    script = ('eval "$(promptctl --show-completion bash)"\n'
              f'COMP_WORDS=({words}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\n'
              '_promptctl_completion promptctl\nprintf "%s\\n" "${COMPREPLY[@]}"\n')
    result = subprocess.run(["bash", "--norc", "-c", script], capture_output=True, text=True,
                            cwd=tmp_path, env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_bash_completes_commands_and_subcommands(tmp_path):
    if Path(promptctl_exe()[0]).name != "promptctl":
        pytest.skip("completion needs the installed console script (pip install -e .)")
    assert {"init", "check", "bump", "eval", "promote", "canary", "schema"} <= set(
        bash_complete("promptctl ''", tmp_path))
    assert bash_complete("promptctl ro", tmp_path) == ["rollback"]
    assert set(bash_complete("promptctl schema ''", tmp_path)) >= {"prompt", "suite", "manifest", "config"}


# Every command that only reads, and how to call it on the deploy_repo fixture.
READ_COMMANDS = {
    "status": ["status"],
    "history": ["history", "support-refund", "--env", "production"],
    "log": ["log", "support-refund"],
    "list": ["list"],
    "show": ["show", "support-refund@1.0.0"],
    "check": ["check"],
    "verify": ["verify"],
    "eval history": ["eval", "history"],
    "diff": ["diff", "support-refund", "1.0.0", "2.0.0"],
}


def test_every_read_command_prints_json(deploy_repo):
    def cli(*args):
        return CliRunner().invoke(app, ["-C", str(deploy_repo), *args])

    assert cli("promote", "support-refund", "1.0.0", "--env", "production").exit_code == 0
    cli("eval", "support-refund@1.0.0")     # records a run for `eval history`
    for name, args in READ_COMMANDS.items():
        result = cli(*args, "--json")
        assert result.exit_code == 0, f"{name}: {result.output}"
        data = json.loads(result.stdout)
        assert data, f"promptctl {name} --json printed nothing useful"


def test_bash_completes_prompt_names_versions_and_environments(demo, tmp_path):
    if Path(promptctl_exe()[0]).name != "promptctl":
        pytest.skip("completion needs the installed console script (pip install -e .)")
    from promptctl.services import deploy
    from promptctl.services.project import open_project
    deploy.promote(open_project(demo), "support-reply", "1.0.0", "staging")
    assert bash_complete("promptctl show ''", demo) == ["support-reply"]
    assert bash_complete("promptctl eval run support-reply@1", demo) == [
        "support-reply@1.0.0", "support-reply@1.1.0"]
    assert bash_complete("promptctl promote support-reply ''", demo) == ["1.1.0", "1.0.0"]
    assert bash_complete("promptctl status --env st", demo) == ["staging"]
    # `eval NAME` is how the README runs it: complete the prompt without typing `run`.
    assert bash_complete("promptctl eval sup", demo) == ["support-reply"]
    assert bash_complete("promptctl eval h", demo) == ["history"]
    assert bash_complete("promptctl eval history ''", demo) == ["support-reply"]
    assert bash_complete(f"promptctl -C {demo} log ''", tmp_path) == ["support-reply"]
    assert bash_complete("promptctl log ''", tmp_path) == []     # not in a prompt repo: quiet
