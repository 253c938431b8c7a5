"""The ``.venvs`` layout of ``reconciler.toml``: ``<venv-root>/<plugin>`` and its generations.

Under the venv root::

    tap-csv -> .generations/tap-csv/g0000000000000002    (the live venv, stable path)
    .generations/tap-csv/g0000000000000002/             (built at its final real path)
    .generations/tap-csv/g0000000000000001/             (previous, kept for rollback)
    .reconciler.lock, .reconciler/                             (apply lock, helper files)

Entries whose names start with ``.`` are reconciler's own; every other entry is a venv-like
entry (managed when it carries the state marker).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from reconciler.errors import SafetyError
from reconciler.support.names import PLUGIN_NAME_RE
from reconciler.support.values import frozen

GENERATIONS = ".generations"


def check_name(plugin: str) -> str:
    """``plugin`` when it is a valid plugin name that cannot escape a directory, else raise."""
    if not PLUGIN_NAME_RE.fullmatch(plugin) or plugin in (".", ".."):
        raise SafetyError(f"refusing to touch {plugin!r}: not a valid plugin name")
    return plugin


@frozen
class VenvsLayout:
    """``<root>/<plugin>`` -> ``<root>/.generations/<plugin>/g<id>``."""

    root: Path

    def stable_path(self, plugin: str) -> Path:
        """``<root>/<plugin>``, refusing names that could escape the root."""
        return self.root / check_name(plugin)

    def generations_dir(self, plugin: str) -> Path:
        """``<root>/.generations/<plugin>``."""
        return self.root / GENERATIONS / check_name(plugin)

    def entries(self) -> list[tuple[str, Path]]:
        """Every entry of the root not starting with ``.``."""
        try:
            names = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return []
        return [(n, self.root / n) for n in names if not n.startswith(".")]

    def leftover_plugins(self) -> list[str]:
        """Names under ``.generations`` that are valid plugin names."""
        try:
            names = os.listdir(self.root / GENERATIONS)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(n for n in names if PLUGIN_NAME_RE.fullmatch(n))

    def link_dirs(self) -> list[Path]:
        """Just the root."""
        return [self.root] if self.root.is_dir() else []

    def extra_files(self, plugin: str) -> Mapping[str, str]:
        """None: a ``.venvs`` venv is only its packages and the state marker."""
        return {}

    def claimed_by_tool(self, path: Path) -> str | None:
        """None: no other tool builds venvs in a reconciler venv root."""
        return None
