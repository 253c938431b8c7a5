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

#: What the lock file looked like (device, inode, size, mtime, ctime), taken while it was free
#: and empty; see :func:`free_stamp`.
Stamp = tuple[int, int, int, int, int]


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


def _stamp(st: os.stat_result) -> Stamp | None:
    if not stat.S_ISREG(st.st_mode) or st.st_size != 0:
        return None  # held now, or its holder was killed: it tells nothing
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def free_stamp(root: Path) -> Stamp | None:
    """The lock file of ``root`` as it is now, when no apply holds it (None when it is
    missing, held, or was left by a killed holder).

    Every holder (:func:`exclusive`: ``apply``, ``rollback``) writes its pid into the file when
    it takes the lock and empties it when it lets go, and both writes change the file's mtime
    and ctime. So a free, empty file whose stamp is the same later, under the lock, proves that
    no holder changed anything in between (a holder killed mid-way leaves its pid: no stamp).
    """
    try:
        return _stamp(os.lstat(root / LOCK_NAME))
    except OSError:
        return None


@contextlib.contextmanager
def exclusive(root: Path, timeout: float) -> Iterator[Stamp | None]:
    """Hold the venv root's lock, waiting up to ``timeout`` seconds for another holder; yields
    the lock file's :func:`free_stamp` as it was found on taking the lock."""
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
        found = _stamp(os.fstat(fd))
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield found
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
