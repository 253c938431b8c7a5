"""Layouts: where each plugin's venv lives on disk, and what else that path needs.

A layout answers, for one project, every "where" question that observe and apply share:

- ``stable_path(plugin)``: the path users and tools run the venv from (always a symlink to the
  live generation once reconciler manages it), e.g. ``.venvs/tap-csv``;
- ``generations_dir(plugin)``: the directory holding that plugin's generations (``g<id>`` dirs);
- ``entries()``: every venv-like entry on disk (declared or not), so undeclared managed venvs
  can be planned for removal;
- ``leftover_plugins()``: plugins that have a generations directory (cleaned after a kill);
- ``link_dirs()``: the directories holding stable paths (where a killed flip leaves a
  temporary ``.<name>.flip-*`` link);
- ``extra_files(plugin)``: files (name -> text) written into a generation before it goes live
  and checked by observe (a file that differs makes the plan refresh it);
- ``claimed_by_tool(path)``: why an unmarked directory at a stable path was made by the tool
  the layout serves (and may be replaced through a new generation), or None.

Every path a layout returns is under ``root``; the apply lock and reconciler's own helper files
live in ``root`` too. :class:`~reconciler.layouts.venvs.VenvsLayout` (``.venvs/<plugin>``) is the
layout of ``reconciler.toml``. Nothing in plan or execute knows which layout it runs on.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from reconciler.errors import SafetyError
from reconciler.support.paths import file_kind, walk_inside

#: reconciler's marker in every venv it manages (its presence is what makes a venv "ours").
MARKER_NAME = "reconciler-state.json"
#: Name of the temporary link a flip creates beside a stable path: ``.<name>.flip-<hex>``.
FLIP_INFIX = ".flip-"


class Layout(Protocol):
    """Where one project's venvs live (see the module docstring)."""

    @property
    def root(self) -> Path:
        """The directory everything this layout creates or deletes lives under."""
        ...

    def stable_path(self, plugin: str) -> Path:
        """The stable venv path of ``plugin``; raises SafetyError for a name that could escape."""
        ...

    def generations_dir(self, plugin: str) -> Path:
        """Where the generations of ``plugin`` live."""
        ...

    def entries(self) -> list[tuple[str, Path]]:
        """``(plugin, stable path)`` of every venv-like entry on disk, sorted by plugin."""
        ...

    def leftover_plugins(self) -> list[str]:
        """Plugins with a generations directory on disk (live or not), sorted."""
        ...

    def link_dirs(self) -> list[Path]:
        """The existing directories that hold stable paths."""
        ...

    def extra_files(self, plugin: str) -> Mapping[str, str]:
        """Files (name -> exact text) the venv of ``plugin`` must hold besides its packages."""
        ...

    def claimed_by_tool(self, path: Path) -> str | None:
        """Why the unmarked directory ``path`` may be replaced (its tool built it), or None."""
        ...


def _link(stable: Path) -> Path | None:
    """What the symlink at ``stable`` points to; None when it is no symlink (or is missing)."""
    try:
        return stable.readlink()  # one call: EINVAL when not a link, ENOENT when absent
    except OSError:
        return None


def _generation(
    layout: Layout, plugin: str, stable: Path, link: Path, generations: Path | None = None
) -> Path | None:
    """The generation ``link`` (read at ``stable``) points at, or None when it points elsewhere
    (``generations``: the plugin's generations dir, when the caller has it)."""
    gens = layout.generations_dir(plugin) if generations is None else generations
    # strings, not Paths: observe asks this of every venv (the same answer as comparing
    # ``Path(target).parent`` with ``gens``, both normalised)
    target = os.path.normpath(os.path.join(os.path.dirname(stable), link))  # noqa: PTH118, PTH120 - hot path
    return Path(target) if os.path.dirname(target) == str(gens) else None  # noqa: PTH120 - hot path


def live_generation(layout: Layout, plugin: str) -> Path | None:
    """The generation ``plugin``'s stable path points at, if it is a link into its generations."""
    stable = layout.stable_path(plugin)
    link = _link(stable)
    return None if link is None else _generation(layout, plugin, stable, link)


def link_target_problem(layout: Layout, plugin: str) -> str | None:
    """Why ``plugin``'s stable path is a symlink that is not ours (None when ours, or no link)."""
    stable = layout.stable_path(plugin)
    return _foreign(layout, plugin, stable, _link(stable))


def _foreign(
    layout: Layout, plugin: str, stable: Path, link: Path | None, generations: Path | None = None
) -> str | None:
    if link is None or _generation(layout, plugin, stable, link, generations) is not None:
        return None
    return f"symlink to {link} is not a reconciler generation"


def check_walls(layout: Layout, plugin: str) -> None:
    """Raise SafetyError unless ``plugin``'s generations dir and stable path's directory lie
    in the layout's root with no symlink on the way (``.generations``, ``.generations/<plugin>``,
    Meltano's ``<type>/<name>``)."""
    _check_walls(layout, layout.generations_dir(plugin), layout.stable_path(plugin))


def _check_walls(layout: Layout, generations: Path, stable: Path) -> None:
    found = walk_inside(layout.root, generations, what="build or delete in")
    walk_inside(layout.root, stable, link_ok=True, what="replace")  # check_inside, no Path made
    if found is None:
        return  # not there yet: built as a real directory
    if not stat.S_ISDIR(found.st_mode):  # a file, FIFO or device where generations are built
        raise SafetyError(
            f"refusing to build or delete in {generations}: it is {file_kind(found.st_mode)}"
        )


def replace_problem(layout: Layout, plugin: str) -> str | None:
    """Why apply would refuse to build ``plugin``'s venv (None when it may): a link out of the
    root on the way to its generations or stable path, a symlink at the stable path that is not
    ours, or a file or non-empty directory there that reconciler did not make and the layout's
    tool did not build. The planner reports such a plugin as blocked, never as a step to take.
    """
    return path_problems(layout, plugin)[1]


def path_problems(layout: Layout, plugin: str) -> tuple[str | None, str | None]:
    """:func:`link_target_problem` and :func:`replace_problem` of ``plugin``, its stable path
    read once (observe asks both of every venv)."""
    foreign, blocked, _ = path_facts(layout, plugin)
    return foreign, blocked


def path_facts(
    layout: Layout, plugin: str
) -> tuple[str | None, str | None, tuple[str, str] | None]:
    """:func:`path_problems`, and (the stable path, the link there) when that link leads
    plainly into the plugin's generations through walls just found to be real directories:
    written relative to the root that holds the stable path, no ``.``, ``..`` or empty part
    (else None). Such a link's target is the real root joined with it (its last part aside),
    which observe uses instead of resolving every part of the whole path again."""
    stable = layout.stable_path(plugin)
    generations = layout.generations_dir(plugin)
    link = _link(stable)
    foreign = _foreign(layout, plugin, stable, link, generations)
    try:
        _check_walls(layout, generations, stable)
    except SafetyError as exc:
        return foreign, exc.message, None
    if link is not None:
        if foreign is not None:
            return foreign, f"refusing to replace {stable}: {foreign}", None
        text = str(link)
        plain = os.path.dirname(stable) == str(layout.root) and not any(  # noqa: PTH120 - hot path
            part in ("", ".", "..") for part in text.split("/")
        )
        return None, None, (str(stable), text) if plain else None
    return foreign, _unreplaceable(layout, stable), None


def _unreplaceable(layout: Layout, stable: Path) -> str | None:
    """Why the stable path, no symlink, holds what apply must not replace (None when it may)."""
    try:
        if not stable.exists() or layout.claimed_by_tool(stable) is not None:
            return None
        if stable.is_dir() and ((stable / MARKER_NAME).is_file() or not any(stable.iterdir())):
            return None
    except OSError as exc:
        return f"cannot read {stable}: {exc.strerror or exc}"
    return (
        f"refusing to replace {stable}: not made by reconciler (no state marker); "
        "move it away and apply again"
    )
