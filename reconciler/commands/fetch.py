"""``reconciler fetch``: download every locked artifact into a wheelhouse for offline apply."""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

from reconciler.commands.project import Project, select
from reconciler.locking import fetch as fetching
from reconciler.locking.fetch_wheels import FetchJob


def fetch(
    project: Project, only: Collection[str], dest: Path, *, log: Callable[[str], None]
) -> fetching.FetchReport:
    """Download (hash-checked) the artifacts the (selected) plugins' locks pin into ``dest``."""
    only = select(project, only, allow_undeclared=False)  # aliases: <type>/<name>, a type
    project.require(only)
    job = FetchJob(project.desired, project.interpreters, only, dest, log)
    return fetching.fetch(job)
