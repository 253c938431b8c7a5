"""The resolver protocol and what every resolver shares (the request, the scratch directory).

A resolver turns one plugin's requirements into the body of its lock: pip requirements pinned
with ``==`` and hashed, installable by plain ``pip install --require-hashes -r``. The
orchestration (freshness, the ``# reconciler-inputs`` header, writing) lives in
:mod:`reconciler.locking.lock` and does not care which resolver produced the body.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from reconciler.errors import Interrupted, LockError
from reconciler.installers.base import output_echo, show_command
from reconciler.installers.pipconfig import hermetic_env, index_args, needs_tls, resolve_link
from reconciler.models import IndexOptions, Interpreter, Plugin
from reconciler.support import procs, scratch
from reconciler.support.values import frozen

#: What a lock's own comment says made it (no machine path, no flags).
CUSTOM_COMPILE_COMMAND = "reconciler lock"


@frozen
class ResolveRequest:
    """Everything a resolver needs to lock one plugin.

    ``previous`` is the current lock's text (its pins are kept where still allowed), ``None``
    to resolve from scratch (``--upgrade`` or no lock yet); ``upgrade_packages`` are freed from
    their previous pins. ``tools_dir`` is where a resolver may cache helper environments.
    """

    plugin: Plugin
    interpreter: Interpreter
    index: IndexOptions
    project_dir: Path
    tools_dir: Path
    previous: str | None = None
    upgrade_packages: tuple[str, ...] = ()


class Resolver(Protocol):
    """Resolves a plugin's requirements into a hashed, pinned requirements file body."""

    name: str

    def resolve(self, request: ResolveRequest) -> str:
        """The lock body (without reconciler's header) for ``request``; raises LockError."""


@frozen
class Workdir:
    """A scratch directory with the plugin's ``<name>.in`` and its output ``<name>.txt``."""

    path: Path
    source: Path
    output: Path


@contextmanager
def workdir(request: ResolveRequest) -> Iterator[Workdir]:
    """A temporary directory holding the requirements and (when kept) the previous lock.

    Both resolvers run with this directory as their working directory and relative file
    names, so the lock's annotations (``# via -r tap.in``) hold no machine path.
    """
    name = request.plugin.name.replace("/", "--")  # a Meltano `<type>/<name>` id: one file
    area = scratch.current()
    if area is None:  # outside a run (``lock`` always opens one): the system's temp dir
        import tempfile  # noqa: PLC0415 - start-up: random, shutil; only outside a scratch session

        work = Path(tempfile.mkdtemp(prefix="reconciler-lock-"))
    else:  # in the run's scratch directory, without tempfile and shutil (~3 ms a start)
        work = area.mkdtemp("reconciler-lock-")
    try:
        source = work / f"{name}.in"
        source.write_text("".join(f"{r}\n" for r in request.plugin.requirements), encoding="utf-8")
        output = work / f"{name}.txt"
        if request.previous is not None:
            output.write_text(request.previous, encoding="utf-8")
        yield Workdir(work, source, output)
    finally:
        scratch.remove(work)


def run_resolver(
    command: Sequence[str], plugin: str, tool: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a resolver command hermetically in ``cwd``; OSError becomes a one-line LockError.

    A stop request (SIGINT/SIGTERM) ends the command and raises :class:`Interrupted`.
    """
    show_command(command)
    try:
        return procs.run(
            command,
            cwd=cwd,
            env=hermetic_env() if env is None else env,
            on_line=output_echo(),  # --verbose: its output as it comes
        )
    except Interrupted as exc:
        raise Interrupted("interrupted; its lock is unchanged", plugin=plugin) from exc
    except OSError as exc:
        raise LockError(f"cannot run {tool}: {exc.strerror or exc}", plugin=plugin) from exc


def compile_lock(
    command: Sequence[str],
    plugin: str,
    tool: str,
    work: Workdir,
    explain: Callable[[str], str],
    env: dict[str, str] | None = None,
    *,
    label: str,
) -> str:
    """Run a resolver's compile ``command`` in ``work``; the lock it wrote, or a
    :class:`LockError` whose cause ``explain`` reads from its output (the whole output kept in
    a log named after ``label`` and the plugin, see :func:`failure_cause`)."""
    result = run_resolver(command, plugin, tool, work.path, env)
    if result.returncode != 0:
        from reconciler.support.tool_errors import failure_cause  # noqa: PLC0415 - start-up: failures only

        output = result.stderr + result.stdout
        cause = failure_cause(explain(result.stderr), output, f"{label}-{plugin}")
        raise LockError("cannot lock", cause=cause, plugin=plugin)
    return work.output.read_text(encoding="utf-8")


def resolve_needs_tls(request: ResolveRequest) -> bool:
    """Whether resolving ``request`` keeps the TLS settings: it may reach a server (an index, a
    find-links URL, a requirement naming a URL other than a local file, a constraints file,
    whose content is not read here) or build something (a VCS or path requirement's metadata,
    an sdist in a local find-links directory). The rule is
    :func:`~reconciler.installers.pipconfig.needs_tls`, the one ``apply`` uses too."""
    return bool(request.plugin.constraints) or needs_tls(
        request.index, request.plugin.requirements, request.project_dir, resolves=True
    )


def source_args(request: ResolveRequest, pre_flag: Sequence[str]) -> list[str]:
    """Index, constraint and pre-release options of ``request``, shared by every resolver.

    ``pre_flag`` is the resolver's own spelling of "allow pre-releases".
    """
    plugin = request.plugin
    args = index_args(request.index, request.project_dir)
    for constraint in plugin.constraints:
        args.extend(["--constraint", resolve_link(constraint, request.project_dir)])
    if plugin.pre:
        args.extend(pre_flag)
    return args
