"""Venv generations: a plugin's stable path is a symlink flipped atomically to a generation.

Where the stable path and the generations directory are is the layout's business
(:mod:`reconciler.layouts`); for ``.venvs``::

    tap-csv -> .generations/tap-csv/g0000000000000002    (the live venv, stable path)
    .generations/tap-csv/g0000000000000002/             (built at its final real path)
    .generations/tap-csv/g0000000000000001/             (previous, kept for rollback)
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable
from pathlib import Path

from reconciler.errors import ReconcilerError, SafetyError
from reconciler.layouts import (
    FLIP_INFIX,
    MARKER_NAME,
    Layout,
    check_walls,
    link_target_problem,
    live_generation,
)
from reconciler.models import MarkerStatus
from reconciler.state import MarkerCorrupt, read_marker
from reconciler.support import scratch
from reconciler.support.files import fsync_dir
from reconciler.support.paths import check_inside

__all__ = [
    "check_walls",
    "create_generation",
    "delete_generation",
    "flip",
    "flip_over_directory",
    "generations",
    "is_complete",
    "is_ours",
    "leftovers",
    "link_target_problem",
    "live_generation",
    "new_generation",
    "nothing_to_prune",
    "previous_generation",
    "prune",
    "stale_generations",
    "stray_flip_links",
    "stray_replaced_dirs",
]


def new_generation(layout: Layout, plugin: str) -> Path:
    """A fresh generation path (not yet created): one past the newest existing generation.

    Names sort by creation order (16 hex digits; older releases used the creation time, so a
    number past the newest of those still sorts last). The first generation of a plugin is
    always ``g0000000000000001``: rebuilding a venv root from nothing reuses the very paths of
    the last build, so uv finds its cached interpretation of each venv's interpreter (keyed by
    the executable's path) instead of starting every new venv's Python to query it.
    """
    directory = layout.generations_dir(plugin)
    newest = 0
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        names = []
    for name in names:
        with contextlib.suppress(ValueError):
            newest = max(newest, int(name[1:17], 16) if name.startswith("g") else 0)
    return directory / f"g{newest + 1:016x}"


def create_generation(layout: Layout, generation: Path, mark: Callable[[Path], None]) -> None:
    """Create the directory ``generation`` already holding its state marker.

    ``mark(directory)`` writes the marker into the directory while it is staged as
    ``.new-<name>-<hex>``; only then is it renamed to its ``g<id>`` name, so a directory named
    as a generation always carries the marker (nothing without the marker is ever deleted).
    """
    check_inside(layout.root, generation, what="build")
    generation.parent.mkdir(parents=True, exist_ok=True)
    check_inside(layout.root, generation, what="build")
    staging = generation.parent / f".new-{generation.name}-{os.urandom(3).hex()}"
    staging.mkdir()
    try:
        mark(staging)
        staging.rename(generation)
    except BaseException:
        import shutil  # noqa: PLC0415 - start-up: zlib, bz2, lzma; only when deleting

        shutil.rmtree(staging, ignore_errors=True)
        raise


def generations(layout: Layout, plugin: str) -> list[Path]:
    """Every generation directory of ``plugin``, oldest first."""
    return _named(layout, plugin, "g")


def _named(layout: Layout, plugin: str, prefix: str) -> list[Path]:
    """The entries of ``plugin``'s generations directory whose name starts with ``prefix``
    (symlinks left out), in name order."""
    directory = layout.generations_dir(plugin)
    try:
        names = sorted(os.listdir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [
        directory / n for n in names if n.startswith(prefix) and not (directory / n).is_symlink()
    ]


def is_complete(generation: Path) -> bool:
    """True when the generation's state marker says it was fully built."""
    try:
        marker = read_marker(generation)
    except MarkerCorrupt:
        return False
    return marker is not None and marker.status is MarkerStatus.COMPLETE


#: In a plugin's generations directory: the name of the generation ``rollback`` made live (a
#: deliberate choice, which ``run`` accepts though it no longer matches the lock); any later
#: flip or change of the plugin's venv removes it.
ROLLED_BACK = ".rolled-back"


def mark_rolled_back(layout: Layout, plugin: str, generation: Path) -> None:
    """Record that ``rollback`` made ``generation`` live."""
    record = layout.generations_dir(plugin) / ROLLED_BACK
    check_inside(layout.root, record, what="write")
    record.unlink(missing_ok=True)  # never written through a planted symlink
    with record.open("x", encoding="utf-8") as handle:
        handle.write(generation.name + "\n")


def clear_rolled_back(layout: Layout, plugin: str) -> None:
    """Forget a rollback of ``plugin`` (its venv is about to change, or it has)."""
    record = layout.generations_dir(plugin) / ROLLED_BACK
    check_inside(layout.root, record, what="delete")
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        record.unlink()


def rolled_back(layout: Layout, plugin: str) -> Path | None:
    """The live generation of ``plugin`` when ``rollback`` made it live and nothing has changed
    it since; None otherwise."""
    from reconciler.support.files import read_text_in  # noqa: PLC0415 - `run` only

    live = live_generation(layout, plugin)
    if live is None:
        return None
    try:
        recorded = read_text_in(layout.generations_dir(plugin) / ROLLED_BACK).strip()
    except (OSError, UnicodeDecodeError, ReconcilerError):
        return None
    return live if recorded == live.name else None


def flip(layout: Layout, plugin: str, generation: Path, *, durable: bool = True) -> None:
    """Point ``plugin``'s stable path at ``generation`` with one atomic rename of a new symlink
    (``durable=False``: the caller syncs the directory of links afterwards)."""
    clear_rolled_back(layout, plugin)
    stable = layout.stable_path(plugin)
    check_inside(layout.root, stable, link_ok=True, what="replace")
    check_inside(layout.root, generation, what="link to")
    relative = os.path.relpath(generation, stable.parent)
    temporary = stable.parent / f".{stable.name}{FLIP_INFIX}{os.urandom(4).hex()}"
    temporary.symlink_to(relative)
    try:
        temporary.replace(stable)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(stable.parent)


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def _rename_exchange(first: Path, second: Path) -> None:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); OSError if unsupported."""
    import ctypes  # noqa: PLC0415 - only when a real directory is replaced

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError) as exc:
        raise OSError(errno.ENOSYS, "renameat2 not available") from exc
    result = renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(second))


def flip_over_directory(
    layout: Layout, plugin: str, generation: Path, *, durable: bool = True
) -> Path | None:
    """Replace the real directory at ``plugin``'s stable path by a link to ``generation`` in one
    atomic exchange; returns where the directory went (``.<name>.flip-<hex>`` beside it), or
    None when the system cannot exchange (nothing changed then)."""
    stable = layout.stable_path(plugin)
    check_inside(layout.root, stable, what="replace")
    check_inside(layout.root, generation, what="link to")
    relative = os.path.relpath(generation, stable.parent)
    temporary = stable.parent / f".{stable.name}{FLIP_INFIX}{os.urandom(4).hex()}"
    temporary.symlink_to(relative)
    try:
        _rename_exchange(temporary, stable)
    except OSError:
        temporary.unlink(missing_ok=True)
        return None
    except BaseException:
        if temporary.is_symlink():
            temporary.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(stable.parent)
    return temporary


def is_ours(generation: Path) -> bool:
    """True for a directory reconciler made: a real directory holding the state marker (an
    empty directory is nobody's: it is left alone)."""
    try:
        if generation.is_symlink() or not generation.is_dir():
            return False
        return (generation / MARKER_NAME).is_file() and not (generation / MARKER_NAME).is_symlink()
    except OSError:
        return False


def remove_marked(directory: Path) -> None:
    """Delete ``directory`` (ours: it holds the marker), the marker last: a kill half-way
    leaves a directory that still proves it is reconciler's. Links inside are unlinked, never
    followed (``shutil.rmtree`` works through file descriptors)."""
    for name in sorted(os.listdir(directory)):
        if name == MARKER_NAME:
            continue
        entry = directory / name
        if entry.is_dir() and not entry.is_symlink():
            import shutil  # noqa: PLC0415 - start-up: zlib, bz2, lzma; only when deleting

            shutil.rmtree(entry)
        else:
            entry.unlink(missing_ok=True)
    (directory / MARKER_NAME).unlink(missing_ok=True)
    directory.rmdir()


def delete_generation(layout: Layout, plugin: str, generation: Path) -> None:
    """Delete one generation directory, only if it is ours (see :func:`is_ours`)."""
    check_inside(layout.root, generation, what="delete")
    if generation.parent != layout.generations_dir(plugin) or generation.is_symlink():
        raise SafetyError(f"refusing to delete {generation}: not a generation of {plugin!r}")
    if not is_ours(generation):
        raise SafetyError(f"refusing to delete {generation}: no state marker")
    # Renamed first (atomic), then deleted marker last: a kill half-way through the deletion
    # leaves a directory named as reconciler's trash that still carries the marker.
    trash = generation.parent / f"{TRASH_PREFIX}{generation.name}-{os.urandom(3).hex()}"
    generation.rename(trash)
    remove_marked(trash)


#: Prefix of a generation being deleted (``.trash-g<id>``), inside a plugin's generations dir.
TRASH_PREFIX = ".trash-"


def trash(layout: Layout, plugin: str) -> list[Path]:
    """Generations whose deletion was interrupted (``.trash-g<id>``): reconciler's to finish."""
    return [p for p in _named(layout, plugin, TRASH_PREFIX + "g") if is_ours(p)]


def stale_generations(
    layout: Layout, plugin: str, keep: int, prefer: Path | None = None
) -> list[Path]:
    """Generations that are neither live nor among the ``keep`` complete others kept.

    Kept are the newest complete ones, ``prefer`` first (the generation that was live until
    now: after a rollback and a new apply, that is the one to go back to).
    """
    live = live_generation(layout, plugin)
    others = [g for g in generations(layout, plugin) if g != live and is_ours(g)]
    complete = [g for g in others if is_complete(g)]
    if prefer in complete:
        complete = [g for g in complete if g != prefer] + [prefer]
    kept = complete[-keep:] if keep > 0 else []
    return [g for g in others if g not in kept]


def prune(layout: Layout, plugin: str, keep: int, prefer: Path | None = None) -> list[Path]:
    """Delete the stale generations of ``plugin`` (and its directory once it is empty)."""
    removed = []
    check_inside(layout.root, layout.generations_dir(plugin), what="delete in")
    for leftover in trash(layout, plugin):
        check_inside(layout.root, leftover, what="delete")
        remove_marked(leftover)
        removed.append(leftover)
    for generation in stale_generations(layout, plugin, keep, prefer):
        delete_generation(layout, plugin, generation)
        removed.append(generation)
    if not generations(layout, plugin) and live_generation(layout, plugin) is None:
        clear_rolled_back(layout, plugin)
        with contextlib.suppress(OSError):
            layout.generations_dir(plugin).rmdir()
    return removed


def nothing_to_prune(layout: Layout, plugin: str) -> bool:
    """True when ``plugin``'s generations directory holds its live generation and nothing else,
    so that :func:`prune` would delete nothing whatever it keeps (one listing and one
    ``readlink``: what an apply without leftovers pays per plugin)."""
    try:
        names = os.listdir(layout.generations_dir(plugin))
    except OSError:
        return False
    if len(names) != 1:
        return False
    live = live_generation(layout, plugin)
    return live is not None and live.name == names[0]


def previous_generation(layout: Layout, plugin: str) -> Path | None:
    """The newest complete generation of ``plugin`` that is not live (the rollback target)."""
    live = live_generation(layout, plugin)
    candidates = [g for g in generations(layout, plugin) if g != live and is_complete(g)]
    return candidates[-1] if candidates else None


def _flip_entries(layout: Layout) -> list[Path]:
    found: list[Path] = []
    for directory in layout.link_dirs():
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        found.extend(directory / n for n in sorted(names) if FLIP_INFIX in n and n.startswith("."))
    return found


def stray_flip_links(layout: Layout) -> list[Path]:
    """Temporary symlinks of a flip that was killed before its rename (``.<name>.flip-*``)."""
    return [p for p in _flip_entries(layout) if p.is_symlink()]


def stray_replaced_dirs(layout: Layout) -> list[Path]:
    """Directories another tool built that a flip replaced, left beside the link by a kill
    before their deletion (``.<name>.flip-*``, claimed by the layout's tool)."""
    return [
        p
        for p in _flip_entries(layout)
        if not p.is_symlink() and p.is_dir() and layout.claimed_by_tool(p) is not None
    ]


def leftovers(layout: Layout, keep: int) -> bool:
    """True when generations or temporary files left by a killed run wait to be cleaned
    (read-only check)."""
    if stray_flip_links(layout) or stray_replaced_dirs(layout):
        return True
    if scratch.stale(scratch.scratch_base(layout.root)):
        return True
    return any(
        not nothing_to_prune(layout, plugin)
        and bool(
            stale_generations(layout, plugin, keep)
            or trash(layout, plugin)
            or (not generations(layout, plugin) and live_generation(layout, plugin) is None)
        )
        for plugin in layout.leftover_plugins()
    )
