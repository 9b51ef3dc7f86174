"""A fleet on loopback: app processes read one bundle URL from a static server; a rollback
published there reaches every process within refresh_interval + 1 s, two publishes of the
same second are both seen, and a process started while the server is down serves the
last good bundle from disk."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from support.cli import run_cli
from support.repos import git_save
from support.releases import project, seed_failing_canary
from support.fleet import App, live_deploy, publish, run_bounded
from support.http import StaticServer, free_url

from promptctl.services import deploy

INTERVAL = 0.3
pytestmark = pytest.mark.timeout(60)


def test_a_rollback_reaches_every_process_and_same_second_publishes_are_both_seen(deploy_repo, tmp_path):
    root = live_deploy(deploy_repo)
    served, cache = tmp_path / "www", tmp_path / "cache"
    publish(root, served)
    with StaticServer(served) as server:
        apps = [App(server.url, cache, interval=INTERVAL, seconds=25) for _ in range(2)]
        try:
            for app in apps:
                app.wait_for(lambda r: r["canary"] > 0 and r["status"] == "ok", timeout=15)

            deploy.rollback(project(root), "support-refund", "production")
            published = time.time()
            publish(root, served)
            for app in apps:
                first = app.wait_for(lambda r: r["weight"] == 0, timeout=INTERVAL + 3)
                assert first["canary"] == 0
                assert first["loaded_at"] - published <= INTERVAL + 1.0   # swapped in by then

            # two publishes within one second: the static server's Last-Modified is the same
            _publish_twice_in_one_second(root, served)
            for app in apps:
                app.wait_for(lambda r: r["weight"] == 30, timeout=INTERVAL + 3)
        finally:
            for app in apps:
                app.stop()

    # the server is gone: a new process starts from the bundle the others kept on disk
    down = App(server.url, cache, interval=INTERVAL, seconds=5)
    try:
        report = down.wait_for(lambda r: True, timeout=10)
        assert (report["status"], report["from_disk"], report["weight"]) == ("stale", True, 30)
        assert report["text"] == "Question: q"
    finally:
        down.stop()


def _publish_twice_in_one_second(root, served) -> None:
    p, ready = project(root), served.parent / "ready"
    ready.mkdir()
    deploy.canary(p, "support-refund", "2.0.0", "production", 50)
    first = publish(root, ready)
    first = first.rename(ready / "first.json")
    deploy.canary(p, "support-refund", "2.0.0", "production", 30)
    second = publish(root, ready)
    for _ in range(3):
        while time.time() % 1 > 0.2:    # start early in a second so both land within it
            time.sleep(0.01)
        started = int(time.time())
        _copy(first, served)
        time.sleep(INTERVAL * 1.5)       # the apps fetch the first one within this second
        _copy(second, served)
        if int(time.time()) == started:
            return
    pytest.fail("could not publish twice within one second on this machine")


def _copy(bundle, served) -> None:
    tmp = served / ".incoming"
    tmp.write_bytes(bundle.read_bytes())
    tmp.replace(served / "release.lock.json")


def test_canary_analyze_apply_publishes_a_rollback_that_reaches_every_process(deploy_repo, tmp_path):
    served = tmp_path / "www"
    config = deploy_repo / "promptctl.yaml"
    config.write_text(config.read_text() + f"publish:\n  production: [{{path: '{served}/'}}]\n")
    git_save(deploy_repo, "publish to the static server's folder")
    seed_failing_canary(deploy_repo)                      # a 5 % canary failing one call in three
    assert run_cli("publish", "--env", "production", cwd=deploy_repo).returncode == 0
    with StaticServer(served, "production.json") as server:
        apps = [App(server.url, tmp_path / "cache", interval=INTERVAL, seconds=25) for _ in range(2)]
        try:
            for app in apps:
                app.wait_for(lambda r: r["weight"] == 5 and r["status"] == "ok", timeout=15)
            result = run_cli("canary", "analyze", "support-refund", "--env", "production", "--apply",
                             cwd=deploy_repo)
            assert result.returncode == 0 and "applied: " in result.stdout, result.stdout + result.stderr
            published = (served / "production.json").stat().st_mtime
            for app in apps:
                first = app.wait_for(lambda r: r["weight"] == 0, timeout=INTERVAL + 3)
                assert first["canary"] == 0 and first["loaded_at"] - published <= INTERVAL + 1.0
        finally:
            for app in apps:
                app.stop()


NO_SERVER_APP = r"""
import sys
import promptctl
try:
    promptctl.Registry.from_bundle(sys.argv[1], env="production", cache_dir=None, fetch_timeout=1)
except promptctl.PromptctlError as exc:
    print(type(exc).__name__, exc)
"""


def test_without_a_copy_on_disk_a_down_server_is_a_promptctl_error_naming_the_url(tmp_path):
    url = free_url()
    result = subprocess.run([sys.executable, "-c", NO_SERVER_APP, url], capture_output=True,
                            text=True, timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("FetchError cannot fetch " + url)
    assert "Traceback" not in result.stderr


FORK_APP = r"""
import os, sys, threading
import promptctl
reg = promptctl.Registry.open(sys.argv[1], env="production", refresh_interval=0.05)
store = reg._loader.inner.store
expected = {tag: store.source_at(tag).read("prompts/support-refund/prompt.yaml")
            for tag in ("support-refund/v1.0.0", "support-refund/v2.0.0")}
parent_cat_file = store.repo.git.cat_file_all.proc.pid

def work(who):
    for i in range(60):
        tag = sorted(expected)[i % 2]
        assert store.source_at(tag).read("prompts/support-refund/prompt.yaml") == expected[tag], who
        assert "Question: q" in reg.get("support-refund", key=i).render(question="q")
    reg._cache.clear()
    reg._loader.inner.watch.forget()
    assert reg.refresh() is True, (who, reg.last_error)   # a full load from git, in this process

children = []
for n in range(3):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            work(f"child {n}")
            assert store.repo.git.cat_file_all.proc.pid != parent_cat_file
            assert reg._thread.is_alive() and reg.health()["status"] == "ok"
            code = 0
        finally:
            os._exit(code)
    children.append(pid)
work("parent")
codes = [os.waitpid(pid, 0)[1] for pid in children]
print("children", codes, "parent cat-file alive", store.repo.git.cat_file_all.proc.poll() is None)
"""


def test_a_git_registry_opened_before_fork_serves_in_the_children(deploy_repo):
    root = live_deploy(deploy_repo)
    result = run_bounded([sys.executable, "-c", FORK_APP, str(root)], timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "children [0, 0, 0] parent cat-file alive True", result.stderr
