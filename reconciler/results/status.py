"""What ``reconciler status`` returns (apart from :mod:`reconciler.results`, so that a ``plan``
does not build its class)."""

from __future__ import annotations

from reconciler.support.values import frozen


@frozen
class StatusRow:
    """One line of ``reconciler status``."""

    plugin: str
    path: str
    python: str | None
    packages: int
    lock: str  # fresh | stale | missing | undeclared
    drift: str  # "no", or the planned action (create, upgrade, reinstall, remove), or "unknown"
    detail: str = ""
