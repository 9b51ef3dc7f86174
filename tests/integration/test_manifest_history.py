"""release.yaml's history read entry by entry must equal the history read by parsing every
past file whole: promotes, canaries, segments coming and going, prompts removed, a broken
hand edit, a file rewritten in flow style and back."""

import random

import yaml

from promptctl.manifest import Manifest, dump_manifest
from promptctl.services import manifest_history
from promptctl.services.manifest_history import ManifestHistory, commit_info
from support.cli import run_cli
from support.clones import clone
from support.releases import project
from support.repos import git, git_save

VERSIONS = ["1.0.0", "1.1.0", "2.0.0", "2.1.0"]


def random_edit(rng: random.Random, envs: dict) -> None:
    env = envs.setdefault(rng.choice(["production", "staging"]), {})
    name = f"p{rng.randrange(12)}"
    move = rng.random()
    if move < 0.1 and env:
        env.pop(rng.choice(sorted(env)))
        return
    entry = env.setdefault(name, {"active": "1.0.0"})
    if move < 0.4:
        entry["active"] = rng.choice(VERSIONS)
        entry.pop("canary", None)
    elif move < 0.7:
        others = [v for v in VERSIONS if v != entry["active"]]
        entry["canary"] = {"version": rng.choice(others), "weight": rng.choice([5, 50, 0])}
    elif move < 0.85:
        entry.setdefault("segments", {})["enterprise"] = {"active": rng.choice(VERSIONS)}
    else:
        segmented = sorted(n for n, e in env.items() if e.get("segments"))
        env[segmented[0] if segmented else name].pop("segments", None)


def build_history(root, commits: int = 60) -> None:
    rng = random.Random(7)
    envs: dict = {}
    for number in range(commits):
        random_edit(rng, envs)
        envs = {env: prompts for env, prompts in envs.items() if prompts}
        text = dump_manifest(Manifest.model_validate({"environments": envs}))
        if number == 20:
            text = text.replace("active:", "activ:", 1)                  # a broken hand edit
        elif number in (30, 31):
            text = yaml.safe_dump({"environments": envs}, default_flow_style=True)
        (root / "release.yaml").write_text(text)
        git_save(root, f"edit {number}")


def history(root, monkeypatch, whole: bool) -> dict:
    if whole:
        monkeypatch.setattr(manifest_history, "split_entries", lambda text: None)
    proj = project(root)
    found = ManifestHistory()
    found.extend(proj, [commit_info(e) for e in reversed(proj.store.log(paths=("release.yaml",)))])
    monkeypatch.undo()
    return found.changes


def test_entry_by_entry_equals_parsing_every_file_whole(prompt_repo, monkeypatch):
    build_history(prompt_repo)
    fast = history(prompt_repo, monkeypatch, whole=False)
    whole = history(prompt_repo, monkeypatch, whole=True)
    assert fast == whole
    assert len(fast) > 12                       # segments and both envs took part
    assert any(change[1] is None for past in fast.values() for change in past)   # removals
    broken = 21                                 # its index (the first commit is the repo's)
    assert all(change[0] != broken for past in fast.values() for change in past)


def hand_edited(rng: random.Random, text: str, number: int) -> str:
    """The file as people touch it: comments and blank lines between entries, kept for a
    while, some moved (a commit may change the file in two places)."""
    lines = text.splitlines(keepends=True)
    for _ in range(rng.randrange(3)):
        at = rng.randrange(1, len(lines) + 1)
        lines.insert(at, rng.choice(["\n", f"    # note {number}\n", "# reviewed\n"]))
    return "".join(lines)


def build_edited_history(root, commits: int = 80) -> None:
    rng = random.Random(11)
    envs: dict = {}
    for number in range(commits):
        random_edit(rng, envs)
        if number % 9 == 4 and envs:     # a prompt added in the middle of its env
            env = envs[sorted(envs)[0]]
            items = list(env.items())
            items.insert(rng.randrange(len(items) + 1), (f"q{number}", {"active": "1.0.0"}))
            env.clear()
            env.update(items)
        envs = {env: prompts for env, prompts in envs.items() if prompts}
        text = dump_manifest(Manifest.model_validate({"environments": envs}))
        if number % 5:
            text = hand_edited(rng, text, number // 10)
        (root / "release.yaml").write_text(text)
        git_save(root, f"edit {number}")


def test_comments_insertions_and_removals_anywhere_give_the_same_history(prompt_repo, monkeypatch):
    build_edited_history(prompt_repo)
    cuts = []
    real = manifest_history._VersionReader._by_region

    def counted(self, text):
        step = real(self, text)
        cuts.append(step is not None)
        return step
    monkeypatch.setattr(manifest_history._VersionReader, "_by_region", counted)
    fast = history(prompt_repo, monkeypatch, whole=False)
    assert sum(cuts) > len(cuts) / 3           # most commits were read by their changed part
    whole = history(prompt_repo, monkeypatch, whole=True)
    assert fast == whole


def test_a_new_clone_reads_the_same_history_as_the_clone_that_wrote_it(prompt_repo, tmp_path):
    """The cache lives in .promptctl/ (not in git): a clone from the bare origin starts
    cold, in another process, and must see what the first clone sees, whose cache was
    extended commit run by commit run."""
    build_edited_history(prompt_repo, commits=20)
    run_cli("status", cwd=prompt_repo, check=True)
    build_history(prompt_repo, commits=20)
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(prompt_repo, "remote", "add", "origin", str(origin))
    git(prompt_repo, "push", "-q", "origin", "main")
    second = clone(origin, tmp_path / "second")
    commands = [("status", "--json")] + [("history", f"p{i}", "--env", env, "--json")
                                         for i in range(0, 12, 3) for env in ("production", "staging")]
    for args in commands:
        run_cli(*args, cwd=prompt_repo)                      # the first clone's cache is warm
    for args in commands:
        mine, theirs = run_cli(*args, cwd=prompt_repo), run_cli(*args, cwd=second)
        assert (theirs.returncode, theirs.stdout) == (mine.returncode, mine.stdout), args
    assert '"active"' in run_cli("status", "--json", cwd=second).stdout
