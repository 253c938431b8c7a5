"""The imperative shell: load -> observe -> plan -> execute, wired for the CLI's commands."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import attrs

from reconciler import lockfile, sources
from reconciler.errors import Errors, ReconcilerError, StalePlanError, combine
from reconciler.models import (
    DesiredState,
    IndexOptions,
    Interpreter,
    Lock,
    ObservedVenv,
    Plan,
)
from reconciler.observe import observe
from reconciler.plan import make_plan
from reconciler.render import FORMAT_VERSION
from reconciler.support import interpreters

if TYPE_CHECKING:  # the apply and lock machinery is imported only where it is used
    from reconciler.apply.execute import ApplyResult
    from reconciler.locking import lock as locking


@attrs.frozen
class Project:
    """A loaded project: desired state plus each plugin's interpreter."""

    desired: DesiredState
    interpreters: dict[str, Interpreter]  # every plugin whose interpreter was found
    #: plugins whose interpreter cannot be used, with the one-line reason; they block only
    #: commands about themselves (and show their problem in ``status``)
    broken: dict[str, str] = attrs.field(factory=dict)

    def require(self, only: Collection[str] = ()) -> None:
        """Raise naming every broken plugin among ``only`` (all plugins when empty)."""
        names = [n for n in sorted(self.broken) if not only or n in only]
        if names:
            raise combine([ReconcilerError(self.broken[n]) for n in names])


def load_project(project: Path | None) -> Project:
    """Find and load the project file and resolve every plugin's interpreter (memoised).

    A plugin whose interpreter is missing does not fail the load: it is recorded in
    ``Project.broken`` so that commands about the other plugins still work.
    """
    desired = sources.load(sources.find_project_file(project))
    by_spec: dict[str, Interpreter | ReconcilerError] = {}
    resolved: dict[str, Interpreter] = {}
    broken: dict[str, str] = {}
    for plugin in desired.plugins:
        if plugin.python not in by_spec:
            try:
                by_spec[plugin.python] = interpreters.resolve(plugin.python, desired.project_dir)
            except ReconcilerError as exc:
                by_spec[plugin.python] = exc
        found = by_spec[plugin.python]
        if isinstance(found, ReconcilerError):
            broken[plugin.name] = f"plugin {plugin.name!r}: {found}"
        else:
            resolved[plugin.name] = found
    return Project(desired=desired, interpreters=resolved, broken=broken)


def select(project: Project, names: Collection[str], *, allow_undeclared: bool) -> tuple[str, ...]:
    """The plugins that command-line ``names`` stand for (aliases resolved); raise when one is
    unknown."""
    resolved = project.desired.resolve_names(names)
    check_selection(project, resolved, allow_undeclared=allow_undeclared)
    return resolved


def resolve_one(project: Project, name: str) -> str:
    """The one plugin ``name`` stands for; raise when it stands for several."""
    resolved = project.desired.resolve_names([name])
    if len(resolved) > 1:
        raise ReconcilerError(
            f"plugin name {name!r} is ambiguous: say one of {', '.join(resolved)}"
        )
    return resolved[0]


def check_selection(project: Project, names: Collection[str], *, allow_undeclared: bool) -> None:
    """Raise when a plugin named on the command line is unknown."""
    if not names:
        return  # nothing named: nothing to check (and no second observe of the venv root)
    declared = {p.name for p in project.desired.plugins}
    on_disk: set[str] = set()
    if allow_undeclared:
        on_disk = {v.name for v in observe(project.desired.layout).venvs}
    for name in names:
        if name not in declared and name not in on_disk:
            raise ReconcilerError(
                f"plugin {name!r} is not declared in {project.desired.project_file.name}"
            )


def read_locks(desired: DesiredState, only: Collection[str] = ()) -> dict[str, Lock | None]:
    """The lock of every (selected) declared plugin, None where the file is missing."""
    return {
        p.name: lockfile.read(p.name, desired.lock_path(p.name))
        for p in desired.plugins
        if not only or p.name in only
    }


def compute_plan(project: Project, only: Collection[str] = ()) -> Plan:
    """Observe the venv root and plan against the locks."""
    only = select(project, only, allow_undeclared=True)
    project.require(only)
    observation = observe(project.desired.layout)
    locks = read_locks(project.desired, only)
    trees = local_sources(project.desired, locks)
    return make_plan(project.desired, locks, project.interpreters, observation, only, trees)


def local_sources(desired: DesiredState, locks: Mapping[str, Lock | None]) -> dict[str, str]:
    """``{source URL: fingerprint}`` of every non-editable local project the locks name.

    Editable installs need none (they are live); a fingerprint stats the tree's files and reads
    none, so this costs nothing when no lock has a local project.
    """
    from reconciler.observe import source_fingerprint  # noqa: PLC0415

    found: dict[str, str] = {}
    for lock in locks.values():
        for package in lock.packages if lock is not None else ():
            if package.kind != "path" or package.editable:
                continue
            url = package.source_url(desired.project_dir)
            if url is not None and url not in found:
                found[url] = source_fingerprint(Path(unquote(urlsplit(url).path)))
    return found


@attrs.frozen
class SavedPlan:
    """A plan file written by ``plan -o``: its fingerprint and its entries by plugin."""

    path: Path
    fingerprint: str
    entries: tuple[tuple[str, str], ...]  # (plugin, canonical JSON of its entry)


def _entries(changes: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(changes, list):
        return ()
    return tuple(
        (str(c.get("plugin")), json.dumps(c, sort_keys=True))
        for c in changes
        if isinstance(c, dict)
    )


def read_saved_plan(path: Path) -> SavedPlan:
    """Read a plan file written by ``plan -o`` (format_version 1)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReconcilerError(f"cannot read plan file {path}: {exc.strerror}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReconcilerError(f"{path}: not a plan file (invalid JSON)") from exc
    if not isinstance(data, dict) or "format_version" not in data:
        raise ReconcilerError(f"{path}: not a plan file (no format_version)")
    if data["format_version"] != FORMAT_VERSION:
        raise ReconcilerError(
            f"{path}: unsupported plan format_version {data['format_version']!r} "
            f"(this reconciler reads {FORMAT_VERSION})"
        )
    fingerprint = data.get("fingerprint")
    if not isinstance(fingerprint, str):
        raise ReconcilerError(f"{path}: not a plan file (no fingerprint)")
    return SavedPlan(path, fingerprint, _entries(data.get("changes")))


@attrs.frozen
class ApplyOptions:
    """How ``apply`` runs."""

    only: tuple[str, ...] = ()
    saved: SavedPlan | None = None
    installer: str | None = None
    index_override: IndexOptions | None = None
    jobs: int = 1
    lock_timeout: float = 0.0


def run_apply(
    project: Project,
    options: ApplyOptions,
    *,
    show_plan: Callable[[Plan], None],
    log: Callable[[str, str], None],
    stop: threading.Event | None = None,
) -> tuple[Plan, ApplyResult | None]:
    """Lock the venv root, plan, check a saved plan's fingerprint, and execute the plan."""
    from reconciler.apply.applylock import exclusive  # noqa: PLC0415 - keep `plan` light
    from reconciler.apply.execute import apply_plan, leftovers  # noqa: PLC0415
    from reconciler.installers import get_installer  # noqa: PLC0415
    from reconciler.support import scratch  # noqa: PLC0415

    desired = project.desired
    installer = get_installer(options.installer or desired.settings.installer)
    if options.index_override is not None:
        desired = desired.with_index_override(options.index_override)
    # Plan and validate first, without the lock: an apply that fails or has nothing to do
    # must not touch the venv root at all (not even to create the lock file).
    root, keep = desired.settings.venv_root, desired.settings.keep_generations
    plan = _checked_plan(project, options)
    if not plan.changes and not leftovers(desired.layout, keep):
        show_plan(plan)
        return plan, None
    with exclusive(root, options.lock_timeout), scratch.session(desired.layout.root):
        plan = _checked_plan(project, options)  # the world may have moved while we waited
        show_plan(plan)
        result = apply_plan(plan, desired, installer, log, jobs=options.jobs, stop=stop)
        if not plan.changes:
            return plan, None
    return plan, result


def _checked_plan(project: Project, options: ApplyOptions) -> Plan:
    plan = compute_plan(project, options.only)
    saved = options.saved
    if saved is not None and saved.fingerprint != plan.fingerprint:
        from reconciler.render import to_data  # noqa: PLC0415

        now = dict(_entries(to_data(plan)["changes"]))
        before = dict(saved.entries)
        moved = sorted(n for n in set(now) | set(before) if now.get(n) != before.get(n))
        what = f"plugins {', '.join(moved)}" if moved else "the locks or venvs"
        raise StalePlanError(
            f"stale plan {saved.path}: {what} changed since it was made; run plan again"
        )
    return plan


def run_rollback(project: Project, plugin: str, lock_timeout: float) -> Path:
    """Flip ``plugin`` back to its previous generation under the venv root's lock."""
    from reconciler.apply import execute  # noqa: PLC0415 - keep `plan` light
    from reconciler.apply.applylock import exclusive  # noqa: PLC0415

    plugin = resolve_one(project, plugin)
    with exclusive(project.desired.settings.venv_root, lock_timeout):
        return execute.rollback(project.desired, plugin)


def lock_statuses(project: Project, only: Collection[str] = ()) -> list[locking.LockStatus]:
    """Freshness of every (selected) declared plugin's lock."""
    from reconciler.locking import lock as locking  # noqa: PLC0415 - keep `plan` light

    only = select(project, only, allow_undeclared=False)
    project.require(only)
    return [
        locking.status(p, project.interpreters[p.name], project.desired)
        for p in project.desired.plugins
        if not only or p.name in only
    ]


def orphaned_locks(project: Project) -> tuple[Path, ...]:
    """Locks written by reconciler for plugins no longer declared."""
    from reconciler.locking import lock as locking  # noqa: PLC0415 - keep `plan` light

    return locking.orphans(project.desired)


def run_lock(
    project: Project,
    only: Collection[str],
    *,
    upgrade: bool,
    upgrade_packages: Sequence[str],
    log: Callable[[str, str], None],
    jobs: int = 1,
    resolver: str | None = None,
) -> locking.LockReport:
    """Re-resolve missing/stale locks (or all, when upgrading) and delete orphaned ones.

    ``resolver`` overrides ``settings.resolver`` (``auto``: uv when installed, else pip-tools).
    """
    from reconciler.locking import get_resolver  # noqa: PLC0415 - keep `plan` light
    from reconciler.locking import lock as locking  # noqa: PLC0415

    only = select(project, only, allow_undeclared=False)
    chosen = get_resolver(resolver or project.desired.settings.resolver)
    broken = [
        ReconcilerError(project.broken[n]) for n in sorted(project.broken) if not only or n in only
    ]
    try:
        report = locking.lock_all(
            project.desired,
            project.interpreters,
            only,
            upgrade=upgrade,
            upgrade_packages=upgrade_packages,
            log=log,
            resolver=chosen,
            jobs=jobs,
        )
    except Errors as exc:
        raise combine(sorted([*broken, *exc.errors], key=str)) from exc
    except ReconcilerError as exc:
        raise combine(sorted([*broken, exc], key=str)) from exc
    if broken:
        raise combine(broken)  # the others are locked; each broken plugin named
    return report


@attrs.frozen
class StatusRow:
    """One line of ``reconciler status``."""

    plugin: str
    path: str
    python: str | None
    packages: int
    lock: str  # fresh | stale | missing | undeclared
    drift: str  # "no", or the planned action (create, upgrade, reinstall, remove), or "unknown"
    detail: str = ""


def status(project: Project) -> list[StatusRow]:
    """Path, python, package count, lock freshness and drift of every plugin (no changes)."""
    from reconciler.models import Action  # noqa: PLC0415
    from reconciler.render import detail  # noqa: PLC0415

    desired = project.desired
    observation = observe(desired.layout)
    declared = {p.name for p in desired.plugins}
    names = sorted(declared | {v.name for v in observation.venvs if v.managed})
    rows = []
    for name in names:
        venv = observation.get(name)
        rel = str(desired.venv_path(name)).removeprefix(str(desired.project_dir) + "/")
        python = venv.marker.python_version if venv and venv.marker else None
        if name not in declared:
            packages = _counted(venv, frozenset())
            rows.append(StatusRow(name, rel, python, packages, "undeclared", "remove"))
            continue
        if name in project.broken:
            rows.append(StatusRow(name, rel, python, 0, "unknown", "unknown", project.broken[name]))
            continue
        try:
            locks = read_locks(desired, [name])
        except ReconcilerError as exc:
            packages = _counted(venv, frozenset())
            rows.append(StatusRow(name, rel, python, packages, "invalid", "unknown", str(exc)))
            continue
        lock = locks.get(name)
        packages = _counted(venv, frozenset(p.name for p in lock.packages) if lock else frozenset())
        try:
            trees = local_sources(desired, locks)
            plan = make_plan(desired, locks, project.interpreters, observation, [name], trees)
        except ReconcilerError as exc:
            lock_state = "missing" if locks.get(name) is None else "stale"
            rows.append(StatusRow(name, rel, python, packages, lock_state, "unknown", str(exc)))
            continue
        step = plan.steps[0]
        drift = "no" if step.action is Action.NOOP else str(step.action)
        rows.append(StatusRow(name, rel, python, packages, "fresh", drift, detail(step)))
    return rows


@attrs.frozen
class RunCommand:
    """What ``reconciler run`` executes: the command line and its environment."""

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]


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


def _counted(venv: ObservedVenv | None, locked: frozenset[str]) -> int:
    """Installed distributions as ``plan`` counts them: pip, setuptools and wheel only when
    locked."""
    from reconciler.models import BOOTSTRAP_DISTS  # noqa: PLC0415

    if venv is None:
        return 0
    return sum(1 for d in venv.dists if d.name not in BOOTSTRAP_DISTS or d.name in locked)


def run_command(
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
    from reconciler.models import Action  # noqa: PLC0415
    from reconciler.render import detail  # noqa: PLC0415

    plugin = resolve_one(project, plugin)
    if project.desired.plugin(plugin) is None:
        raise ReconcilerError(
            f"plugin {plugin!r} is not declared in {project.desired.project_file.name}"
        )
    plan = compute_plan(project, [plugin])
    step = plan.steps[0]
    if step.action is not Action.NOOP:
        raise ReconcilerError(
            f"plugin {plugin!r}: venv is not up to date ({step.action}: {detail(step)}); "
            "run `reconciler apply` first"
        )
    venv = project.desired.venv_path(plugin)
    env = tuple(sorted(run_environment(venv, environ).items()))
    if module is not None:
        return RunCommand((str(venv / "bin" / "python"), "-m", module, *args), env)
    candidates = [script] if script else [plugin, *_console_scripts(project, plugin)]
    for name in candidates:
        if name and (venv / "bin" / name).is_file():
            return RunCommand((str(venv / "bin" / name), *args), env)
    available = sorted(_console_scripts(project, plugin))
    hint = f"; available: {', '.join(available)}" if available else ""
    wanted = script or plugin
    raise ReconcilerError(f"plugin {plugin!r}: no console script {wanted!r} in its venv{hint}")


def _console_scripts(project: Project, plugin: str) -> list[str]:
    """Console scripts declared by the distributions the plugin's requirements name."""
    import configparser  # noqa: PLC0415

    from packaging.requirements import InvalidRequirement, Requirement  # noqa: PLC0415
    from packaging.utils import canonicalize_name  # noqa: PLC0415

    from reconciler.observe import site_packages  # noqa: PLC0415

    declared = project.desired.plugin(plugin)
    assert declared is not None  # noqa: S101 - checked by the caller
    wanted: set[str] = set()
    for text in declared.requirements:
        try:
            wanted.add(canonicalize_name(Requirement(text).name))
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
