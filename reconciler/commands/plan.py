"""``reconciler plan``: what apply would do; changes nothing (``-o`` saves it as JSON)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from reconciler import render
from reconciler.commands.project import Project, compute_plan
from reconciler.errors import ReconcilerError
from reconciler.results import PlanResult


def plan(
    project: Project, only: Collection[str] = (), out: Path | None = None, *, verify: bool = False
) -> PlanResult:
    """Plan the (selected) plugins; with ``out``, also write the plan file ``apply`` reads;
    ``verify`` also checks installed files against their RECORD."""
    the_plan = compute_plan(project, only, verify=verify)
    if out is not None:
        from reconciler.support.files import write_atomic  # noqa: PLC0415 - start-up: -o only

        try:
            write_atomic(out, render.to_json(the_plan))
        except OSError as exc:
            raise ReconcilerError(f"cannot write plan file {out}: {exc.strerror}") from exc
    return PlanResult(the_plan, out)
