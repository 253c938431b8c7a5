"""What ``lock --check``, ``apply``, ``rollback``, ``add``/``remove`` and ``run`` return (see
:mod:`reconciler.results`).

Plain slotted classes, not attrs ones: each is made once, read by the command line and
compared by nobody, and an attrs class costs start-up to build (five of them: ~1.5 ms of every
``apply``, which loads this module to return its outcome).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only annotations: no apply/lock machinery loaded with these values
    from reconciler.apply.execute import ApplyResult
    from reconciler.locking.lock import LockStatus
    from reconciler.models import Plan


class ApplyOutcome:
    """``apply``: the plan it carried out and how each step ended (None: nothing to do)."""

    __slots__ = ("plan", "result")

    def __init__(self, plan: Plan, result: ApplyResult | None) -> None:
        self.plan = plan
        self.result = result


class LockCheck:
    """``lock --check``: each selected lock's freshness and the orphaned lock files."""

    __slots__ = ("orphans", "project_dir", "statuses")

    def __init__(
        self,
        statuses: tuple[LockStatus, ...],
        orphans: tuple[Path, ...] = (),
        project_dir: Path | None = None,
    ) -> None:
        self.statuses = statuses
        self.orphans = orphans
        #: The project directory: orphans are shown relative to it (``lock/utilities/awscli.txt``).
        self.project_dir = project_dir

    @property
    def stale(self) -> tuple[LockStatus, ...]:
        """The missing or stale locks."""
        return tuple(s for s in self.statuses if s.state != "fresh")

    @property
    def ok(self) -> bool:
        """True when every lock is fresh and none is orphaned."""
        return not self.stale and not self.orphans


class RunCommand:
    """What ``reconciler run`` executes: the command line and its environment."""

    __slots__ = ("argv", "env", "warning")

    def __init__(
        self, argv: tuple[str, ...], env: tuple[tuple[str, str], ...], warning: str = ""
    ) -> None:
        self.argv = argv
        self.env = env
        self.warning = (
            warning  # printed before it runs (a venv `rollback` restored, not the lock's)
        )


class EditResult:
    """``add`` / ``remove``: which plugin, in which project file, and whether it was locked."""

    __slots__ = ("locked", "plugin", "project_file")

    def __init__(self, plugin: str, project_file: Path, locked: bool = False) -> None:
        self.plugin = plugin
        self.project_file = project_file
        self.locked = locked


class RollbackResult:
    """``rollback``: the plugin and the generation now live."""

    __slots__ = ("generation", "plugin")

    def __init__(self, plugin: str, generation: Path) -> None:
        self.plugin = plugin
        self.generation = generation
