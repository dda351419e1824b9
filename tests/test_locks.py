"""One bot per state file and ledger (issue 10 item 4): flock on `<file>.lock`, the holder's PID
in it, released when the holder closes it or dies. flock locks belong to an open file, so a
second lock in this same process conflicts exactly as a second process would."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from arbitrage.persistence.locks import FileLock, LockError, lock_all


def test_a_second_lock_on_the_same_file_fails_naming_the_holder(tmp_path):
    first = FileLock("STATE_PATH", tmp_path / "state.json").acquire()
    try:
        with pytest.raises(LockError) as err:
            FileLock("STATE_PATH", tmp_path / "state.json").acquire()
        assert f"is in use by another bot, PID {os.getpid()} " in str(err.value)
        assert str(err.value).startswith("STATE_PATH: ")
    finally:
        first.release()
    FileLock("STATE_PATH", tmp_path / "state.json").acquire().release()   # free again


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    # a child takes the lock and is SIGKILLed while holding it: the kernel drops the lock, and the
    # PID left in the file does not block anyone
    code = ("import os, sys; from arbitrage.persistence.locks import FileLock; "
            f"FileLock('TRADES_LOG', {str(tmp_path / 't.csv')!r}).acquire(); "
            "print('locked', flush=True); sys.stdin.read()")
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True,
                             cwd=os.path.dirname(os.path.dirname(__file__)))
    assert child.stdout.readline().strip() == "locked"
    with pytest.raises(LockError, match=f"PID {child.pid} "):
        FileLock("TRADES_LOG", tmp_path / "t.csv").acquire()
    child.kill()
    child.wait(timeout=10)
    lock = FileLock("TRADES_LOG", tmp_path / "t.csv").acquire()
    assert (tmp_path / "t.csv.lock").read_text() == f"{os.getpid()}\n"
    lock.release()


def test_all_or_none(tmp_path):
    held = FileLock("TRADES_LOG", tmp_path / "t.csv").acquire()
    try:
        with pytest.raises(LockError, match="TRADES_LOG"):
            lock_all([FileLock("STATE_PATH", tmp_path / "s.json"),
                      FileLock("TRADES_LOG", tmp_path / "t.csv")])
        FileLock("STATE_PATH", tmp_path / "s.json").acquire().release()   # was let go
    finally:
        held.release()


def test_a_folder_that_cannot_hold_the_lock_file_is_named(tmp_path):
    with pytest.raises(LockError, match=r"TRADES_LOG: cannot create the lock file .*missing"):
        FileLock("TRADES_LOG", tmp_path / "missing" / "t.csv").acquire()
