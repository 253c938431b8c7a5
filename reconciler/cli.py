"""The click command line: parses flags, calls one :mod:`reconciler.commands` module, prints what
:mod:`reconciler.render` makes of its result, and maps errors to exit codes. No logic here.

The commands other than ``plan`` and ``status`` are imported inside their click function: each
pulls in machinery (packaging, tomlkit, the installers, the resolvers) that a no-op ``plan``
must not pay for at start-up.

The garbage collector is paused while this module's imports run: they allocate only what lives
as long as the process (modules, classes, functions), yet each full collection would scan all
of it again; once loaded it is frozen out of every later collection (~5 ms of a no-op plan).
"""

from __future__ import annotations

import gc

_COLLECTING = gc.isenabled()
gc.disable()

import contextlib
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from reconciler import __version__, render
from reconciler.backends import INSTALLERS, RESOLVERS
from reconciler.commands.plan import plan as plan_command
from reconciler.commands.project import Project, load_project
from reconciler.errors import ReconcilerError, format_error
from reconciler.lockformats import FORMAT_NAMES
from reconciler.models import IndexOptions, Plan
from reconciler.sources import find_project_file, load
from reconciler.support.jobs import default_jobs
from reconciler.support.redact import redact
from reconciler.support.ui import Reporter, color_enabled, progress

gc.freeze()  # what start-up loaded is never garbage: later collections skip it
if _COLLECTING:
    gc.enable()

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_INTERRUPTED = 0, 1, 2, 130
JOBS_HELP = "Plugins {} concurrently (default: {})."
VERIFY_HELP = (
    "Also check every installed file against its .dist-info/RECORD (size and sha256): a "
    "modified, missing or unexpected file is drift."
)
F = TypeVar("F", bound=Callable[..., Any])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--project",
    type=click.Path(path_type=Path, file_okay=True),
    default=None,
    help="Project directory (or its reconciler.toml). Default: search upward from here.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only results and errors, no progress.")
@click.option("-v", "--verbose", is_flag=True, help="Also show the pip/uv commands run.")
@click.option("--no-color", is_flag=True, help="Never colour output (NO_COLOR is respected too).")
@click.option("--debug", is_flag=True, help="Show a traceback on errors.")
@click.version_option(__version__, prog_name="reconciler")
@click.pass_context
def cli(
    ctx: click.Context,
    project: Path | None,
    quiet: bool,
    verbose: bool,
    no_color: bool,
    debug: bool,
) -> None:
    """Reconcile one Python venv per plugin with the pinned, hashed locks in lock/.

    \b
    Typical use:
      reconciler lock        resolve reconciler.toml into lock/ (<name>.txt or pylock.<name>.toml)
      reconciler plan        show what apply would change
      reconciler apply       make .venvs/ match the locks
    """
    ctx.obj = {
        "project": project,
        "quiet": quiet,
        "verbose": verbose,
        "no_color": no_color,
        "debug": debug,
    }
    if verbose:
        from reconciler.installers.base import echo_commands  # noqa: PLC0415 - start-up: -v only

        echo_commands(
            lambda line: click.echo(f"$ {line}", err=True),
            output=lambda line: click.echo(f"  {line}", err=True),  # under its command
        )


def _project(ctx: click.Context) -> Project:
    project = load_project(ctx.obj["project"])
    if not ctx.obj["quiet"]:
        for note in project.desired.notes:
            click.echo(redact(f"note: {note}"), err=True)
    return project


def _color(ctx: click.Context) -> bool:
    return color_enabled(ctx.obj["no_color"])


def _print_plan(ctx: click.Context, plan: Plan) -> None:
    for warning in plan.warnings:
        _warn(warning)
    if _color(ctx):
        from rich.console import Console  # noqa: PLC0415 - rich is slow to import; TTY only

        Console(highlight=False, soft_wrap=True).print(render.human(plan, color=True))
    else:
        click.echo(render.human(plan))


def _warn(text: str) -> None:
    click.echo(f"warning: {redact(text)}", err=True)


@contextlib.contextmanager
def _progress(ctx: click.Context) -> Iterator[Reporter]:
    """Live view on a TTY (unless verbose, whose command lines would tear it), else plain."""
    live = _color(ctx) and not ctx.obj["verbose"]
    with progress(quiet=ctx.obj["quiet"], live=live) as reporter:
        yield reporter


def _complete_plugins(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Plugin names declared in the project file (for shell completion)."""
    root = ctx.find_root()
    project = root.params.get("project")
    try:
        desired = load(find_project_file(project))
    except ReconcilerError:
        return []
    return [p.name for p in desired.plugins if p.name.startswith(incomplete)]


def _file_option(*decls: str, help: str) -> Callable[[F], F]:
    """A ``FILE`` option (a path, not a directory; None when not given)."""
    return click.option(*decls, type=click.Path(path_type=Path, dir_okay=False), help=help)


def _jobs_option(what: str, default: str = "CPU count") -> Callable[[F], F]:
    """``--jobs/-j N``: how many plugins are ``what`` (resolved, built) at once."""
    return click.option(
        "--jobs",
        "-j",
        type=click.IntRange(min=1),
        default=None,
        help=JOBS_HELP.format(what, default),
    )


def _backend_option(name: str, choices: tuple[str, ...], text: str) -> Callable[[F], F]:
    """``--installer``/``--resolver``: one of the registry's names (None: the setting's)."""
    return click.option(name, type=click.Choice(choices), default=None, help=text)


def _lock_timeout_option(holder: str) -> Callable[[F], F]:
    """``--lock-timeout S``: how long to wait for ``holder`` to release the venv root's lock."""
    return click.option(
        "--lock-timeout",
        type=click.FloatRange(min=0),
        default=0.0,
        show_default=True,
        help=f"Seconds to wait for {holder} to release the venv root's lock.",
    )


def _plugin_type_option(func: Callable[..., int]) -> Callable[..., int]:
    """``--plugin-type TYPE``: select every plugin of a Meltano plugin type (as Meltano's
    positional type does: ``reconciler apply loaders``); it joins the command's PLUGIN names."""

    @functools.wraps(func)
    def wrapper(*args: Any, plugin_type: str | None = None, **kwargs: Any) -> int:
        if plugin_type is not None:
            key = "plugins" if "plugins" in kwargs else "args"
            kwargs[key] = (*kwargs[key], plugin_type)
        return func(*args, **kwargs)

    option = click.option(
        "--plugin-type",
        "plugin_type",
        default=None,
        metavar="TYPE",
        help="Select every plugin of this Meltano type (extractor(s), loader(s), ...).",
    )
    return option(wrapper)


@cli.command()
@_plugin_type_option
@click.argument("plugins", nargs=-1, shell_complete=_complete_plugins)
@click.option("--check", is_flag=True, help="Change nothing; exit 2 if a lock is missing/stale.")
@click.option("--upgrade", "-U", is_flag=True, help="Re-resolve everything to the newest allowed.")
@click.option(
    "--upgrade-package",
    "-P",
    "upgrade_packages",
    multiple=True,
    metavar="NAME",
    help="Bump only this package, keeping every other pin (repeatable).",
)
@_jobs_option("resolved", "usable CPUs + 1")
@_backend_option(
    "--resolver",
    RESOLVERS,
    "Resolver (default: settings.resolver; auto = uv if installed, else pip-tools).",
)
@click.pass_context
def lock(
    ctx: click.Context,
    plugins: tuple[str, ...],
    check: bool,
    upgrade: bool,
    upgrade_packages: tuple[str, ...],
    jobs: int | None,
    resolver: str | None,
) -> int:
    """Resolve requirements (uv or pip-compile) into each missing/stale lock (txt or pylock)."""
    from reconciler.commands import lock as command  # noqa: PLC0415 - start-up (module docstring)

    project = _project(ctx)
    if check:
        result = command.check(project, plugins)
        click.echo(render.lock_check(result))
        return EXIT_OK if result.ok else EXIT_CHANGES
    stop = threading.Event()
    with _stop_on_signals(stop, "locks being resolved stay unchanged"), _progress(ctx) as reporter:

        def log(plugin: str, message: str) -> None:
            _STEPS_RUNNING.set()  # resolvers run: a signal now stops them, locks unchanged
            reporter(plugin, message)

        report = command.lock(
            project,
            plugins,
            upgrade=upgrade,
            upgrade_packages=upgrade_packages,
            log=log,
            jobs=jobs or default_jobs(),
            resolver=resolver,
        )
    click.echo(render.lock_summary(report))
    return EXIT_OK


@cli.command()
@_plugin_type_option
@click.argument("plugins", nargs=-1, shell_complete=_complete_plugins)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON (format_version 1).")
@_file_option("-o", "--out", help="Also write the JSON plan to FILE (for `apply FILE`).")
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 0 when there are no changes, 2 when there are."
)
@click.option("--verify", is_flag=True, help=VERIFY_HELP)
@click.pass_context
def plan(
    ctx: click.Context,
    plugins: tuple[str, ...],
    as_json: bool,
    out: Path | None,
    detailed_exitcode: bool,
    verify: bool,
) -> int:
    """Show what apply would do; changes nothing."""
    the_plan = plan_command(_project(ctx), plugins, out, verify=verify).plan
    if as_json:
        for warning in the_plan.warnings:
            _warn(warning)
        click.echo(render.to_json(the_plan), nl=False)
    else:
        _print_plan(ctx, the_plan)
    for warning in render.refused_warnings(the_plan):  # on stderr too, where CI looks
        _warn(warning)
    if detailed_exitcode and the_plan.refused:
        return EXIT_ERROR  # apply would refuse a step: not a plan to sign off
    if detailed_exitcode and the_plan.changes:
        return EXIT_CHANGES
    return EXIT_OK


@cli.command()
@_plugin_type_option
@click.argument("args", nargs=-1, metavar="[PLANFILE] [PLUGIN]...")
@_file_option(
    "--plan", "plan_file", help="A plan saved by `plan -o`; refuse if the world changed since."
)
@_jobs_option("built", "usable CPUs + 1")
@_lock_timeout_option("another apply")
@_backend_option(
    "--installer",
    INSTALLERS,
    "Installer backend (default: settings.installer; auto = uv if installed).",
)
@click.option("--index-url", default=None, help="Deploy-time override of the package index URL.")
@click.option(
    "--find-links",
    "find_links",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Deploy-time wheelhouse (repeatable); replaces the settings' index options.",
)
@click.option("--no-index", is_flag=True, help="Do not use any index (use with --find-links).")
@click.option(
    "--verify", is_flag=True, help="Also repair installed files that differ from their RECORD."
)
@click.pass_context
def apply(
    ctx: click.Context,
    args: tuple[str, ...],
    plan_file: Path | None,
    jobs: int | None,
    lock_timeout: float,
    installer: str | None,
    index_url: str | None,
    find_links: tuple[Path, ...],
    no_index: bool,
    verify: bool,
) -> int:
    """Perform exactly the planned steps (create, upgrade, reinstall, remove).

    PLANFILE (a first argument that names an existing file and no plugin; `./NAME` for a file
    named like a plugin) is a plan saved by `plan -o`: apply refuses, changing nothing, when the
    world changed since.
    """
    from reconciler.commands import apply as command  # noqa: PLC0415 - start-up (module docstring)

    plugins = list(args)
    project = _project(ctx)
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
    options = command.ApplyOptions(
        only=tuple(plugins),
        saved=command.read_saved_plan(plan_file) if plan_file is not None else None,
        installer=installer,
        index_override=override,
        jobs=jobs or default_jobs(),
        lock_timeout=lock_timeout,
        verify=verify,
    )
    stop = threading.Event()
    with _stop_on_signals(stop), contextlib.ExitStack() as stack:
        holder: dict[str, Reporter] = {}
        starting = threading.Lock()

        def reporter() -> Reporter:
            # One progress view for the whole apply, however many threads log at once (two
            # live displays would each leave their own rows on the screen).
            with starting:
                if "reporter" not in holder:
                    holder["reporter"] = stack.enter_context(_progress(ctx))
                return holder["reporter"]

        def show(plan: Plan) -> None:
            _print_plan(ctx, plan)
            _STEPS_RUNNING.set()
            if plan.changes:  # the live view starts once the plan is printed
                reporter()

        def log(plugin: str, message: str) -> None:
            reporter()(plugin, message)

        result = command.apply(project, options, show_plan=show, log=log, stop=stop).result
    if result is None:
        return EXIT_OK
    click.echo(render.apply_summary(result))
    for error in render.apply_errors(result):
        click.echo(f"error: {error}", err=True)
    if stop.is_set() or result.interrupted:
        click.echo("error: interrupted; run apply again to finish", err=True)
        return EXIT_INTERRUPTED
    return EXIT_ERROR if result.failed else EXIT_OK


#: Set once steps that roll back on their own run (apply's steps, lock's resolvers): from then on
#: the first SIGINT/SIGTERM asks them to stop; before, it aborts at once (exit 130).
_STEPS_RUNNING = threading.Event()


def _abort(signum: int, frame: object) -> None:
    """The default reaction to SIGINT/SIGTERM: stop every child (from another thread: the
    handler must not wait for a lock the interrupted code may hold) and unwind with
    KeyboardInterrupt, so every ``finally`` (scratch removal, edits undone, the apply lock)
    runs; ``main`` exits 130."""
    # Only if procs is loaded (no child can run before) and whole: the signal may arrive while
    # it is being imported.
    procs = sys.modules.get("reconciler.support.procs")
    stop_children = getattr(procs, "stop", None)
    if stop_children is not None:
        threading.Thread(target=stop_children, daemon=True).start()
    raise KeyboardInterrupt


@contextlib.contextmanager
def _stop_on_signals(
    stop: threading.Event, what: str = "running steps roll back"
) -> Iterator[None]:
    """First SIGINT/SIGTERM: start nothing new, stop the running pip/uv/pip-compile children
    (their steps then roll back); second: kill them and abort. Before the first step starts
    (:data:`_STEPS_RUNNING` unset: reading and planning), a signal aborts at once.

    The children are those of :mod:`reconciler.support.procs`, loaded by whatever starts one
    (installers, resolvers): until then no child runs and ``stop`` alone keeps every step from
    starting (a no-op apply never loads it)."""

    def children(action: str) -> None:
        getattr(sys.modules.get("reconciler.support.procs"), action, lambda: None)()

    def handler(signum: int, frame: object) -> None:
        if not _STEPS_RUNNING.is_set():
            _abort(signum, frame)
        if stop.is_set():
            children("kill_all")
            raise KeyboardInterrupt
        stop.set()
        children("stop")
        name = signal.Signals(signum).name
        click.echo(f"{name}: stopping; {what} (again to abort)", err=True)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@cli.command()
@click.argument("plugin", shell_complete=_complete_plugins)
@_lock_timeout_option("a running apply")
@click.pass_context
def rollback(ctx: click.Context, plugin: str, lock_timeout: float) -> int:
    """Flip PLUGIN back to its previous generation (kept when keep-generations = 1)."""
    from reconciler.commands import rollback as command  # noqa: PLC0415 - start-up (docstring)

    click.echo(render.rollback(command.rollback(_project(ctx), plugin, lock_timeout)))
    return EXIT_OK


@cli.command()
@_plugin_type_option
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@click.option("--verify", is_flag=True, help=VERIFY_HELP)
@click.argument("plugins", nargs=-1, metavar="[PLUGIN]...", shell_complete=_complete_plugins)
@click.pass_context
def status(ctx: click.Context, as_json: bool, verify: bool, plugins: tuple[str, ...]) -> int:
    """One line per plugin (or per PLUGIN named): path, python, packages, lock fresh?, drift?"""
    from reconciler.commands.status import (  # noqa: PLC0415 - start-up: plan builds no StatusRow
        status as status_command,
    )

    rows = status_command(_project(ctx), verify=verify, only=plugins)
    click.echo(render.status_json(rows) if as_json else render.status_table(rows))
    return EXIT_OK


@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("plugin", shell_complete=_complete_plugins)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--script", "-s", default=None, help="Console script to run (default: PLUGIN's).")
@click.option("--module", "-m", default=None, help="Run `python -m MODULE` in the venv instead.")
@click.pass_context
def run(
    ctx: click.Context,
    plugin: str,
    args: tuple[str, ...],
    script: str | None,
    module: str | None,
) -> int:
    """Run PLUGIN's console script from its managed venv: `reconciler run PLUGIN -- ARGS...`.

    ARGS are passed on as given (the `--` separator is not). The script runs as in an activated
    venv: VIRTUAL_ENV is set and the venv's bin comes first on PATH.
    """
    if args[:1] == ("--",):
        args = args[1:]
    from reconciler.commands.run import run as command  # noqa: PLC0415 - start-up (docstring)

    line = command(_project(ctx), plugin, script, module, args, os.environ)
    if line.warning:
        _warn(line.warning)
    sys.stdout.flush()
    sys.stderr.flush()
    # Replace this process, so the exit code and signals are the script's own.
    os.execve(line.argv[0], line.argv, dict(line.env))  # noqa: S606


@cli.command("add")
@click.argument("name")
@click.argument("requirements", nargs=-1, required=True)
@click.option("--python", default=None, help="The plugin's interpreter (default: settings.python).")
@click.option(
    "--lock",
    "then_lock",
    is_flag=True,
    help="Also lock the new plugin; if locking fails the edit is undone.",
)
@click.pass_context
def add_command(
    ctx: click.Context,
    name: str,
    requirements: tuple[str, ...],
    python: str | None,
    then_lock: bool,
) -> int:
    """Declare plugin NAME with requirements REQ... in reconciler.toml (comments are kept)."""
    from reconciler.commands.add import add  # noqa: PLC0415 - start-up (module docstring)

    result = add(
        ctx.obj["project"],
        name,
        requirements,
        python=python,
        progress=(lambda: _progress(ctx)) if then_lock else None,
    )
    click.echo(render.added(result))
    return EXIT_OK


@cli.command("remove")
@click.argument("name")
@click.pass_context
def remove_command(ctx: click.Context, name: str) -> int:
    """Remove plugin NAME from reconciler.toml (comments and layout are kept)."""
    from reconciler.commands.remove import remove  # noqa: PLC0415 - start-up (module docstring)

    click.echo(render.removed(remove(ctx.obj["project"], name)))
    return EXIT_OK


@cli.command("fetch")
@_plugin_type_option
@click.argument("plugins", nargs=-1, shell_complete=_complete_plugins)
@click.option(
    "--dest",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Wheelhouse directory to download into (created if missing).",
)
@click.pass_context
def fetch_command(ctx: click.Context, plugins: tuple[str, ...], dest: Path) -> int:
    """Download every locked artifact (hash-checked) into a wheelhouse for offline apply."""
    from reconciler.commands.fetch import fetch  # noqa: PLC0415 - start-up (module docstring)

    with _progress(ctx) as reporter:
        report = fetch(_project(ctx), plugins, dest, log=lambda line: reporter("fetch", line))
    click.echo(render.fetched(report))
    return EXIT_OK


@cli.command("export")
@click.argument("plugin", shell_complete=_complete_plugins)
@click.option(
    "--format",
    "lock_format",
    required=True,
    type=click.Choice(FORMAT_NAMES),
    help="The format to write: pylock (PEP 751) or requirements (pip-compile).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to FILE (default: standard output); pylock paths are relative to its folder.",
)
@click.pass_context
def export_command(ctx: click.Context, plugin: str, lock_format: str, output: Path | None) -> int:
    """Print (or write) one plugin's lock converted to another lock format."""
    from reconciler.commands.export import export  # noqa: PLC0415 - start-up (module docstring)

    text = export(_project(ctx), plugin, lock_format, output)
    if output is None:
        click.echo(text, nl=False)
    else:
        click.echo(render.exported(plugin, lock_format, output), err=True)
    return EXIT_OK


@cli.command("sbom")
@click.argument("plugins", nargs=-1, shell_complete=_complete_plugins)
@click.option(
    "-o",
    "--out-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(),
    show_default=True,
    help="Directory to write <plugin>.cdx.json into (created if missing).",
)
@click.pass_context
def sbom_command(ctx: click.Context, plugins: tuple[str, ...], out_dir: Path) -> int:
    """Write a CycloneDX JSON SBOM per plugin from its lock (needs the `sbom` extra)."""
    from reconciler.commands import sbom as command  # noqa: PLC0415 - start-up (docstring)

    command.check_library()
    for written in command.write_all(_project(ctx), plugins, out_dir):
        click.echo(render.sbom_written(written))
    return EXIT_OK


@cli.command("audit")
@click.argument("plugins", nargs=-1, shell_complete=_complete_plugins)
@click.option(
    "--auditor",
    default=None,
    help="The pip-audit executable (default: $RECONCILER_PIP_AUDIT, else pip-audit on PATH).",
)
@click.option(
    "--service",
    type=click.Choice(["pypi", "osv"]),
    default=None,
    help="pip-audit's vulnerability service (default: pip-audit's, PyPI).",
)
@click.option("--osv-url", default=None, help="Query this OSV API URL instead of osv.dev.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.pass_context
def audit_command(
    ctx: click.Context,
    plugins: tuple[str, ...],
    auditor: str | None,
    service: str | None,
    osv_url: str | None,
    as_json: bool,
) -> int:
    """Audit every plugin's lock for known vulnerabilities with pip-audit (installs nothing).

    Exit 0: none found; 2: vulnerabilities found; 1: error.
    """
    from reconciler.commands import audit as command  # noqa: PLC0415 - start-up (docstring)

    found = command.find_auditor(auditor)
    report = command.audit(_project(ctx), plugins, auditor=found, service=service, osv_url=osv_url)
    click.echo(render.audit_json(report) if as_json else render.audit(report), nl=not as_json)
    for error in render.audit_errors(report):
        click.echo(f"error: {error}", err=True)
    if report.errors:
        return EXIT_ERROR
    return EXIT_CHANGES if report.findings else EXIT_OK


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> int:
    """Print the shell completion script: `eval "$(reconciler completion bash)"`."""
    from click.shell_completion import get_completion_class  # noqa: PLC0415 - start-up

    completer = get_completion_class(shell)
    assert completer is not None  # noqa: S101 - the three choices are built into click
    click.echo(completer(cli, {}, "reconciler", "_RECONCILER_COMPLETE").source())
    return EXIT_OK


def _fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    for line in message.splitlines() or [""]:  # several failing plugins: one line each
        click.echo(f"error: {redact(line)}", err=True)
    sys.exit(code)


_GLOBAL_FLAGS = frozenset({"-q", "--quiet", "-v", "--verbose", "--no-color", "--debug"})


def hoist_global_options(argv: list[str]) -> list[str]:
    """``argv`` with the global options given after the command moved before it, so
    ``reconciler apply -q`` means ``reconciler -q apply`` (as Meltano's and uv's options go).

    Stops at ``--``; ``run`` is left as it is (what follows its PLUGIN belongs to the script).
    """
    index, position = 0, None
    while index < len(argv):
        arg = argv[index]
        if arg == "--project":
            index += 2
            continue
        if arg.startswith("-"):
            index += 1
            continue
        position = index
        break
    if position is None or argv[position] not in cli.commands or argv[position] == "run":
        return argv
    moved: list[str] = []
    rest: list[str] = []
    index = position + 1
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            rest.extend(argv[index:])
            break
        if arg in _GLOBAL_FLAGS or arg.startswith("--project="):
            moved.append(arg)
        elif arg == "--project" and index + 1 < len(argv):
            moved.extend(argv[index : index + 2])
            index += 1
        else:
            rest.append(arg)
        index += 1
    return [*argv[:position], *moved, argv[position], *rest]


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point: run the CLI, map every error to one line and an exit code."""
    argv = hoist_global_options(list(argv if argv is not None else sys.argv[1:]))
    debug = "--debug" in argv
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, _abort) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _main(argv, debug)
    finally:
        _STEPS_RUNNING.clear()
        for sig, old in previous.items():
            signal.signal(sig, old)


def _main(argv: list[str], debug: bool) -> NoReturn:
    try:
        code: Any = cli.main(args=argv, prog_name="reconciler", standalone_mode=False)
    except ReconcilerError as exc:
        if debug:
            raise
        _fail(str(exc), exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        _fail("interrupted", EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        _fail("interrupted", EXIT_INTERRUPTED)
    except OSError as exc:
        if debug:
            raise
        cause = exc.strerror or str(exc)
        _fail(format_error(ReconcilerError(cause, file=exc.filename)) if exc.filename else cause)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
