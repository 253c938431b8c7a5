"""``reconciler status``: one row per plugin (path, python, packages, lock, drift)."""

from __future__ import annotations

from reconciler.commands.project import Project, counted, local_sources, read_locks
from reconciler.errors import ReconcilerError
from reconciler.models import Action
from reconciler.observe import observe
from reconciler.plan import make_plan
from reconciler.render import detail
from reconciler.results import StatusRow


def status(project: Project) -> tuple[StatusRow, ...]:
    """Path, python, package count, lock freshness and drift of every plugin (no changes)."""
    desired = project.desired
    observation = observe(desired.layout)
    declared = {p.name for p in desired.plugins}
    names = sorted(declared | {v.name for v in observation.venvs if v.managed})
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
            rows.append(
                StatusRow(name, rel, python, 0, "unknown", "unknown", str(project.broken[name]))
            )
            continue
        try:
            locks = read_locks(desired, [name])
        except ReconcilerError as exc:
            packages = counted(venv, frozenset())
            rows.append(StatusRow(name, rel, python, packages, "invalid", "unknown", str(exc)))
            continue
        lock = locks.get(name)
        packages = counted(venv, frozenset(p.name for p in lock.packages) if lock else frozenset())
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
    return tuple(rows)
