"""Roots are walls: a path reconciler deletes, renames, builds in or writes under stays in its root.

Every mutating operation on a venv root (``.generations``, a plugin's generations, trash,
scratch, flip links, Meltano's per-plugin directories, the apply lock) first calls
:func:`check_inside` with the root it belongs to. The check is lexical *and* physical: the path
must be spelled below the root without ``..``, and every component that exists between the root
and the path is ``lstat``-ed and must be a real directory, never a symlink (the last component may
be a symlink only where the caller replaces or unlinks the link itself, never follows it). A
project whose author replaced ``.venvs/.generations/<plugin>`` with a link to ``/var/lib/x``
therefore gets one ``error:`` line naming the link and its target, and nothing is deleted or
built there.

The check runs right before acting; reconciler holds the venv root's apply lock meanwhile, and
the threat is a project file written before the run (a pull request), not a concurrent process
of the same user racing it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from reconciler.errors import SafetyError


def _describe(component: Path, path: Path) -> str:
    try:
        target = str(component.readlink())
    except OSError:
        target = "?"
    if component == path:
        return f"a symlink to {target}"
    return f"{component} is a symlink to {target}"


def check_inside(root: Path, path: Path, *, link_ok: bool = False, what: str = "touch") -> Path:
    """``path`` when it lies below ``root`` with no symlink on the way; raise SafetyError otherwise.

    ``link_ok``: the last component may itself be a symlink (a flip link or stable path that
    is replaced or unlinked, never followed). Components that do not exist yet end the walk
    (they will be created as real directories). The error names ``path`` and what the offending
    component points to: ``refusing to delete /p/.venvs/.generations/tap-x: /p/.venvs/.generations
    is a symlink to /var/lib/x (outside /p/.venvs)``.
    """
    walk_inside(root, path, link_ok=link_ok, what=what)
    return Path(os.path.abspath(path))  # noqa: PTH100 - resolve() would follow links


def walk_inside(
    root: Path, path: Path, *, link_ok: bool = False, what: str = "touch"
) -> os.stat_result | None:
    """:func:`check_inside`, returning the ``lstat`` of ``path`` itself, so that a caller needs
    no second look at it: None when it or a directory on the way does not exist (or ``path`` is
    ``root``: nothing below it was looked at)."""
    top = os.path.abspath(root)  # noqa: PTH100 - resolve() would follow links
    full = os.path.abspath(path)  # noqa: PTH100 - resolve() would follow links
    if full == top:
        return None
    prefix = top if top.endswith(os.sep) else top + os.sep
    # abspath leaves no ``..``: below means spelled below (and a POSIX ``//`` root is another)
    if not full.startswith(prefix) or full.startswith("//") != top.startswith("//"):
        raise SafetyError(f"refusing to {what} {full}: outside {top}")
    parts = full[len(prefix) :].split(os.sep)  # noqa: PTH206 - strings: no Path per component
    current = top
    info = None
    for index, part in enumerate(parts):
        current = prefix + part if index == 0 else current + os.sep + part
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SafetyError(f"refusing to {what} {full}: {current}: {exc.strerror}") from None
        last = index == len(parts) - 1
        if stat.S_ISLNK(info.st_mode):
            if last and link_ok:
                return info
            problem = _describe(Path(current), Path(full))
            raise SafetyError(f"refusing to {what} {full}: {problem} (outside {top})")
        if not last and not stat.S_ISDIR(info.st_mode):
            raise SafetyError(f"refusing to {what} {full}: {current} is not a directory")
    return info


#: Directories (``os.pathsep``-separated) the operator allows as a venv root or lock directory
#: outside the project; the project's own files cannot put one there.
ALLOW_ENV = "RECONCILER_ALLOW_OUTSIDE"


def operator_roots() -> list[Path]:
    """The roots the operator's environment names: ``$RECONCILER_ALLOW_OUTSIDE`` and
    ``$MELTANO_SYS_DIR_ROOT`` (resolved as Meltano resolves it: against the current directory)."""
    named = [p for p in os.environ.get(ALLOW_ENV, "").split(os.pathsep) if p]
    meltano = os.environ.get("MELTANO_SYS_DIR_ROOT")
    if meltano:
        named.append(meltano)
    return [Path(p).resolve() for p in named]


def check_root(root: Path, project: Path, what: str) -> None:
    """Raise SafetyError unless ``root`` (a venv root or lock directory) resolves inside
    ``project`` (symlinks followed: a link to elsewhere in the project is fine, a link out is
    not), or is a directory the operator's environment names (:func:`operator_roots`). A
    ``reconciler.toml`` or ``meltano.yml`` from a pull request cannot make reconciler, running
    as root, build or delete in ``/etc``."""
    resolved = root.resolve()
    if resolved in operator_roots():
        return
    top = project.resolve()
    if resolved != top and top not in resolved.parents:
        shown = Path(os.path.abspath(root))  # noqa: PTH100 - the path as configured
        target = f" (a symlink to {resolved})" if resolved != shown else ""
        raise SafetyError(
            f"refusing to use {shown} as the {what}{target}: outside the project {project} "
            f"(an operator allows it with {ALLOW_ENV}={shown})"
        )


def file_kind(mode: int) -> str:
    """``a FIFO``, ``a device``, ``a directory``, ``a socket``, ``a symlink`` or ``a file``."""
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symlink"
    return "a file"


def cache_dir() -> Path:
    """reconciler's cache directory (``$RECONCILER_CACHE_DIR``, else the XDG cache home's
    ``reconciler``): interpreter probes, venv templates, pip-tools' cache, kept tool logs."""
    explicit = os.environ.get("RECONCILER_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "reconciler"


def which(name: str, path: str | None = None) -> str | None:
    """The executable ``name`` found on ``path`` (default: ``$PATH``) as :func:`shutil.which`
    finds it on POSIX, without importing :mod:`shutil` (which loads zlib, bz2 and lzma, ~4 ms
    of every ``plan`` whose interpreter is a name such as ``python3``)."""
    if os.sep in name:  # a path (as os.path.dirname says): looked up as it is
        return name if _runnable(name) else None
    if path is None:
        path = os.environ.get("PATH")
        if path is None:
            try:
                path = os.confstr("CS_PATH")
            except (AttributeError, ValueError):
                path = os.defpath
    if not path:  # PATH='' finds nothing; PATH=':' looks in the current directory
        return None
    seen: set[str] = set()
    for directory in path.split(os.pathsep):
        if directory in seen:
            continue
        seen.add(directory)
        candidate = os.path.join(directory, name)  # noqa: PTH118 - a str in, a str out
        if _runnable(candidate):
            return candidate
    return None


def _runnable(path: str) -> bool:
    return os.access(path, os.F_OK | os.X_OK) and not os.path.isdir(path)  # noqa: PTH112 - a str
