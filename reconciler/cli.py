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
from reconciler.errors import ReconcilerError
from reconciler.models import Action, IndexOptions, Plan
from reconciler.redact import redact

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_INTERRUPTED = 0, 1, 2, 130


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--project",
    type=click.Path(path_type=Path, file_okay=True),
    default=None,
    help="Project directory (or its reconciler.toml). Default: search upward from here.",
)
@click.option("--no-color", is_flag=True, help="Never colour output (NO_COLOR is respected too).")
@click.option("--debug", is_flag=True, help="Show a traceback on errors.")
@click.version_option(__version__, prog_name="reconciler")
@click.pass_context
def cli(ctx: click.Context, project: Path | None, no_color: bool, debug: bool) -> None:
    """Reconcile one Python venv per plugin with the pinned, hashed locks in lock/."""
    ctx.obj = {"project": project, "no_color": no_color, "debug": debug}


def _project(ctx: click.Context) -> app.Project:
    return app.load_project(ctx.obj["project"])


def _use_color(ctx: click.Context) -> bool:
    return not ctx.obj["no_color"] and "NO_COLOR" not in os.environ and sys.stdout.isatty()


def _print(ctx: click.Context, text: str, *, markup: bool = False) -> None:
    if markup and _use_color(ctx):
        from rich.console import Console  # noqa: PLC0415 - rich is slow to import; TTY only

        Console(highlight=False, soft_wrap=True).print(text)
    else:
        click.echo(text)


def _warn(text: str) -> None:
    click.echo(f"warning: {redact(text)}", err=True)


def _log(line: str) -> None:
    click.echo(redact(line))  # progress is output; stderr carries only problems


@cli.command()
@click.argument("plugins", nargs=-1)
@click.option(
    "--check", is_flag=True, help="Change nothing; exit 2 if any lock is missing or stale."
)
@click.option("--upgrade", "-U", is_flag=True, help="Re-resolve everything to the newest allowed.")
@click.option(
    "--upgrade-package",
    "-P",
    "upgrade_packages",
    multiple=True,
    metavar="NAME",
    help="Bump only this package, keeping every other pin (repeatable).",
)
@click.pass_context
def lock(
    ctx: click.Context,
    plugins: tuple[str, ...],
    check: bool,
    upgrade: bool,
    upgrade_packages: tuple[str, ...],
) -> int:
    """Resolve requirements with pip-compile into lock/<plugin>.txt (only missing/stale ones)."""
    project = _project(ctx)
    if check:
        statuses = app.lock_statuses(project, plugins)
        bad = [s for s in statuses if s.state != "fresh"]
        for s in statuses:
            click.echo(
                f"{s.plugin}: {s.state}" + (f" ({', '.join(s.reasons)})" if s.reasons else "")
            )
        from reconciler.locking import orphans  # noqa: PLC0415

        stray = orphans(project.desired) if not plugins else ()
        for path in stray:
            click.echo(f"{path.stem}: orphaned lock {path.name} (plugin no longer declared)")
        if bad or stray:
            click.echo(f"{len(bad)} lock(s) missing or stale, {len(stray)} orphaned.")
            return EXIT_CHANGES
        click.echo(f"All {len(statuses)} locks are fresh.")
        return EXIT_OK
    report = app.run_lock(
        project, plugins, upgrade=upgrade, upgrade_packages=upgrade_packages, log=_log
    )
    click.echo(
        f"Lock complete: {len(report.written)} written, {len(report.unchanged)} unchanged, "
        f"{len(report.removed)} orphaned removed."
    )
    return EXIT_OK


@cli.command()
@click.argument("plugins", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON (format_version 1).")
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the JSON plan to FILE.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when there are.",
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
    project = _project(ctx)
    the_plan = app.compute_plan(project, plugins)
    for warning in the_plan.warnings:
        _warn(warning)
    if out is not None:
        try:
            out.write_text(render.to_json(the_plan), encoding="utf-8")
        except OSError as exc:
            raise ReconcilerError(f"cannot write plan file {out}: {exc.strerror}") from exc
    if as_json:
        click.echo(render.to_json(the_plan), nl=False)
    else:
        _print(ctx, render.human(the_plan, color=_use_color(ctx)), markup=True)
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
    help="A plan saved by `plan -o`; refuse to apply if the world changed since.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Plugins built concurrently (default: CPU count).",
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
    help="Installer backend (default: settings.installer; auto = uv when installed, else pip).",
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

    PLANFILE (a path, or any first argument ending in .json) is a plan saved by `plan -o`.
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
        saved_fingerprint=app.read_saved_plan(plan_file) if plan_file is not None else None,
        installer=installer,
        index_override=override,
        jobs=jobs or os.cpu_count() or 1,
        lock_timeout=lock_timeout,
    )

    def show(plan: Plan) -> None:
        for warning in plan.warnings:
            _warn(warning)
        _print(ctx, render.human(plan, color=_use_color(ctx)), markup=True)

    stop = threading.Event()
    with _stop_on_signals(stop):
        _, result = app.run_apply(project, options, show_plan=show, log=_log, stop=stop)
    if result is None:
        return EXIT_OK
    click.echo(
        f"Apply complete: {result.count(Action.CREATE)} created, "
        f"{result.count(Action.UPGRADE)} upgraded, {result.count(Action.REINSTALL)} reinstalled, "
        f"{result.count(Action.REMOVE)} removed in {result.seconds:.1f}s."
    )
    for failure in result.failed:
        if not failure.interrupted or failure.error != "interrupted before it started":
            click.echo(f"error: {redact(failure.error or '')}", err=True)
    if stop.is_set() or result.interrupted:
        click.echo("error: interrupted; every venv is old or new, run apply again", err=True)
        return EXIT_INTERRUPTED
    return EXIT_ERROR if result.failed else EXIT_OK


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """First SIGINT/SIGTERM: start no new step and let running ones roll back; second: abort."""

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        name = signal.Signals(signum).name
        click.echo(f"{name}: stopping; running steps roll back (again to abort)", err=True)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@cli.command()
@click.argument("plugin")
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
    project = _project(ctx)
    previous = app.run_rollback(project, plugin, lock_timeout)
    click.echo(f"{plugin}: rolled back to generation {previous.name}.")
    click.echo("plan now reports drift until the lock is reverted too.")
    return EXIT_OK


def _fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    click.echo(f"error: {redact(message)}", err=True)
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
