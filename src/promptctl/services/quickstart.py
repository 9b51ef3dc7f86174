"""The offline end-to-end demo behind `promptctl quickstart DIR`.

It drives the same services as the commands do, on a fresh repo with the `echo`
provider, so it needs no API key and no network. Each step yields (title, detail).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Iterator

from ..errors import UsageError
from . import prompts, scaffold
from .bump import bump
from .check import check
from .project import open_project
from .verify import verify

DEMO_PROMPT = "support-reply"
DEMO_STEPS = (5, 50, 100)
DEMO_POLICY = """
# Demo canary policy (quickstart): steps end once each variant has enough calls, and only
# the error rate is judged (the demo's latency is a simulated sleep, noise only).
canary:
  steps: [5, 50, 100]
  min_calls: 150
  min_duration: 0s
  metrics:
    error_rate: {tolerance: 0.05, critical: true}
    latency: null
"""


def quickstart(directory: Path) -> Iterator[tuple[str, str]]:
    if directory.exists() and any(directory.iterdir()):
        raise UsageError(f"{directory} is not empty", field="DIR",
                         fix="give a new folder, e.g. promptctl quickstart demo")
    # The demo is a repository of its own, even when started inside another checkout.
    directory.mkdir(parents=True, exist_ok=True)
    _git(directory, "init", "-q")
    scaffold.init(directory)
    _use_echo_provider(directory)
    _demo_policy(directory)
    _ensure_identity(directory)
    _git(directory, "add", "-A")
    _git(directory, "commit", "-q", "-m", "promptctl init")
    yield "init", f"created a prompt repo in {directory} (git init, example prompt, suite, dataset)"

    project = open_project(directory)
    names, problems = check(project)
    yield "check", f"{len(names)} prompt(s), {len(problems)} problem(s)"

    first = bump(project, DEMO_PROMPT, "auto", message="first release")
    yield "bump", f"{first.name} {first.version} tagged {first.tag}"

    system = directory / "prompts" / DEMO_PROMPT / "system.j2"
    system.write_text(system.read_text().replace("at most three sentences", "at most two short sentences"))
    diff = prompts.diff(project, DEMO_PROMPT)
    yield "diff", f"suggested bump: {diff.level.label} ({'; '.join(diff.reasons)})"
    second = bump(project, DEMO_PROMPT, "auto", message="tighter answers")
    yield "bump", f"{second.name} {second.version} tagged {second.tag}"

    report = verify(project)
    yield "verify", f"{report.checked} release tag(s), {len(report.findings)} finding(s)"

    yield from _evaluate_and_deploy(project, first.version, second.version)


def _evaluate_and_deploy(project, stable: str, candidate: str) -> Iterator[tuple[str, str]]:
    from . import deploy
    from .evaluate import EvalOptions, evaluate

    for version in (stable, candidate):
        run = evaluate(project, f"{DEMO_PROMPT}@{version}", EvalOptions()).runs[0]
        scores = ", ".join(f"{k}={v['mean']:.2f}" for k, v in run.summary.get("metrics", {}).items())
        yield "eval", f"{DEMO_PROMPT}@{version}: {'gates pass' if run.passed else 'GATES FAIL'} ({scores})"
    change = deploy.promote(project, DEMO_PROMPT, stable, "production", why="first rollout",
                            require_eval=True)
    yield "promote", change.summary()
    change = deploy.canary(project, DEMO_PROMPT, candidate, "production", 5,
                           why="try tighter answers on 5% of users", require_eval=True)
    yield "canary", change.summary()
    yield from _run_canary(project, error_rate=0.01)

    system = project.root / "prompts" / DEMO_PROMPT / "system.j2"
    system.write_text(system.read_text() + "Answer in French.\n")
    broken = bump(project, DEMO_PROMPT, "auto", message="answer in French")
    yield "bump", f"{broken.name} {broken.version} tagged {broken.tag}"
    change = deploy.canary(project, DEMO_PROMPT, broken.version, "production", 5,
                           why="try French answers on 5% of users")
    yield "canary", change.summary()
    yield from _run_canary(project, error_rate=0.25)
    yield "history", _manifest_log(project)


def _run_canary(project, error_rate: float) -> Iterator[tuple[str, str]]:
    """Simulated users through the real runtime and tracker, then the controller's decisions."""
    from ..canary.decide import Action
    from . import canary as controller

    for batch in range(2 * len(DEMO_STEPS)):
        calls = _traffic(project.root, canary_error_rate=error_rate, batch=batch)
        yield "traffic", calls
        analysis = controller.analyze(project, DEMO_PROMPT, "production")
        decision = analysis.decision
        yield "analyze", f"{decision.action.value}: {'; '.join(decision.reasons)}"
        if decision.action is Action.HOLD:
            continue
        change = controller.apply(project, analysis)
        yield decision.action.value, change.summary()
        if decision.action in (Action.PROMOTE, Action.ROLLBACK):
            return


def _traffic(root: Path, canary_error_rate: float, batch: int, users: int = 4000) -> str:
    import random
    import time

    from ..runtime.registry import Registry

    rng = random.Random(batch)
    registry = Registry.open(root, env="production")
    served = {"stable": 0, "canary": 0}
    failed = {"stable": 0, "canary": 0}
    for user in range(users):
        prompt = registry.get(DEMO_PROMPT, key=f"user-{batch}-{user}")
        served[prompt.variant] += 1
        bad = rng.random() < (canary_error_rate if prompt.variant == "canary" else 0.01)
        try:
            with registry.track(prompt) as call:
                prompt.render(question="Where is my order?")
                time.sleep(0.0001)   # stands in for the model call
                if bad:
                    raise TimeoutError("simulated model failure")
                call.record(success=True, tokens_in=120, tokens_out=60)
        except TimeoutError:
            failed[prompt.variant] += 1
    registry.flush()
    return (f"{users} simulated users: stable {served['stable']} calls "
            f"({failed['stable']} failed), canary {served['canary']} ({failed['canary']} failed)")


def _manifest_log(project) -> str:
    log = project.store.log(paths=(project.config.manifest,))
    return "git log release.yaml:\n" + "\n".join(f"    {e.short} {e.subject}" for e in log)


def _demo_policy(directory: Path) -> None:
    # Real canaries wait minutes per step; the demo's steps end as soon as the numbers do.
    with (directory / "promptctl.yaml").open("a") as config:
        config.write(DEMO_POLICY)


def _use_echo_provider(directory: Path) -> None:
    # The demo must run offline: the echo provider answers with the rendered prompt.
    path = directory / "prompts" / DEMO_PROMPT / "prompt.yaml"
    text = path.read_text()
    text = text.replace("provider: openai", "provider: echo").replace(
        "name: gpt-4o-mini-2024-07-18", "name: echo-1")
    path.write_text(text)


def _ensure_identity(directory: Path) -> None:
    # A fresh machine may have no git identity; the demo repo gets a local one then.
    for key, value in (("user.name", "promptctl quickstart"), ("user.email", "quickstart@localhost")):
        found = subprocess.run(["git", "config", key], cwd=directory, capture_output=True, text=True)
        if not found.stdout.strip():
            _git(directory, "config", key, value)


def _git(directory: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=directory, check=True, capture_output=True)
