"""Venv generations: ``<root>/<plugin>`` is a symlink flipped atomically to a generation directory.

Layout under the venv root::

    tap-csv -> .generations/tap-csv/g0000018a2b3c4d5e-1f2e3d    (the live venv, stable path)
    .generations/tap-csv/g0000018a2b3c4d5e-1f2e3d/             (built at its final real path)
    .generations/tap-csv/g0000018a29f000000-aaaaaa/            (previous, kept for rollback)
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from pathlib import Path

from reconciler.errors import SafetyError
from reconciler.models import PLUGIN_NAME_RE, MarkerStatus
from reconciler.state import MARKER_NAME, MARKER_TEMP_PREFIX, MarkerCorrupt, read_marker

GENERATIONS = ".generations"


def plugin_dir(root: Path, plugin: str) -> Path:
    """Where the generations of ``plugin`` live."""
    return root / GENERATIONS / plugin


def stable_path(root: Path, plugin: str) -> Path:
    """``<root>/<plugin>``, refusing names that could escape the root."""
    if not PLUGIN_NAME_RE.match(plugin) or plugin in (".", ".."):
        raise SafetyError(f"refusing to touch {plugin!r}: not a valid plugin name")
    return root / plugin


def new_generation(root: Path, plugin: str) -> Path:
    """A fresh, unique generation path (not yet created); names sort by creation time."""
    return plugin_dir(root, plugin) / f"g{time.time_ns():016x}-{secrets.token_hex(3)}"


def live_generation(root: Path, plugin: str) -> Path | None:
    """The generation ``<root>/<plugin>`` points at, if it is a symlink into our generations."""
    stable = root / plugin
    if not stable.is_symlink():
        return None
    target = Path(os.path.normpath(root / stable.readlink()))
    return target if target.parent == plugin_dir(root, plugin) else None


def link_target_problem(root: Path, plugin: str) -> str | None:
    """Why the symlink ``<root>/<plugin>`` is not one of ours (None when it is, or is no link)."""
    stable = root / plugin
    if not stable.is_symlink() or live_generation(root, plugin) is not None:
        return None
    return f"symlink to {stable.readlink()} is not a reconciler generation"


def generations(root: Path, plugin: str) -> list[Path]:
    """Every generation directory of ``plugin``, oldest first."""
    directory = plugin_dir(root, plugin)
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    return [directory / n for n in names if n.startswith("g") and not (directory / n).is_symlink()]


def is_complete(generation: Path) -> bool:
    """True when the generation's state marker says it was fully built."""
    try:
        marker = read_marker(generation)
    except MarkerCorrupt:
        return False
    return marker is not None and marker.status is MarkerStatus.COMPLETE


def flip(root: Path, plugin: str, generation: Path) -> None:
    """Point ``<root>/<plugin>`` at ``generation`` with one atomic rename of a new symlink."""
    stable = stable_path(root, plugin)
    relative = os.path.relpath(generation, root)
    temporary = root / f".{plugin}.flip-{secrets.token_hex(4)}"
    temporary.symlink_to(relative)
    try:
        temporary.replace(stable)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_dir(root)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def is_ours(generation: Path) -> bool:
    """True for a directory reconciler made: it has the marker, or is empty, or holds only the
    temporary file of a first marker write that was killed."""
    try:
        names = os.listdir(generation)
    except OSError:
        return False
    return MARKER_NAME in names or all(n.startswith(MARKER_TEMP_PREFIX) for n in names)


def delete_generation(root: Path, plugin: str, generation: Path) -> None:
    """Delete one generation directory, only if it is ours (under the root, see :func:`is_ours`)."""
    if generation.parent != plugin_dir(root, plugin) or generation.is_symlink():
        raise SafetyError(f"refusing to delete {generation}: not a generation of {plugin!r}")
    if not is_ours(generation):
        raise SafetyError(f"refusing to delete {generation}: no state marker")
    shutil.rmtree(generation)


def stale_generations(root: Path, plugin: str, keep: int) -> list[Path]:
    """Generations that are neither live nor among the ``keep`` newest complete others."""
    live = live_generation(root, plugin)
    others = [g for g in generations(root, plugin) if g != live and is_ours(g)]
    kept = [g for g in others if is_complete(g)][-keep:] if keep > 0 else []
    return [g for g in others if g not in kept]


def prune(root: Path, plugin: str, keep: int) -> list[Path]:
    """Delete the stale generations of ``plugin`` (and its directory once it is empty)."""
    removed = []
    for generation in stale_generations(root, plugin, keep):
        delete_generation(root, plugin, generation)
        removed.append(generation)
    if not generations(root, plugin) and live_generation(root, plugin) is None:
        with contextlib.suppress(OSError):
            plugin_dir(root, plugin).rmdir()
    return removed


def previous_generation(root: Path, plugin: str) -> Path | None:
    """The newest complete generation of ``plugin`` that is not live (the rollback target)."""
    live = live_generation(root, plugin)
    candidates = [g for g in generations(root, plugin) if g != live and is_complete(g)]
    return candidates[-1] if candidates else None


def stray_flip_links(root: Path) -> list[Path]:
    """Temporary symlinks of a flip that was killed before its rename (``.<plugin>.flip-*``)."""
    try:
        names = os.listdir(root)
    except OSError:
        return []
    return [
        root / n
        for n in sorted(names)
        if ".flip-" in n and n.startswith(".") and (root / n).is_symlink()
    ]


def leftover_plugins(root: Path) -> list[str]:
    """Plugins that have a generations directory (live or not)."""
    try:
        return sorted(n for n in os.listdir(root / GENERATIONS) if PLUGIN_NAME_RE.match(n))
    except FileNotFoundError:
        return []
