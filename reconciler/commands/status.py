"""``reconciler status``: one row per plugin (path, python, packages, lock, drift), one plan."""

from __future__ import annotations

from collections.abc import Collection

from reconciler.commands.project import Project, counted, local_sources, read_locks, select
from reconciler.errors import LockError, ReconcilerError
from reconciler.models import Action, Lock, Step
from reconciler.observe import observe
from reconciler.plan import make_plan
from reconciler.render import detail
from reconciler.results.status import StatusRow


def status(
    project: Project, *, verify: bool = False, only: Collection[str] = ()
) -> tuple[StatusRow, ...]:
    """Path, python, package count, lock freshness and drift of every plugin, or of the
    plugins ``only`` names (no changes); ``verify`` also checks files against their RECORD."""
    desired = project.desired
    selected = select(project, only, allow_undeclared=True)
    observation = observe(desired.layout, verify=verify)
    declared = {p.name for p in desired.plugins}
    names = sorted(declared | {v.name for v in observation.venvs if v.managed})
    if selected:
        names = [n for n in names if n in set(selected)]
    locks: dict[str, Lock | None] = {}
    invalid: dict[str, str] = {}
    for name in names:
        if name in declared and name not in project.broken:
            try:
                locks.update(read_locks(desired, [name]))
            except ReconcilerError as exc:
                invalid[name] = str(exc)
    steps: dict[str, Step] = {}
    if locks:  # one plan for every plugin whose lock could be read
        trees = local_sources(desired, locks)
        plan = make_plan(desired, locks, project.interpreters, observation, sorted(locks), trees)
        steps = {s.plugin: s for s in plan.steps}
    rows: list[StatusRow] = []
    for name in names:
        venv = observation.get(name)
        rel = str(desired.venv_path(name)).removeprefix(str(desired.project_dir) + "/")
        python = venv.marker.python_version if venv and venv.marker else None
        if name not in declared:
            packages = counted(venv, frozenset())
            rows.append(StatusRow(name, rel, python, packages, "undeclared", "remove"))
            continue
        if name in project.broken:
            problem = str(project.broken[name])
            rows.append(StatusRow(name, rel, python, 0, "unknown", "unknown", problem))
            continue
        if name in invalid:
            packages = counted(venv, frozenset())
            rows.append(StatusRow(name, rel, python, packages, "invalid", "unknown", invalid[name]))
            continue
        lock = locks.get(name)
        packages = counted(venv, frozenset(p.name for p in lock.packages) if lock else frozenset())
        step = steps[name]
        if step.blocked is not None:
            lock_state = "missing" if lock is None else "stale"
            problem = str(LockError(step.blocked, plugin=name))
            rows.append(StatusRow(name, rel, python, packages, lock_state, "unknown", problem))
            continue
        drift = "no" if step.action is Action.NOOP else str(step.action)
        rows.append(StatusRow(name, rel, python, packages, "fresh", drift, detail(step)))
    return tuple(rows)
