"""Every module imports on its own in a fresh interpreter, and the CLI starts light."""

import pkgutil
import subprocess
import sys

import promptctl
from support.cli import modules_loaded_by


def modules():
    return sorted(m.name for m in pkgutil.walk_packages(promptctl.__path__, "promptctl."))


def test_every_module_imports_alone():
    code = ("import importlib, sys\n"
            "for name in sys.argv[1:]:\n"
            "    importlib.import_module(name)\n")
    # the sinks import their optional libraries (OpenTelemetry, Prometheus) only when built,
    # so every module is on the list; __main__ would run the CLI
    names = [m for m in modules() if m != "promptctl.__main__"]
    assert {"promptctl.runtime.registry", "promptctl.runtime.sinks", "promptctl.sinks"} <= set(names)
    result = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_cli_start_does_not_import_heavy_modules():
    assert modules_loaded_by("promptctl.cli", ("git", "rich", "jinja2", "pydantic", "httpx")) == []
