"""One apply at a time per venv root: an exclusive ``fcntl`` lock on ``.reconciler.lock``."""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from reconciler.errors import ReconcilerError, SafetyError
from reconciler.support.paths import check_inside, file_kind

LOCK_NAME = ".reconciler.lock"


class LockHeld(ReconcilerError):
    """Another apply holds the venv root's lock."""


def check_lock_file(root: Path) -> Path:
    """The path of ``root``'s lock file; raise SafetyError when what is there is not a regular
    file (a symlink, FIFO, device or directory) or lies behind a link out of ``root``. Read
    only: ``plan`` refuses what ``apply`` will refuse."""
    path = root / LOCK_NAME
    check_inside(root, path, what="lock")
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise SafetyError(f"refusing to use {path} as the apply lock: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise SafetyError(f"refusing to use {path} as the apply lock: it is {file_kind(mode)}")
    return path


@contextlib.contextmanager
def exclusive(root: Path, timeout: float) -> Iterator[None]:
    """Hold the venv root's lock, waiting up to ``timeout`` seconds for another holder."""
    root.mkdir(parents=True, exist_ok=True)
    path = check_lock_file(root)
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        fd = os.open(path, flags, 0o666)  # umask applies
    except OSError as exc:
        raise SafetyError(f"refusing to use {path} as the apply lock: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise SafetyError(f"refusing to use {path} as the apply lock: not a regular file")
    try:
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                    raise LockHeld(
                        f"another apply holds the lock (pid {holder}) on {path}"
                    ) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
