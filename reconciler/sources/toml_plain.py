"""The plain TOML a ``reconciler.toml`` is written in, read without ``tomllib``.

Importing ``tomllib`` costs a no-op ``plan`` ~16M instructions (~4 ms: its regexes, ``datetime``
and ``string``), more than reading the file. :func:`loads` reads the subset such files use and
returns None for anything else, so that the caller asks ``tomllib``:

- comments, blank lines; ``\\n`` line ends (any other control character: None);
- table headers ``[a.b."c"]`` of bare or quoted keys (no escape, no space around the dots);
  no ``[[array of tables]]``;
- ``key = value`` with a bare key (no dotted or quoted keys); values: strings (``"..."``
  without a backslash, ``'...'``), ``true``/``false``, decimal integers without sign or ``_``
  (at most 18 digits), and arrays of such strings, over several lines with comments and a
  trailing comma.

It never accepts a file ``tomllib`` refuses (a key or table defined twice, a value where a table
is, anything after a value) and reads what it accepts exactly as ``tomllib`` does
(``tests/test_config.py`` compares the two on generated files).
"""

from __future__ import annotations

from typing import Any

_BARE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
_BARE_OR_DOT = _BARE + "."
_DIGITS = "0123456789"


class _Unplain(Exception):
    """Not in the subset: ``tomllib`` reads it (or says what is wrong)."""


def loads(text: str) -> dict[str, Any] | None:
    """``tomllib.loads(text)`` for a file in the subset above, else None."""
    # tab and newline are the only control characters taken; anything not printable (``\r``,
    # form feed, DEL, unusual Unicode spaces) is left to tomllib
    if not text.replace("\t", "").replace("\n", "").isprintable():
        return None
    try:
        return _Reader(text.split("\n")).document()
    except _Unplain:
        return None


def _is_bare(key: str) -> bool:
    return bool(key) and not key.strip(_BARE)


class _Reader:
    __slots__ = ("index", "lines")

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.index = 0

    def next_line(self) -> str:
        if self.index >= len(self.lines):
            raise _Unplain
        line = self.lines[self.index]
        self.index += 1
        return line

    def document(self) -> dict[str, Any]:
        root: dict[str, Any] = {}
        table = root
        defined: set[tuple[str, ...]] = set()
        lines, count = self.lines, len(self.lines)
        while self.index < count:
            line = lines[self.index].strip(" \t")
            self.index += 1
            if not line or line[0] == "#":
                continue
            if line[0] == "[":
                path, rest = _header(line)
                _end_of_line(rest)
                if path in defined:
                    raise _Unplain  # a table defined twice
                defined.add(path)
                table = root
                for key in path:
                    inner = table.setdefault(key, {})
                    if not isinstance(inner, dict):
                        raise _Unplain  # a value where the header wants a table
                    table = inner
                continue
            key, equals, rest = line.partition("=")
            key = key.rstrip(" \t")
            if not equals or not _is_bare(key) or key in table:
                raise _Unplain
            value, rest = self.value(rest.lstrip(" \t"))
            _end_of_line(rest)
            table[key] = value
        return root

    def value(self, text: str) -> tuple[Any, str]:
        """The value at the start of ``text`` and what follows it on its (last) line."""
        if text[:1] in ("'", '"'):
            return _string(text)
        if text.startswith("true"):
            return True, text[4:]
        if text.startswith("false"):
            return False, text[5:]
        if text[:1] == "[":
            return self.array(text, 1)
        end = 0
        while end < len(text) and text[end] in _DIGITS:
            end += 1
        digits = text[:end]
        if not digits or len(digits) > 18 or (digits[0] == "0" and len(digits) > 1):
            raise _Unplain
        return int(digits), text[end:]

    def array(self, text: str, at: int) -> tuple[list[str], str]:
        """An array of strings (its ``[`` just before ``text[at]``), perhaps over several
        lines. Positions, not slices: a long line costs its length, not its square."""
        items: list[str] = []
        while True:
            text, at = self.blank(text, at)
            if text[at] == "]":
                return items, text[at + 1 :]
            item, at = _string_at(text, at)
            items.append(item)
            text, at = self.blank(text, at)
            if text[at] == ",":
                at += 1
            elif text[at] != "]":
                raise _Unplain

    def blank(self, text: str, at: int) -> tuple[str, int]:
        """The next character of ``text`` from ``at`` (or of the lines after it) that is no
        space, newline or comment: its line and position."""
        while True:
            size = len(text)
            while at < size and text[at] in " \t":
                at += 1
            if at < size and text[at] != "#":
                return text, at
            text, at = self.next_line(), 0


def _string(text: str) -> tuple[str, str]:
    """A one-line string without escapes at the start of ``text``, and what follows it."""
    content, end = _string_at(text, 0)
    return content, text[end:]


def _string_at(text: str, at: int) -> tuple[str, int]:
    """A one-line string without escapes at ``text[at]``, and the position after it."""
    quote = text[at : at + 1]
    if quote not in ("'", '"') or text.startswith(quote * 3, at):
        raise _Unplain
    end = text.find(quote, at + 1)
    if end < 0:
        raise _Unplain
    content = text[at + 1 : end]
    if quote == '"' and "\\" in content:
        raise _Unplain
    return content, end + 1


def _header(line: str) -> tuple[tuple[str, ...], str]:
    """The key path of a ``[table]`` header line and what follows its ``]``."""
    if line.startswith("[["):
        raise _Unplain
    end = line.find("]")
    inner = line[1:end]
    if end > 0 and '"' not in inner and "'" not in inner:  # bare keys only: one split
        keys = inner.split(".")
        if inner.strip(_BARE_OR_DOT) or "" in keys:
            raise _Unplain
        return tuple(keys), line[end + 1 :]
    keys = []
    at = 1
    while True:  # positions, not slices (see _Reader.array)
        if line[at : at + 1] in ("'", '"'):
            key, at = _string_at(line, at)
        else:
            end = at
            while end < len(line) and line[end] in _BARE:
                end += 1
            key, at = line[at:end], end
            if not key:
                raise _Unplain
        keys.append(key)
        after = line[at : at + 1]
        if after == "]":
            return tuple(keys), line[at + 1 :]
        if after != ".":
            raise _Unplain
        at += 1


def _end_of_line(rest: str) -> None:
    """Only blanks and a comment may follow a value or header on its line."""
    rest = rest.lstrip(" \t")
    if rest and rest[0] != "#":
        raise _Unplain
