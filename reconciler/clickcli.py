"""The click command line, the one definition of the interface: every command, option,
help text and usage message. :mod:`reconciler.cli` (the ``reconciler`` command) comes here for
whatever its click-free front (:mod:`reconciler.front`) does not parse itself: ``--help``,
``--version``, a typo, shell completion, every command but ``plan``, ``apply``, ``lock`` and
``status``. What a command does around its call (output, signals, errors and exit codes) is
:mod:`reconciler.runner`'s, shared with the front: no logic here.

The commands other than ``plan`` and ``status`` are imported inside their click function: each
pulls in machinery (packaging, tomlkit, the installers, the resolvers) that a no-op ``plan``
must not pay for at start-up.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler import __version__, render, runner
from reconciler.backends import INSTALLERS, RESOLVERS
from reconciler.commands.project import Project
from reconciler.errors import ReconcilerError
from reconciler.lockformats import FORMAT_NAMES
from reconciler.sources import find_project_file, load

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = runner.EXIT_OK, runner.EXIT_ERROR, runner.EXIT_CHANGES
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
    ctx.obj = runner.Options(
        project=project, quiet=quiet, verbose=verbose, no_color=no_color, debug=debug
    )
    runner.start(ctx.obj)


def _project(ctx: click.Context) -> Project:
    return runner.load(ctx.obj)


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


def _plugin_type_option(func: F) -> F:
    """``--plugin-type TYPE``: select every plugin of a Meltano plugin type (as Meltano's
    positional type does: ``reconciler apply loaders``); it joins the command's PLUGIN names
    (:func:`reconciler.runner.selected`)."""
    option = click.option(
        "--plugin-type",
        "plugin_type",
        default=None,
        metavar="TYPE",
        help="Select every plugin of this Meltano type (extractor(s), loader(s), ...).",
    )
    return option(func)


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
@click.pass_obj
def lock(options: runner.Options, /, **params: Any) -> int:
    """Resolve requirements (uv or pip-compile) into each missing/stale lock (txt or pylock)."""
    return runner.lock(options, **params)


@cli.command()
@_plugin_type_option
@click.argument("plugins", nargs=-1, shell_complete=_complete_plugins)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON (format_version 1).")
@_file_option("-o", "--out", help="Also write the JSON plan to FILE (for `apply FILE`).")
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 0 when there are no changes, 2 when there are."
)
@click.option("--verify", is_flag=True, help=VERIFY_HELP)
@click.pass_obj
def plan(options: runner.Options, /, **params: Any) -> int:
    """Show what apply would do; changes nothing."""
    return runner.plan(options, **params)


@cli.command()
@_plugin_type_option
@click.argument("args", nargs=-1, metavar="[PLANFILE] [PLUGIN]...")
@_file_option(
    "--plan", "plan_file", help="A plan saved by `plan -o`; refuse if the world changed since."
)
@_jobs_option("built", "usable CPUs + 2")
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
@click.pass_obj
def apply(options: runner.Options, /, **params: Any) -> int:
    """Perform exactly the planned steps (create, upgrade, reinstall, remove).

    PLANFILE (a first argument that names an existing file and no plugin; `./NAME` for a file
    named like a plugin) is a plan saved by `plan -o`: apply refuses, changing nothing, when the
    world changed since.
    """
    return runner.apply(options, **params)


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
@click.pass_obj
def status(options: runner.Options, /, **params: Any) -> int:
    """One line per plugin (or per PLUGIN named): path, python, packages, lock fresh?, drift?"""
    return runner.status(options, **params)


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
        runner.warn(line.warning)
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
        ctx.obj.project,
        name,
        requirements,
        python=python,
        progress=(lambda: runner.reporting(ctx.obj)) if then_lock else None,
    )
    click.echo(render.added(result))
    return EXIT_OK


@cli.command("remove")
@click.argument("name")
@click.pass_context
def remove_command(ctx: click.Context, name: str) -> int:
    """Remove plugin NAME from reconciler.toml (comments and layout are kept)."""
    from reconciler.commands.remove import remove  # noqa: PLC0415 - start-up (module docstring)

    click.echo(render.removed(remove(ctx.obj.project, name)))
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
def fetch_command(
    ctx: click.Context, plugins: tuple[str, ...], dest: Path, plugin_type: str | None
) -> int:
    """Download every locked artifact (hash-checked) into a wheelhouse for offline apply."""
    from reconciler.commands.fetch import fetch  # noqa: PLC0415 - start-up (module docstring)

    plugins = runner.selected(plugins, plugin_type)
    with runner.reporting(ctx.obj) as reporter:
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


def invoke(argv: list[str]) -> Any:
    """Run the click CLI on ``argv`` (its global options hoisted: :func:`reconciler.front.hoist`)
    inside :func:`reconciler.runner.run`, which maps every other error: what the command
    returns (its exit code), or click's own usage errors as click shows them (exit 1)."""
    try:
        return cli.main(args=argv, prog_name="reconciler", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        runner.fail("interrupted", runner.EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_ERROR)
