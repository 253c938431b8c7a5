"""The imperative shell: load -> observe -> plan -> execute, wired for the CLI's commands."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import attrs

from reconciler import config, interpreters, lockfile, locking
from reconciler.errors import ReconcilerError
from reconciler.execute import ApplyResult, apply_plan
from reconciler.installers import get_installer
from reconciler.models import DesiredState, IndexOptions, Interpreter, Lock, Plan
from reconciler.observe import observe
from reconciler.plan import make_plan


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


def run_apply(
    project: Project,
    plan: Plan,
    *,
    installer_name: str | None,
    index_override: IndexOptions | None,
    log: Callable[[str], None],
) -> ApplyResult:
    """Execute ``plan`` with the chosen installer and (optionally) overridden artifact source."""
    desired = project.desired
    installer = get_installer(installer_name or desired.settings.installer)
    if index_override is not None:
        desired = attrs.evolve(
            desired, settings=attrs.evolve(desired.settings, index=index_override)
        )
    return apply_plan(plan, desired, installer, log)


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
