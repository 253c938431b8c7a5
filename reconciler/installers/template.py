"""Venvs created without a process per venv: the installer's own ``venv`` output, made once per
(installer tool, base interpreter) into reconciler's cache, then copied with its path rewritten.

A venv is a ``pyvenv.cfg``, ``bin/python`` links to the base interpreter, an empty
``site-packages`` and activation scripts that hold the venv's absolute path. Copying the tool's
own output (``uv venv``, ``python -m venv``) keeps every venv byte-for-byte what that tool writes
at that path, for a copy of a dozen small files instead of a process (~20-50 ms per venv).

Used only where that is exact: the template is keyed by the tool's and the interpreter's file
identity (path, inode, size, mtime), so a new uv or a rebuilt Python makes a new template; and the
target path must be made of characters no tool quotes or escapes in a script
(:data:`PLAIN_PATH`); any other path gets the tool's own process.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

from reconciler.support.digest import sha256

#: Paths written verbatim (no quoting or escaping) into ``activate`` scripts by uv and venv.
PLAIN_PATH = re.compile(r"/[A-Za-z0-9._/+-]*")
_FORMAT = 1
_NAME_PREFIX = "reconciler-venv-template-"
_META = "template.json"


def identity(path: str) -> str:
    """A key that changes when the file at ``path`` (followed) changes."""
    real = Path(path).resolve()
    st = real.stat()
    return f"{real}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def create(
    kind: str,
    tool: str,
    python: str,
    target: Path,
    make: Callable[[Path], None],
    cache: Path,
) -> bool:
    """Create the venv ``target`` (an existing directory, or absent) as ``make`` would.

    ``make(path)`` runs the tool (``kind``, whose executable is ``tool``) to create a venv at
    ``path`` for interpreter ``python``. Returns True when ``target`` was copied from the
    template, False when ``make`` built it directly (an unusual path, or no cache).
    """
    plain = str(target.absolute())
    if not PLAIN_PATH.fullmatch(plain):
        make(target)
        return False
    try:
        key = sha256(f"{_FORMAT}\0{kind}\0{identity(tool)}\0{identity(python)}".encode())
    except OSError:
        make(target)
        return False
    home = cache / "venv-templates" / key.hexdigest()[:32]
    built_at = _usable(home)
    if built_at is None:
        built_at = _build(home, make)
        if built_at is None:
            make(target)
            return False
    _copy(home / Path(built_at).name, built_at, target)
    return True


def _usable(home: Path) -> str | None:
    """The path the template at ``home`` was built at, when it is whole; else None."""
    try:
        meta = json.loads((home / _META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    built_at = meta.get("built_at") if isinstance(meta, dict) else None
    if (
        not isinstance(built_at, str)
        or meta.get("format") != _FORMAT
        or not PLAIN_PATH.fullmatch(built_at)
        or not Path(built_at).name.startswith(_NAME_PREFIX)
    ):
        return None
    venv = home / Path(built_at).name
    if not (venv / "pyvenv.cfg").is_file() or not (venv / "bin" / "python").exists():
        return None
    return built_at


def _build(home: Path, make: Callable[[Path], None]) -> str | None:
    """Run the tool once into a fresh directory and move it into place (atomic; the first of
    concurrent builders wins). Returns the path it was built at, None if it cannot be cached."""
    staging = home.parent / f".tmp-{os.urandom(6).hex()}"
    venv = staging / f"{_NAME_PREFIX}{os.urandom(8).hex()}"  # unique: its name is rewritten too
    built_at = str(venv.absolute())
    if not PLAIN_PATH.fullmatch(built_at):
        return None
    try:
        staging.mkdir(parents=True)
    except OSError:
        return None
    try:
        make(venv)
        meta = {"format": _FORMAT, "built_at": built_at}
        (staging / _META).write_text(json.dumps(meta) + "\n", encoding="utf-8")
        try:
            staging.rename(home)
        except OSError:  # another run made it first (or a broken one is in the way)
            if _usable(home) is None:
                with contextlib.suppress(OSError):
                    import shutil  # noqa: PLC0415 - start-up: zlib, bz2, lzma; only when replacing

                    shutil.rmtree(home)
                with contextlib.suppress(OSError):
                    staging.rename(home)
    finally:
        import shutil  # noqa: PLC0415 - start-up: zlib, bz2, lzma; only when cleaning up

        shutil.rmtree(staging, ignore_errors=True)
    return _usable(home)


def _copy(source: Path, built_at: str, target: Path) -> None:
    """Copy the template venv ``source`` (made at ``built_at``) to ``target``, rewriting the
    path, then the directory's name (``python -m venv``'s prompt), in every file and link.
    Never follows or overwrites an existing entry; the umask applies as for the tool."""
    absolute = target.absolute()
    pairs = (
        (os.fsencode(built_at), os.fsencode(absolute)),
        (os.fsencode(Path(built_at).name), os.fsencode(absolute.name)),
    )

    def rewrite(data: bytes) -> bytes:
        for old, new in pairs:
            data = data.replace(old, new)
        return data

    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    target.mkdir(exist_ok=True)
    pending = [(source, target)]
    while pending:
        directory, dest = pending.pop()
        for entry in sorted(directory.iterdir()):
            info = entry.lstat()
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                link = rewrite(os.fsencode(entry.readlink()))
                (dest / entry.name).symlink_to(os.fsdecode(link))
            elif stat.S_ISDIR(info.st_mode):
                (dest / entry.name).mkdir(mode)
                pending.append((entry, dest / entry.name))
            elif stat.S_ISREG(info.st_mode):
                data = rewrite(entry.read_bytes())
                with os.fdopen(os.open(dest / entry.name, flags, mode), "wb") as handle:
                    handle.write(data)
