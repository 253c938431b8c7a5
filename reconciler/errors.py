"""One error hierarchy; the CLI alone maps it to messages and exit codes."""

from __future__ import annotations

import os
from typing import Self


class ReconcilerError(Exception):
    """Base of every error a user can act on: printed as one ``error:`` line, exit code 1.

    What the error is about is kept in fields, not spelled into the message: ``plugin``, the
    ``file`` and ``line`` (and the dotted ``key`` in it) it comes from, and the ``cause`` (a
    tool's or the OS's words). :func:`format_error` joins them, once, as
    ``file:line: key: plugin 'name': message: cause``.
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
    ) -> None:
        super().__init__(message)
        self.message = message
        self.plugin = plugin
        self.file = None if file is None else os.fspath(file)
        self.line = line
        self.key = key
        self.cause = cause

    def about(self, plugin: str) -> Self:
        """This error, naming ``plugin`` unless it already names one."""
        if self.plugin is None:
            self.plugin = plugin
        return self

    def __str__(self) -> str:
        return format_error(self)


def format_error(error: ReconcilerError) -> str:
    """The one-line form of ``error``: ``file:line: key: plugin 'name': message: cause``."""
    parts: list[str] = []
    if error.file is not None:
        parts.append(f"{error.file}:{error.line}" if error.line else error.file)
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


def combine(errors: list[ReconcilerError]) -> ReconcilerError:
    """One error for ``errors``: itself when alone, else :class:`Errors` listing every one."""
    return errors[0] if len(errors) == 1 else Errors(errors)
