"""``reconciler apply``: plan under the venv root's lock, check a saved plan, execute."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import attrs

from reconciler.apply.applylock import exclusive
from reconciler.apply.execute import apply_plan, leftovers
from reconciler.commands.project import Project, compute_plan
from reconciler.errors import ReconcilerError, StalePlanError
from reconciler.installers import get_installer
from reconciler.models import IndexOptions, Plan
from reconciler.render import FORMAT_VERSION, to_data
from reconciler.results import ApplyOutcome
from reconciler.support import scratch
from reconciler.support.paths import check_root


@attrs.frozen
class SavedPlan:
    """A plan file written by ``plan -o``: its fingerprint and its entries by plugin."""

    path: Path
    fingerprint: str
    entries: tuple[tuple[str, str], ...]  # (plugin, canonical JSON of its entry)


def _entries(changes: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(changes, list):
        return ()
    return tuple(
        (str(c.get("plugin")), json.dumps(c, sort_keys=True))
        for c in changes
        if isinstance(c, dict)
    )


def read_saved_plan(path: Path) -> SavedPlan:
    """Read a plan file written by ``plan -o`` (format_version 1)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReconcilerError(f"cannot read plan file {path}: {exc.strerror}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReconcilerError(f"{path}: not a plan file (invalid JSON)") from exc
    if not isinstance(data, dict) or "format_version" not in data:
        raise ReconcilerError(f"{path}: not a plan file (no format_version)")
    if data["format_version"] != FORMAT_VERSION:
        raise ReconcilerError(
            f"{path}: unsupported plan format_version {data['format_version']!r} "
            f"(this reconciler reads {FORMAT_VERSION})"
        )
    fingerprint = data.get("fingerprint")
    if not isinstance(fingerprint, str):
        raise ReconcilerError(f"{path}: not a plan file (no fingerprint)")
    return SavedPlan(path, fingerprint, _entries(data.get("changes")))


@attrs.frozen
class ApplyOptions:
    """How ``apply`` runs."""

    only: tuple[str, ...] = ()
    saved: SavedPlan | None = None
    installer: str | None = None
    index_override: IndexOptions | None = None
    jobs: int = 1
    lock_timeout: float = 0.0
    verify: bool = False  # also repair installed files that differ from their RECORD


def apply(
    project: Project,
    options: ApplyOptions,
    *,
    show_plan: Callable[[Plan], None],
    log: Callable[[str, str], None],
    stop: threading.Event | None = None,
) -> ApplyOutcome:
    """Lock the venv root, plan, check a saved plan's fingerprint, and execute the plan."""
    desired = project.desired
    installer = get_installer(options.installer or desired.settings.installer)
    # Plan and validate first, without the lock: an apply that fails or has nothing to do
    # must not touch the venv root at all (not even to create the lock file).
    root, keep = desired.settings.venv_root, desired.settings.keep_generations
    check_root(desired.layout.root, desired.project_dir, "venv root")
    plan = _checked_plan(project, options)
    if not plan.changes and not leftovers(desired.layout, keep):
        show_plan(plan)
        return ApplyOutcome(plan, None)
    with exclusive(root, options.lock_timeout), scratch.session(desired.layout.root):
        plan = _checked_plan(project, options)  # the world may have moved while we waited
        show_plan(plan)
        result = apply_plan(plan, desired.layout, installer, log, jobs=options.jobs, stop=stop)
        if not plan.changes:
            return ApplyOutcome(plan, None)
    return ApplyOutcome(plan, result)


def _checked_plan(project: Project, options: ApplyOptions) -> Plan:
    plan = compute_plan(project, options.only, verify=options.verify)
    saved = options.saved
    if saved is not None and not options.only and saved.fingerprint != plan.fingerprint:
        # A plan file made for some plugins (``plan -o F tap-x``) is applied for exactly
        # those: its entries name the selection, as a Terraform plan keeps its targets.
        named = tuple(name for name, _ in saved.entries)
        if named and set(named) < {step.plugin for step in plan.steps}:
            plan = compute_plan(project, named, verify=options.verify)
    if saved is not None and saved.fingerprint != plan.fingerprint:
        now = dict(_entries(to_data(plan)["changes"]))
        before = dict(saved.entries)
        moved = sorted(n for n in set(now) | set(before) if now.get(n) != before.get(n))
        what = f"plugins {', '.join(moved)}" if moved else "the locks or venvs"
        raise StalePlanError(
            f"stale plan {saved.path}: {what} changed since it was made; run plan again"
        )
    if options.index_override is not None:
        return plan.with_index(options.index_override)
    return plan
