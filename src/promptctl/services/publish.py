"""Publishing: after a manifest commit, the env's bundle goes where the apps read it.

Apps reading a bundle by URL see a deploy only when someone rebuilds and uploads it;
`publish:` in promptctl.yaml names those places per environment, and every manifest
commit (promote, canary, rollback, the controller's decisions) runs them:

    publish:
      production:
        - path: /srv/www/bundles/            # a folder: production.json is written into it
        - command: [aws, s3, cp, "{bundle}", "s3://acme-prompts/production.json"]

The bundle is first written to `<state_dir>/bundles/<env>.json`; a path target gets a
copy written atomically (temp file + rename, so a static server never serves half a
file), a command gets `{bundle}` replaced and runs without a shell. A failure never
undoes the commit: it is exit 3 naming the target, and `promptctl publish --env ENV`
(or the next `canary watch` tick) does it again.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PublishError, UsageError
from ..model import PublishTarget
from .project import Project


@dataclass
class PublishReport:
    env: str
    bundle: Path
    manifest_commit: str
    done: list[str] = field(default_factory=list)      # target labels that succeeded

    def as_dict(self) -> dict:
        return {"env": self.env, "bundle": str(self.bundle), "manifest_commit": self.manifest_commit,
                "done": list(self.done)}


def targets(project: Project, env: str) -> list[PublishTarget]:
    return list((project.config.publish or {}).get(env, []))


def bundle_path(project: Project, env: str) -> Path:
    return project.root / project.config.state_dir / "bundles" / f"{env}.json"


def publish(project: Project, env: str) -> PublishReport:
    """Write the env's bundle from the committed manifest, then run every target; the first
    failure (after trying them all) is a PublishError naming its target."""
    from .bundle import bundle

    configured = targets(project, env)
    if not configured:
        raise UsageError(f"no publish targets for {env!r}", file="promptctl.yaml",
                         field=f"publish.{env}",
                         fix="list a path or command there (see docs/team.md), "
                             f"or write a bundle with `promptctl bundle --env {env}`")
    path = bundle_path(project, env)
    data = bundle(project, env, path)
    report = PublishReport(env, path, data["manifest_commit"])
    failures = []
    for target in configured:
        try:
            _run(project, target, env, path)
            report.done.append(target.label)
        except PublishError as exc:
            failures.append(exc)
    if failures:
        first = failures[0]
        more = f" (+{len(failures) - 1} more failed)" if len(failures) > 1 else ""
        raise PublishError(f"{first.message}{more}", field=first.field, fix=first.fix)
    return report


def after_commit(project: Project, env: str) -> PublishReport | None:
    """What every manifest write calls: publish when the env has targets, else nothing."""
    return publish(project, env) if targets(project, env) else None


def _run(project: Project, target: PublishTarget, env: str, bundle: Path) -> None:
    if target.path is not None:
        _write(project, target.path, env, bundle)
    else:
        _command(project, target, env, bundle)


def _write(project: Project, where: str, env: str, bundle: Path) -> None:
    from ..manifest_io import write_atomic

    dest = Path(where).expanduser()
    dest = dest if dest.is_absolute() else project.root / dest
    if where.endswith("/") or dest.is_dir():
        dest = dest / f"{env}.json"
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(dest, bundle.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PublishError(f"cannot write {dest}: {exc.strerror or exc}", field=f"path {where}",
                           fix=f"check the folder and its permissions, then `promptctl publish "
                               f"--env {env}`") from exc


def _command(project: Project, target: PublishTarget, env: str, bundle: Path) -> None:
    argv = [arg.replace("{bundle}", str(bundle)).replace("{env}", env) for arg in target.command or []]
    label = f"command {argv[0]}"
    again = f"fix it, then `promptctl publish --env {env}`"
    try:
        done = subprocess.run(argv, cwd=project.root, capture_output=True, text=True,
                              timeout=target.timeout, stdin=subprocess.DEVNULL)
    except FileNotFoundError as exc:
        raise PublishError(f"{argv[0]}: command not found", field=label, fix=again) from exc
    except subprocess.TimeoutExpired as exc:
        raise PublishError(f"timed out after {target.timeout:g}s", field=label, fix=again) from exc
    except OSError as exc:
        raise PublishError(f"cannot run: {exc.strerror or exc}", field=label, fix=again) from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout or "").strip().splitlines()
        said = f": {tail[-1].strip()}" if tail else ""
        raise PublishError(f"exited with status {done.returncode}{said}", field=label, fix=again)


def attach(change, env: str, exc: PublishError) -> PublishError:
    """The same failure, saying the deploy is committed, so nobody re-applies it by hand;
    raise it `from exc`."""
    return exc.reworded(change=change, fix=f"{change.summary()} is committed; fix the target, "
                                           f"then `promptctl publish --env {env}`")


__all__ = ["PublishReport", "after_commit", "attach", "bundle_path", "publish", "targets"]
