"""The click command line: parses flags, calls :mod:`reconciler.app`, prints. No logic here."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import click

from reconciler import __version__, app, render
from reconciler.errors import ConfigError, ReconcilerError
from reconciler.models import Action, IndexOptions, Plan
from reconciler.sources import find_project_file
from reconciler.support.redact import redact
from reconciler.support.ui import Reporter, color_enabled, progress

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_INTERRUPTED = 0, 1, 2, 130
JOBS_HELP = "Plugins {} concurrently (default: CPU count)."


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
      reconciler lock        resolve reconciler.toml into lock/<plugin>.txt
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
        from reconciler.installers.base import echo_commands  # noqa: PLC0415

        echo_commands(lambda line: click.echo(f"$ {line}", err=True))


def _project(ctx: click.Context) -> app.Project:
    project = app.load_project(ctx.obj["project"])
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
    from reconciler.sources import load  # noqa: PLC0415

    root = ctx.find_root()
    project = root.params.get("project")
    try:
        desired = load(find_project_file(project))
    except ReconcilerError:
        return []
    return [p.name for p in desired.plugins if p.name.startswith(incomplete)]


def _jobs(jobs: int | None) -> int:
    return jobs or os.cpu_count() or 1


@cli.command()
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
@click.option(
    "--jobs", "-j", type=click.IntRange(min=1), default=None, help=JOBS_HELP.format("resolved")
)
@click.option(
    "--resolver",
    type=click.Choice(["auto", "pip-tools", "uv"]),
    default=None,
    help="Resolver (default: settings.resolver; auto = uv if installed, else pip-tools).",
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
    """Resolve requirements (uv or pip-compile) into lock/<plugin>.txt (only missing/stale)."""
    project = _project(ctx)
    if check:
        statuses = app.lock_statuses(project, plugins)
        stray = app.orphaned_locks(project) if not plugins else ()
        for s in statuses:
            reasons = f" ({', '.join(s.reasons)})" if s.reasons and s.state != "missing" else ""
            click.echo(f"{s.plugin}: {s.state}{reasons}")
        for path in stray:
            click.echo(f"{path.stem}: orphaned lock {path.name} (plugin no longer declared)")
        bad = [s for s in statuses if s.state != "fresh"]
        if bad or stray:
            click.echo(f"{len(bad)} lock(s) missing or stale, {len(stray)} orphaned.")
            return EXIT_CHANGES
        click.echo(f"All {len(statuses)} locks are fresh.")
        return EXIT_OK
    stop = threading.Event()
    with _stop_on_signals(stop, "locks being resolved stay unchanged"), _progress(ctx) as reporter:
        report = app.run_lock(
            project,
            plugins,
            upgrade=upgrade,
            upgrade_packages=upgrade_packages,
            log=reporter,
            jobs=_jobs(jobs),
            resolver=resolver,
        )
    click.echo(
        f"Lock complete: {len(report.written)} written, {len(report.unchanged)} unchanged, "
        f"{len(report.removed)} orphaned removed in {report.seconds:.1f}s."
    )
    return EXIT_OK


@cli.command()
@click.argument("plugins", nargs=-1, shell_complete=_complete_plugins)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON (format_version 1).")
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the JSON plan to FILE (for `apply FILE`).",
)
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 0 when there are no changes, 2 when there are."
)
@click.pass_context
def plan(
    ctx: click.Context,
    plugins: tuple[str, ...],
    as_json: bool,
    out: Path | None,
    detailed_exitcode: bool,
) -> int:
    """Show what apply would do; changes nothing."""
    the_plan = app.compute_plan(_project(ctx), plugins)
    if out is not None:
        from reconciler.support.files import write_atomic  # noqa: PLC0415

        try:
            write_atomic(out, render.to_json(the_plan))
        except OSError as exc:
            raise ReconcilerError(f"cannot write plan file {out}: {exc.strerror}") from exc
    if as_json:
        for warning in the_plan.warnings:
            _warn(warning)
        click.echo(render.to_json(the_plan), nl=False)
    else:
        _print_plan(ctx, the_plan)
    if detailed_exitcode and the_plan.changes:
        return EXIT_CHANGES
    return EXIT_OK


@cli.command()
@click.argument("args", nargs=-1, metavar="[PLANFILE] [PLUGIN]...")
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A plan saved by `plan -o`; refuse if the world changed since.",
)
@click.option(
    "--jobs", "-j", type=click.IntRange(min=1), default=None, help=JOBS_HELP.format("built")
)
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to wait for another apply to release the venv root's lock.",
)
@click.option(
    "--installer",
    type=click.Choice(["auto", "pip", "uv"]),
    default=None,
    help="Installer backend (default: settings.installer; auto = uv if installed).",
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
) -> int:
    """Perform exactly the planned steps (create, upgrade, reinstall, remove).

    PLANFILE (a first argument that is a file, contains '/' or ends in .json) is a plan saved
    by `plan -o`: apply refuses, changing nothing, when the world changed since.
    """
    plugins = list(args)
    if (
        plan_file is None
        and plugins
        and ("/" in plugins[0] or plugins[0].endswith(".json") or Path(plugins[0]).is_file())
    ):
        plan_file = Path(plugins.pop(0))
    project = _project(ctx)
    override = None
    if index_url is not None or find_links or no_index:
        override = IndexOptions(
            index_url=index_url,
            find_links=tuple(str(p.absolute()) for p in find_links),
            no_index=no_index,
        )
    options = app.ApplyOptions(
        only=tuple(plugins),
        saved=app.read_saved_plan(plan_file) if plan_file is not None else None,
        installer=installer,
        index_override=override,
        jobs=_jobs(jobs),
        lock_timeout=lock_timeout,
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
            if plan.changes:  # the live view starts once the plan is printed
                reporter()

        def log(plugin: str, message: str) -> None:
            reporter()(plugin, message)

        _, result = app.run_apply(project, options, show_plan=show, log=log, stop=stop)
    if result is None:
        return EXIT_OK
    click.echo(
        f"Apply complete: {result.count(Action.CREATE)} created, "
        f"{result.count(Action.UPGRADE)} upgraded, {result.count(Action.REINSTALL)} reinstalled, "
        f"{result.count(Action.REMOVE)} removed in {result.seconds:.1f}s."
    )
    for failure in result.failed:
        if not failure.interrupted:
            click.echo(f"error: {redact(failure.error or '')}", err=True)
    if stop.is_set() or result.interrupted:
        click.echo("error: interrupted; run apply again to finish", err=True)
        return EXIT_INTERRUPTED
    return EXIT_ERROR if result.failed else EXIT_OK


@contextlib.contextmanager
def _stop_on_signals(
    stop: threading.Event, what: str = "running steps roll back"
) -> Iterator[None]:
    """First SIGINT/SIGTERM: start nothing new, stop the running pip/uv/pip-compile children
    (their steps then roll back); second: kill them and abort."""
    from reconciler.support import procs  # noqa: PLC0415

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            procs.kill_all()
            raise KeyboardInterrupt
        stop.set()
        procs.stop()
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
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to wait for a running apply to release the venv root's lock.",
)
@click.pass_context
def rollback(ctx: click.Context, plugin: str, lock_timeout: float) -> int:
    """Flip PLUGIN back to its previous generation (kept when keep-generations = 1)."""
    previous = app.run_rollback(_project(ctx), plugin, lock_timeout)
    click.echo(f"{plugin}: rolled back to generation {previous.name}.")
    click.echo("plan now reports drift until the lock is reverted too.")
    return EXIT_OK


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> int:
    """One line per plugin: path, python, packages, lock fresh?, drift?"""
    rows = app.status(_project(ctx))
    if as_json:
        import json  # noqa: PLC0415

        data = [
            {
                "plugin": r.plugin,
                "path": r.path,
                "python": r.python,
                "packages": r.packages,
                "lock": r.lock,
                "drift": r.drift,
                "detail": redact(r.detail),
            }
            for r in rows
        ]
        click.echo(json.dumps({"format_version": 1, "plugins": data}, indent=2))
        return EXIT_OK
    if not rows:
        click.echo("No plugins declared and no managed venvs.")
        return EXIT_OK
    header = ("PLUGIN", "PATH", "PYTHON", "PKGS", "LOCK", "DRIFT")
    table = [
        (
            r.plugin,
            r.path,
            r.python or "-",
            str(r.packages),
            r.lock,
            redact(r.drift if r.drift == "no" or not r.detail else f"{r.drift}: {r.detail}"),
        )
        for r in rows
    ]
    widths = [max(len(cells[i]) for cells in (header, *table)) for i in range(len(header) - 1)]
    for cells in (header, *table):
        line = "  ".join(
            cell.rjust(width) if i == 3 else cell.ljust(width)  # PKGS is a number
            for i, (cell, width) in enumerate(zip(cells, widths, strict=False))
        )
        click.echo(f"{line}  {cells[-1]}")
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
    command = app.run_command(_project(ctx), plugin, script, module, args, os.environ)
    sys.stdout.flush()
    sys.stderr.flush()
    # Replace this process, so the exit code and signals are the script's own.
    os.execve(command.argv[0], command.argv, dict(command.env))  # noqa: S606


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
    from reconciler.sources.toml_edit import add_plugin, new_project_file  # noqa: PLC0415

    try:
        project_file = find_project_file(ctx.obj["project"])
    except ConfigError:  # the first `add` of a new project creates reconciler.toml
        given = ctx.obj["project"]
        directory = given if given is None or given.suffix != ".toml" else given.parent
        project_file = new_project_file(directory or Path.cwd())
    _refuse_to_edit(project_file, "add")

    def lock_it() -> None:
        with _progress(ctx) as reporter:
            app.run_lock(
                app.load_project(project_file),
                [name],
                upgrade=False,
                upgrade_packages=(),
                log=reporter,
            )

    add_plugin(project_file, name, requirements, python=python, then=lock_it if then_lock else None)
    click.echo(f"Added plugin {name!r} to {project_file.name}.")
    if not then_lock:
        click.echo(f"Next: `reconciler lock {name}`, then `reconciler apply`.")
    return EXIT_OK


def _refuse_to_edit(project_file: Path, command: str) -> None:
    from reconciler.sources import source_for  # noqa: PLC0415

    if not source_for(project_file).editable:
        raise ConfigError(
            f"{project_file.name}: `reconciler {command}` edits reconciler.toml only; "
            f"in a Meltano project use `meltano {command}`, then `reconciler lock`"
        )


@cli.command("remove")
@click.argument("name")
@click.pass_context
def remove_command(ctx: click.Context, name: str) -> int:
    """Remove plugin NAME from reconciler.toml (comments and layout are kept)."""
    from reconciler.sources.toml_edit import remove_plugin  # noqa: PLC0415

    project_file = find_project_file(ctx.obj["project"])
    _refuse_to_edit(project_file, "remove")
    remove_plugin(project_file, name)
    click.echo(f"Removed plugin {name!r} from {project_file.name}.")
    click.echo("Next: `reconciler apply` removes its venv; `reconciler lock` deletes its lock.")
    return EXIT_OK


@cli.command("fetch")
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
    from reconciler.locking.fetch import fetch as fetch_artifacts  # noqa: PLC0415

    with _progress(ctx) as reporter:
        report = fetch_artifacts(
            _project(ctx), plugins, dest, log=lambda line: reporter("fetch", line)
        )
    click.echo(
        f"Fetched {len(report.artifacts)} artifacts ({len(report.files)} files) for "
        f"{len(report.plugins)} plugins into {report.dest}."
    )
    click.echo(f"Offline: `reconciler apply --no-index --find-links {report.dest}`.")
    return EXIT_OK


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> int:
    """Print the shell completion script: `eval "$(reconciler completion bash)"`."""
    from click.shell_completion import get_completion_class  # noqa: PLC0415

    completer = get_completion_class(shell)
    assert completer is not None  # noqa: S101 - the three choices are built into click
    click.echo(completer(cli, {}, "reconciler", "_RECONCILER_COMPLETE").source())
    return EXIT_OK


def _fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    for line in message.splitlines() or [""]:  # several failing plugins: one line each
        click.echo(f"error: {redact(line)}", err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point: run the CLI, map every error to one line and an exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
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
        _fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
    sys.exit(code if isinstance(code, int) else EXIT_OK)
