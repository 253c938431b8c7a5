"""Temporary files where the next run finds them: ``<venv-root>/.reconciler/tmp/run-*``.

Everything temporary of a run -- reconciler's own files and the ``TMPDIR`` of its pip, uv and
pip-compile children -- lives in one run directory, never loose in the system temp dir::

    <venv-root>/.reconciler/tmp/run-4242-1a2b3c4d.lock    held (flock) while the run lives
    <venv-root>/.reconciler/tmp/run-4242-1a2b3c4d/        the run's TMPDIR

A run removes its directory when it ends. A run that was killed (SIGKILL, power loss) cannot, but
its lock is released by the kernel, so the next run that opens a scratch directory (or the next
``apply``) sees a lock it can take and deletes what the dead run left. A live run's lock cannot
be taken, so its files are never touched.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from reconciler.support.paths import check_inside

#: Below the venv root: reconciler's own directory, then the scratch area.
SCRATCH = Path(".reconciler") / "tmp"


def scratch_base(venv_root: Path) -> Path:
    """Where the run directories of ``venv_root`` live."""
    return venv_root / SCRATCH


def _rmtree(path: Path) -> None:
    """``rm -rf path``, errors ignored (a run directory, whatever it holds)."""
    try:
        path.rmdir()  # the common case: the children left nothing
    except OSError:
        pass
    else:
        return
    import shutil  # noqa: PLC0415 - start-up: zlib, bz2, lzma; only when something is removed

    shutil.rmtree(path, ignore_errors=True)


def remove(path: Path) -> None:
    """``rm -rf path``, errors ignored: a directory made by :meth:`Scratch.mkdtemp`, whose
    files are unlinked one by one (no link followed) before it is removed, so that shutil is
    loaded only when it holds a directory."""
    with contextlib.suppress(OSError), os.scandir(path) as entries:
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False):
                Path(entry.path).unlink(missing_ok=True)
    _rmtree(path)


def _try_lock(path: Path) -> int | None:
    """An fd holding an exclusive lock on ``path``, or None when it is held (or gone)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _names(base: Path) -> list[str]:
    try:
        return sorted(os.listdir(base))
    except OSError:
        return []


def stale(base: Path) -> list[Path]:
    """What dead runs left under ``base`` (read-only: nothing is deleted)."""
    names = _names(base)
    found: list[Path] = []
    for name in names:
        path = base / name
        if name.endswith(".lock") and name.startswith(("run-", ".new-run-")):
            fd = _try_lock(path)
            if fd is not None:
                os.close(fd)
                found.append(path)
        elif name.startswith("run-") and f"{name}.lock" not in names:
            found.append(path)
    return found


def check_walls(base: Path) -> None:
    """``.reconciler`` and ``.reconciler/tmp`` are real directories of the venv root."""
    root = base
    for _ in SCRATCH.parts:
        root = root.parent
    check_inside(root, base, what="use scratch area")


def sweep(base: Path) -> list[Path]:
    """Delete what dead runs left under ``base``; return the run directories removed."""
    check_walls(base)
    removed: list[Path] = []
    names = _names(base)
    for name in names:
        path = base / name
        if name.endswith(".lock") and name.startswith(("run-", ".new-run-")):
            fd = _try_lock(path)
            if fd is None:
                continue  # a live run
            try:
                directory = base / name.removeprefix(".new-").removesuffix(".lock")
                if name.startswith("run-") and directory.is_dir():
                    _rmtree(directory)
                    removed.append(directory)
                path.unlink(missing_ok=True)  # still holding the lock: nobody reuses it
            finally:
                os.close(fd)
        elif name.startswith("run-") and f"{name}.lock" not in names and path.is_dir():
            # A directory whose lock is gone (a sweeper died half-way): nobody owns it.
            _rmtree(path)
            removed.append(path)
    return removed


class Scratch:
    """The temporary directory of one run, created (after a sweep) when first needed."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._directory: Path | None = None
        self._fd: int | None = None
        self._created: list[Path] = []
        self._guard = threading.Lock()

    def directory(self) -> Path:
        """The run directory (created on first use; removed by :meth:`close`)."""
        with self._guard:
            if self._directory is None:
                self._directory = self._open()
            return self._directory

    def mkdtemp(self, prefix: str) -> Path:
        """A new private (``0o700``) directory ``<prefix><random>`` inside the run directory:
        what ``tempfile.mkdtemp`` makes, without loading tempfile (random, bisect, shutil)."""
        parent = self.directory()
        while True:
            path = parent / f"{prefix}{os.urandom(6).hex()}"
            try:
                path.mkdir(mode=0o700)
            except FileExistsError:
                continue
            return path

    def _open(self) -> Path:
        check_walls(self.base)
        missing = []
        for parent in (self.base, *self.base.parents):
            if parent.exists():
                break
            missing.append(parent)
        self.base.mkdir(parents=True, exist_ok=True)
        self._created = missing  # deepest first: removed in this order when empty
        sweep(self.base)
        while True:
            name = f"run-{os.getpid()}-{os.urandom(4).hex()}"
            pending = self.base / f".new-{name}.lock"
            fd = os.open(pending, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                pending.rename(self.base / f"{name}.lock")  # the lock is taken before it is seen
            except FileNotFoundError:  # a sweeper took it for a dead run's: try another name
                os.close(fd)
                continue
            break
        self._fd = fd
        directory = self.base / name
        directory.mkdir()
        return directory

    def close(self) -> None:
        """Delete the run directory and its lock, and the parents this run created if empty."""
        with self._guard:
            directory, fd = self._directory, self._fd
            self._directory = self._fd = None
            if directory is None or fd is None:
                return
            try:
                _rmtree(directory)
                Path(f"{directory}.lock").unlink(missing_ok=True)
            finally:
                os.close(fd)
            for parent in self._created:
                try:
                    parent.rmdir()
                except OSError:
                    break


_current: list[Scratch] = []


@contextlib.contextmanager
def session(venv_root: Path) -> Iterator[Scratch]:
    """Make ``<venv_root>/.reconciler/tmp`` this process's scratch area for the block."""
    scratch = Scratch(scratch_base(venv_root))
    _current.append(scratch)
    try:
        yield scratch
    finally:
        _current.remove(scratch)
        scratch.close()


def current() -> Scratch | None:
    """The scratch area of the innermost :func:`session`, if any."""
    return _current[-1] if _current else None


def tmpdir() -> Path | None:
    """The directory temporary files of this run go to (None: the system's default)."""
    scratch = current()
    return None if scratch is None else scratch.directory()
