"""``reconciler add`` / ``remove``: edit ``reconciler.toml`` with tomlkit, keeping its layout.

tomlkit decides *where* a plugin table starts and ends; the text is then spliced on whole lines so
that comments stay with what they describe and ``add`` followed by ``remove`` gives back the same
bytes. A comment block directly above a ``[plugins.NAME]`` header belongs to that table; a comment
block after a table's last key belongs to it only when directly attached to that key (and not
directly above the next header). Every result is checked against tomlkit's own edit (same values)
and against :func:`reconciler.config.parse` before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
from tomlkit.items import Table

from reconciler.errors import ConfigError, ReconcilerError, toml_position
from reconciler.models import DesiredState, Plugin
from reconciler.sources import toml as config
from reconciler.support.files import read_regular, write_atomic
from reconciler.support.values import evolve, frozen


class EditError(ConfigError):
    """``reconciler.toml`` cannot be edited as asked (the file is left unchanged)."""


@frozen
class Edit:
    """One change to ``reconciler.toml``: the file and its text before and after."""

    path: Path
    before: str
    after: str


# ---- pure text transformations ------------------------------------------------------------------


def add_text(
    text: str, project_file: Path, name: str, requirements: Sequence[str], python: str | None = None
) -> str:
    """The text of ``reconciler.toml`` with a ``[plugins.NAME]`` table appended to the plugins.

    Raises :class:`ConfigError` when the current text is invalid, the plugin is already declared
    (ignoring case), or the result would not be a valid ``reconciler.toml``.
    """
    before = config.parse(text, project_file)
    existing = _declared(before, name)
    if existing is not None:
        also = "" if existing == name else f" (as {existing!r})"
        raise EditError(f"plugin {name!r} already declared{also}; use `reconciler remove` first")
    document = _parse(text, project_file)
    plugins = document.get("plugins")
    if plugins is None:
        plugins = tomlkit.table(is_super_table=True)
        document.add("plugins", plugins)
    if not isinstance(plugins, Table):
        raise EditError(
            f"{project_file.name}: 'plugins' is not a table of [plugins.NAME] tables; "
            "edit it by hand"
        )
    plugins.add(name, _plugin_table(requirements, python))
    reference = document.as_string()
    table_text = _render_table(name, _plugin_table(requirements, python), _newline(text))
    spliced = _splice_add(text, reference, table_text)
    result = _checked(spliced, reference, project_file)
    after = _validate(result, project_file)
    expected = Plugin(
        name=name,
        requirements=tuple(requirements),
        python=python if python is not None else before.settings.python,
    )
    _expect(after, evolve(before, plugins=(*before.plugins, expected)), project_file)
    return result


def remove_text(text: str, project_file: Path, name: str) -> str:
    """The text of ``reconciler.toml`` without plugin ``name`` (and the comments it owns).

    Raises :class:`ConfigError` when the current text is invalid or ``name`` is not declared.
    """
    before = config.parse(text, project_file)
    if before.plugin(name) is None:
        existing = _declared(before, name)
        hint = f"; did you mean {existing!r}?" if existing is not None else ""
        raise EditError(f"plugin {name!r} is not declared in {project_file.name}{hint}")
    document = _parse(text, project_file)
    plugins = document["plugins"]
    assert isinstance(plugins, MutableMapping)  # noqa: S101 - config.parse accepted a table
    del plugins[name]
    reference = document.as_string()
    result = _checked(_splice_remove(text, reference), reference, project_file)
    after = _validate(result, project_file)
    remaining = tuple(p for p in before.plugins if p.name != name)
    _expect(after, evolve(before, plugins=remaining), project_file)
    return result


def _declared(desired: DesiredState, name: str) -> str | None:
    folded = name.lower()
    return next((p.name for p in desired.plugins if p.name.lower() == folded), None)


def _parse(text: str, project_file: Path) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:  # config.parse already reported it
        what, line, column = toml_position(exc)
        raise ConfigError(
            "invalid TOML", file=project_file.name, line=line, column=column, cause=what
        ) from exc


def _plugin_table(requirements: Sequence[str], python: str | None) -> Table:
    table = tomlkit.table()
    array = tomlkit.array()
    for requirement in requirements:
        # a literal string keeps markers such as python_version < "3.12" readable
        literal = '"' in requirement and "'" not in requirement and "\n" not in requirement
        array.append(tomlkit.string(requirement, literal=literal))
    if len(array.as_string()) > 80:
        array.multiline(True)
    table.add("requirements", array)
    if python is not None:
        table.add("python", python)
    return table


def _render_table(name: str, table: Table, newline: str) -> str:
    document = tomlkit.document()
    plugins = tomlkit.table(is_super_table=True)
    plugins.add(name, table)
    document.add("plugins", plugins)
    return tomlkit.dumps(document).replace("\n", newline)


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _validate(text: str, project_file: Path) -> DesiredState:
    try:
        return config.parse(text, project_file)
    except ConfigError as exc:
        raise exc.recast(EditError).noted(f"({project_file.name} left unchanged)") from exc


def _expect(after: DesiredState, expected: DesiredState, project_file: Path) -> None:
    ordered = evolve(expected, plugins=tuple(sorted(expected.plugins, key=lambda p: p.name)))
    if after != ordered:  # pragma: no cover - a safety net for layouts tomlkit mishandles
        raise EditError(
            f"{project_file.name}: cannot edit this file safely (the result would change other "
            "settings); edit it by hand"
        )


def _checked(spliced: str | None, reference: str, project_file: Path) -> str:
    """``spliced`` when it means exactly what tomlkit's own edit ``reference`` means."""
    if spliced is None:
        return reference
    try:
        same = tomlkit.parse(spliced).unwrap() == tomlkit.parse(reference).unwrap()
    except tomlkit.exceptions.ParseError:
        same = False
    return spliced if same else reference


# ---- line-level splicing ------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    """``text`` split after each ``\\n`` only (TOML's line ends), keeping the ends."""
    return [line for line in re.split(r"(?<=\n)", text) if line]


def _is_blank(line: str) -> bool:
    return not line.strip()


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _is_content(line: str) -> bool:
    return not _is_blank(line) and not _is_comment(line)


def _owned_end(lines: Sequence[str], start: int, end: int) -> int:
    """End (exclusive) of what the table at ``lines[start]`` owns within ``lines[start:end]``.

    Its keys, plus a comment block directly below the last key, unless that block sits directly
    above the next header (``end`` < number of lines).
    """
    last = next((i for i in range(end - 1, start - 1, -1) if _is_content(lines[i])), start)
    stop = last + 1
    while stop < end and _is_comment(lines[stop]):
        stop += 1
    if stop == end and end < len(lines):
        return last + 1
    return stop


def _deleted_span(longer: str, shorter: str) -> tuple[int, int] | None:
    """``(a, b)`` on line boundaries of ``longer`` with ``longer[:a] + longer[b:] == shorter``."""
    size = len(longer) - len(shorter)
    if size <= 0:
        return None
    a = 0
    limit = len(shorter)
    while a < limit and longer[a] == shorter[a]:
        a += 1
    if longer[a + size :] != shorter[a:]:
        return None
    while True:
        at_line_start = a == 0 or longer[a - 1] == "\n"
        end_ok = a + size == len(longer) or longer[a + size - 1] == "\n"
        if at_line_start and end_ok:
            return a, a + size
        if a == 0 or longer[a - 1] != longer[a - 1 + size]:
            return None
        a -= 1


def _line_index(lines: Sequence[str], offset: int) -> int:
    position = 0
    for index, line in enumerate(lines):
        if position >= offset:
            return index
        position += len(line)
    return len(lines)


def _splice_add(text: str, reference: str, table_text: str) -> str | None:
    """Insert ``table_text`` where tomlkit put the new table, after what the previous table owns."""
    lines = _lines(text)
    newline = _newline(text)
    if len(reference) <= len(text):
        return None
    # where tomlkit inserted: the first difference, as a line of ``text``
    offset = 0
    while offset < len(text) and text[offset] == reference[offset]:
        offset += 1
    at = len(lines) if offset == len(text) else _line_index(lines, text.rfind("\n", 0, offset) + 1)
    if any(_is_content(line) for line in lines[:at]):
        start = max(i for i in range(at) if _is_content(lines[i]))
        point = _owned_end(lines, start, at)
    else:
        point = max((i + 1 for i in range(at) if not _is_blank(lines[i])), default=0)
    head, tail = "".join(lines[:point]), "".join(lines[point:])
    before = ""
    if head:
        before = newline if head.endswith("\n") else newline + newline
    after = newline if tail and not _is_blank(lines[point]) else ""
    return head + before + table_text + after + tail


def _splice_remove(text: str, reference: str) -> str | None:
    """Remove the table tomlkit removed, with the comments it owns and one run of blank lines."""
    span = _deleted_span(text, reference)
    if span is None:
        return None
    lines = _lines(text)
    first, region_end = _line_index(lines, span[0]), _line_index(lines, span[1])
    while first < region_end and not _is_content(lines[first]):
        first += 1
    if first == region_end:
        return None
    start = first
    while start > 0 and _is_comment(lines[start - 1]):
        start -= 1
    stop = _owned_end(lines, first, region_end)
    blank_before = start
    while blank_before > 0 and _is_blank(lines[blank_before - 1]):
        blank_before -= 1
    blank_after = stop
    while blank_after < len(lines) and _is_blank(lines[blank_after]):
        blank_after += 1
    above, below = lines[blank_before:start], lines[stop:blank_after]
    has_prev, has_next = blank_before > 0, blank_after < len(lines)
    if has_prev and not has_next:
        keep = below
    elif has_next and not has_prev:
        keep = above
    else:
        keep = above if len(above) > len(below) else below
    return "".join([*lines[:blank_before], *keep, *lines[blank_after:]])


# ---- the file -----------------------------------------------------------------------------------


def _read(project_file: Path) -> str:
    try:
        data = read_regular(project_file, project_file.parent)  # never a FIFO, never blocking
    except OSError as exc:
        raise ConfigError("cannot read", file=project_file, cause=exc.strerror) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "cannot read", file=project_file, cause=f"not UTF-8 ({exc.reason})"
        ) from exc


def _commit(project_file: Path, before: str, after: str) -> Edit:
    if _read(project_file) != before:
        raise EditError("changed while being edited; try again", file=project_file)
    try:
        write_atomic(project_file, after)
    except OSError as exc:
        raise ConfigError(
            "cannot write", file=project_file, cause=exc.strerror or str(exc)
        ) from exc
    return Edit(path=project_file, before=before, after=after)


def add_plugin(
    project_file: Path,
    name: str,
    requirements: Sequence[str],
    *,
    python: str | None = None,
    then: Callable[[], Any] | None = None,
) -> Edit:
    """Declare plugin ``name`` in ``project_file``; nothing is written unless the result is valid.

    ``then`` runs after the file is written (e.g. locking the new plugin); when it raises, the
    edit is undone and the error propagates.
    """
    before = _read(project_file)
    after = add_text(before, project_file, name, requirements, python)
    edit = _commit(project_file, before, after)
    if then is not None:
        try:
            then()
        except (ReconcilerError, KeyboardInterrupt) as exc:
            if revert(edit) and isinstance(exc, ReconcilerError):
                exc.noted(f"({project_file.name} left unchanged)")
            raise
    return edit


def remove_plugin(project_file: Path, name: str) -> Edit:
    """Remove plugin ``name`` from ``project_file`` (its lock and venv are left to lock/apply)."""
    before = _read(project_file)
    return _commit(project_file, before, remove_text(before, project_file, name))


def revert(edit: Edit) -> bool:
    """Undo ``edit`` unless the file changed since; True when the old text is back."""
    try:
        if _read(edit.path) != edit.after:
            return False
        write_atomic(edit.path, edit.before)
    except (OSError, ConfigError):
        return False
    return True


NEW_PROJECT_HEADER = (
    "# reconciler desired state: one table per plugin, [plugins.NAME] with PEP 508\n"
    "# requirements. `reconciler lock` pins them into lock/, `reconciler apply` builds .venvs/.\n"
)


def new_project_file(directory: Path) -> Path:
    """Create an empty ``reconciler.toml`` (a comment only) in ``directory`` and return it."""
    project_file = directory.absolute() / "reconciler.toml"
    if not project_file.exists():
        try:
            directory.mkdir(parents=True, exist_ok=True)
            write_atomic(project_file, NEW_PROJECT_HEADER)
        except OSError as exc:
            raise ConfigError(
                "cannot create", file=project_file, cause=exc.strerror or str(exc)
            ) from exc
    return project_file
