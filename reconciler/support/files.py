"""Atomic file writes that give files the permissions an editor or pip-compile would.

``tempfile.mkstemp`` creates files with mode 0600 whatever the umask, so a lock, a state marker or
``reconciler.toml`` written through it becomes unreadable to every other account (a service user,
a monitoring probe). Here the temporary file is created with ``0o666`` and the kernel applies the
umask; a file that already exists keeps its mode on rewrite.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from reconciler.errors import SafetyError
from reconciler.support.paths import file_kind


class NotRegularFile(SafetyError):
    """A path reconciler would read or replace is a FIFO, device, directory or socket, or a
    symlink out of its directory (or root): refused, never opened blocking or replaced."""


def _outside(path: Path, resolved: Path, root: Path) -> bool:
    root = root.resolve()
    return resolved != root and root not in resolved.parents


#: The largest project or lock file reconciler reads (a real one is a few kB; a universal lock
#: of hundreds of hashed pins well under 1 MiB): bounded memory and time whatever the input.
MAX_FILE_SIZE = 16 << 20


def read_regular(path: Path, root: Path | None = None, limit: int = MAX_FILE_SIZE) -> bytes:
    """The bytes of ``path``, refused unless it is a regular file.

    Never blocks: the file is opened ``O_NONBLOCK`` (a FIFO or a device is refused by
    ``fstat`` before any read). A symlink is followed only when it resolves inside ``root``
    (given: the project) and is refused otherwise; the message names the path and what it is,
    never its content. ``FileNotFoundError`` passes through.
    """
    target = path
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        resolved = path.resolve()
        if root is None or _outside(path, resolved, root):
            where = f" (outside {root})" if root is not None else ""
            raise NotRegularFile(f"refusing to read {path}: a symlink to {path.readlink()}{where}")
        target = resolved
    return _read_file(target, path, limit)


def read_unlinked(path: str, limit: int = MAX_FILE_SIZE) -> bytes:
    """:func:`read_regular` of a file that must not be a symlink (``root`` None), in fewer
    calls: no ``lstat`` first (a symlink is refused by ``O_NOFOLLOW``). For files read by the
    hundred (every distribution's ``direct_url.json``); ``FileNotFoundError`` passes through."""
    return _read_file(path, path, limit)


def _read_file(target: str | Path, path: str | Path, limit: int) -> bytes:
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(target, flags)
    except OSError as exc:
        if exc.errno in (40, 6):  # ELOOP (a link swapped in), ENXIO (a FIFO without writer)
            raise NotRegularFile(f"refusing to read {path}: not a regular file") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = file_kind(info.st_mode)
            raise NotRegularFile(f"refusing to read {path}: {kind}, not a regular file")
        too_big = NotRegularFile(f"refusing to read {path}: larger than {limit >> 20} MiB")
        if info.st_size > limit:
            raise too_big
        chunks, size = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:  # grew while being read
                raise too_big
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def writable_target(path: Path, *, follow_symlinks: bool = True) -> Path:
    """Where a write of ``path`` goes: ``path`` itself, or the target of a symlink that stays in
    the same directory. Raises :class:`NotRegularFile` for a FIFO, device, directory or socket
    (never replaced by a file, never opened), and for a symlink leaving the directory."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return path
    if stat.S_ISLNK(info.st_mode):
        if not follow_symlinks:
            return path  # the link itself is replaced, nothing it points to
        resolved = path.resolve()
        if resolved.parent != path.absolute().parent.resolve():
            raise NotRegularFile(
                f"refusing to write {path}: a symlink to {path.readlink()} (outside its directory)"
            )
        try:
            info = resolved.stat()
        except FileNotFoundError:
            return resolved
        path = resolved
    if not stat.S_ISREG(info.st_mode):
        raise NotRegularFile(
            f"refusing to write {path}: {file_kind(info.st_mode)}, not a regular file"
        )
    return path


def write_atomic(
    path: Path,
    data: str | bytes,
    *,
    prefix: str | None = None,
    follow_symlinks: bool = True,
    durable: bool = True,
    sync_dir: bool = True,
    sync_file: bool = True,
) -> None:
    """Replace ``path`` with ``data``: temporary file beside it, fsync, rename, fsync of the
    directory (the rename durable).

    A new file gets ``0o666`` minus the umask; an existing one keeps its permission bits. A
    symlink is followed (its target is replaced) unless ``follow_symlinks`` is false. The
    temporary file is named ``<prefix><random>`` (default ``.<name>.``) in the same directory.
    Without ``sync_dir`` the caller syncs the directory (once for many files: :func:`fsync_dir`);
    the file is old or new all the same. Without ``sync_file`` only the rename is made durable:
    after a power cut the file may be new but empty or torn (for a reader that takes a torn
    file for "not complete").
    """
    target = writable_target(path, follow_symlinks=follow_symlinks)
    try:
        mode: int | None = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = None
    payload = data.encode("utf-8") if isinstance(data, str) else data
    base = prefix if prefix is not None else f".{target.name}."
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    while True:
        tmp = target.parent / f"{base}{os.urandom(4).hex()}.tmp"
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
            if durable and sync_file:
                os.fsync(handle.fileno())
        tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.filename is None:  # ENOSPC from write() names no file: name the one written
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable and sync_dir:
        fsync_dir(target.parent)


def write_if_changed(path: Path, text: str, *, sync_dir: bool = True) -> bool:
    """Atomically replace ``path`` with ``text`` unless it already holds exactly that
    (``sync_dir``: see :func:`write_atomic`)."""
    target = writable_target(path)  # refuses a FIFO or device before any read
    try:
        if read_regular(target).decode("utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text, sync_dir=sync_dir)
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


def read_text_in(path: Path, root: Path | None = None, *, bom: bool = False) -> str:
    """:func:`read_regular` decoded as UTF-8 (``bom``: a leading UTF-8 BOM is dropped, as pip
    and the YAML/TOML readers of other tools accept it). Not the ``utf-8-sig`` codec: that loads
    a codec module on every plan, and its errors count bytes from after the BOM, not the file's
    start."""
    text = read_regular(path, root).decode("utf-8")
    return text.removeprefix("\ufeff") if bom else text


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
    import shutil  # noqa: PLC0415 - start-up: readers of this module (observe) never build
    import tempfile  # noqa: PLC0415 - start-up: as above

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


_found: dict[str, Callable[[int], int] | None] = {}


def _syncfs() -> Callable[[int], int] | None:
    """libc's ``syncfs(2)``, or None where there is none (looked up once)."""
    if "syncfs" not in _found:
        import ctypes  # noqa: PLC0415 - apply only

        try:
            _found["syncfs"] = ctypes.CDLL(None, use_errno=True).syncfs
        except (OSError, AttributeError):
            _found["syncfs"] = None
    return _found["syncfs"]


def prepare_sync() -> None:
    """Look :func:`sync_filesystems`'s ``syncfs`` up on a thread of its own, while the caller
    waits for an installer (ctypes' import, ~1.5 ms of CPU, then overlaps the child's run
    instead of following it)."""
    if "syncfs" not in _found:
        import threading  # noqa: PLC0415 - loaded already wherever an installer runs

        # not a daemon: an exit right after a failed install waits the ~1 ms for it, rather
        # than finalising the interpreter under an import
        threading.Thread(target=_syncfs, name="prepare-sync").start()
