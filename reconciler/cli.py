"""The click command line: parses flags, calls :mod:`reconciler.app`, prints. No logic here."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from reconciler import __version__, app, render
from reconciler.errors import ReconcilerError
from reconciler.models import Action, IndexOptions
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
@click.argument("plugins", nargs=-1)
@click.option(
    "--installer",
    type=click.Choice(["auto", "pip", "uv"]),
    default=None,
    help="Installer backend (default: settings.installer).",
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
    plugins: tuple[str, ...],
    installer: str | None,
    index_url: str | None,
    find_links: tuple[Path, ...],
    no_index: bool,
) -> int:
    """Perform exactly the planned steps (create, upgrade, reinstall, remove)."""
    project = _project(ctx)
    the_plan = app.compute_plan(project, plugins)
    for warning in the_plan.warnings:
        _warn(warning)
    if not the_plan.changes:
        _print(ctx, render.human(the_plan))
        return EXIT_OK
    _print(ctx, render.human(the_plan, color=_use_color(ctx)), markup=True)
    override = None
    if index_url is not None or find_links or no_index:
        override = IndexOptions(
            index_url=index_url,
            find_links=tuple(str(p.absolute()) for p in find_links),
            no_index=no_index,
        )
    result = app.run_apply(
        project, the_plan, installer_name=installer, index_override=override, log=_log
    )
    click.echo(
        f"Apply complete: {result.count(Action.CREATE)} created, "
        f"{result.count(Action.UPGRADE)} upgraded, {result.count(Action.REINSTALL)} reinstalled, "
        f"{result.count(Action.REMOVE)} removed in {result.seconds:.1f}s."
    )
    if result.failed:
        for failure in result.failed:
            click.echo(f"error: {redact(failure.error or '')}", err=True)
        return EXIT_ERROR
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
