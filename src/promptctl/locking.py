"""The repo's write lock and the journal of the write it protects.

One lock (`.promptctl/release.lock`) serialises every write promptctl makes to a repo:
bump, promote, canary, rollback, canary analyze --apply. Beside it the holder records
who it is (`release.lock.owner`), so a waiting writer can say at once whom it waits for,
and what it is about to do (`journal.json`), so a write killed half way (kill -9, a
power cut) is finished or undone by the next promptctl command instead of leaving a
staged manifest or an untagged release commit behind. The replay itself lives in
`services.recovery`; this module only keeps the records.
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import ManifestError

LOCK_FILE = "release.lock"
OWNER_FILE = "release.lock.owner"
CHILDREN_FILE = "release.lock.children"
JOURNAL_FILE = "journal.json"
TIMEOUT_VAR = "PROMPTCTL_LOCK_TIMEOUT"
DEFAULT_TIMEOUT = 30.0
ORPHAN_GRACE = 5.0       # how long a dead writer's forked git child may keep the lock
CHILDREN_WAIT = 10.0     # how long a recovery waits for a dead writer's git commands to end

# Where a waiting writer says whom it waits for, and a recovery what it repaired; the
# CLI points it at stderr. The core prints nothing itself.
reporter: Callable[[str], None] | None = None


def notice(message: str) -> None:
    if reporter is not None:
        reporter(message)


def lock_timeout(default: float = DEFAULT_TIMEOUT) -> float:
    raw = os.environ.get(TIMEOUT_VAR)
    try:
        return max(0.0, float(raw)) if raw else default
    except ValueError:
        return default


def describe_owner(state_dir: Path) -> str:
    """'pid 123 (promptctl bump x), for 4 s' from the owner record, or a vaguer phrase."""
    owner = read_owner(state_dir)
    if not owner:
        return "another promptctl"
    age = max(0, int(time.time() - float(owner.get("since") or time.time())))
    return f"pid {owner.get('pid')} ({owner.get('command') or '?'}), for {age} s"


def read_owner(state_dir: Path) -> dict[str, Any] | None:
    return _read_json(state_dir / OWNER_FILE)


def pid_alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError, TypeError):
        return False
    except PermissionError:
        return True     # alive, owned by someone else
    return True


@contextmanager
def write_lock(state_dir: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold the repo's write lock; when it is taken, say by whom and how long we wait."""
    from filelock import FileLock, Timeout

    state_dir.mkdir(parents=True, exist_ok=True)
    timeout = lock_timeout() if timeout is None else timeout
    lock = FileLock(str(state_dir / LOCK_FILE))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = describe_owner(state_dir)
        notice(f"{state_dir / LOCK_FILE} is held by {holder}; waiting up to {timeout:g} s")
        try:
            lock.acquire(timeout=timeout)
        except Timeout as exc:
            raise ManifestError(f"{state_dir / LOCK_FILE} is still held by {holder} "
                                f"after {timeout:g} s",
                                fix="wait for that command to finish; if it hangs, stop it") from exc
    try:
        _write_json(state_dir / OWNER_FILE, {"pid": os.getpid(), "command": _command(),
                                             "since": time.time()})
        yield
    finally:
        (state_dir / OWNER_FILE).unlink(missing_ok=True)
        lock.release()


def try_lock(state_dir: Path, grace: float = ORPHAN_GRACE):
    """The lock if it is free right now, else None (doctor must not queue behind a writer).

    A lock still held although its recorded writer is dead is held by a child that writer
    forked for git: until that child execs, it shares the lock's file. It lets go within
    moments, so for a dead writer we wait up to `grace` rather than skip the repair.
    """
    from filelock import FileLock, Timeout

    state_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(state_dir / LOCK_FILE))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        owner = read_owner(state_dir)
        if owner is None or pid_alive(owner.get("pid")):
            return None
        try:
            lock.acquire(timeout=grace)
        except Timeout:
            return None
    return lock


# ---------------------------------------------------------------- a writer's git children
# kill -9 stops a writer but not the git command it is running: that `git add` or `git
# commit` goes on and may land after the next command replayed the journal. So a writer
# holds a flock on CHILDREN_FILE and its git commands inherit that descriptor; the kernel
# drops the flock only when the last of them has exited, and a replay waits for that.

_child_fds: tuple[int, ...] = ()


def child_fds() -> tuple[int, ...]:
    """Descriptors a writer's git commands must inherit (empty outside a write)."""
    return _child_fds


@contextmanager
def children_lease(state_dir: Path) -> Iterator[None]:
    global _child_fds
    try:
        import fcntl
    except ImportError:     # no flock: git children cannot outlive the writer unnoticed
        yield
        return
    fd = os.open(state_dir / CHILDREN_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        yield       # a dead writer's command still runs; the replay before us waited for it
        return
    _child_fds = (fd,)
    try:
        yield
    finally:
        _child_fds = ()
        fcntl.flock(fd, fcntl.LOCK_UN)  # also for any daemon a git command left behind
        os.close(fd)


def wait_for_children(state_dir: Path, timeout: float = CHILDREN_WAIT) -> bool:
    """Whether the git commands of a dead writer have all exited (waiting up to `timeout`)."""
    try:
        import fcntl
    except ImportError:
        return True
    path = state_dir / CHILDREN_FILE
    if not path.exists():
        return True
    fd = os.open(path, os.O_RDWR)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
                return True
            except OSError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.02)
    finally:
        os.close(fd)


def _command() -> str:
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if name in ("promptctl", "__main__.py"):
        name = "promptctl"
    elif name == "-c":
        name = "python -c"
    return f"{name} {' '.join(sys.argv[1:])[:120]}".strip()


# ---------------------------------------------------------------- the journal

def begin(state_dir: Path, record: dict[str, Any]) -> None:
    """Record the write about to start; it must be on disk before the first change."""
    _write_json(state_dir / JOURNAL_FILE, {**record, "pid": os.getpid(), "started": time.time()})


def pending(state_dir: Path) -> dict[str, Any] | None:
    path = state_dir / JOURNAL_FILE
    if not path.exists():
        return None
    record = _read_json(path)
    # a torn journal means the write had not begun: nothing was changed yet
    return record if record is not None else {"op": "unknown"}


def end(state_dir: Path) -> None:
    (state_dir / JOURNAL_FILE).unlink(missing_ok=True)
    fsync_dir(state_dir)


def crash_point(step: str) -> None:
    """Test hook: PROMPTCTL_CRASH_AT=step makes this process SIGKILL itself here, so the
    recovery tests can interrupt a write at an exact step without timing luck."""
    if os.environ.get("PROMPTCTL_CRASH_AT") == step:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (a crash must not bring back the old file)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
