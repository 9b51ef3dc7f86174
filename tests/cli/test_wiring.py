"""The command tree is built in one place (`promptctl.cli.wiring`), not by imports."""

from __future__ import annotations

import subprocess
import sys

import typer

from promptctl.cli import app
from promptctl.cli.groups import DefaultGroup

TOP_LEVEL = ["init", "new", "import", "restore", "check", "bump", "diff", "show", "log", "list",
             "verify", "quickstart", "promote", "rollback", "status", "history", "bundle",
             "drift", "report", "sync", "publish", "doctor", "eval", "canary", "schema"]


def test_the_help_lists_every_command_in_the_wired_order():
    root = typer.main.get_command(app)
    assert list(root.commands) == TOP_LEVEL
    assert list(root.commands["eval"].commands) == ["run", "history", "plan", "merge"]
    assert list(root.commands["canary"].commands) == ["start", "analyze", "watch"]


def test_eval_and_canary_share_one_default_subcommand_group():
    root = typer.main.get_command(app)
    defaults = {name: root.commands[name] for name in ("eval", "canary")}
    assert all(isinstance(group, DefaultGroup) for group in defaults.values())
    assert {n: g.default_command for n, g in defaults.items()} == {"eval": "run", "canary": "start"}
    # each default names a command its group has
    assert all(g.default_command in g.commands for g in defaults.values())


def test_importing_a_command_module_registers_nothing():
    # a fresh interpreter: the command modules alone build no Typer app and add no command
    code = ("import typer, promptctl.cli.deploy, promptctl.cli.canary, promptctl.cli.evals; "
            "made = []; typer.Typer.__init__ = lambda self, *a, **k: made.append(1); "
            "import importlib; [importlib.reload(m) for m in (promptctl.cli.deploy, "
            "promptctl.cli.canary, promptctl.cli.evals)]; print(len(made))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"
