"""``reconciler export --format pylock|requirements PLUGIN``: one plugin's lock in a format."""

from __future__ import annotations

from pathlib import Path

from reconciler.commands.project import Project, check_selection, resolve_one
from reconciler.locking import export as exporting
from reconciler.support.files import write_if_changed


def export(project: Project, plugin: str, lock_format: str, output: Path | None) -> str:
    """The plugin's lock converted to ``lock_format`` (also written to ``output`` if given)."""
    name = resolve_one(project, plugin)
    check_selection(project, [name], allow_undeclared=False)
    text = exporting.export(project.desired, name, lock_format, output)
    if output is not None:
        write_if_changed(output, text)
    return text
