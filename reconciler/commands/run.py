"""``reconciler run``: the command line that runs a plugin's console script in its venv."""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement
from packaging.utils import canonicalize_name

from reconciler.apply.generations import rolled_back
from reconciler.commands.project import Project, compute_plan, resolve_one, unknown_plugin
from reconciler.errors import ReconcilerError
from reconciler.models import Action
from reconciler.observe import site_packages
from reconciler.render import detail
from reconciler.results.changes import RunCommand
from reconciler.support import pep508


def run_environment(venv: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` as activating ``venv`` (or ``meltano invoke``) makes it.

    ``VIRTUAL_ENV`` is the venv's stable path, its ``bin`` comes first on ``PATH`` (so a plugin
    that starts its own tools finds the venv's), and ``PYTHONHOME`` is dropped.
    """
    env = dict(environ)
    env.pop("PYTHONHOME", None)
    env["VIRTUAL_ENV"] = str(venv)
    path = env.get("PATH")
    env["PATH"] = str(venv / "bin") + (os.pathsep + path if path else "")
    return env


def run(
    project: Project,
    plugin: str,
    script: str | None,
    module: str | None,
    args: Sequence[str],
    environ: Mapping[str, str],
) -> RunCommand:
    """The command line (and environment) that runs ``plugin``'s console script (or
    ``python -m``) in its venv. Refuses when the venv is missing or does not match its lock.
    """
    plugin = resolve_one(project, plugin)
    if project.desired.plugin(plugin) is None:
        raise unknown_plugin(project, plugin)
    plan = compute_plan(project, [plugin])
    step = plan.steps[0]
    if step.action is Action.BLOCKED:  # apply will not fix it: say what is in the way
        raise ReconcilerError(detail(step), plugin=plugin)
    warning = ""
    if step.action is not Action.NOOP:
        restored = rolled_back(project.desired.layout, plugin)
        if restored is None:
            raise ReconcilerError(
                f"venv is not up to date ({step.action}: {detail(step)}); "
                "run `reconciler apply` first",
                plugin=plugin,
            )
        # the user chose this generation with `rollback`: run it, saying how it differs
        warning = (
            f"plugin {plugin!r}: running generation {restored.name}, restored by `rollback` "
            f"(the lock says {step.action}: {detail(step)}; `reconciler apply` moves it forward)"
        )
    venv = project.desired.venv_path(plugin)
    env = tuple(sorted(run_environment(venv, environ).items()))
    if module is not None:
        return RunCommand((str(venv / "bin" / "python"), "-m", module, *args), env, warning)
    candidates = [script] if script else [plugin, *_console_scripts(project, plugin)]
    for name in candidates:
        if name and (venv / "bin" / name).is_file():
            return RunCommand((str(venv / "bin" / name), *args), env, warning)
    available = sorted(_console_scripts(project, plugin))
    hint = f"; available: {', '.join(available)}" if available else ""
    wanted = script or plugin
    raise ReconcilerError(f"no console script {wanted!r} in its venv{hint}", plugin=plugin)


def _console_scripts(project: Project, plugin: str) -> list[str]:
    """Console scripts declared by the distributions the plugin's requirements name."""
    declared = project.desired.plugin(plugin)
    assert declared is not None  # noqa: S101 - checked by the caller
    wanted: set[str] = set()
    for text in declared.requirements:
        try:
            wanted.add(canonicalize_name(pep508.requirement(text).name))
        except InvalidRequirement:  # a URL, path or editable: look at every distribution
            wanted.add("*")
    venv = project.desired.venv_path(plugin)
    site = site_packages(venv, None)
    scripts: list[str] = []
    if site is None:
        return scripts
    for dist_info in sorted(site.glob("*.dist-info")):
        name = canonicalize_name(dist_info.name.removesuffix(".dist-info").rpartition("-")[0])
        entry_points = dist_info / "entry_points.txt"
        if (name not in wanted and "*" not in wanted) or not entry_points.is_file():
            continue
        parser = configparser.ConfigParser(delimiters=("=",))
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        try:
            parser.read(entry_points, encoding="utf-8")
        except configparser.Error:
            continue
        if parser.has_section("console_scripts"):
            scripts.extend(parser.options("console_scripts"))
    return scripts
