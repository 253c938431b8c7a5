"""What ``audit`` and ``sbom`` return (see :mod:`reconciler.results`)."""

from __future__ import annotations

from pathlib import Path

from reconciler.support.values import frozen


@frozen
class Finding:
    """One known vulnerability of one locked package."""

    package: str
    version: str
    id: str
    aliases: tuple[str, ...] = ()
    fix_versions: tuple[str, ...] = ()
    description: str = ""


@frozen
class PluginAudit:
    """What the auditor said about one plugin's lock (``error`` set when it could not say)."""

    plugin: str
    audited: int = 0
    findings: tuple[Finding, ...] = ()
    not_audited: tuple[str, ...] = ()  # VCS pins, local projects, packages pip-audit skipped
    error: str | None = None


@frozen
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


@frozen
class SbomFile:
    """One SBOM written by ``sbom``: the plugin, the file, how many components it lists."""

    plugin: str
    path: Path
    components: int
