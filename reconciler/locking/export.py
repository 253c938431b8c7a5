"""``reconciler export --format pylock|requirements PLUGIN``: one plugin's lock in a format.

The lock is read in whatever format it has (:func:`reconciler.lockformats.read_lock`) and
written in the other one with the same pins, hashes, markers, VCS commits and inputs digest,
so the exported file is as fresh as the lock it came from. Exporting to pylock looks up the
files behind each hash (:class:`reconciler.locking.artifacts.Finder`), as ``lock`` does.
"""

from __future__ import annotations

from pathlib import Path

from reconciler import lockformats
from reconciler.errors import LockError
from reconciler.lockformats.requirements import render_lock
from reconciler.locking.artifacts import lock_content
from reconciler.models import DesiredState


def export(desired: DesiredState, name: str, lock_format: str, dest: Path | None) -> str:
    """The text of plugin ``name``'s lock in ``lock_format``.

    ``dest`` is where it will be written (relative paths in a pylock are relative to its
    directory); None means standard output, for which paths are relative to the lock dir, as if
    the file were the plugin's own lock in that format.
    """
    plugin = desired.plugin(name)
    if plugin is None:
        raise LockError("not declared", plugin=name)
    target = lockformats.get_format(lock_format)
    lock = lockformats.read_lock(desired, name)
    if lock is None:
        rel = desired.lock_path(name).relative_to(desired.project_dir).as_posix()
        raise LockError(f"no lock ({rel} missing); run `reconciler lock`", plugin=name)
    if lock.inputs is None:
        raise LockError(f"{lock.path.name} has no reconciler inputs digest", plugin=name)
    path = dest.absolute() if dest is not None else desired.lock_path(name, lock_format)
    text = render_lock(lock)
    content = lock_content(desired, plugin, lock.inputs, text, lock, path)
    out = target.render(content)
    target.parse(name, path, out)  # what is exported reads back in its format
    return out
