"""One error hierarchy; the CLI alone maps it to messages and exit codes."""

from __future__ import annotations


class ReconcilerError(Exception):
    """Base of every error a user can act on: printed as one ``error:`` line, exit code 1."""

    exit_code = 1


class ConfigError(ReconcilerError):
    """``reconciler.toml`` is missing, malformed or invalid."""


class LockError(ReconcilerError):
    """A lock file is missing, stale, unreadable, or could not be produced."""


class InterpreterError(ReconcilerError):
    """A requested Python interpreter cannot be found or does not run."""


class StalePlanError(ReconcilerError):
    """A saved plan no longer matches the world it was made from."""


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
