"""Drive a real interactive shell through a pseudo-terminal: type a line, press Tab, read
back what the line became. Completion is tested the way a user meets it."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import time
from pathlib import Path

from support.cli import promptctl_exe

# How each shell starts clean and loads promptctl's completion script.
SHELLS = {
    "bash": (["bash", "--norc", "--noprofile", "-i"],
             'eval "$(promptctl --show-completion bash)"'),
    "zsh": (["zsh", "-f", "-i"],
            'autoload -Uz compinit && compinit -u -D; eval "$(promptctl --show-completion zsh)"'),
}


def shell_env() -> dict:
    bin_dir = str(Path(promptctl_exe()[0]).parent)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "TERM": "dumb",
            "PS1": "$ ", "PROMPT": "$ ", "HISTFILE": os.devnull}


def missing_shell(name: str) -> str | None:
    """Why a completion test cannot run, or None."""
    if shutil.which(name) is None:
        return f"{name} is not installed (.ci/run installs it)"
    if Path(promptctl_exe()[0]).name != "promptctl":
        return "completion needs the installed console script (pip install -e .)"
    return None


class _Pty:
    def __init__(self, argv: list[str], cwd: Path) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
                                     env=shell_env(), start_new_session=True)
        os.close(slave)
        self.out = b""

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def read_until(self, marker: bytes, timeout: float = 15.0) -> bool:
        end = time.monotonic() + timeout
        while marker not in self.out and time.monotonic() < end:
            if select.select([self.master], [], [], 0.1)[0]:
                try:
                    self.out += os.read(self.master, 65536)
                except OSError:
                    return False
        return marker in self.out

    def settle(self, quiet: float = 0.5, timeout: float = 8.0) -> None:
        """Read until the shell prints nothing for `quiet` seconds (a completion finished)."""
        end = time.monotonic() + timeout
        last = time.monotonic()
        while time.monotonic() - last < quiet and time.monotonic() < end:
            if select.select([self.master], [], [], 0.05)[0]:
                try:
                    self.out += os.read(self.master, 65536)
                except OSError:
                    return
                last = time.monotonic()

    def close(self) -> None:
        try:
            self.send("exit\n")
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        finally:
            os.close(self.master)


def complete_line(shell: str, line: str, cwd: Path) -> str:
    """Type `line` in `shell`, press Tab, and return the command line as Tab left it."""
    argv, setup = SHELLS[shell]
    term = _Pty(argv, cwd)
    try:
        term.send(setup + "\necho READY-$((40+2))\n")
        assert term.read_until(b"READY-42"), term.out.decode(errors="replace")
        term.settle(quiet=0.2)
        term.send(line + "\t")
        term.settle()
        # Ctrl-A, `echo`, Ctrl-E: the shell prints the edited line back
        term.send("\x01echo RESULT:\x05:END\n")
        assert term.read_until(b":END\r\n"), term.out.decode(errors="replace")
    finally:
        term.close()
    text = term.out.decode(errors="replace")
    start = text.rindex("RESULT:", 0, text.rindex(":END\r\n")) + len("RESULT:")
    return text[start:text.rindex(":END\r\n")].strip()


def fish_complete(line: str, cwd: Path) -> list[str]:
    """fish's own completion of `line` (`complete -C`), with promptctl's script loaded."""
    script = f"promptctl --show-completion fish | source; complete -C {line!r}"
    result = subprocess.run(["fish", "--no-config", "-c", script], capture_output=True, text=True,
                            cwd=cwd, env=shell_env(), timeout=30)
    assert result.returncode == 0, result.stderr
    return [row.split("\t", 1)[0] for row in result.stdout.splitlines()]


def make_demo(root: Path) -> Path:
    """A repo from `init` with releases 1.0.0 and 1.1.0 (made in-process: faster)."""
    from support.repos import git_save
    from promptctl.services import bump, scaffold
    from promptctl.services.project import open_project
    scaffold.init(root)
    git_save(root, "init")
    bump.bump(open_project(root), "support-reply", "auto")
    system = root / "prompts/support-reply/system.j2"
    system.write_text(system.read_text().replace("at most three sentences", "at most two"))
    bump.bump(open_project(root), "support-reply", "auto")
    return root


def run_in_pty(args: list[str], cwd: Path, timeout: float = 60, columns: int = 100) -> str:
    """The real CLI with a pseudo-terminal `columns` wide as stdout and stderr; all it printed."""
    env = {**{k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")},
           "TERM": "xterm-256color", "NO_COLOR": "1"}
    _, out = read_pty([*promptctl_exe(), *args], cwd, env, timeout, columns)
    return out.decode(errors="replace").replace("\r\n", "\n")


def read_pty(argv: list[str], cwd: Path, env: dict, timeout: float = 60,
             columns: int | None = None) -> tuple[int, bytes]:
    """Run `argv` with a pseudo-terminal as stdout and stderr, as a user's shell does:
    (exit code, every byte it printed)."""
    import fcntl
    import struct
    import termios
    master, slave = pty.openpty()
    if columns is not None:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen(argv, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL,
                            cwd=cwd, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:        # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=timeout)
    os.close(master)
    return proc.returncode, b"".join(chunks)
