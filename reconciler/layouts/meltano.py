"""The Meltano layout: ``<sys-dir>/<type>/<name>/venv``, where ``meltano invoke``/``run`` look.

Under Meltano's system directory (``.meltano``, or ``$MELTANO_SYS_DIR_ROOT``)::

    extractors/tap-csv/venv -> .generations/g0000018a2b3c4d5e-1f2e3d   (stable path)
    extractors/tap-csv/.generations/g0000018a2b3c4d5e-1f2e3d/          (the live generation)
    extractors/tap-csv/.generations/g0000018a2b3c4d5e-1f2e3d/.meltano_plugin_fingerprint
    .reconciler.lock, .reconciler/                                     (apply lock, helpers)

Meltano resolves the venv path (``VirtualEnv.root = root.resolve()``), so a link into a
generation is a venv to it; it reuses the venv when ``bin/python`` exists and
``.meltano_plugin_fingerprint`` holds the fingerprint of the plugin's pip arguments, which this
layout writes into each generation before it goes live (:meth:`MeltanoLayout.extra_files`).
A venv Meltano built itself (that file, no reconciler marker) is claimed: the plan replaces it
through a new generation.

Plugin ids are the Meltano plugin names (the venv's directory name, ``plugin_dir_name``);
where the same name is used by two plugin types the id is ``<type>/<name>``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from reconciler.errors import SafetyError
from reconciler.layouts import MARKER_NAME
from reconciler.layouts.venvs import check_name
from reconciler.support.values import field, frozen

#: Plugin types Meltano installs with pip into ``<sys-dir>/<type>/<name>/venv``.
PIP_TYPES = (
    "extractors",
    "loaders",
    "orchestrators",
    "transformers",
    "files",
    "utilities",
    "mappers",
)
FINGERPRINT_FILE = ".meltano_plugin_fingerprint"
GENERATIONS = ".generations"
VENV = "venv"


def venv_id(plugin_type: str, dir_name: str, taken: Mapping[str, int]) -> str:
    """The id of a venv: its name, or ``<type>/<name>`` when ``taken[name] > 1``."""
    return f"{plugin_type}/{dir_name}" if taken.get(dir_name, 0) > 1 else dir_name


@frozen
class MeltanoVenv:
    """One declared venv: its plugin type, directory name and Meltano fingerprint."""

    type: str
    dir_name: str
    fingerprint: str


@frozen
class MeltanoLayout:
    """``<root>/<type>/<name>/venv`` -> ``<root>/<type>/<name>/.generations/g<id>``."""

    root: Path
    declared: Mapping[str, MeltanoVenv] = field(factory=dict)

    def _where(self, plugin: str) -> tuple[str, str]:
        """``(type, dir name)`` of ``plugin``: declared, ``<type>/<name>``, or found on disk."""
        known = self.declared.get(plugin)
        if known is not None:
            return known.type, known.dir_name
        plugin_type, sep, name = plugin.rpartition("/")
        if sep:
            if plugin_type not in PIP_TYPES:
                raise SafetyError(f"refusing to touch {plugin!r}: not a Meltano plugin type")
            return plugin_type, check_name(name)
        check_name(plugin)
        for candidate in PIP_TYPES:
            directory = self.root / candidate / plugin
            if directory.is_dir() and not directory.is_symlink():
                return candidate, plugin
        raise SafetyError(f"refusing to touch {plugin!r}: no such Meltano plugin directory")

    def stable_path(self, plugin: str) -> Path:
        """``<root>/<type>/<name>/venv``."""
        plugin_type, name = self._where(plugin)
        return self.root / plugin_type / name / VENV

    def generations_dir(self, plugin: str) -> Path:
        """``<root>/<type>/<name>/.generations``."""
        plugin_type, name = self._where(plugin)
        return self.root / plugin_type / name / GENERATIONS

    def _found(self, member: str) -> list[tuple[str, str]]:
        """``(type, name)`` of every plugin directory holding ``member``."""
        found = []
        for plugin_type in PIP_TYPES:
            try:
                names = sorted(os.listdir(self.root / plugin_type))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for name in names:
                path = self.root / plugin_type / name / member
                if name.startswith(".") or not (path.exists() or path.is_symlink()):
                    continue
                found.append((plugin_type, name))
        return found

    def _ids(self, found: list[tuple[str, str]]) -> list[str]:
        by_place = {(v.type, v.dir_name): pid for pid, v in self.declared.items()}
        taken: dict[str, int] = {}
        for _, name in {*found, *by_place}:
            taken[name] = taken.get(name, 0) + 1
        return [by_place.get(place) or venv_id(*place, taken) for place in found]

    def entries(self) -> list[tuple[str, Path]]:
        """Every ``<root>/<type>/<name>/venv`` present (a directory or a link)."""
        found = self._found(VENV)
        ids = self._ids(found)
        pairs = zip(ids, found, strict=True)
        return sorted((pid, self.root / t / n / VENV) for pid, (t, n) in pairs)

    def leftover_plugins(self) -> list[str]:
        """Plugins with a ``.generations`` directory."""
        found = self._found(GENERATIONS)
        return sorted(self._ids(found))

    def link_dirs(self) -> list[Path]:
        """Every ``<root>/<type>/<name>`` directory."""
        return [self.root / t / n for t, n in self._found("")]

    def extra_files(self, plugin: str) -> Mapping[str, str]:
        """Meltano's fingerprint file, bare hex with no newline (as Meltano writes it)."""
        known = self.declared.get(plugin)
        return {} if known is None else {FINGERPRINT_FILE: known.fingerprint}

    def claimed_by_tool(self, path: Path) -> str | None:
        """Why ``path`` is plainly a venv Meltano made (so a new generation may replace it).

        With no reconciler marker, a real directory holding Meltano's fingerprint is a venv
        ``meltano install`` built (``bin/python`` and ``pyvenv.cfg`` present) or left half-done;
        one holding a ``pyvenv.cfg`` but no fingerprint was left by a failed ``meltano install``
        (Meltano writes the fingerprint last, after a successful install). Anything else: None.
        """
        if path.is_symlink() or not path.is_dir() or os.path.lexists(path / MARKER_NAME):
            return None
        cfg = path / "pyvenv.cfg"
        has_cfg = cfg.is_file() and not cfg.is_symlink()
        fingerprint = path / FINGERPRINT_FILE
        if fingerprint.is_file() and not fingerprint.is_symlink():
            if has_cfg and (path / "bin" / "python").exists():
                return "built by meltano install"
            return "left by an incomplete meltano install"
        if has_cfg:
            return "left by a failed meltano install"
        return None
