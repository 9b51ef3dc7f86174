"""A big prompt repo for the scale benchmarks, built with one `git fast-import` stream.

N prompts × R releases (N × R annotated tags with real digests): every round is one
commit changing every prompt, then one tag per prompt. Every 5th prompt is a chat prompt
with its system message in a file, every 7th includes a shared partial, and release.yaml
is committed twice (rounds R-1 and R), so `status` and `history` read a manifest history:
production serves R-1 with a 5% canary of R on every 10th prompt and a segment on every
50th; staging serves R. `history` more commits then each move one production prompt to
an older release, as a team's promotes do. Building 5,000 × 10 takes seconds, not 50,000
porcelain calls.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from promptctl.prompt_files import content_digest  # noqa: E402
from promptctl.tags import format_message  # noqa: E402

IDENTITY = "Bench <bench@example.com> 1700000000 +0000"
PARTIAL = "_partials/footer.j2"
PARTIAL_TEXT = "Answer politely.\n"


def prompt_name(i: int) -> str:
    return f"p{i:04d}"


def prompt_files(i: int, release: int) -> dict[str, str]:
    """Files of prompt i at a release, relative to prompts/ (partials included)."""
    name = prompt_name(i)
    include = '{% include "_partials/footer.j2" %}\n' if i % 7 == 0 else ""
    head = f"name: {name}\nmodel: {{provider: echo, name: echo-1}}\ninputs:\n  question: string\n"
    if i % 5 == 0:
        files = {f"{name}/prompt.yaml": head + "messages:\n  - {role: system, content_file: system.j2}\n"
                                               "  - {role: user, content: '{{ question }}'}\n",
                 f"{name}/system.j2": f"You are release {release} of {name}.\n{include}"}
    else:
        files = {f"{name}/prompt.yaml": head + f"template: |\n  Release {release} of {name}.\n"
                                               f"  Question: {{{{ question }}}}\n"
                                               + (f"  {include}" if include else "")}
    if include:
        files[PARTIAL] = PARTIAL_TEXT
    return files


def manifest_text(prompts: int, releases: int, final: bool) -> str:
    top, prev = (releases, releases - 1) if final else (releases - 1, max(1, releases - 2))
    lines = ["environments:", "  production:"]
    for i in range(prompts):
        lines += [f"    {prompt_name(i)}:", f"      active: {prev}.0.0"]
        if i % 10 == 0 and top != prev:
            lines += ["      canary:", f"        version: {top}.0.0", "        weight: 5"]
        if i % 50 == 0:
            lines += ["      segments:", "        enterprise:", f"          active: {top}.0.0"]
    lines.append("  staging:")
    for i in range(prompts):
        lines += [f"    {prompt_name(i)}:", f"      active: {top}.0.0"]
    return "\n".join(lines) + "\n"


def promoted(text: str, step: int, prompts: int, releases: int) -> str:
    """release.yaml after one more promote: a production prompt moved to an older release."""
    name, version = prompt_name(step * 7919 % prompts), step % max(1, releases - 2) + 1
    return re.sub(rf"(?m)^(    {name}:\n      active: )[0-9.]+", rf"\g<1>{version}.0.0", text, count=1)


def build_repo(root: Path, prompts: int, releases: int, history: int = 0) -> None:
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    stream: list[bytes] = []

    def data(text: str) -> None:
        raw = text.encode()
        stream.append(f"data {len(raw)}\n".encode() + raw + b"\n")

    def put(path: str, text: str) -> None:
        stream.append(f"M 100644 inline {path}\n".encode())
        data(text)

    for release in range(1, releases + 1):
        stream.append(f"commit refs/heads/main\nmark :{release}\ncommitter {IDENTITY}\n".encode())
        data(f"round {release}")
        if release == 1:
            put("promptctl.yaml", "prompts_dir: prompts\n")
            put("prompts/" + PARTIAL, PARTIAL_TEXT)
        else:
            stream.append(f"from :{release - 1}\n".encode())
        if release >= releases - 1:
            put("release.yaml", manifest_text(prompts, releases, release == releases))
        for i in range(prompts):
            for path, text in prompt_files(i, release).items():
                if path != PARTIAL:
                    put(f"prompts/{path}", text)
        for i in range(prompts):
            name, version = prompt_name(i), f"{release}.0.0"
            digest = content_digest(prompt_files(i, release))
            stream.append(f"tag {name}/v{version}\nfrom :{release}\ntagger {IDENTITY}\n".encode())
            data(format_message(name, version, digest, f"release {release}"))
    text = manifest_text(prompts, releases, True)
    for step in range(history):
        text = promoted(text, step, prompts, releases)
        mark = releases + step + 1
        stream.append(f"commit refs/heads/main\nmark :{mark}\ncommitter {IDENTITY}\n".encode())
        data(f"promote {step}")
        stream.append(f"from :{mark - 1}\n".encode())
        put("release.yaml", text)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=b"".join(stream), check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=root, check=True)
    subprocess.run(["git", "pack-refs", "--all"], cwd=root, check=True)
    for key, value in (("user.name", "Bench"), ("user.email", "bench@example.com")):
        subprocess.run(["git", "config", key, value], cwd=root, check=True)
