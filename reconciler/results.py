"""What each command returns: frozen values that :mod:`reconciler.render` turns into text.

Commands (:mod:`reconciler.commands`) build these; nothing here reads the disk or prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from reconciler.models import Plan

if TYPE_CHECKING:  # only annotations: the plan path does not import the apply/lock machinery
    from reconciler.apply.execute import ApplyResult
    from reconciler.locking.lock import LockStatus


@attrs.frozen
class PlanResult:
    """``plan``: the plan, and where it was saved (``-o``)."""

    plan: Plan
    saved_to: Path | None = None


@attrs.frozen
class ApplyOutcome:
    """``apply``: the plan it carried out and how each step ended (None: nothing to do)."""

    plan: Plan
    result: ApplyResult | None


@attrs.frozen
class LockCheck:
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


@attrs.frozen
class StatusRow:
    """One line of ``reconciler status``."""

    plugin: str
    path: str
    python: str | None
    packages: int
    lock: str  # fresh | stale | missing | undeclared
    drift: str  # "no", or the planned action (create, upgrade, reinstall, remove), or "unknown"
    detail: str = ""


@attrs.frozen
class RollbackResult:
    """``rollback``: the plugin and the generation now live."""

    plugin: str
    generation: Path


@attrs.frozen
class RunCommand:
    """What ``reconciler run`` executes: the command line and its environment."""

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    warning: str = ""  # printed before it runs (a venv `rollback` restored, not the lock's)


@attrs.frozen
class EditResult:
    """``add`` / ``remove``: which plugin, in which project file, and whether it was locked."""

    plugin: str
    project_file: Path
    locked: bool = False


@attrs.frozen
class Finding:
    """One known vulnerability of one locked package."""

    package: str
    version: str
    id: str
    aliases: tuple[str, ...] = ()
    fix_versions: tuple[str, ...] = ()
    description: str = ""


@attrs.frozen
class PluginAudit:
    """What the auditor said about one plugin's lock (``error`` set when it could not say)."""

    plugin: str
    audited: int = 0
    findings: tuple[Finding, ...] = ()
    not_audited: tuple[str, ...] = ()  # VCS pins, local projects, packages pip-audit skipped
    error: str | None = None


@attrs.frozen
class AuditReport:
    """Every selected plugin's audit, sorted by plugin."""

    plugins: tuple[PluginAudit, ...]

    @property
    def findings(self) -> int:
        """How many vulnerabilities were found in all plugins."""
        return sum(len(p.findings) for p in self.plugins)

    @property
    def errors(self) -> tuple[PluginAudit, ...]:
        """The plugins the auditor failed on."""
        return tuple(p for p in self.plugins if p.error is not None)


@attrs.frozen
class SbomFile:
    """One SBOM written by ``sbom``: the plugin, the file, how many components it lists."""

    plugin: str
    path: Path
    components: int
