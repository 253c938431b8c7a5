"""The imperative shell: load -> observe -> plan -> execute, wired for the CLI's commands."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import attrs

from reconciler import config, execute, interpreters, lockfile, locking
from reconciler.applylock import exclusive
from reconciler.errors import ReconcilerError, StalePlanError
from reconciler.execute import ApplyResult, apply_plan
from reconciler.installers import get_installer
from reconciler.models import DesiredState, IndexOptions, Interpreter, Lock, Plan
from reconciler.observe import observe
from reconciler.plan import make_plan
from reconciler.render import FORMAT_VERSION


@attrs.frozen
class Project:
    """A loaded project: desired state plus each plugin's interpreter."""

    desired: DesiredState
    interpreters: dict[str, Interpreter]


def load_project(project: Path | None) -> Project:
    """Find and load ``reconciler.toml`` and resolve every plugin's interpreter (memoised)."""
    desired = config.load(config.find_project_file(project))
    by_spec: dict[str, Interpreter] = {}
    resolved: dict[str, Interpreter] = {}
    for plugin in desired.plugins:
        if plugin.python not in by_spec:
            try:
                by_spec[plugin.python] = interpreters.resolve(plugin.python, desired.project_dir)
            except ReconcilerError as exc:
                raise type(exc)(f"plugin {plugin.name!r}: {exc}") from exc
        resolved[plugin.name] = by_spec[plugin.python]
    return Project(desired=desired, interpreters=resolved)


def check_selection(project: Project, names: Collection[str], *, allow_undeclared: bool) -> None:
    """Raise when a plugin named on the command line is unknown."""
    declared = {p.name for p in project.desired.plugins}
    on_disk: set[str] = set()
    if allow_undeclared:
        on_disk = {v.name for v in observe(project.desired.settings.venv_root).venvs}
    for name in names:
        if name not in declared and name not in on_disk:
            raise ReconcilerError(f"plugin {name!r} is not declared in reconciler.toml")


def read_locks(desired: DesiredState, only: Collection[str] = ()) -> dict[str, Lock | None]:
    """The lock of every (selected) declared plugin, None where the file is missing."""
    return {
        p.name: lockfile.read(p.name, desired.lock_path(p.name))
        for p in desired.plugins
        if not only or p.name in only
    }


def compute_plan(project: Project, only: Collection[str] = ()) -> Plan:
    """Observe the venv root and plan against the locks."""
    check_selection(project, only, allow_undeclared=True)
    observation = observe(project.desired.settings.venv_root)
    locks = read_locks(project.desired, only)
    return make_plan(project.desired, locks, project.interpreters, observation, only)


def read_saved_plan(path: Path) -> str:
    """The fingerprint recorded in a plan file written by ``plan -o``."""
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
    return fingerprint


@attrs.frozen
class ApplyOptions:
    """How ``apply`` runs."""

    only: tuple[str, ...] = ()
    saved_fingerprint: str | None = None
    installer: str | None = None
    index_override: IndexOptions | None = None
    jobs: int = 1
    lock_timeout: float = 0.0


def run_apply(
    project: Project,
    options: ApplyOptions,
    *,
    show_plan: Callable[[Plan], None],
    log: Callable[[str], None],
    stop: threading.Event | None = None,
) -> tuple[Plan, ApplyResult | None]:
    """Lock the venv root, plan, check a saved plan's fingerprint, and execute the plan."""
    desired = project.desired
    installer = get_installer(options.installer or desired.settings.installer)
    if options.index_override is not None:
        settings = attrs.evolve(desired.settings, index=options.index_override)
        desired = attrs.evolve(desired, settings=settings)
    with exclusive(desired.settings.venv_root, options.lock_timeout):
        plan = compute_plan(project, options.only)
        if options.saved_fingerprint is not None and options.saved_fingerprint != plan.fingerprint:
            raise StalePlanError(
                "stale plan: the locks or venvs changed since the plan was made; run plan again"
            )
        show_plan(plan)
        if not plan.changes:
            return plan, None
        result = apply_plan(plan, desired, installer, log, jobs=options.jobs, stop=stop)
    return plan, result


def run_rollback(project: Project, plugin: str, lock_timeout: float) -> Path:
    """Flip ``plugin`` back to its previous generation under the venv root's lock."""
    with exclusive(project.desired.settings.venv_root, lock_timeout):
        return execute.rollback(project.desired, plugin)


def lock_statuses(project: Project, only: Collection[str] = ()) -> list[locking.LockStatus]:
    """Freshness of every (selected) declared plugin's lock."""
    check_selection(project, only, allow_undeclared=False)
    return [
        locking.status(p, project.interpreters[p.name], project.desired)
        for p in project.desired.plugins
        if not only or p.name in only
    ]


def run_lock(
    project: Project,
    only: Collection[str],
    *,
    upgrade: bool,
    upgrade_packages: Sequence[str],
    log: Callable[[str], None],
) -> locking.LockReport:
    """Re-resolve missing/stale locks (or all, when upgrading) and delete orphaned ones."""
    check_selection(project, only, allow_undeclared=False)
    return locking.lock_all(
        project.desired,
        project.interpreters,
        only,
        upgrade=upgrade,
        upgrade_packages=upgrade_packages,
        log=log,
    )
