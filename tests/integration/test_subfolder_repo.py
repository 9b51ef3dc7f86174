"""A prompt repo that is a folder of a larger git repository (prompts beside the app code)."""

from pathlib import Path

from support.cli import run_cli
from support.repos import build_file_tree, git, git_save
from promptctl.runtime.registry import Registry
from promptctl.services import bump, deploy, deploy_status, verify
from promptctl.services.evaluate import EvalOptions, evaluate
from promptctl.services.project import load_version, open_project
from promptctl.services.scaffold import init


def app_repo(tmp_path) -> Path:
    root = tmp_path / "app"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    build_file_tree(root, {"src/app.py": "print('hi')\n"})
    init(root / "llm")
    git_save(root, "app with a prompt repo in llm/")
    return root


def test_release_promote_and_serve_from_a_subfolder(tmp_path):
    root = app_repo(tmp_path)
    project = open_project(root / "llm")
    first = bump.bump(project, "support-reply", message="first")
    assert first.version == "1.0.0"
    system = root / "llm/prompts/support-reply/system.j2"
    system.write_text(system.read_text() + "Be brief.\n")
    (root / "src/app.py").write_text("print('changed')\n")
    second = bump.bump(project, "support-reply")
    assert second.version == "1.1.0"
    assert git(root, "show", "--name-only", "--format=", "HEAD").splitlines() == [
        "llm/prompts/support-reply/system.j2"]
    assert "M src/app.py" in git(root, "status", "--porcelain")   # app code left alone
    assert verify.verify(project).findings == []
    assert load_version(project, "support-reply", "1.0.0").digest == first.digest

    deploy.promote(project, "support-reply", "1.1.0", "production", why="go")
    assert git(root, "show", "--name-only", "--format=", "HEAD").splitlines() == ["llm/release.yaml"]
    assert [(r.action, r.active) for r in deploy_status.history(project, "support-reply", "production")] == [
        ("promote", "1.1.0")]
    reg = Registry.open(root / "llm", env="production")
    assert reg.get("support-reply").version == "1.1.0"


def test_changed_since_sees_paths_relative_to_the_prompt_repo(tmp_path):
    root = app_repo(tmp_path)
    base = git(root, "rev-parse", "HEAD")
    system = root / "llm/prompts/support-reply/system.j2"
    system.write_text(system.read_text() + "Be brief.\n")
    report = evaluate(open_project(root / "llm"), None, EvalOptions(changed_since=base, provider="echo"))
    assert [run.prompt for run in report.runs] == ["support-reply"]


def test_the_quickstart_inside_another_checkout_makes_its_own_repo(tmp_path):
    root = app_repo(tmp_path)
    done = run_cli("quickstart", "demo", cwd=root)
    assert done.returncode == 0, done.stderr
    assert git(root / "demo", "rev-parse", "--show-toplevel") == str((root / "demo").resolve())
    assert "demo" not in git(root, "tag", "-l")


def test_app_code_staged_outside_the_prompt_folder_stays_out_of_a_release(tmp_path):
    root = app_repo(tmp_path)
    project = open_project(root / "llm")
    (root / "src/app.py").write_text("print('staged')\n")
    git(root, "add", "src/app.py")
    system = root / "llm/prompts/support-reply/system.j2"
    system.write_text(system.read_text() + "Be brief.\n")
    bump.bump(project, "support-reply", message="first")
    committed = git(root, "show", "--name-only", "--format=", "HEAD").splitlines()
    assert committed == ["llm/prompts/support-reply/system.j2"]
    assert "M  src/app.py" in git(root, "status", "--porcelain")   # still staged, not released
