"""The layers' import rules: the runtime apps import stays free of the CLI and the eval
engine, and the core (versions, tags, manifest, routing, model, errors, the canary's
decision and statistics, the file loaders) stays free of the services, the git store and GitPython.

Each rule is checked twice: every import statement a module's source holds (at the top or
inside a function, so a lazy import cannot slip past), and what a fresh interpreter has
loaded after importing the modules."""

from __future__ import annotations

import ast
import importlib.util
import pkgutil
from pathlib import Path

import pytest

import promptctl
from support.cli import modules_loaded_by

RUNTIME_MUST_NOT = ("typer", "rich", "click", "promptctl.cli", "promptctl.evals")
CORE = ("promptctl.versions", "promptctl.tags", "promptctl.manifest", "promptctl.runtime.routing",
        "promptctl.model", "promptctl.errors", "promptctl.canary.decide", "promptctl.canary.stats",
        "promptctl.sources", "promptctl.yamlfile", "promptctl.prompt_files", "promptctl.config",
        "promptctl.safeyaml")
# the git store: the adapter, the records it parses, a commit's files
CORE_MUST_NOT = ("promptctl.services", "promptctl.store", "promptctl.gitrecords", "promptctl.gittree",
                 "git")


def runtime_modules() -> list[str]:
    import promptctl.runtime
    return ["promptctl.runtime", *sorted(m.name for m in pkgutil.walk_packages(
        promptctl.runtime.__path__, "promptctl.runtime."))]


def with_submodules(name: str) -> list[str]:
    """`name`, and every module inside it if a later split makes it a package."""
    spec = importlib.util.find_spec(name)
    assert spec is not None, f"{name} does not exist: update the rule's list"
    if not spec.submodule_search_locations:
        return [name]
    return [name, *sorted(m.name for m in pkgutil.walk_packages(
        spec.submodule_search_locations, name + "."))]


def imported_names(module: str) -> set[str]:
    """Every module an import statement in `module`'s source names, resolved to absolute."""
    spec = importlib.util.find_spec(module)
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    package = module if spec.submodule_search_locations else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return names


def breaking(names: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden))


def test_the_relative_import_resolver_sees_what_a_module_imports():
    # the checks below are only as good as this: a relative import resolves to its module
    names = imported_names("promptctl.runtime.sinks")
    assert "promptctl.runtime.call_records" in names and "promptctl.errors" in names
    assert breaking({"promptctl.cli.app", "rich", "richer"}, RUNTIME_MUST_NOT) == \
        ["promptctl.cli.app", "rich"]


@pytest.mark.parametrize("module", runtime_modules())
def test_the_runtime_imports_no_cli_terminal_or_eval_engine(module):
    assert breaking(imported_names(module), RUNTIME_MUST_NOT) == []


@pytest.mark.parametrize("module", [m for name in CORE for m in with_submodules(name)])
def test_the_core_imports_no_services_store_or_gitpython(module):
    assert breaking(imported_names(module), CORE_MUST_NOT) == []


def test_a_fresh_interpreter_agrees():
    loaded = modules_loaded_by(", ".join(runtime_modules()),
                               ("typer", "rich", "click", "promptctl.cli", "promptctl.evals"))
    assert loaded == []
    core = [m for name in CORE for m in with_submodules(name)]
    assert modules_loaded_by(", ".join(core), CORE_MUST_NOT) == []


def test_the_rules_name_real_modules():
    assert len(runtime_modules()) >= 7 and "promptctl.runtime.registry" in runtime_modules()
    assert promptctl.Registry.__module__.startswith("promptctl.runtime")
