"""Lock formats behind one protocol: pip requirements (``lock/<name>.txt``) and PEP 751
(``lock/pylock.<name>.toml``).

Every format reads into the same :class:`~reconciler.models.Lock` and
:class:`~reconciler.models.LockedPackage` values, so the planner, ``apply``, ``fetch`` and
``status`` never ask which format a lock has. A format is chosen by name from :data:`FORMATS`
(the one registry the settings validator, ``export --format`` and the lock writer read).
Staleness is format-neutral (:func:`reconciler.lockfile.lock_staleness`), plus one reason of its
own: a lock found only in another format than the plugin asks for is stale
("lock format changed (requirements -> pylock)").
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.backends import LOCK_FORMATS, lock_file
from reconciler.errors import ConfigError, LockError, SafetyError
from reconciler.lockfile import with_locations

if TYPE_CHECKING:
    from reconciler.lockformats.base import LockFormat
    from reconciler.models import DesiredState, Lock, Plugin


def _make(name: str) -> LockFormat:
    """A new instance of the format called ``name`` (KeyError for an unknown name). Each
    format's module is imported only when a lock of that format is read or written: a plan of
    requirements locks never loads the PEP 751 machinery (tomllib, packaging.pylock)."""
    if name == "requirements":
        from reconciler.lockformats.requirements import RequirementsFormat  # noqa: PLC0415 - start-up: only the formats in use

        return RequirementsFormat()
    if name == "pylock":
        from reconciler.lockformats.pylock import PylockFormat  # noqa: PLC0415 - start-up: only the formats in use

        return PylockFormat()
    raise KeyError(name)


#: The lock format names, in the order they are documented (``requirements`` is the default).
FORMAT_NAMES = LOCK_FORMATS
_CACHE: dict[str, LockFormat] = {}


def get_format(name: str) -> LockFormat:
    """The lock format called ``name``; ConfigError naming the allowed ones otherwise."""
    found = _CACHE.get(name)
    if found is not None:
        return found
    try:
        found = _CACHE[name] = _make(name)
    except KeyError:
        raise ConfigError(
            f"unknown lock format {name!r} (use one of {', '.join(FORMAT_NAMES)})"
        ) from None
    return found


def read(plugin: str, path: Path, lock_format: str, project_dir: Path | None = None) -> Lock | None:
    """Parse the lock at ``path`` in ``lock_format``; None when the file does not exist.

    With ``project_dir``, local projects' locations are resolved
    (:func:`reconciler.lockfile.with_locations`), so that the planner reads nothing from disk.
    """
    from reconciler.support.files import read_text_in  # noqa: PLC0415 - start-up: shutil and tempfile, only when a file is read

    try:
        # never blocks (a FIFO), never follows a link out of the lock directory, a BOM as pip
        text = read_text_in(path, path.parent, bom=True)
    except FileNotFoundError:
        return None
    except SafetyError as exc:
        raise LockError(str(exc), plugin=plugin) from None
    except UnicodeDecodeError as exc:
        raise LockError(
            f"cannot read {path}: not UTF-8 (byte {exc.start})", plugin=plugin
        ) from None
    except OSError as exc:
        raise LockError(
            "cannot read", file=path, plugin=plugin, cause=exc.strerror or str(exc)
        ) from exc
    try:
        lock = get_format(lock_format).parse(plugin, path, text)
    except RecursionError:  # tomllib recurses per nested table or array
        raise LockError("nested too deeply", file=path.name, plugin=plugin) from None
    return with_locations(lock, project_dir)


def read_lock(desired: DesiredState, name: str) -> Lock | None:
    """The lock of plugin ``name``: in its own format, else (a format switch not yet locked)
    in another format, which :func:`reconciler.lockfile.lock_staleness` then calls stale."""
    return read_plugin_lock(desired, name, desired.plugin(name))


def read_plugin_lock(desired: DesiredState, name: str, plugin: Plugin | None) -> Lock | None:
    """:func:`read_lock` for plugin ``name`` already looked up (``plugin``: what
    ``desired.plugin(name)`` returns), for callers reading every plugin's lock."""
    wanted = plugin.lock_format if plugin is not None else "requirements"
    lock = read(name, desired.plugin_lock_path(name, plugin), wanted, desired.project_dir)
    if lock is not None:
        return lock
    for other in FORMAT_NAMES:
        if other != wanted:
            found = read(
                name, desired.plugin_lock_path(name, plugin, other), other, desired.project_dir
            )
            if found is not None:
                return found
    return None


def patterns(name: str) -> tuple[str, str]:
    """Globs (under the lock dir) matching the files of the format called ``name``, plain and
    grouped (a Meltano ``<type>/``), without loading the format's module."""
    return lock_file(name, "*"), lock_file(name, "*/*")


def label(path: Path) -> str:
    """The plugin name a lock file stands for (``pylock.tap-csv.toml`` -> ``tap-csv``)."""
    for name in FORMAT_NAMES:
        if path.match(lock_file(name, "*")):
            return get_format(name).plugin_label(path)
    return path.stem


def other_paths(desired: DesiredState, name: str) -> tuple[Path, ...]:
    """Where plugin ``name``'s lock would be in the formats it does not use."""
    plugin = desired.plugin(name)
    wanted = plugin.lock_format if plugin is not None else "requirements"
    return tuple(desired.lock_path(name, f) for f in FORMAT_NAMES if f != wanted)


def all_paths(desired: DesiredState, name: str) -> tuple[Path, ...]:
    """Where plugin ``name``'s lock may be, in every format."""
    return tuple(desired.lock_path(name, f) for f in FORMAT_NAMES)


__all__ = [
    "FORMAT_NAMES",
    "all_paths",
    "get_format",
    "label",
    "other_paths",
    "patterns",
    "read",
    "read_lock",
    "read_plugin_lock",
]
