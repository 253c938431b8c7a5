"""What ``lock --check``, ``apply``, ``rollback``, ``add``/``remove`` and ``run`` return (see
:mod:`reconciler.results`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from reconciler.support.values import Value

if TYPE_CHECKING:  # only annotations: no apply/lock machinery loaded with these values
    from reconciler.apply.execute import ApplyResult
    from reconciler.locking.lock import LockStatus
    from reconciler.models import Plan


@attrs.frozen(repr=False, eq=False)
class ApplyOutcome(Value):
    """``apply``: the plan it carried out and how each step ended (None: nothing to do)."""

    plan: Plan
    result: ApplyResult | None


@attrs.frozen(repr=False, eq=False)
class LockCheck(Value):
    """``lock --check``: each selected lock's freshness and the orphaned lock files."""

    statuses: tuple[LockStatus, ...]
    orphans: tuple[Path, ...] = ()
    #: The project directory: orphans are shown relative to it (``lock/utilities/awscli.txt``).
    project_dir: Path | None = None

    @property
    def stale(self) -> tuple[LockStatus, ...]:
        """The missing or stale locks."""
        return tuple(s for s in self.statuses if s.state != "fresh")

    @property
    def ok(self) -> bool:
        """True when every lock is fresh and none is orphaned."""
        return not self.stale and not self.orphans


@attrs.frozen(repr=False, eq=False)
class RunCommand(Value):
    """What ``reconciler run`` executes: the command line and its environment."""

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    warning: str = ""  # printed before it runs (a venv `rollback` restored, not the lock's)


@attrs.frozen(repr=False, eq=False)
class EditResult(Value):
    """``add`` / ``remove``: which plugin, in which project file, and whether it was locked."""

    plugin: str
    project_file: Path
    locked: bool = False


@attrs.frozen(repr=False, eq=False)
class RollbackResult(Value):
    """``rollback``: the plugin and the generation now live."""

    plugin: str
    generation: Path
