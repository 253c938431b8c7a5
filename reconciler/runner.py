"""What the command line does around a command, without click: the hot commands' bodies
(``plan``, ``apply``, ``lock``, ``status``: load the project, call one :mod:`reconciler.commands`
module, print what :mod:`reconciler.render` makes of its result), the output, the signal
handling and the mapping of every error to one ``error: ...`` line and an exit code.

Both command lines call it with the same values: the click CLI (:mod:`reconciler.clickcli`,
the one definition of the interface) and the front (:mod:`reconciler.front`), which parses the
hot commands' usual forms without importing click. Nothing here parses a flag.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

from reconciler import render
from reconciler.commands.plan import plan as plan_command
from reconciler.commands.project import Project, load_project
from reconciler.errors import ReconcilerError, format_error
from reconciler.models import IndexOptions, Plan
from reconciler.support.jobs import default_apply_jobs, default_jobs
from reconciler.support.redact import redact
from reconciler.support.ui import Reporter, color_enabled, progress

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_INTERRUPTED = 0, 1, 2, 130


class Options:
    """The global options (``--project``, ``-q``, ``-v``, ``--no-color``, ``--debug``)."""

    __slots__ = ("debug", "no_color", "project", "quiet", "verbose")

    def __init__(
        self, *, project: Path | None, quiet: bool, verbose: bool, no_color: bool, debug: bool
    ) -> None:
        self.project = project
        self.quiet = quiet
        self.verbose = verbose
        self.no_color = no_color
        self.debug = debug


# --- output ----------------------------------------------------------------------------------

#: An ANSI style sequence, as click's ``echo`` strips it from output that is not a terminal
#: (compiled on first use: a plan's output has none).
_ANSI = r"\033\[[;?0-9]*[a-zA-Z]"


def echo(message: str = "", *, err: bool = False, nl: bool = True) -> None:
    """Write ``message`` (and a newline) to stdout or stderr and flush, as ``click.echo`` does:
    ANSI styles stripped unless the stream is a terminal, and UTF-8 (``?`` for what cannot be
    encoded) written under a stream misconfigured as ASCII rather than an exception."""
    stream = sys.stderr if err else sys.stdout
    if stream is None:  # no stream attached
        return
    text = f"{message}\n" if nl else message
    if text and "\033" in text and not _isatty(stream):
        text = re.sub(_ANSI, "", text)
    binary = getattr(stream, "buffer", None)
    if text and binary is not None and _is_ascii(getattr(stream, "encoding", None) or "ascii"):
        stream.flush()
        binary.write(text.encode("utf-8", "replace"))
        binary.flush()
        return
    if text:
        stream.write(text)
    stream.flush()


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except Exception:  # a stream without isatty is no terminal (as click says)
        return False


def _is_ascii(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name == "ascii"
    except LookupError:
        return False


def warn(text: str) -> None:
    echo(f"warning: {redact(text)}", err=True)


def start(options: Options) -> None:
    """What every command does first: with ``-v``, show the pip/uv commands run."""
    if options.verbose:
        from reconciler.installers.base import echo_commands  # noqa: PLC0415 - start-up: -v only

        echo_commands(
            lambda line: echo(f"$ {line}", err=True),
            output=lambda line: echo(f"  {line}", err=True),  # under its command
        )


def load(options: Options) -> Project:
    """The project of ``--project`` (or found upward), its notes printed unless ``-q``."""
    project = load_project(options.project)
    if not options.quiet:
        for note in project.desired.notes:
            echo(redact(f"note: {note}"), err=True)
    return project


def color(options: Options) -> bool:
    return color_enabled(options.no_color)


def print_plan(options: Options, plan: Plan) -> None:
    for warning in plan.warnings:
        warn(warning)
    if color(options):
        from rich.console import Console  # noqa: PLC0415 - rich is slow to import; TTY only

        Console(highlight=False, soft_wrap=True).print(render.human(plan, color=True))
    else:
        echo(render.human(plan))


@contextlib.contextmanager
def reporting(options: Options) -> Iterator[Reporter]:
    """Live view on a TTY (unless verbose, whose command lines would tear it), else plain."""
    live = color(options) and not options.verbose
    with progress(quiet=options.quiet, live=live) as reporter:
        yield reporter


def selected(plugins: tuple[str, ...], plugin_type: str | None) -> tuple[str, ...]:
    """The PLUGIN names with ``--plugin-type TYPE`` joined to them (as Meltano's positional
    type does: ``reconciler apply loaders``)."""
    return plugins if plugin_type is None else (*plugins, plugin_type)


# --- the hot commands ------------------------------------------------------------------------
# Keyword names and values are click's (``ctx.params``): the front's parser produces the same.


def lock(
    options: Options,
    *,
    plugins: tuple[str, ...],
    check: bool,
    upgrade: bool,
    upgrade_packages: tuple[str, ...],
    jobs: int | None,
    resolver: str | None,
    plugin_type: str | None,
) -> int:
    from reconciler.commands import lock as command  # noqa: PLC0415 - start-up: plan needs none

    plugins = selected(plugins, plugin_type)
    project = load(options)
    if check:
        result = command.check(project, plugins)
        echo(render.lock_check(result))
        return EXIT_OK if result.ok else EXIT_CHANGES
    stop = threading.Event()
    with stop_on_signals(stop, "locks being resolved stay unchanged"), reporting(options) as report:

        def log(plugin: str, message: str) -> None:
            STEPS_RUNNING.set()  # resolvers run: a signal now stops them, locks unchanged
            report(plugin, message)

        summary = command.lock(
            project,
            plugins,
            upgrade=upgrade,
            upgrade_packages=upgrade_packages,
            log=log,
            jobs=jobs or default_jobs(),
            resolver=resolver,
        )
    echo(render.lock_summary(summary))
    return EXIT_OK


def plan(
    options: Options,
    *,
    plugins: tuple[str, ...],
    as_json: bool,
    out: Path | None,
    detailed_exitcode: bool,
    verify: bool,
    plugin_type: str | None,
) -> int:
    the_plan = plan_command(load(options), selected(plugins, plugin_type), out, verify=verify).plan
    if as_json:
        for warning in the_plan.warnings:
            warn(warning)
        echo(render.to_json(the_plan), nl=False)
    else:
        print_plan(options, the_plan)
    for warning in render.refused_warnings(the_plan):  # on stderr too, where CI looks
        warn(warning)
    if detailed_exitcode and the_plan.refused:
        return EXIT_ERROR  # apply would refuse a step: not a plan to sign off
    if detailed_exitcode and the_plan.changes:
        return EXIT_CHANGES
    return EXIT_OK


def apply(
    options: Options,
    *,
    args: tuple[str, ...],
    plan_file: Path | None,
    jobs: int | None,
    lock_timeout: float,
    installer: str | None,
    index_url: str | None,
    find_links: tuple[Path, ...],
    no_index: bool,
    verify: bool,
    plugin_type: str | None,
) -> int:
    from reconciler.commands import apply as command  # noqa: PLC0415 - start-up: plan needs none

    plugins = list(selected(args, plugin_type))
    project = load(options)
    if plan_file is None and plugins:  # a plan file is an existing file that names no plugin
        plan_file = command.plan_file_argument(project, plugins[0])
        if plan_file is not None:
            plugins.pop(0)
    override = None
    if index_url is not None or find_links or no_index:
        override = IndexOptions(
            index_url=index_url,
            find_links=tuple(str(p.absolute()) for p in find_links),
            no_index=no_index,
        )
    apply_options = command.ApplyOptions(
        only=tuple(plugins),
        saved=command.read_saved_plan(plan_file) if plan_file is not None else None,
        installer=installer,
        index_override=override,
        jobs=jobs or default_apply_jobs(),
        lock_timeout=lock_timeout,
        verify=verify,
    )
    stop = threading.Event()
    with stop_on_signals(stop), contextlib.ExitStack() as stack:
        holder: dict[str, Reporter] = {}
        starting = threading.Lock()

        def reporter() -> Reporter:
            # One progress view for the whole apply, however many threads log at once (two
            # live displays would each leave their own rows on the screen).
            with starting:
                if "reporter" not in holder:
                    holder["reporter"] = stack.enter_context(reporting(options))
                return holder["reporter"]

        def show(plan: Plan) -> None:
            print_plan(options, plan)
            STEPS_RUNNING.set()
            if plan.changes:  # the live view starts once the plan is printed
                reporter()

        def log(plugin: str, message: str) -> None:
            reporter()(plugin, message)

        result = command.apply(project, apply_options, show_plan=show, log=log, stop=stop).result
    if result is None:
        return EXIT_OK
    echo(render.apply_summary(result))
    for error in render.apply_errors(result):
        echo(f"error: {error}", err=True)
    if stop.is_set() or result.interrupted:
        echo("error: interrupted; run apply again to finish", err=True)
        return EXIT_INTERRUPTED
    return EXIT_ERROR if result.failed else EXIT_OK


def status(
    options: Options,
    *,
    plugins: tuple[str, ...],
    as_json: bool,
    verify: bool,
    plugin_type: str | None,
) -> int:
    from reconciler.commands.status import (  # noqa: PLC0415 - start-up: plan builds no StatusRow
        status as status_command,
    )

    rows = status_command(load(options), verify=verify, only=selected(plugins, plugin_type))
    echo(render.status_json(rows) if as_json else render.status_table(rows))
    return EXIT_OK


#: The commands the front runs without click, by name.
COMMANDS: dict[str, Callable[..., int]] = {
    "lock": lock,
    "plan": plan,
    "apply": apply,
    "status": status,
}


# --- signals ---------------------------------------------------------------------------------

#: Set once steps that roll back on their own run (apply's steps, lock's resolvers): from then on
#: the first SIGINT/SIGTERM asks them to stop; before, it aborts at once (exit 130).
STEPS_RUNNING = threading.Event()


def abort(signum: int, frame: object) -> None:
    """The default reaction to SIGINT/SIGTERM: stop every child (from another thread: the
    handler must not wait for a lock the interrupted code may hold) and unwind with
    KeyboardInterrupt, so every ``finally`` (scratch removal, edits undone, the apply lock)
    runs; :func:`run` exits 130."""
    # Only if procs is loaded (no child can run before) and whole: the signal may arrive while
    # it is being imported.
    procs = sys.modules.get("reconciler.support.procs")
    stop_children = getattr(procs, "stop", None)
    if stop_children is not None:
        threading.Thread(target=stop_children, daemon=True).start()
    raise KeyboardInterrupt


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event, what: str = "running steps roll back") -> Iterator[None]:
    """First SIGINT/SIGTERM: start nothing new, stop the running pip/uv/pip-compile children
    (their steps then roll back); second: kill them and abort. Before the first step starts
    (:data:`STEPS_RUNNING` unset: reading and planning), a signal aborts at once.

    The children are those of :mod:`reconciler.support.procs`, loaded by whatever starts one
    (installers, resolvers): until then no child runs and ``stop`` alone keeps every step from
    starting (a no-op apply never loads it)."""

    def children(action: str) -> None:
        getattr(sys.modules.get("reconciler.support.procs"), action, lambda: None)()

    def handler(signum: int, frame: object) -> None:
        if not STEPS_RUNNING.is_set():
            abort(signum, frame)
        if stop.is_set():
            children("kill_all")
            raise KeyboardInterrupt
        stop.set()
        children("stop")
        name = signal.Signals(signum).name
        echo(f"{name}: stopping; {what} (again to abort)", err=True)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# --- errors and exit codes -------------------------------------------------------------------


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    for line in message.splitlines() or [""]:  # several failing plugins: one line each
        echo(f"error: {redact(line)}", err=True)
    sys.exit(code)


def run(call: Callable[[], object], debug: bool) -> NoReturn:
    """Run ``call`` (one command line, parsed by whichever front) and exit with its code: every
    error one line and an exit code (a traceback with ``debug``); SIGINT/SIGTERM abort (130)."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, abort) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _run(call, debug)
    finally:
        STEPS_RUNNING.clear()
        for sig, old in previous.items():
            signal.signal(sig, old)


def _run(call: Callable[[], object], debug: bool) -> NoReturn:
    try:
        code = call()
    except ReconcilerError as exc:
        if debug:
            raise
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", EXIT_INTERRUPTED)
    except OSError as exc:
        if debug:
            raise
        cause = exc.strerror or str(exc)
        fail(format_error(ReconcilerError(cause, file=exc.filename)) if exc.filename else cause)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def invoke(name: str, options: Options, params: dict[str, Any]) -> int:
    """Run hot command ``name`` as click's ``main`` (``standalone_mode=False``) runs a command:
    an interrupt (or end of input) closes the terminal's ``^C`` with a blank line first, and a
    closed stdout (``reconciler plan | head -1``) ends quietly with exit 1."""
    try:
        start(options)
        return COMMANDS[name](options, **params)
    except (EOFError, KeyboardInterrupt):
        echo(err=True)
        raise KeyboardInterrupt from None
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        sys.stdout = _Pacified(sys.stdout)
        sys.stderr = _Pacified(sys.stderr)
        sys.exit(EXIT_ERROR)


class _Pacified:
    """A stream whose ``flush`` ignores a closed pipe (the interpreter flushes the standard
    streams at exit, which would print a second traceback); anything else is the stream's."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped

    def flush(self) -> None:
        try:
            self.wrapped.flush()
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)
