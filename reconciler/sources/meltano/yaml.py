"""``meltano.yml`` and included files as YAML, with the line number of every key for messages."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from reconciler.errors import ConfigError
from reconciler.layouts.meltano import PIP_TYPES
from reconciler.support.redact import redact

PROJECT_FILE = "meltano.yml"
#: Plugin types Meltano does not install with pip into a venv of their own.
OTHER_TYPES = ("transforms", "mappings")


@attrs.frozen
class Where:
    """A place in a project file, for error messages: ``meltano.yml:12: plugins...: ...``."""

    label: str
    line: int | None
    key: str

    def error(self, message: str, *, plugin: str | None = None) -> ConfigError:
        """A :class:`ConfigError` about this place (and ``plugin``)."""
        return ConfigError(
            redact(message), file=self.label, line=self.line, key=self.key, plugin=plugin
        )


def read_yaml(path: Path, label: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("cannot read", file=label, cause=str(exc)) from exc
    try:
        data = YAML(typ="rt").load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{label}{line}: invalid YAML: {problem}") from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError("expected a mapping at the top level", file=label, line=1)
    return data


def key_line(node: Any, key: object) -> int | None:
    """1-based line of ``key`` in the ruamel mapping ``node`` (None when unknown)."""
    try:
        return int(node.lc.key(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return None


def index_line(node: Any, index: int) -> int | None:
    try:
        return int(node.lc.item(index)[0]) + 1
    except (AttributeError, KeyError, TypeError, IndexError):
        return None


# --------------------------------------------------------------------------- plugins as written


@attrs.frozen
class Entry:
    """One plugin entry of ``meltano.yml`` (or an included file), as written."""

    type: str
    name: str
    data: Mapping[str, Any]
    label: str
    line: int | None

    def where(self, key: str | None = None) -> Where:
        line = key_line(self.data, key) if key is not None else None
        dotted = f"plugins.{self.type}.{self.name}" + (f".{key}" if key else "")
        return Where(self.label, line or self.line, dotted)

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.where(key).error(f"expected a string, not {type(value).__name__}")
        return str(value)


def plugin_entries(document: Mapping[str, Any], label: str) -> Iterator[Entry]:
    plugins = document.get("plugins")
    if plugins is None:
        return
    if not isinstance(plugins, Mapping):
        raise Where(label, key_line(document, "plugins"), "plugins").error("expected a mapping")
    for plugin_type, items in plugins.items():
        key = f"plugins.{plugin_type}"
        line = key_line(plugins, plugin_type)
        if plugin_type in OTHER_TYPES:
            continue
        if plugin_type not in PIP_TYPES:
            allowed = ", ".join((*PIP_TYPES, *OTHER_TYPES))
            raise Where(label, line, key).error(f"unknown plugin type (one of {allowed})")
        if items is None:
            continue
        if not isinstance(items, list):
            raise Where(label, line, key).error("expected a list of plugins")
        for index, item in enumerate(items):
            item_line = index_line(items, index) or line
            if not isinstance(item, Mapping):
                raise Where(label, item_line, f"{key}[{index}]").error("expected a mapping")
            name = item.get("name")
            if not isinstance(name, str) or not name:
                where = Where(label, item_line, f"{key}[{index}].name")
                raise where.error("required key missing")
            yield Entry(str(plugin_type), name, item, label, item_line)
