"""``reconciler rollback``: flip a plugin back to its previous generation."""

from __future__ import annotations

from reconciler.apply import execute
from reconciler.apply.applylock import exclusive
from reconciler.commands.project import Project, resolve_one
from reconciler.results.changes import RollbackResult
from reconciler.support.paths import check_root


def rollback(project: Project, plugin: str, lock_timeout: float) -> RollbackResult:
    """Flip ``plugin`` back to its previous generation under the venv root's lock."""
    plugin = resolve_one(project, plugin)
    check_root(project.desired.layout.root, project.desired.project_dir, "venv root")
    with exclusive(project.desired.settings.venv_root, lock_timeout):
        desired = project.desired
        generation = execute.rollback(desired.layout, plugin, desired.settings.keep_generations)
    return RollbackResult(plugin, generation)
