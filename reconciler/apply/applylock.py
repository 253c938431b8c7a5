"""One apply at a time per venv root: an exclusive ``fcntl`` lock on ``.reconciler.lock``."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from reconciler.errors import ReconcilerError

LOCK_NAME = ".reconciler.lock"


class LockHeld(ReconcilerError):
    """Another apply holds the venv root's lock."""


@contextlib.contextmanager
def exclusive(root: Path, timeout: float) -> Iterator[None]:
    """Hold the venv root's lock, waiting up to ``timeout`` seconds for another holder."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)  # umask applies
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
