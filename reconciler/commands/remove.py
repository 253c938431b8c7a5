"""``reconciler remove``: take a plugin out of reconciler.toml (comments and layout kept)."""

from __future__ import annotations

from pathlib import Path

from reconciler.commands.project import refuse_to_edit
from reconciler.results.changes import EditResult
from reconciler.sources import find_project_file
from reconciler.sources.toml_edit import remove_plugin


def remove(project: Path | None, name: str) -> EditResult:
    """Remove plugin ``name`` from the project file ``--project`` names (or the nearest)."""
    project_file = find_project_file(project)
    refuse_to_edit(project_file, "remove")
    remove_plugin(project_file, name)
    return EditResult(name, project_file)
