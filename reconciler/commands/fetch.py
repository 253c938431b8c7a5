"""``reconciler fetch``: download every locked artifact into a wheelhouse for offline apply."""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

from reconciler.commands.project import Project, check_selection
from reconciler.locking import fetch as fetching


def fetch(
    project: Project, only: Collection[str], dest: Path, *, log: Callable[[str], None]
) -> fetching.FetchReport:
    """Download (hash-checked) the artifacts the (selected) plugins' locks pin into ``dest``."""
    check_selection(project, only, allow_undeclared=False)
    project.require(only)
    return fetching.fetch(project.desired, project.interpreters, only, dest, log=log)
