"""``meltano.yml`` and included files as YAML, with the line number of every key for messages."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from reconciler.errors import ConfigError
from reconciler.layouts.meltano import PIP_TYPES
from reconciler.sources import read_project_text
from reconciler.support.names import kind_of
from reconciler.support.redact import redact
from reconciler.support.values import frozen

PROJECT_FILE = "meltano.yml"
#: Plugin types Meltano does not install with pip into a venv of their own.
OTHER_TYPES = ("transforms", "mappings")


@frozen
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


def read_yaml(path: Path, label: str, root: Path | None = None) -> Any:
    text = read_project_text(path, root if root is not None else path.parent, label)
    deep = _too_deep(text)  # before ruamel composes it (superlinear: seconds at 3000 levels)
    if deep is not None:
        raise ConfigError(
            "invalid YAML", file=label, line=deep, cause=f"nested deeper than {MAX_DEPTH} levels"
        )
    try:
        data = YAML(typ="rt").load(text)
        _bounded(data, label)
    except RecursionError:  # ruamel composes nested nodes recursively
        raise ConfigError("invalid YAML", file=label, cause="nested too deeply") from None
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = mark.line + 1 if mark is not None else None
        raise ConfigError("invalid YAML", file=label, line=line, cause=problem) from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError("expected a mapping at the top level", file=label, line=1)
    return data


#: How many values a YAML document may hold once its aliases are expanded (a real meltano.yml
#: holds a few thousand; a "billion laughs" file, nine aliases of nine, holds 10**9).
MAX_NODES = 1_000_000
#: How deep its mappings and lists may nest.
MAX_DEPTH = 200


def _too_deep(text: str) -> int | None:
    """The 1-based line where ``text`` nests deeper than :data:`MAX_DEPTH`, else None.

    One linear scan, before any YAML is composed, of an upper bound of the nesting: block
    collections by their indentation (a stack of the indents of the enclosing lines, plus the
    ``- `` / ``? `` indicators that open a collection on the line itself) and flow collections
    (``[``/``{``, quoted strings and comments skipped). An upper bound is all that is needed: a
    real meltano.yml nests a dozen levels.
    """
    indents: list[int] = []
    flow = 0
    for number, line in enumerate(text.split("\n"), start=1):
        content = line.lstrip(" ")
        if not content or content.startswith("#"):
            continue
        indent = len(line) - len(content)
        while indents and indents[-1] >= indent:
            indents.pop()
        indents.append(indent)
        opened = 0
        while content[:2] in ("- ", "? ", "-\t", "?\t"):  # `- - - x`: one level each
            content = content[2:].lstrip(" \t")
            opened += 1
        if "[" in content or "{" in content or flow:
            flow = _flow_depth(content, flow)
        if len(indents) + opened + flow > MAX_DEPTH:
            return number
    return None


def _flow_depth(line: str, depth: int) -> int:
    """The flow nesting (``[``/``{``) after ``line``, starting at ``depth``; quoted scalars and
    comments skipped as YAML does (a quote or ``#`` counts only at the start of a token, so
    ``don't`` or ``a#b`` hides nothing). Past :data:`MAX_DEPTH` the count stops growing."""
    quote = ""
    previous = " "
    for char in line:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"" and previous in " \t[{,:":
            quote = char
        elif char == "#" and previous in " \t":
            break
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return depth
        elif char in "]}":
            depth = max(depth - 1, 0)
        previous = char
    return depth


def _bounded(data: Any, label: str) -> None:
    """Raise ConfigError when ``data``, with every alias expanded, holds more than
    :data:`MAX_NODES` values, nests deeper than :data:`MAX_DEPTH`, or refers to itself.

    Counted over the graph ruamel built (an alias is a shared reference, so each distinct node
    is sized once and its size reused): linear in the file, whatever the expansion would be.
    """
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    # iterative post-order walk: (node, depth, children pushed?)
    stack: list[tuple[Any, int, bool]] = [(data, 0, False)]
    while stack:
        node, depth, expanded = stack.pop()
        if not isinstance(node, (Mapping, list)):
            continue
        key = id(node)
        if expanded:
            children = list(node.values()) if isinstance(node, Mapping) else node
            total = 1 + sum(sizes.get(id(c), 1) for c in children)
            visiting.discard(key)
            sizes[key] = total
            if total > MAX_NODES:
                raise ConfigError(
                    f"{label}: invalid YAML: more than {MAX_NODES} values once aliases are expanded"
                )
            continue
        if key in sizes:
            continue
        if key in visiting:
            raise ConfigError("invalid YAML", file=label, cause="an alias refers to itself")
        if depth > MAX_DEPTH:
            raise ConfigError(
                "invalid YAML", file=label, cause=f"nested deeper than {MAX_DEPTH} levels"
            )
        visiting.add(key)
        stack.append((node, depth, True))
        children = list(node.values()) if isinstance(node, Mapping) else node
        stack.extend((c, depth + 1, False) for c in children)


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


@frozen
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
            raise self.where(key).error(f"expected a string, not {kind_of(value)}")
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
