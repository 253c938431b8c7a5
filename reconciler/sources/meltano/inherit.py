"""``inherit_from`` and Meltano's plugin lock files (``plugins/<type>/<name>--<variant>.lock``)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.errors import ConfigError
from reconciler.sources.meltano.project import Project
from reconciler.sources.meltano.yaml import Entry, Where
from reconciler.support.files import display_path, read_text_in
from reconciler.support.values import frozen


@frozen
class Resolved:
    """One Meltano plugin with its inherited values."""

    entry: Entry
    pip_url: str | None
    pip_url_where: Where | None
    python: str | None
    dir_name: str


Locked = tuple[Path, Mapping[str, Any]]


class Resolver:
    """Follows ``inherit_from`` and plugin lock files the way Meltano does."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.done: dict[tuple[str, str], Resolved] = {}

    def resolve(self, entry: Entry, chain: tuple[str, ...] = ()) -> Resolved:
        key = (entry.type, entry.name)
        if key in self.done:
            return self.done[key]
        if entry.name in chain:
            path = " -> ".join((*chain, entry.name))
            raise entry.where("inherit_from").error(f"inherits from itself ({path})")
        own_pip_url = entry.text("pip_url")
        inherit_from = entry.text("inherit_from")
        if inherit_from == entry.name:
            inherit_from = None
        variant = entry.text("variant")
        parent: Resolved | None = None
        locked: Locked | None = None
        if inherit_from and not variant:
            parent_entry = self.project.entries.get((entry.type, inherit_from))
            if parent_entry is not None:
                parent = self.resolve(parent_entry, (*chain, entry.name))
        if parent is None and (inherit_from or not entry.text("namespace")):
            locked = self._lock_file(entry.type, inherit_from or entry.name, variant)
        pip_url = own_pip_url
        where = entry.where("pip_url") if own_pip_url is not None else None
        if pip_url is None and parent is not None:
            pip_url, where = parent.pip_url, parent.pip_url_where
        if pip_url is None and locked is not None:
            value = locked[1].get("pip_url")
            if isinstance(value, str):
                label = display_path(self.project.root, locked[0])
                pip_url, where = value, Where(label, None, "pip_url")
        python = entry.text("python")
        if python is None and parent is not None:
            python = parent.python
        if python is None and locked is not None and isinstance(locked[1].get("python"), str):
            python = str(locked[1]["python"])
        dir_name = entry.name
        if inherit_from and (own_pip_url is None or own_pip_url == _parent_url(parent, locked)):
            dir_name = parent.dir_name if parent is not None else inherit_from
        resolved = Resolved(entry, pip_url, where, python, dir_name)
        self.done[key] = resolved
        return resolved

    def _lock_file(self, plugin_type: str, name: str, variant: str | None) -> Locked | None:
        """``plugins/<type>/<name>--<variant>.lock`` (JSON), if it exists."""
        directory = self.project.root / "plugins" / plugin_type
        if variant:
            candidates = [directory / f"{name}--{variant}.lock"]
        else:
            candidates = [directory / f"{name}.lock"]
            candidates.extend(sorted(directory.glob(f"{_glob_escape(name)}--*.lock"))[:1])
        for path in candidates:
            if not path.is_file():
                continue
            rel = display_path(self.project.root, path)
            try:
                data = json.loads(read_text_in(path, self.project.root))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise ConfigError("not a Meltano plugin lock file", file=rel) from exc
            if not isinstance(data, dict):
                raise ConfigError("not a Meltano plugin lock file (not an object)", file=rel)
            return path, data
        return None


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _parent_url(parent: Resolved | None, locked: Locked | None) -> object:
    if parent is not None:
        return parent.pip_url
    return None if locked is None else locked[1].get("pip_url")
