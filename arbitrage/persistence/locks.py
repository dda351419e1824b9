"""One bot per state file and per ledger: an exclusive lock held for the process's life.

Two processes on one STATE_PATH / TRADES_LOG would take each other's fills for liquidations and
overwrite each other's state. The lock is `flock` on `<file>.lock` (the state file itself is
replaced by rename, so its inode cannot carry a lock): the kernel releases it when the process
ends in any way, SIGKILL included, so a lock is never stale. The lock file holds the PID of its
holder so the second process can say who it is.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path


class LockError(Exception):
    """The lock cannot be taken; the message names the setting, the file and the holder."""


class FileLock:
    def __init__(self, setting: str, path: str | os.PathLike) -> None:
        self.setting = setting
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> "FileLock":
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LockError(f"{self.setting}: cannot create the lock file {self.lock_path} "
                            f"({exc.strerror or exc}) (expected a writable folder)") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"PID {holder}" if holder else "another process (PID not yet written)"
            raise LockError(f"{self.setting}: {self.path} is in use by another bot, {who} "
                            f"(holds {self.lock_path}); two bots on one file take each other's "
                            f"fills. Stop it first, or give this one other STATE_PATH and "
                            f"TRADES_LOG files") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """The lock file stays (removing it would race with a process about to lock it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def lock_all(locks: list[FileLock]) -> list[FileLock]:
    """Take every lock or none (those already taken are released before the error goes up)."""
    taken: list[FileLock] = []
    try:
        for lock in locks:
            taken.append(lock.acquire())
    except LockError:
        for lock in taken:
            lock.release()
        raise
    return taken
