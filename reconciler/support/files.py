"""Atomic file writes that give files the permissions an editor or pip-compile would.

``tempfile.mkstemp`` creates files with mode 0600 whatever the umask, so a lock, a state marker or
``reconciler.toml`` written through it becomes unreadable to every other account (a service user,
a monitoring probe). Here the temporary file is created with ``0o666`` and the kernel applies the
umask; a file that already exists keeps its mode on rewrite.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path


def write_atomic(
    path: Path,
    data: str | bytes,
    *,
    prefix: str | None = None,
    follow_symlinks: bool = True,
    durable: bool = True,
) -> None:
    """Replace ``path`` with ``data``: temporary file beside it, fsync, rename.

    A new file gets ``0o666`` minus the umask; an existing one keeps its permission bits. A
    symlink is followed (its target is replaced) unless ``follow_symlinks`` is false. The
    temporary file is named ``<prefix><random>`` (default ``.<name>.``) in the same directory.
    """
    target = path.resolve() if follow_symlinks else path
    try:
        mode: int | None = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = None
    payload = data.encode("utf-8") if isinstance(data, str) else data
    base = prefix if prefix is not None else f".{target.name}."
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    while True:
        tmp = target.parent / f"{base}{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666)  # the umask applies, as for any editor
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            if durable:
                os.fsync(handle.fileno())
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(target.parent)


def write_if_changed(path: Path, text: str) -> bool:
    """Atomically replace ``path`` with ``text`` unless it already holds exactly that."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)
    return True


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable where the platform allows it."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def display_path(root: Path, path: Path) -> str:
    """``path`` relative to ``root`` for messages, or as given when it is outside."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


@contextlib.contextmanager
def built_then_renamed(
    target: Path, *, work: Path | None = None, mark: str | None = None
) -> Iterator[Path]:
    """A fresh directory to build ``target`` in (a helper venv, say), under ``work`` (default:
    beside ``target``; same file system). When the block ends normally the ``mark`` file is
    written into it and it replaces ``target`` by a rename; otherwise it is deleted."""
    target.parent.mkdir(parents=True, exist_ok=True)
    base = work if work is not None else target.parent
    base.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(dir=base, prefix=".building-"))
    try:
        yield building
        if mark is not None:
            (building / mark).write_text("", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        building.rename(target)
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)


def sync_filesystems(paths: Iterable[Path]) -> None:
    """Make everything written under ``paths`` durable: one ``syncfs`` per file system (Linux),
    instead of an fsync per file; ``sync`` where ``syncfs`` is missing."""
    devices: dict[int, Path] = {}
    for path in paths:
        with contextlib.suppress(OSError):
            devices.setdefault(path.stat().st_dev, path)
    if not devices:
        return
    syncfs = _syncfs()
    if syncfs is None:
        os.sync()
        return
    for path in devices.values():
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            os.sync()
            continue
        try:
            if syncfs(fd) != 0:
                os.sync()
        finally:
            os.close(fd)


def _syncfs() -> Callable[[int], int] | None:
    """libc's ``syncfs(2)``, or None where there is none."""
    import ctypes  # noqa: PLC0415 - apply only

    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    return function
