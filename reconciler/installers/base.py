"""The installer protocol and the subprocess runner the backends share."""

from __future__ import annotations

import os
import shlex
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from reconciler.errors import ExecuteError, Interrupted
from reconciler.models import IndexOptions, LockedPackage
from reconciler.support import procs, scratch
from reconciler.support.pipconfig import hermetic_env, index_args
from reconciler.support.redact import redact


class Installer(Protocol):
    """Creates venvs and installs/uninstalls locked packages in them."""

    name: str

    def create_venv(self, python: str, path: Path) -> None:
        """Create an empty venv (no pip seeded) at ``path`` with base interpreter ``python``."""

    def install(
        self, venv: Path, packages: Sequence[LockedPackage], index: IndexOptions, project_dir: Path
    ) -> None:
        """Install exactly ``packages`` (no dependencies, hashes required when present)."""

    def uninstall(self, venv: Path, names: Sequence[str]) -> None:
        """Remove the distributions ``names`` from ``venv``."""


_command_echo: list[Callable[[str], None]] = []


def echo_commands(echo: Callable[[str], None]) -> None:
    """Show every pip/uv/pip-compile command line through ``echo`` (``--verbose``)."""
    _command_echo[:] = [echo]


def show_command(command: Sequence[str]) -> None:
    """Pass ``command`` (credentials redacted) to the ``--verbose`` echo, if any."""
    for echo in _command_echo:
        echo(redact(shlex.join(str(part) for part in command)))


def run(command: Sequence[str], what: str) -> None:
    """Run ``command`` hermetically; on failure raise :class:`ExecuteError` with its last words.

    A stop request (SIGINT/SIGTERM) ends the command and raises :class:`Interrupted`.
    """
    show_command(command)
    try:
        result = procs.run(command, env=hermetic_env())
    except Interrupted as exc:
        raise Interrupted(f"{what}: interrupted") from exc
    except OSError as exc:
        raise ExecuteError(f"{what}: cannot run {command[0]}: {exc.strerror}") from exc
    if result.returncode != 0:
        raise ExecuteError(f"{what}: {last_error_line(result.stderr or result.stdout)}")


def last_error_line(output: str) -> str:
    """The most telling line of a failed pip/uv run, credentials redacted."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith(("ERROR:", "error:")):
            return redact(line.split(":", 1)[1].strip())
    return redact(lines[-1]) if lines else "failed with no output"


@contextmanager
def requirements_file(lines: Iterable[str]) -> Iterator[Path]:
    """A temporary requirements file holding ``lines`` (requirement plus hashes each)."""
    fd, name = tempfile.mkstemp(prefix="reconciler-", suffix=".txt", dir=scratch.tmpdir())
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.writelines(line + "\n" for line in lines)
        yield path
    finally:
        path.unlink(missing_ok=True)


@contextmanager
def locked_install_args(
    packages: Sequence[LockedPackage], index: IndexOptions, project_dir: Path
) -> Iterator[list[str]]:
    """``[--require-hashes] <index options> -r FILE`` for installing exactly ``packages``.

    pip and uv take the same spelling; the file lives as long as the ``with`` block.
    """
    with requirements_file(p.install_line() for p in packages) as requirements:
        args = ["--require-hashes"] if all(p.hashes for p in packages) else []
        yield [*args, *index_args(index, project_dir), "-r", str(requirements)]
