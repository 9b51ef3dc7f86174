"""Git objects read through one long-lived `git cat-file --batch`, many per round trip.

Reading a release's files used to walk the commit's tree from the root for every file,
re-parsing `prompts/` (one entry per prompt) each time. Here git resolves
`<commit>:<path>` itself, and a whole set of releases is read in two pipelined passes
(their folders' trees, then every blob), so verifying 10,000 tags costs two batches, not
10,000 tree walks.
"""

from __future__ import annotations

import os
import subprocess
import threading
from typing import IO, Iterable

from .errors import RepoError

Obj = tuple[str, bytes]      # (type, content)


_PIPE_ROOM = 4096   # PIPE_BUF: what a pipe always takes without its reader


class ObjectReader:
    """Objects by name: a sha, or `<rev>:<path>` (path from the repo's top folder)."""

    def __init__(self, cwd: str) -> None:
        self.cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def read(self, name: str) -> Obj | None:
        return self.read_many([name])[0]

    def read_many(self, names: list[str]) -> list[Obj | None]:
        """One answer per name, in order; None for a missing object."""
        if not names:
            return []
        with self._lock:
            proc = self._process()
            payload = "".join(f"{n}\n" for n in names).encode()
            stdout = _pipe(proc.stdout)
            if len(payload) <= _PIPE_ROOM:
                # fits in the empty pipe at once: the write cannot wait on git's answers
                _send(proc, payload)
                return [_answer(stdout) for _ in names]
            # A writer thread: git answers while we still send, and both pipes are bounded.
            writer = threading.Thread(target=_send, args=(proc, payload), daemon=True)
            writer.start()
            try:
                return [_answer(stdout) for _ in names]
            finally:
                writer.join()

    def forget(self) -> subprocess.Popen[bytes] | None:
        """In a forked child: drop the parent's process without waiting for or writing to
        it, and return it so its pipe ends can be neutralised; the next read starts anew."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.returncode = 0     # the parent's child: never ours to wait for
        self._lock = threading.Lock()
        return proc

    def close(self) -> None:
        if self._proc is not None:
            _pipe(self._proc.stdin).close()
            self._proc.wait()
            _pipe(self._proc.stdout).close()
            self._proc = None

    def _process(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            try:
                self._proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=self.cwd,
                                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                              stderr=subprocess.DEVNULL)
            except OSError as exc:
                raise RepoError(f"cannot run git cat-file: {exc}", fix="install git") from exc
        return self._proc

    def __del__(self) -> None:
        try:
            self.close()
        except (OSError, ValueError):
            pass    # interpreter shutdown: the pipes may be gone already


def _pipe(stream: IO[bytes] | None) -> IO[bytes]:
    # the process is always started with stdin and stdout as pipes
    assert stream is not None
    return stream


def _send(proc: subprocess.Popen[bytes], payload: bytes) -> None:
    stdin = _pipe(proc.stdin)
    try:
        stdin.write(payload)
        stdin.flush()
    except (BrokenPipeError, ValueError):
        pass    # git died; the reader sees the closed stdout and raises


def _answer(stdout: IO[bytes]) -> Obj | None:
    header = stdout.readline()
    if not header:
        raise RepoError("git cat-file stopped answering", fix="check the repository with `git fsck`")
    parts = header.split()
    if len(parts) != 3:      # "<name> missing" / "<name> ambiguous"
        return None
    size = int(parts[2])
    data = stdout.read(size + 1)[:size]    # the object, then a newline
    return parts[1].decode(), data


def tree_entries(data: bytes) -> Iterable[tuple[str, str, str]]:
    """(mode, name, sha) of each entry of a raw tree object."""
    pos, end = 0, len(data)
    while pos < end:
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        yield (data[pos:space].decode(), data[space + 1:nul].decode("utf-8", "surrogateescape"),
               data[nul + 1:nul + 21].hex())
        pos = nul + 21




def head_commit(root) -> str:
    """HEAD's commit ("" before the first commit) and, in a shallow clone, where its history
    is cut: one git call, without GitPython's import (a cached `status` answers in less time
    than that import takes). A deepened clone has the same HEAD and more history."""
    result = subprocess.run(["git", "rev-parse", "--git-path", "shallow", "HEAD"], cwd=root,
                            capture_output=True, text=True)
    lines = result.stdout.split()
    if result.returncode != 0 or len(lines) != 2:
        return ""
    shallow, head = lines
    try:
        with open(os.path.join(root, shallow), "rb") as handle:
            cut = handle.read().split()
    except OSError:
        cut = []
    return " ".join([head, *sorted(c.decode() for c in cut)])
