"""The write lock's hand-over after kill -9: a dead writer's git commands are waited for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from promptctl import locking

CHILD = """
import subprocess, sys, time
from pathlib import Path
from promptctl import locking
with locking.write_lock(Path(sys.argv[1])), locking.children_lease(Path(sys.argv[1])):
    # what store.run_git passes to every git command of a write; it leaves a mark as it ends
    finish = "import sys, time; time.sleep(1.5); open(sys.argv[1], 'w').write('done')"
    subprocess.Popen([sys.executable, "-c", finish, str(Path(sys.argv[1]) / "git-finished")],
                     pass_fds=locking.child_fds())
    print("started", flush=True)
    time.sleep(30)
"""


def _killed_writer(state_dir) -> None:
    writer = subprocess.Popen([sys.executable, "-c", CHILD, str(state_dir)], stdout=subprocess.PIPE,
                              text=True)
    assert writer.stdout.readline().strip() == "started"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()


def test_a_recovery_waits_for_the_git_commands_a_killed_writer_left_running(tmp_path):
    _killed_writer(tmp_path)
    assert locking.wait_for_children(tmp_path, timeout=0.2) is False
    assert not (tmp_path / "git-finished").exists()
    assert locking.wait_for_children(tmp_path, timeout=10) is True
    assert (tmp_path / "git-finished").read_text() == "done"    # it waited for the git command


def test_the_write_lock_itself_is_free_once_the_writer_is_dead(tmp_path):
    _killed_writer(tmp_path)
    lock = locking.try_lock(tmp_path, grace=1.0)
    assert lock is not None
    lock.release()


def test_a_finished_writer_leaves_nothing_to_wait_for(tmp_path):
    with locking.write_lock(tmp_path), locking.children_lease(tmp_path):
        assert locking.child_fds() != ()
        subprocess.run([sys.executable, "-c", "pass"], pass_fds=locking.child_fds(), check=True)
    assert locking.child_fds() == ()
    assert locking.wait_for_children(tmp_path, timeout=0) is True


def test_a_daemon_a_git_command_left_behind_does_not_hold_the_lease(tmp_path):
    with locking.write_lock(tmp_path), locking.children_lease(tmp_path):
        daemon = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(20)"],
                                  pass_fds=locking.child_fds())
    try:
        assert locking.wait_for_children(tmp_path, timeout=0) is True
    finally:
        daemon.kill()
        daemon.wait()
