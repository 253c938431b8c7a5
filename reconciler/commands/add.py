"""``reconciler add``: declare a plugin in reconciler.toml, optionally locking it at once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from reconciler.commands.lock import lock
from reconciler.commands.project import load_project, refuse_to_edit
from reconciler.errors import ConfigError
from reconciler.results.changes import EditResult
from reconciler.sources import find_project_file
from reconciler.sources.toml_edit import add_plugin, new_project_file

#: Gives the ``(plugin, message)`` logger ``lock`` reports progress to, for as long as it runs.
Progress = Callable[[], AbstractContextManager[Callable[[str, str], None]]]


def add(
    project: Path | None,
    name: str,
    requirements: Sequence[str],
    *,
    python: str | None = None,
    progress: Progress | None = None,
) -> EditResult:
    """Declare ``name`` in the project file (the first ``add`` creates reconciler.toml).

    With ``progress``, the new plugin is also locked; if locking fails the edit is undone.
    """
    if python and python.strip():  # refused now (nothing written), not by every later command
        from reconciler import interpreters  # noqa: PLC0415 - only with --python

        base = project.parent if project is not None and project.suffix == ".toml" else project
        interpreters.resolve(python, (base or Path.cwd()).absolute())
    try:
        project_file = find_project_file(project)
    except ConfigError:  # the first `add` of a new project creates reconciler.toml
        directory = project if project is None or project.suffix != ".toml" else project.parent
        project_file = new_project_file(directory or Path.cwd())
    refuse_to_edit(project_file, "add")

    def lock_it() -> None:
        assert progress is not None  # noqa: S101 - only passed on when given
        with progress() as reporter:
            lock(
                load_project(project_file), [name], upgrade=False, upgrade_packages=(), log=reporter
            )

    then = lock_it if progress is not None else None
    add_plugin(project_file, name, tuple(requirements), python=python, then=then)
    return EditResult(name, project_file, locked=progress is not None)
