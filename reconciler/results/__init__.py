"""What each command returns: frozen values that :mod:`reconciler.render` turns into text.

Commands (:mod:`reconciler.commands`) build these; nothing here reads the disk or prints. Split by
what loads them, so that a no-op ``plan`` builds only its own classes (each class costs
start-up): here ``plan``; :mod:`reconciler.results.status` ``status``;
:mod:`reconciler.results.changes` lock, apply, rollback, add, remove and run;
:mod:`reconciler.results.reports` audit and sbom.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.models import Plan
from reconciler.support.values import frozen


@frozen
class PlanResult:
    """``plan``: the plan, and where it was saved (``-o``)."""

    plan: Plan
    saved_to: Path | None = None
