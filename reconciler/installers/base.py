"""The installer protocol and the subprocess runner the backends share."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Protocol

from reconciler.errors import ExecuteError, Interrupted, ReconcilerError
from reconciler.installers.pipconfig import hermetic_env, index_args, needs_tls
from reconciler.models import IndexOptions, LockedPackage
from reconciler.support import procs, scratch
from reconciler.support.redact import redact


class InstallRequest:
    """One ``Installer.install`` call: exactly these packages into this venv.

    No dependencies are installed (the lock lists every package) and hashes are required when
    present. ``project_dir`` anchors relative local paths. ``repair``: reinstall them even when
    the same version is present, from the artifacts themselves, never from an unpacked cache
    (uv hard-links files from its cache, so an edit made in a venv may have changed the cached
    copy too).

    Frozen, and a plain class: an attrs class costs every apply's start-up.
    """

    __slots__ = ("index", "packages", "project_dir", "repair", "venv")

    venv: Path
    packages: tuple[LockedPackage, ...]
    index: IndexOptions
    project_dir: Path
    repair: bool

    def __init__(
        self,
        venv: Path,
        packages: tuple[LockedPackage, ...],
        index: IndexOptions,
        project_dir: Path,
        repair: bool = False,
    ) -> None:
        for name, value in (
            ("venv", venv),
            ("packages", packages),
            ("index", index),
            ("project_dir", project_dir),
            ("repair", repair),
        ):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"InstallRequest is frozen: cannot set {name!r}")


class Installer(Protocol):
    """Creates venvs and installs/uninstalls locked packages in them."""

    name: str

    def create_venv(self, python: str, path: Path) -> None:
        """Create an empty venv (no pip seeded) at ``path`` with base interpreter ``python``."""

    def install(self, request: InstallRequest) -> None:
        """Install exactly the request's packages into its venv (see :class:`InstallRequest`)."""

    def uninstall(self, venv: Path, names: Sequence[str]) -> None:
        """Remove the distributions ``names`` from ``venv``."""


_command_echo: list[Callable[[str], None]] = []
_output_echo: list[Callable[[str], None]] = []


def echo_commands(echo: Callable[[str], None], output: Callable[[str], None] | None = None) -> None:
    """Show every pip/uv/pip-compile command line through ``echo`` and, with ``output``, every
    line those commands print as they print it (``--verbose``)."""
    _command_echo[:] = [echo]
    _output_echo[:] = [] if output is None else [output]


#: The plugin whose pip/uv calls this thread (or task) runs: prefixes their streamed lines,
#: so parallel plugins' output can be told apart.
_output_label: ContextVar[str] = ContextVar("reconciler_output_label", default="")


@contextmanager
def output_label(plugin: str) -> Iterator[None]:
    """Streamed output lines of the calls made in this block are prefixed ``plugin: ``."""
    token = _output_label.set(plugin)
    try:
        yield
    finally:
        _output_label.reset(token)


def output_echo() -> Callable[[str], None] | None:
    """What streams a child's output lines (credentials redacted, prefixed with the plugin
    they are for), or None (not verbose)."""
    if not _output_echo:
        return None
    echo = _output_echo[0]
    label = _output_label.get()
    prefix = f"{label}: " if label else ""
    return lambda line: echo(redact(prefix + line))


def show_command(command: Sequence[str]) -> None:
    """Pass ``command`` (credentials redacted) to the ``--verbose`` echo, if any."""
    if not _command_echo:
        return
    import shlex  # noqa: PLC0415 - start-up: only --verbose shows commands

    for echo in _command_echo:
        echo(redact(shlex.join(str(part) for part in command)))


def run_hermetic(
    command: Sequence[str], error: type[ReconcilerError], tool: str
) -> subprocess.CompletedProcess[str]:
    """Show ``command`` (``--verbose``) and run it hermetically, whatever its exit code; an
    ``error`` naming ``tool`` when it cannot be started."""
    show_command(command)
    try:
        return procs.run(command, env=hermetic_env())
    except OSError as exc:
        raise error(f"cannot run {tool}", cause=exc.strerror or str(exc)) from exc


def run(command: Sequence[str], what: str, *, pip_config: bool = True, tls: bool = True) -> None:
    """Run ``command`` hermetically; on failure raise :class:`ExecuteError` with its last words.

    A stop request (SIGINT/SIGTERM) ends the command and raises :class:`Interrupted`.
    ``pip_config``, ``tls``: see :func:`~reconciler.installers.pipconfig.hermetic_env`.
    """
    show_command(command)
    env = hermetic_env(pip_config=pip_config, tls=tls)
    try:
        result = procs.run(command, env=env, on_line=output_echo())
    except Interrupted as exc:
        raise Interrupted(f"{what}: interrupted") from exc
    except OSError as exc:
        raise ExecuteError(f"{what}: cannot run {command[0]}: {exc.strerror}") from exc
    if result.returncode != 0:
        import shlex  # noqa: PLC0415 - start-up: failures only

        from reconciler.support.tool_errors import explain, failure_cause  # noqa: PLC0415 - start-up: failures only

        output = (result.stdout or "") + (result.stderr or "")
        explained = explain(result.stderr or result.stdout)
        label = f"{Path(command[0]).name}-{what}"
        logged = f"$ {shlex.join(str(part) for part in command)}\n{output}"
        raise ExecuteError(f"{what}: {failure_cause(explained, logged, label)}")


@contextmanager
def requirements_file(lines: Iterable[str]) -> Iterator[Path]:
    """A temporary requirements file holding ``lines`` (requirement plus hashes each), mode
    0600, made as ``tempfile.mkstemp`` makes one (a new name, ``O_EXCL``) in the run's scratch
    directory; tempfile itself (random, shutil: ~10 ms) is loaded only outside a run."""
    directory = scratch.tmpdir()
    if directory is None:
        import tempfile  # noqa: PLC0415 - start-up: only outside a scratch session

        directory = Path(tempfile.gettempdir())
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    while True:
        path = directory / f"reconciler-{os.urandom(8).hex()}.txt"
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError:
            continue  # 64 random bits taken: draw again
        break
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.writelines(line + "\n" for line in lines)
        yield path
    finally:
        path.unlink(missing_ok=True)


class Batch:
    """One installer call: its arguments and the packages it must reinstall (a plain class:
    made and read here only; an attrs class costs every apply's start-up)."""

    __slots__ = ("args", "force", "fresh", "hashed", "reinstall", "tls")

    def __init__(
        self,
        args: tuple[str, ...],
        force: bool,
        hashed: bool,
        *,
        fresh: bool = False,
        reinstall: tuple[str, ...] = (),
        tls: bool = True,
    ) -> None:
        self.args = args
        self.force = force  # reinstall listed packages even when a same version is present
        self.hashed = hashed
        self.fresh = fresh  # repair: bypass the installer's cache (see Installer.install)
        #: installed distributions this call replaces at the same version (direct sources whose
        #: content may differ); empty in a new venv, so nothing is re-fetched or rebuilt for it
        self.reinstall = reinstall
        #: the call may reach a server or build something (:func:`~.pipconfig.needs_tls`);
        #: False only when every artifact is a local wheel and no index is asked
        self.tls = tls


def install_each_batch(
    request: InstallRequest,
    command: Callable[[Batch], list[str]],
    *,
    mixed: bool = False,
    pip_config: bool = True,
    keep_tls: bool = True,
) -> None:
    """Run the installer's ``command(batch)`` for each batch that installs exactly the
    request's packages (none when there are no packages); ``mixed``: see :func:`install_batches`.
    Without ``keep_tls`` (uv: it loads every certificate they name at each start) a batch
    that reaches no server and builds nothing runs without the TLS settings
    (:data:`~.pipconfig.TLS_VARIABLES`).
    Then record the source of each package installed from its prebuilt wheel
    (:func:`~reconciler.installers.origin.record_origins`)."""
    if not request.packages:
        return
    with install_batches(
        request.packages,
        request.index,
        request.project_dir,
        repair=request.repair,
        installed=installed_names(request.venv),
        mixed=mixed,
    ) as batches:
        for batch in batches:
            run(command(batch), "installing", pip_config=pip_config, tls=keep_tls or batch.tls)
    if any(p.prebuilt is not None for p in request.packages):
        from reconciler.installers.origin import record_origins  # noqa: PLC0415 - start-up: wheels of sources only

        record_origins(request.venv, request.packages, request.project_dir)


@contextmanager
def install_batches(
    packages: Sequence[LockedPackage],
    index: IndexOptions,
    project_dir: Path,
    *,
    repair: bool = False,
    installed: Iterable[str] = (),
    mixed: bool = False,
) -> Iterator[list[Batch]]:
    """The installer calls that install exactly ``packages``, in order.

    Hashable lines (index pins, archive URLs, wheels ``fetch`` built from a source) are
    installed with every hash checked; unhashable ones (VCS commits, local projects) cannot
    carry a hash. With ``mixed`` (uv: it checks the
    hash of every line that has one, and this form is used only when every hashable line has
    hashes) both go in one call, so a git plugin costs one installer run. Otherwise (pip:
    ``--require-hashes`` is all-or-nothing per call) the hashable lines go first with
    ``--require-hashes``, the unhashable ones in a second call. Every call is ``--no-deps``: the
    lock lists every package. ``installed`` names the distributions already in the venv: a
    direct package among them is reinstalled (same version, maybe other content); ``repair``
    reinstalls everything.
    """
    present = set(installed)
    hashed = [p for p in packages if p.hash_checked]  # a prebuilt wheel of a source is hashed
    unhashed = [p for p in packages if not p.hash_checked]
    require = bool(hashed) and all(p.install_hashes for p in hashed)

    def reinstall(group: Sequence[LockedPackage]) -> tuple[str, ...]:
        return tuple(p.name for p in group if p.kind != "index" and p.name in present)

    def batch(
        args: tuple[str, ...], group: Sequence[LockedPackage], lines: Sequence[str], hashed: bool
    ) -> Batch:
        names = reinstall(group)
        tls = needs_tls(index, lines, project_dir)
        return Batch(args, repair or bool(names), hashed, fresh=repair, reinstall=names, tls=tls)

    batches: list[Batch] = []
    with ExitStack() as stack:
        index_opts = index_args(index, project_dir)
        if mixed and hashed and unhashed and require:
            lines = [p.install_line(project_dir) for p in [*hashed, *unhashed]]
            file = stack.enter_context(requirements_file(lines))
            args = ("--verify-hashes", *index_opts, "-r", str(file))
            batches.append(batch(args, [*hashed, *unhashed], lines, hashed=True))
            yield batches
            return
        if hashed:
            lines = [p.install_line() for p in hashed]
            file = stack.enter_context(requirements_file(lines))
            flags = ["--require-hashes"] if require else []
            args = (*flags, *index_opts, "-r", str(file))
            batches.append(batch(args, hashed, lines, hashed=True))
        if unhashed:
            lines = [p.install_line(project_dir) for p in unhashed]
            file = stack.enter_context(requirements_file(lines))
            batches.append(batch((*index_opts, "-r", str(file)), unhashed, lines, hashed=False))
        yield batches


def installed_names(venv: Path) -> set[str]:
    """The canonical names of the distributions in ``venv`` (from its ``*.dist-info``)."""
    from reconciler.observe import observe_venv  # noqa: PLC0415 - only when installing

    return {d.name for d in observe_venv(venv).dists}
