"""``reconciler lock``: resolve missing or stale locks; ``--check`` reports freshness only."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING

from reconciler.commands.project import Project, select
from reconciler.errors import Errors, ReconcilerError, combine
from reconciler.locking import get_resolver
from reconciler.locking import lock as locking
from reconciler.support.paths import check_root

if TYPE_CHECKING:
    from reconciler.results.changes import LockCheck


def check(project: Project, only: Collection[str] = ()) -> LockCheck:
    """Freshness of every (selected) declared plugin's lock; orphaned locks when none is named."""
    from reconciler.results.changes import LockCheck  # noqa: PLC0415 - start-up: --check only

    statuses = _statuses(project, only)
    orphans = locking.orphans(project.desired) if not only else ()
    return LockCheck(statuses, tuple(orphans), project.desired.project_dir)


def _statuses(project: Project, only: Collection[str] = ()) -> tuple[locking.LockStatus, ...]:
    """Freshness of every (selected) declared plugin's lock."""
    only = select(project, only, allow_undeclared=False)
    project.require(only)
    return tuple(
        locking.status(p, project.interpreters[p.name], project.desired)
        for p in project.desired.plugins
        if not only or p.name in only
    )


def lock(
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
    only = select(project, only, allow_undeclared=False)
    desired = project.desired
    check_root(desired.settings.lock_dir, desired.project_dir, "lock directory")
    check_root(desired.layout.root, desired.project_dir, "venv root")  # its scratch area
    chosen = get_resolver(resolver or project.desired.settings.resolver)
    broken = [project.broken[n] for n in sorted(project.broken) if not only or n in only]
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
