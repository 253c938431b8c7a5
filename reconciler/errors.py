"""One error hierarchy; the CLI alone maps it to messages and exit codes."""

from __future__ import annotations

import os
import re
from typing import Self, TypeVar

E = TypeVar("E", bound="ReconcilerError")


class ReconcilerError(Exception):
    """Base of every error a user can act on: printed as one ``error:`` line, exit code 1.

    What the error is about is kept in fields, not spelled into the message: ``plugin``, the
    ``file``, ``line`` and ``column`` (and the dotted ``key`` in it) it comes from, and the
    ``cause`` (a tool's or the OS's words). :func:`format_error` joins them, once, as
    ``file:line:column: key: plugin 'name': message: cause``.
    """

    exit_code = 1

    def __init__(
        self,
        message: str = "",
        *,
        plugin: str | None = None,
        file: str | os.PathLike[str] | None = None,
        line: int | None = None,
        key: str | None = None,
        cause: str | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.plugin = plugin
        self.file = None if file is None else os.fspath(file)
        self.line = line
        self.key = key
        self.cause = cause
        self.column = column  # 1-based, with ``line``

    def about(self, plugin: str) -> Self:
        """This error, naming ``plugin`` unless it already names one."""
        if self.plugin is None:
            self.plugin = plugin
        return self

    def recast(self, cls: type[E]) -> E:
        """This error's message and fields as an error of class ``cls``."""
        copy = cls(self.message)
        for name in ("plugin", "file", "line", "column", "key", "cause"):
            setattr(copy, name, getattr(self, name))
        return copy

    def noted(self, note: str) -> Self:
        """This error with ``note`` at the end of its line (``(x.toml left unchanged)``)."""
        if self.cause:
            self.cause = f"{self.cause} {note}"
        else:
            self.message = f"{self.message} {note}"
        return self

    def __str__(self) -> str:
        return format_error(self)


def format_error(error: ReconcilerError) -> str:
    """The one-line form of ``error``: ``file:line:column: key: plugin 'name': message: cause``."""
    parts: list[str] = []
    if error.file is not None:
        where = [error.file, *([str(error.line)] if error.line else [])]
        if error.line and error.column:
            where.append(str(error.column))
        parts.append(":".join(where))
    if error.key:
        parts.append(error.key)
    if error.plugin is not None:
        parts.append(f"plugin {error.plugin!r}")
    text = error.message
    if error.cause:
        text = f"{text}: {error.cause}" if text else error.cause
    parts.append(text)
    return ": ".join(parts)


class ConfigError(ReconcilerError):
    """``reconciler.toml`` is missing, malformed or invalid."""


class LockError(ReconcilerError):
    """A lock file is missing, stale, unreadable, or could not be produced."""


class InterpreterError(ReconcilerError):
    """A requested Python interpreter cannot be found or does not run."""


class StalePlanError(ReconcilerError):
    """A saved plan no longer matches the world it was made from."""


class PlanFileError(ReconcilerError):
    """A saved plan cannot be read, or says something else than the plan its fingerprint
    stands for (edited by hand)."""


class ExecuteError(ReconcilerError):
    """A step of ``apply`` failed; the venv it touched is left as it was or marked incomplete."""


class SafetyError(ReconcilerError):
    """An action would touch something reconciler does not own (outside the root, no marker)."""


class Interrupted(ReconcilerError):
    """A stop was asked for (SIGINT/SIGTERM) before or during this step; exit code 130."""

    exit_code = 130


class Errors(ReconcilerError):
    """Several plugins failed: one line each (``error: plugin 'a': ...``), in plugin order."""

    def __init__(self, errors: list[ReconcilerError]) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(str(e) for e in errors))
        self.exit_code = max((e.exit_code for e in errors), default=1)


#: Compiled by ``re`` on first use (errors only), not at every plan's start-up.
_TOMLLIB_AT = r" \(at line (\d+), column (\d+)\)\Z"
_TOMLKIT_AT = r" at line (\d+) col (\d+)\Z"


def toml_position(exc: Exception) -> tuple[str, int | None, int | None]:
    """What a TOML parser's error says, and its 1-based line and column (None when it names
    none): tomllib's ``Invalid value (at line 3, column 5)``, tomlkit's ``... at line 3 col 5``
    (tomlkit counts columns from 0)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    found = re.search(_TOMLLIB_AT, text)
    if found:
        return text[: found.start()], int(found.group(1)), int(found.group(2))
    found = re.search(_TOMLKIT_AT, text)
    if found:
        return text[: found.start()], int(found.group(1)), int(found.group(2)) + 1
    return text.replace(" (at end of document)", ""), None, None


def combine(errors: list[ReconcilerError]) -> ReconcilerError:
    """One error for ``errors``: itself when alone, else :class:`Errors` listing every one."""
    return errors[0] if len(errors) == 1 else Errors(errors)
